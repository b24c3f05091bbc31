"""The catalog schema, side-file merging, collection resolution and reader agreement."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from teachingfiles.errors import CatalogError
from teachingfiles.repository import catalog as cat
from teachingfiles.repository.readers import consensus, make_reader_label, matches, votes
from teachingfiles.repository.sidecars import merge_side_files, resolve_collections, side_kind
from teachingfiles.vocabulary import Appearance, Severity


def test_open_creates_schema_in_wal_mode(tmp_path: Path) -> None:
    engine = cat.open_catalog(tmp_path / "sub" / "c.sqlite")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        names = set(
            conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'")).scalars()
        )
        version = conn.execute(
            select(cat.meta.c.value).where(cat.meta.c.key == "schema")
        ).scalar_one()
    assert {
        "files",
        "patients",
        "studies",
        "series",
        "instances",
        "csv_series",
        "labels",
        "annotations",
        "clinical",
        "meta",
    } <= names
    assert version == cat.SCHEMA_VERSION


def test_old_schema_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    engine = cat.open_catalog(path)
    with engine.begin() as conn:
        conn.execute(insert(cat.files).values(path="x", size=1, mtime_ns=1, status="skipped"))
        conn.execute(cat.meta.update().values(value="0"))
    engine.dispose()
    with cat.open_catalog(path).connect() as conn:
        assert conn.execute(select(cat.files)).all() == []


def test_garbage_catalog_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CatalogError, match=r"c\.sqlite: not a usable catalog .*delete the file"):
        cat.open_catalog(path)
    with pytest.raises(CatalogError, match="no catalog here"):
        cat.open_catalog(tmp_path / "none.sqlite", create=False)


def test_side_kind() -> None:
    assert side_kind("a/b/metadata.csv") == "csv"
    assert side_kind("x.JSON") == "json"
    assert side_kind("c.xlsx") == "xlsx"
    assert side_kind("m.tcia") == "tcia"
    assert side_kind("README.md") == "doc"
    assert side_kind("teaching-sets/covid.yaml") == "yaml" == side_kind("x.YML")
    assert side_kind("1-001.dcm") is None and side_kind("IMG0001") is None


def _series(conn: object, uid: str, patient: str, tcia: str | None = None) -> None:
    conn.execute(
        insert(cat.series).values(
            series_uid=uid,
            study_uid="st" + uid,  # type: ignore[attr-defined]
            patient_id=patient,
            tcia_collection=tcia,
        )
    )
    conn.execute(insert(cat.studies).values(study_uid="st" + uid, patient_id=patient))  # type: ignore[attr-defined]
    conn.execute(insert(cat.patients).values(patient_id=patient))  # type: ignore[attr-defined]


def test_resolve_collections_order(tmp_path: Path) -> None:
    engine = cat.open_catalog(tmp_path / "c.sqlite")
    with engine.begin() as conn:
        _series(conn, "1", "MIDRC-RICORD-1A-X-1", tcia="FROM-TAG")  # csv wins over tag
        _series(conn, "2", "P2", tcia="FROM-TAG")
        _series(conn, "3", "FROM-TAG-SITE-3")  # prefix of a collection known from a tag
        _series(conn, "4", "midrc-ricord-1c-site-9")  # RICORD name, any case
        _series(conn, "5", "LOCAL")
        _series(conn, "6", "MIDRC-RICORD-1AB")  # no '-' after the name: no match
        conn.execute(insert(cat.csv_series).values(series_uid="1", collection="FROM-CSV"))
        resolve_collections(conn)
        got = dict(conn.execute(select(cat.series.c.series_uid, cat.series.c.collection)).all())
        studies = dict(
            conn.execute(select(cat.studies.c.study_uid, cat.studies.c.collection)).all()
        )
    assert got == {
        "1": "FROM-CSV",
        "2": "FROM-TAG",
        "3": "FROM-TAG",
        "4": "MIDRC-RICORD-1C",
        "5": "(none)",
        "6": "(none)",
    }
    assert studies["st1"] == "FROM-CSV"


def test_merge_refuses_unusable_side_files(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x,y\n1,2\n")
    (tmp_path / "b.json").write_text('{"labelGroups": [], "datasets": [{"annotations": [{}]}]}')
    (tmp_path / "c.xlsx").write_bytes(b"PK not really a workbook")
    (tmp_path / "metadata.csv").write_text("Series UID,Collection\n1.2,COLL\n")
    engine = cat.open_catalog(tmp_path / "c.sqlite")
    side = [(n, side_kind(n) or "") for n in ("a.csv", "b.json", "c.xlsx", "metadata.csv")]
    with engine.begin() as conn:
        used, refused = merge_side_files(conn, tmp_path, side)
    assert used == []
    reasons = {p: (k, r) for p, k, r in refused}
    kind, reason = reasons["a.csv"]
    assert kind == "not-dicom"
    assert reason == "a CSV file that is not an NBIA metadata.csv (no 'Series UID' column)"
    assert reasons["b.json"][0] == "bad-side-file" and "no 'id' key" in reasons["b.json"][1]
    assert "not a readable .xlsx workbook" in reasons["c.xlsx"][1]
    assert "lacks column(s) 'Subject ID'" in reasons["metadata.csv"][1]


def _label(reader: str, name: str) -> object:
    return make_reader_label(created_by="U_1", group_name=reader, label_name=name, label_id="L")


def test_reader_agreement_rules() -> None:
    split = [
        _label("Reader 1", "Typical Appearance"),
        _label("Reader 2", "Typical Appearance"),
        _label("Reader 3", "Atypical Appearance"),
        _label("Reader 3", "Severe"),
    ]
    assert votes(split, Appearance) == {Appearance.TYPICAL: 2, Appearance.ATYPICAL: 1}  # type: ignore[arg-type]
    assert consensus(split, Appearance) is Appearance.TYPICAL  # type: ignore[arg-type]
    assert consensus(split, Severity) is Severity.SEVERE  # type: ignore[arg-type]
    assert matches(split, Appearance.ATYPICAL, "any")  # type: ignore[arg-type]
    assert not matches(split, Appearance.ATYPICAL, "majority")  # type: ignore[arg-type]
    assert not matches(split, Appearance.TYPICAL, "unanimous")  # type: ignore[arg-type]
    tie = [_label("Reader 1", "Typical Appearance"), _label("Reader 2", "Negative for Pneumonia")]
    assert consensus(tie, Appearance) is None  # type: ignore[arg-type]
    adjudicated = [*tie, _label("Adjudication", "Negative for Pneumonia")]
    assert consensus(adjudicated, Appearance) is Appearance.NEGATIVE  # type: ignore[arg-type]
    one = make_reader_label(
        created_by="U_x", group_name="Default group", label_name="Typical", label_id="L"
    )
    assert one.reader == "U_x" and one.appearance is Appearance.TYPICAL and one.severity is None
    assert matches([one], Appearance.TYPICAL, "unanimous")
