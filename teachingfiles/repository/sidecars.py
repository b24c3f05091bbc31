"""Side files merged into the catalog: ``metadata.csv``, MD.ai JSON, clinical sheets.

They are recognised by content, wherever they lie under the root: a CSV whose
header has the NBIA retriever's ``Series UID`` and ``Collection`` columns, a JSON
file that :func:`~teachingfiles.repository.mdai.is_mdai_json` accepts, a workbook
with RICORD's ``Anon MRN`` and ``Anon Study UID`` columns. Then every series gets
its collection: ``metadata.csv`` ``Collection`` > the TCIA private ProjectName
(0013,1010) of the "CTP" block > a known collection that prefixes the PatientID >
``"(none)"``. Folder names alone never decide.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select, update

from teachingfiles.errors import FormatError
from teachingfiles.repository import catalog as cat
from teachingfiles.repository.clinical import read_clinical_xlsx
from teachingfiles.repository.mdai import is_mdai_json, read_mdai
from teachingfiles.repository.nbia import read_metadata_csv
from teachingfiles.repository.ricord import COLLECTION_1A, COLLECTION_1B, COLLECTION_1C

__all__ = [
    "NO_COLLECTION",
    "SIDE_SUFFIXES",
    "merge_side_files",
    "resolve_collections",
    "side_kind",
]

#: The collection of a series nothing places in one.
NO_COLLECTION = "(none)"

#: File name endings read as side files rather than as DICOM candidates.
SIDE_SUFFIXES = (".json", ".csv", ".xlsx", ".tcia", ".md", ".rst", ".yaml", ".yml")

_KNOWN_COLLECTIONS = (COLLECTION_1A, COLLECTION_1B, COLLECTION_1C)


_SIDE_KINDS = {"json": "json", "csv": "csv", "xlsx": "xlsx", "tcia": "tcia", "md": "doc",
               "rst": "doc", "yaml": "yaml", "yml": "yaml"}  # fmt: skip


def side_kind(name: str) -> str | None:
    """Return ``"json"``, ``"csv"``, ``"xlsx"``, ``"tcia"``, ``"yaml"``, ``"doc"`` or ``None``.

    Teaching set manifests (YAML), ``.tcia`` manifests and READMEs are recorded as
    side files rather than reported as "not DICOM".
    """
    _, dot, suffix = name.rpartition(".")
    if not dot or "/" in suffix:
        return None
    return _SIDE_KINDS.get(suffix.lower())


def merge_side_files(
    conn: Connection, root: Path, side: Sequence[tuple[str, str]]
) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """Reload every side file into the catalog (replacing what was merged before).

    Parameters
    ----------
    conn
        An open transaction on the catalog.
    root
        The repository root.
    side
        ``(relative path, kind)`` of every side file now under the root.

    Returns
    -------
    used, refused
        ``(path, what)`` of the files merged (``what``: metadata, mdai, clinical,
        tcia, doc) and ``(path, kind, reason)`` of those that could not be used.
    """
    for table in (cat.csv_series, cat.mdai_labels, cat.mdai_annotations, cat.clinical):
        conn.execute(delete(table))
    used: list[tuple[str, str]] = []
    refused: list[tuple[str, str, str]] = []
    for rel, kind in sorted(side):
        path = root / rel
        try:
            what = _merge_one(conn, root, path, rel, kind)
        except FormatError as exc:
            refused.append((rel, "bad-side-file", exc.reason))
            continue
        except (OSError, ValueError) as exc:
            refused.append((rel, "bad-side-file", f"cannot be read ({exc})"))
            continue
        if what is None:
            refused.append((rel, "not-dicom", _NOT_USED[kind]))
        else:
            used.append((rel, what))
    return used, refused


_NOT_USED = {
    "json": "a JSON file that is not an MD.ai annotation export (no 'labelGroups'/'datasets')",
    "csv": "a CSV file that is not an NBIA metadata.csv (no 'Series UID' column)",
    "xlsx": "a workbook without RICORD's clinical columns ('Anon MRN', 'Anon Study UID')",
}


def _merge_one(conn: Connection, root: Path, path: Path, rel: str, kind: str) -> str | None:
    if kind in ("tcia", "doc", "yaml"):  # known, kept in the file list, not merged
        return kind
    if kind == "json":
        if not is_mdai_json(path):
            return None
        _merge_mdai(conn, path, rel)
        return "mdai"
    if kind == "csv":
        with path.open(encoding="utf-8-sig", errors="replace") as fh:
            header = fh.readline()
        if "Series UID" not in header or "Collection" not in header:
            return None
        _merge_metadata(conn, root, path, rel)
        return "metadata"
    if kind == "xlsx":
        try:
            rows = read_clinical_xlsx(path)
        except FormatError as exc:
            if "no sheet with the columns" in exc.reason:
                return None
            raise
        _insert_or_replace(conn, cat.clinical, [
            {"study_uid": r.study_uid, "mrn": r.mrn, "age": r.age,
             "exam_description": r.exam_description, "sex": r.sex,
             "image_count": r.image_count, "modality": r.modality, "result": r.result,
             "specimen_source": r.specimen_source, "study_date": r.study_date,
             "symptomatic": r.symptomatic, "row": r.row, "sheet": r.sheet, "source": rel}
            for r in rows
        ])  # fmt: skip
        return "clinical"
    return None


def _insert_or_replace(conn: Connection, table: Table, rows: list[dict[str, object]]) -> None:
    if rows:
        conn.execute(insert(table).prefix_with("OR REPLACE"), rows)


def _merge_mdai(conn: Connection, path: Path, rel: str) -> None:
    project = read_mdai(path)
    _insert_or_replace(conn, cat.mdai_labels, [
        {"label_id": lab.id, "name": lab.name, "scope": lab.scope.value,
         "mode": None if lab.mode is None else lab.mode.value, "color": lab.color,
         "description": lab.description, "group_id": lab.group_id,
         "group_name": lab.group_name, "source": rel}
        for lab in project.labels
    ])  # fmt: skip
    rows: list[dict[str, object]] = [
        {"annotation_id": a.id, "label_id": a.label_id, "study_uid": a.study_uid,
         "series_uid": a.series_uid, "sop_uid": a.sop_uid, "frame_number": a.frame_number,
         "data": None if a.data is None else json.dumps(a.data, separators=(",", ":")),
         "height": a.height, "width": a.width, "note": a.note, "created_by": a.created_by,
         "created_at": a.created_at, "dataset_id": a.dataset_id, "source": rel}
        for a in project.annotations()
    ]  # fmt: skip
    if rows:
        conn.execute(insert(cat.mdai_annotations), rows)


def _merge_metadata(conn: Connection, root: Path, path: Path, rel: str) -> None:
    rows = read_metadata_csv(path)
    out: list[dict[str, object]] = []
    for row in rows:
        folder = row.folder(path.parent)
        try:
            location = folder.relative_to(root).as_posix()
        except ValueError:
            location = row.file_location
        out.append(
            {"series_uid": row.series_uid, "collection": row.collection or None,
             "subject_id": row.subject_id, "study_uid": row.study_uid,
             "file_location": location, "number_of_images": row.number_of_images,
             "source": rel}
        )  # fmt: skip
    _insert_or_replace(conn, cat.csv_series, out)


def resolve_collections(conn: Connection) -> None:
    """Set ``series.collection`` and the study and patient collections from it."""
    s, c = cat.series, cat.csv_series
    from_csv = select(c.c.collection).where(c.c.series_uid == s.c.series_uid).scalar_subquery()
    conn.execute(update(s).values(collection=func.coalesce(from_csv, s.c.tcia_collection)))
    known = _known_collections(conn)
    unplaced = conn.execute(
        select(s.c.series_uid, s.c.patient_id).where(s.c.collection.is_(None))
    ).all()
    updates = []
    for uid, patient_id in unplaced:
        pid = (patient_id or "").upper()
        name = next((k for k in known if pid.startswith(k.upper() + "-")), NO_COLLECTION)
        updates.append({"uid": uid, "collection": name})
    if updates:
        conn.execute(
            update(s)
            .where(s.c.series_uid == bindparam("uid"))
            .values(collection=bindparam("collection")),
            updates,
        )
    st, p = cat.studies, cat.patients
    first = (
        select(func.min(s.c.collection)).where(s.c.study_uid == st.c.study_uid).scalar_subquery()
    )
    conn.execute(update(st).values(collection=first))
    by_patient = (
        select(func.min(st.c.collection)).where(st.c.patient_id == p.c.patient_id).scalar_subquery()
    )
    conn.execute(update(p).values(collection=by_patient))


def _known_collections(conn: Connection) -> list[str]:
    names: set[str] = set(_KNOWN_COLLECTIONS)
    names.update(n for (n,) in conn.execute(select(cat.csv_series.c.collection).distinct()) if n)
    names.update(n for (n,) in conn.execute(select(cat.series.c.tcia_collection).distinct()) if n)
    return sorted(names, key=len, reverse=True)  # longest prefix first
