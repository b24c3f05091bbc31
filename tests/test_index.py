"""``teachingfiles index``: scanning, skipping, re-indexing, the CLI and the demo."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
from _minirepo import build

from teachingfiles.cli import main
from teachingfiles.repository import Repository
from teachingfiles.repository.clinical import read_clinical_xlsx
from teachingfiles.repository.mdai import read_mdai


def test_bad_files_are_skipped_with_reasons_and_good_ones_indexed(tmp_path: Path) -> None:
    mini = build(tmp_path, bad=True)
    report = Repository.open(tmp_path, index=False).index()
    skipped = {s.path: s for s in report.skipped}
    assert {p: s.kind for p, s in skipped.items()} == mini.bad
    assert (
        "declares 128 bytes but the file ends 88 bytes" in skipped["bad/cut_in_pixels.dcm"].reason
    )
    assert skipped["bad/zero.dcm"].reason == "empty file (0 bytes), not DICOM"
    assert skipped["bad/nopixels.dcm"].reason.startswith("no pixel data")
    assert skipped["bad/DICOMDIR"].reason.startswith("DICOMDIR")
    assert report.instances == 6 + 3 + 3
    assert report.new == 25 and report.changed == report.unchanged == report.removed == 0


def test_skipped_files_are_remembered_by_a_reindex(tmp_path: Path) -> None:
    mini = build(tmp_path, bad=True)
    first = Repository.open(tmp_path, index=False).index()
    again = Repository.open(tmp_path, index=False).index()
    assert {s.path for s in again.skipped} == set(mini.bad)
    assert again.unchanged == 25 and again.new == again.changed == 0
    ignore = {"seconds": 0, "new": 0, "unchanged": 0}
    assert again.as_dict() | ignore == first.as_dict() | ignore


def test_reindex_reads_only_changes(tmp_path: Path) -> None:
    mini = build(tmp_path)
    repo = Repository.open(tmp_path, index=False)
    first = repo.index()
    assert first.instances == 12
    files = sorted((tmp_path / "manifest-1600000000000").rglob("1-00*.dcm"))
    removed, changed = files[0], files[1]
    removed.unlink()
    data = bytearray(changed.read_bytes())
    data[-1] ^= 0xFF  # same size, new content and mtime
    changed.write_bytes(bytes(data))
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    (tmp_path / "new").mkdir()
    shutil.copy(files[2], tmp_path / "new" / "copy-of-a-slice")
    second = repo.index()
    assert (second.new, second.changed, second.removed) == (1, 1, 1)
    assert second.unchanged == first.new - 2
    assert second.instances == 12  # one removed, one copy added
    paths = {i.path for s in mini.ct_series for i in repo.instances(s)}
    assert removed not in paths and changed in paths
    assert tmp_path / "new" / "copy-of-a-slice" in paths


def test_removing_a_whole_series_prunes_it(tmp_path: Path) -> None:
    mini = build(tmp_path)
    repo = Repository.open(tmp_path)
    shutil.rmtree(tmp_path / "pacs export" / "none")
    report = repo.index()
    assert report.removed == 1
    assert report.series == 7
    assert "(none)" not in {c.name for c in report.collections}
    assert mini.other_series["none"] not in {
        s.series_uid for st in repo.studies() for s in repo.series(st.study_uid)
    }


def test_side_file_change_is_merged_again(tmp_path: Path) -> None:
    build(tmp_path)
    repo = Repository.open(tmp_path)
    assert repo.index().annotations == 23
    (tmp_path / "annotations" / "test_annotations_labelgroup_all.json").unlink()
    assert repo.index().annotations == 0


def test_parallel_and_serial_reads_agree(tmp_path: Path) -> None:
    root = tmp_path / "root"
    mini = build(root)
    src = next((root / "manifest-1600000000000").rglob("1-001.dcm"))
    flat = root / "flat"
    flat.mkdir()
    for n in range(450):  # above the in-process threshold: worker processes are used
        shutil.copy(src, flat / f"f{n:04d}")
    one = Repository.open(root, catalog=tmp_path / "one.sqlite", index=False).index(workers=1)
    two = Repository.open(root, catalog=tmp_path / "two.sqlite", index=False).index(workers=2)
    assert one.as_dict() | {"seconds": 0, "catalog": ""} == two.as_dict() | {
        "seconds": 0,
        "catalog": "",
    }
    assert one.instances == 12 + 450
    repo = Repository.open(root, catalog=tmp_path / "two.sqlite", index=False)
    assert sum(len(repo.instances(s)) for s in mini.ct_series) == 6 + 450


def test_catalog_inside_the_root_is_not_scanned(tmp_path: Path) -> None:
    build(tmp_path)
    report = Repository.open(tmp_path, catalog=tmp_path / "my.sqlite", index=False).index()
    assert report.skipped == ()
    assert not any(p.startswith("my.sqlite") for p, _ in report.side_files)


def test_cli_json_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build(tmp_path, bad=True)
    catalog = tmp_path / "elsewhere" / "cat.sqlite"
    assert main(["index", str(tmp_path), "--json", "--catalog", str(catalog), "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in (
        "collections",
        "patients",
        "studies",
        "series",
        "instances",
        "annotations",
        "skipped",
        "new",
        "changed",
        "unchanged",
        "removed",
        "seconds",
        "catalog",
    ):
        assert key in out, key
    assert out["catalog"] == str(catalog) and catalog.exists()
    assert out["collections"]["TEST-RICORD-1A"] == {
        "patients": 2,
        "studies": 2,
        "series": 2,
        "instances": 6,
        "annotations": 4,
    }
    assert set(out["skipped"][0]) >= {"path", "reason"}
    assert all(not Path(s["path"]).is_absolute() for s in out["skipped"])
    assert (out["new"], out["unchanged"]) == (25, 0)


def test_cli_strict_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build(tmp_path, bad=True)
    assert main(["index", str(tmp_path), "--strict", "--workers", "1"]) == 1
    text = capsys.readouterr().out
    assert "TEST-RICORD-1C" in text and "Skipped 9 file(s):" in text
    assert "bad/zero.dcm: empty file" in text
    shutil.rmtree(tmp_path / "bad")
    assert main(["index", str(tmp_path), "--strict", "--no-progress"]) == 0
    assert "0 unchanged" not in capsys.readouterr().out


def test_cli_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", str(tmp_path / "nope")]) == 1
    assert "nope: not a folder" in capsys.readouterr().err


# ----------------------------------------------------------------------- the demo
@pytest.mark.slow
def test_demo_indexes_completely(demo_root: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "demo.sqlite"
    repo = Repository.open(demo_root, catalog=catalog, index=False)
    report = repo.index()
    assert report.skipped == ()
    names = {c.name for c in report.collections}
    assert {"DEMO-RICORD-1A", "DEMO-RICORD-1B", "DEMO-RICORD-1C", "PYDICOM-DATA"} <= names
    assert "(none)" not in names
    dcm = [
        p
        for p in demo_root.rglob("*.dcm")
        if not any(x.startswith(".") for x in p.relative_to(demo_root).parts)
    ]
    assert report.instances == len(dcm)
    by_name = {c.name: c for c in report.collections}
    assert by_name["DEMO-RICORD-1B"].annotations == 0
    # every label and annotation of every MD.ai export is in the catalog
    total = 0
    for path in sorted((demo_root / "annotations").glob("*.json")):
        project = read_mdai(path)
        for ann in project.annotations():
            total += 1
            label = project.label_map()[ann.label_id]
            found = [
                a
                for a in repo.annotations(ann.study_uid, series_uid=ann.series_uid)
                if a.annotation_id == ann.id
            ]
            assert len(found) == 1, ann.id
            assert found[0].label_name == label.name
            assert found[0].sop_uid == ann.sop_uid
            assert found[0].data == ann.data
    assert report.annotations == total
    # clinical rows linked to studies of the catalog
    linked = 0
    for path in sorted((demo_root / "clinical").glob("*.xlsx")):
        for row in read_clinical_xlsx(path):
            got = repo.clinical(row.study_uid)
            assert got is not None and got.mrn == row.mrn
            study = repo.study(row.study_uid)
            assert study.patient_id is not None and study.patient_id.endswith(row.mrn)
            linked += 1
    assert linked > 0
    # 1C: three readers per radiograph
    for study in repo.studies(collection="DEMO-RICORD-1C"):
        readers = Counter(r.reader for r in repo.reader_labels(study.study_uid))
        assert {"Reader 1", "Reader 2", "Reader 3"} <= set(readers)


@pytest.mark.slow
def test_demo_reindex_reads_nothing_again(demo_root: Path, tmp_path: Path) -> None:
    repo = Repository.open(demo_root, catalog=tmp_path / "demo.sqlite", index=False)
    first = repo.index()
    again = repo.index()
    assert again.unchanged == first.new and again.new == again.changed == 0
    assert again.as_dict() | {"seconds": 0, "new": 0, "unchanged": 0} == first.as_dict() | {
        "seconds": 0,
        "new": 0,
        "unchanged": 0,
    }


def test_open_indexes_only_when_asked_or_new(tmp_path: Path) -> None:
    mini = build(tmp_path)
    Repository.open(tmp_path)  # no catalog yet: indexes
    extra = tmp_path / "later" / "slice"
    extra.parent.mkdir()
    shutil.copy(next((tmp_path / "manifest-1600000000000").rglob("1-001.dcm")), extra)

    def count() -> int:
        return sum(len(repo.instances(s)) for s in mini.ct_series)

    repo = Repository.open(tmp_path)  # a catalog exists: not indexed again
    assert count() == 6
    repo = Repository.open(tmp_path, index=True)
    assert count() == 7
