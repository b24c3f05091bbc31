"""The demo repository builder: layout, side files, determinism, safety."""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pydicom
import pytest
from matplotlib.path import Path as MplPath

from teachingfiles.demo import DEMO_COLLECTIONS, CollectionSummary, DemoSummary, build_demo
from teachingfiles.demo.real_images import REAL_IMAGES
from teachingfiles.demo.specs import ct_specs, radiograph_specs
from teachingfiles.errors import RepositoryError
from teachingfiles.repository.clinical import read_clinical_xlsx
from teachingfiles.repository.mdai import MdaiProject, read_mdai
from teachingfiles.repository.nbia import (
    MetadataRow,
    format_file_size,
    read_metadata_csv,
    read_tcia_manifest,
    series_folder_name,
    study_folder_name,
)
from teachingfiles.vocabulary import Appearance, Finding, LabelScope, Severity

MB = 1_000_000


def _downloads(root: Path) -> dict[str, tuple[Path, list[MetadataRow]]]:
    out = {}
    for csv_path in sorted(root.glob("manifest-*/metadata.csv")):
        rows = read_metadata_csv(csv_path)
        out[rows[0].collection] = (csv_path.parent, rows)
    return out


def _project(root: Path, tag: str) -> MdaiProject:
    (path,) = (root / "annotations").glob(f"DEMO-RICORD-{tag}_*.json")
    return read_mdai(path)


def _files_of(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.dcm"))


def test_public_api_is_pinned() -> None:
    import teachingfiles.demo as demo

    assert sorted(demo.__all__) == [
        "CollectionSummary", "DEMO_COLLECTIONS", "DemoSummary", "build_demo",
    ]  # fmt: skip
    assert DEMO_COLLECTIONS == (
        "DEMO-RICORD-1A",
        "DEMO-RICORD-1B",
        "DEMO-RICORD-1C",
        "PYDICOM-DATA",
    )


def test_demo_has_one_download_per_collection_and_the_root_files(demo_root: Path) -> None:
    downloads = _downloads(demo_root)
    assert sorted(downloads) == sorted(DEMO_COLLECTIONS)
    for collection, (folder, rows) in downloads.items():
        assert len(folder.name) == len("manifest-") + 13
        assert {r.collection for r in rows} == {collection}
        manifest = read_tcia_manifest(demo_root / f"{collection}.tcia")
        assert set(manifest.series_uids) == {r.series_uid for r in rows}
        assert manifest.databasket_id == f"{folder.name}.tcia"
    assert (demo_root / ".complete").exists()
    readme = (demo_root / "README.md").read_text()
    for needed in ("synthetic", "CC0", "MIT", "RICORD", "pydicom-data", "RG1_J2KR.dcm"):
        assert needed in readme
    assert "$" not in readme  # every template placeholder was filled


def test_case_counts_meet_the_brief(demo_root: Path) -> None:
    downloads = _downloads(demo_root)
    studies = {c: {r.study_uid for r in rows} for c, (_, rows) in downloads.items()}
    assert len(studies["DEMO-RICORD-1A"]) >= 8
    assert len(studies["DEMO-RICORD-1B"]) >= 4
    assert len(studies["DEMO-RICORD-1C"]) >= 16
    rows_1c = downloads["DEMO-RICORD-1C"][1]
    per_patient = Counter(r.subject_id for r in rows_1c)
    assert any(n >= 2 for n in per_patient.values()), "1c needs follow-up studies"
    assert {r.modality for r in rows_1c} == {"CR", "DX"}
    appearances = Counter(s.appearance for s in ct_specs() if s.covid_positive)
    assert appearances[Appearance.TYPICAL] >= 2 and appearances[Appearance.ATYPICAL] >= 3
    assert {s.appearance for s in radiograph_specs()} == set(Appearance)
    assert {s.severity for s in radiograph_specs()} == {*Severity, None}


def test_every_series_folder_is_named_from_its_own_headers(demo_root: Path) -> None:
    on_disk = set(demo_root.glob("manifest-*/*/*/*/*/*.dcm"))
    listed: set[Path] = set()
    for collection, (download, rows) in _downloads(demo_root).items():
        for row in rows:
            folder = row.folder(download)
            files = _files_of(folder)
            listed.update(files)
            assert len(files) == row.number_of_images, folder
            assert format_file_size(sum(f.stat().st_size for f in files)) == row.file_size
            ds = pydicom.dcmread(files[0], stop_before_pixels=True)
            assert folder.name == series_folder_name(
                ds.get("SeriesNumber"), ds.get("SeriesDescription"), ds.SeriesInstanceUID
            )
            assert folder.parent.name == study_folder_name(
                ds.get("StudyDate"), ds.get("StudyDescription"), ds.StudyInstanceUID
            )
            assert folder.parent.parent.name == ds.PatientID == row.subject_id
            assert folder.parents[2].name == collection
            assert (ds.SeriesInstanceUID, ds.StudyInstanceUID) == (row.series_uid, row.study_uid)
            assert ds.SOPClassUID == row.sop_class_uid and ds.SOPClassUID.name == row.sop_class_name
            assert ds.Modality == row.modality
    assert listed == on_disk


def test_demo_is_under_200_mb(demo_root: Path) -> None:
    total = sum(p.stat().st_size for p in demo_root.rglob("*") if p.is_file())
    assert total < 200 * MB, f"{total / MB:.1f} MB"


def test_synthetic_headers_say_what_they_are(demo_root: Path) -> None:
    for collection, (download, rows) in _downloads(demo_root).items():
        if collection == "PYDICOM-DATA":
            continue
        for row in rows:
            ds = pydicom.dcmread(_files_of(row.folder(download))[0], stop_before_pixels=True)
            assert str(ds.PatientName).startswith("SYNTHETIC^")
            assert "SYNTHETIC" in ds.StudyDescription
            assert ds.InstitutionName == "teachingfiles demo (synthetic)"
            assert ds.Manufacturer == "teachingfiles"
            assert ds.StudyDate.startswith("2020")
            assert ds.PatientID.startswith(f"{collection}-SYN")
            block = ds.private_block(0x0013, "CTP")
            assert block[0x10].value == collection
            assert block[0x13].value == ds.PatientID.split("-")[3]


def test_transfer_syntaxes_per_collection(demo_root: Path) -> None:
    expected = {"DEMO-RICORD-1A": "1.2.840.10008.1.2.5", "DEMO-RICORD-1B": "1.2.840.10008.1.2.1.99",
                "DEMO-RICORD-1C": "1.2.840.10008.1.2.5"}  # fmt: skip
    for collection, (download, rows) in _downloads(demo_root).items():
        for row in rows[:2]:
            ds = pydicom.dcmread(_files_of(row.folder(download))[0])
            if collection in expected:
                assert ds.file_meta.TransferSyntaxUID == expected[collection]
            assert ds.pixel_array.shape[:2] == (ds.Rows, ds.Columns)


def test_real_images_are_copied_byte_for_byte(demo_root: Path) -> None:
    download, rows = _downloads(demo_root)["PYDICOM-DATA"]
    copies = {f.read_bytes() for row in rows for f in _files_of(row.folder(download))}
    assert copies == {image.path.read_bytes() for image in REAL_IMAGES}
    assert all(r.data_description_uri.startswith("https://") for r in rows)


def test_ct_pixels_and_geometry_round_trip(demo_root: Path) -> None:
    from teachingfiles.demo.synthetic_ct import make_chest_ct

    spec = next(s for s in ct_specs() if s.variant == "cavity")
    ct = make_chest_ct(spec.appearance, seed=spec.seed, variant=spec.variant)
    download, rows = _downloads(demo_root)["DEMO-RICORD-1A"]
    row = next(r for r in rows if r.subject_id == spec.patient.patient_id)
    slices = [pydicom.dcmread(f) for f in _files_of(row.folder(download))]
    slices.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    assert [int(d.InstanceNumber) for d in slices] == list(range(len(slices), 0, -1))
    assert np.allclose([float(d.ImagePositionPatient[2]) for d in slices], ct.slice_z)
    first = slices[0]
    assert np.allclose([float(v) for v in first.ImagePositionPatient[:2]], ct.origin_xy)
    assert np.allclose([float(v) for v in first.PixelSpacing], ct.pixel_spacing)
    assert list(first.WindowCenterWidthExplanation) == ["LUNG", "MEDIASTINUM"]
    hu = np.stack([d.pixel_array.astype(np.int32) * int(d.RescaleSlope) + int(d.RescaleIntercept)
                   for d in slices])  # fmt: skip
    assert np.array_equal(hu, np.clip(ct.hu, -1024, 3071))


def test_radiograph_monochrome1_stores_the_inverse(demo_root: Path) -> None:
    from teachingfiles.demo.synthetic_radiograph import make_chest_radiograph

    download, rows = _downloads(demo_root)["DEMO-RICORD-1C"]
    seen = set()
    for spec in radiograph_specs():
        key = (spec.modality, spec.photometric)
        if key in seen:
            continue
        seen.add(key)
        rad = make_chest_radiograph(
            spec.appearance, spec.severity, seed=spec.seed, size=spec.size, view=spec.view,
            variant=spec.variant,
        )  # fmt: skip
        row = next(r for r in rows if r.subject_id == spec.patient.patient_id
                   and r.study_date == spec.study_date.strftime("%m-%d-%Y"))  # fmt: skip
        ds = pydicom.dcmread(_files_of(row.folder(download))[0])
        assert ds.PhotometricInterpretation == spec.photometric
        assert ds.ViewPosition == spec.view and ds.BodyPartExamined == "CHEST"
        expected = rad.pixels if spec.photometric == "MONOCHROME2" else 4095 - rad.pixels
        assert np.array_equal(ds.pixel_array, expected)
        if ds.Modality == "DX":
            shape = "INVERSE" if spec.photometric == "MONOCHROME1" else "IDENTITY"
            assert ds.PresentationLUTShape == shape
    assert len(seen) == 4, "CR and DX, each in MONOCHROME1 and MONOCHROME2"


def test_mdai_json_round_trips_exactly(demo_root: Path) -> None:
    files = sorted((demo_root / "annotations").glob("*.json"))
    assert len(files) == 2
    for path in files:
        assert read_mdai(path).to_mdai() == json.loads(path.read_text())


def test_1a_study_labels_follow_the_cases(demo_root: Path) -> None:
    project = _project(demo_root, "1a")
    names = {label.id: label.name for label in project.labels}
    by_study: dict[str, set[str]] = defaultdict(set)
    for ann in project.annotations():
        if ann.sop_uid is None:
            assert ann.series_uid is None and ann.data is None and ann.height is None
            by_study[ann.study_uid].add(names[ann.label_id])
        assert ann.created_by and ann.created_by.startswith("U_")
        assert ann.created_at and ann.created_at.endswith("Z")
    _, rows = _downloads(demo_root)["DEMO-RICORD-1A"]
    assert set(by_study) == {r.study_uid for r in rows}
    for spec in (s for s in ct_specs() if s.patient.collection == "DEMO-RICORD-1A"):
        row = next(r for r in rows if r.subject_id == spec.patient.patient_id)
        labels = by_study[row.study_uid]
        assert spec.appearance.ct_label in labels
        assert ("Infectious lung disease" in labels) == (spec.appearance is not Appearance.NEGATIVE)


@pytest.mark.slow
def test_1a_polygons_cover_every_masked_slice(demo_root: Path) -> None:
    from teachingfiles.demo.synthetic_ct import make_chest_ct

    project = _project(demo_root, "1a")
    names = {label.id: label.name for label in project.labels}
    download, rows = _downloads(demo_root)["DEMO-RICORD-1A"]
    for variant in ("crazy-paving", "cavity", "tree-in-bud"):
        spec = next(s for s in ct_specs() if s.variant == variant)
        ct = make_chest_ct(spec.appearance, seed=spec.seed, variant=spec.variant)
        row = next(r for r in rows if r.subject_id == spec.patient.patient_id)
        slices = [
            pydicom.dcmread(f, stop_before_pixels=True) for f in _files_of(row.folder(download))
        ]
        slices.sort(key=lambda d: float(d.ImagePositionPatient[2]))  # generator order
        index = {str(d.SOPInstanceUID): k for k, d in enumerate(slices)}
        drawn: dict[tuple[str, int], list[list[tuple[float, float]]]] = defaultdict(list)
        for ann in project.annotations():
            if ann.study_uid == row.study_uid and ann.sop_uid is not None:
                assert ann.series_uid == row.series_uid and ann.frame_number == 0
                assert (ann.height, ann.width) == ct.hu.shape[1:]
                assert project.label_map()[ann.label_id].scope is LabelScope.INSTANCE
                drawn[(names[ann.label_id], index[ann.sop_uid])].append(ann.vertices)
        assert ct.masks, variant
        for finding, mask in ct.masks.items():
            masked = {k for k in range(mask.shape[0]) if mask[k].any()}
            assert masked, (variant, finding)
            assert {k for (name, k) in drawn if name == finding.value} == masked
            for k in sorted(masked)[:: max(1, len(masked) // 4)]:
                inside = _rasterize(drawn[(finding.value, k)], mask.shape[1:])
                overlap = (inside & mask[k]).sum() / max(1, (inside | mask[k]).sum())
                assert overlap > 0.7, (variant, finding, k, overlap)
    assert Finding.INFECTIOUS_CAVITY.value in set(names.values())


def _rasterize(polygons: list[list[tuple[float, float]]], shape: tuple[int, ...]) -> np.ndarray:
    rows, cols = shape
    yy, xx = np.mgrid[:rows, :cols]
    points = np.column_stack([xx.ravel(), yy.ravel()])
    out = np.zeros(rows * cols, bool)
    for poly in polygons:
        out |= MplPath(np.asarray(poly)).contains_points(points, radius=0.5)
    return out.reshape(rows, cols)


def test_1c_readers_disagree_honestly_and_adjudication_settles_it(demo_root: Path) -> None:
    project = _project(demo_root, "1c")
    labels = project.label_map()
    reads: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for ann in project.annotations():
        label = labels[ann.label_id]
        assert label.scope is LabelScope.STUDY and ann.sop_uid is None
        reads[ann.study_uid][label.group_name or ""].append(label.name)
    _, rows = _downloads(demo_root)["DEMO-RICORD-1C"]
    assert set(reads) == {r.study_uid for r in rows}
    categories = {a.radiograph_label for a in Appearance}
    grades = {g.label for g in Severity}
    category_split = grade_split = 0
    for groups in reads.values():
        readers = [groups[f"Reader {i}"] for i in (1, 2, 3)]
        called = []
        for names in readers:
            (category,) = [n for n in names if n in categories]
            graded = [n for n in names if n in grades]
            assert len(graded) == (0 if category == "Negative for Pneumonia" else 1), names
            called.append((category, tuple(graded)))
        disagree = len(set(called)) > 1
        assert ("Adjudication" in groups) == disagree
        category_split += len({c for c, _ in called}) > 1
        grade_split += len({g for _, g in called if g}) > 1
    assert category_split >= 2 and grade_split >= 2


def test_mdai_client_reads_our_json(demo_root: Path) -> None:
    common_utils = pytest.importorskip("mdai.utils.common_utils")
    for path in sorted((demo_root / "annotations").glob("*.json")):
        ours = read_mdai(path)
        frames = common_utils.json_to_dataframe(str(path))
        annotations = frames["annotations"]
        assert len(annotations) == sum(1 for _ in ours.annotations())
        names = ours.label_map()
        assert set(annotations["labelName"]) == {names[a.label_id].name for a in ours.annotations()}
        assert len(frames["labels"]) == len(ours.labels)
        assert len(frames["studies"]) == sum(len(d.studies) for d in ours.datasets)


def test_clinical_sheets_read_back(demo_root: Path) -> None:
    downloads = _downloads(demo_root)
    files = {p.name: p for p in (demo_root / "clinical").glob("*.xlsx")}
    expected = {
        "DEMO-RICORD-1a-Clinical-Data-Jan-13-2021.xlsx": ("DEMO-RICORD-1A", "DETECTED"),
        "DEMO-RICORD-1b-Clinical-Data-Feb-2021.xlsx": ("DEMO-RICORD-1B", "NOT DETECTED"),
        "DEMO-RICORD-1c Clinical Data Jan 13 2021 .xlsx": ("DEMO-RICORD-1C", "DETECTED"),
    }
    assert set(files) == set(expected)
    for name, (collection, result) in expected.items():
        clinical = read_clinical_xlsx(files[name])
        rows = downloads[collection][1]
        by_uid = {r.study_uid: r for r in rows}
        assert {c.study_uid for c in clinical} == set(by_uid)
        for c in clinical:
            row = by_uid[c.study_uid]
            assert c.result == result
            assert f"{collection}-{c.mrn}" == row.subject_id
            assert c.image_count == row.number_of_images and c.modality == row.modality
            month, day, year = (int(v) for v in c.study_date.split("/"))
            assert f"{month:02d}-{day:02d}-{year}" == row.study_date
            assert c.age is not None and 18 <= c.age <= 90 and c.sex in ("M", "F")
        if collection == "DEMO-RICORD-1C":
            assert {c.sheet for c in clinical} == {"CR Pos - TCIA Submission"}
        if collection == "DEMO-RICORD-1B":
            assert {c.symptomatic for c in clinical} <= {"Yes", "No"}


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_build_is_deterministic_and_replaces_only_with_force(tmp_path: Path) -> None:
    first = build_demo(tmp_path / "a", workers=1, _subset=1)
    taken = tmp_path / "b"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(RepositoryError, match=r"b: the folder is not empty and is not a "
                       r"teachingfiles demo repository .* pass force=True"):  # fmt: skip
        build_demo(taken, _subset=1)
    assert (taken / "notes.txt").exists()
    second = build_demo(taken, workers=2, force=True, _subset=1)
    assert not (taken / "notes.txt").exists()
    assert _hashes(tmp_path / "a") == _hashes(taken)
    assert first.collections == second.collections
    assert [c.name for c in first.collections] == list(DEMO_COLLECTIONS)
    assert first.files == 64 + 64 + 1 + 1
    empty = build_demo(taken, _subset=0)  # a demo is replaced without force
    assert empty.files == 0 and not list(taken.glob("manifest-*"))
    assert (taken / ".complete").exists() and (taken / "README.md").exists()
    assert not list(tmp_path.glob(".*"))  # no partial or old folders left behind


def test_summary_formats_a_readable_table(tmp_path: Path) -> None:
    summary = DemoSummary(
        tmp_path,
        (CollectionSummary("DEMO-RICORD-1A", 9, 9, 9, 576, 54_000_000),
         CollectionSummary("PYDICOM-DATA", 6, 6, 6, 6, 6_000_000)),
        12.34,
    )  # fmt: skip
    text = summary.format()
    assert str(tmp_path) in text
    assert "DEMO-RICORD-1A" in text and "54.0" in text
    assert text.splitlines()[-2].split() == ["total", "15", "15", "15", "582", "60.0"]
    assert text.endswith("12.3 seconds")


def test_cli_demo_build_refuses_a_foreign_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from teachingfiles.commands import demo

    parser = argparse.ArgumentParser(prog="teachingfiles")
    demo.register(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["demo", "build", "--help"])
    assert exit_info.value.code == 0
    assert "--workers N" in capsys.readouterr().out
    (tmp_path / "data.dcm").write_bytes(b"x")
    args = parser.parse_args(["demo", "build", str(tmp_path), "--quiet"])
    with pytest.raises(RepositoryError, match="not a teachingfiles demo repository"):
        args.func(args)


def test_cli_rejects_a_bad_worker_count(capsys: pytest.CaptureFixture[str]) -> None:
    from teachingfiles.commands import demo

    parser = argparse.ArgumentParser(prog="teachingfiles")
    demo.register(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "build", "--workers", "0", "somewhere"])
    assert "expected a whole number of 1 or more, got '0'" in capsys.readouterr().err


def test_main_job_refuses_a_foreign_folder_before_building(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from teachingfiles.commands import demo

    parser = argparse.ArgumentParser(prog="teachingfiles")
    demo.register(parser.add_subparsers(dest="command"))
    (tmp_path / "notes.txt").write_text("mine")
    args = parser.parse_args(["demo", "--dir", str(tmp_path)])
    with pytest.raises(RepositoryError, match="demo build DIR --force"):
        args.func(args)
    assert "Building" not in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
