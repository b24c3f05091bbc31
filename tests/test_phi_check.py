from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest
from _phi_corpus import person, write_corpus

from teachingfiles.dicom.deid import DeidOptions, deidentify
from teachingfiles.dicom.phi_check import Identifiers, dciodvfy_errors, verify

SECRET = b"test-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("phi")
    write_corpus(root / "in", patients=2, slices=2)
    deidentify([root / "in"], root / "out", secret=SECRET, options=DeidOptions.educator())
    return root / "in", root / "out"


def _copy(out: Path, tmp_path: Path) -> tuple[Path, Path]:
    target = tmp_path / "out"
    shutil.copytree(out, target)
    return target, sorted(target.rglob("*.dcm"))[0]


def test_clean_output_has_no_hits(pair: tuple[Path, Path]) -> None:
    src, out = pair
    report = verify([src], [out], options=DeidOptions.educator(), validate=0)
    assert report.files == report.originals == 4
    assert report.hits == [] and report.unpaired == 0 and report.clean


def test_identifiers_cover_names_parts_uids_dates_but_not_kept_values(
    pair: tuple[Path, Path],
) -> None:
    ds = pydicom.dcmread(sorted(pair[0].rglob("*.dcm"))[0])
    ids = Identifiers.from_dataset(ds)
    assert "PHIDOE^JANEP001^Q" in ids.texts and "JANEP001" in ids.texts
    assert ds.StudyInstanceUID in ids.uids and ds.StudyDate in ids.dates
    assert "Q" not in ids.texts  # too short to search for
    kept = Identifiers.from_dataset(ds, DeidOptions.educator())
    assert "LUNG 1.25MM" in ids.texts and "LUNG 1.25MM" not in kept.texts
    assert ds.StudyDate in kept.dates  # shifted, so the original must not appear


def test_a_name_planted_in_a_nested_private_element_is_found(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    src, out = pair
    target, first = _copy(out, tmp_path)
    ds = pydicom.dcmread(first)
    item = ds.AnatomicRegionSequence[0]
    item.private_block(0x0011, "LEAK 1.0", create=True).add_new(0x01, "LO", "phidoe")
    ds.save_as(first)
    report = verify([src], [target], options=DeidOptions.educator())
    assert len(report.hits) == 1
    hit = report.hits[0]
    assert hit.file == str(first) and hit.value == "PHIDOE"
    assert hit.where == "AnatomicRegionSequence[0].(0011,1001)"
    assert hit.source.startswith("PatientName")
    assert not report.clean


def test_raw_bytes_are_searched_outside_the_pixel_data(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    src, out = pair
    target, first = _copy(out, tmp_path)
    data = bytearray(first.read_bytes())
    mrn = person(1)["PatientID"].encode()
    data[10 : 10 + len(mrn)] = mrn  # in the preamble, which no element covers
    first.write_bytes(bytes(data))
    report = verify([src], [target], options=DeidOptions.educator())
    assert [(h.where, h.value) for h in report.hits] == [("raw bytes at 10", mrn.decode())]


def test_an_original_uid_or_date_left_behind_is_found(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    src, out = pair
    target, first = _copy(out, tmp_path)
    ds = pydicom.dcmread(first)
    own = next(
        o for o in map(pydicom.dcmread, sorted(src.rglob("*.dcm"))) if o.PixelData == ds.PixelData
    )
    ds.FrameOfReferenceUID = own.FrameOfReferenceUID
    ds.add_new(0x00181012, "DA", own.StudyDate)  # Date of Secondary Capture
    ds.save_as(first)
    report = verify([src], [target], options=DeidOptions.educator())
    assert sorted(h.where for h in report.hits) == ["DateOfSecondaryCapture", "FrameOfReferenceUID"]
    assert report.unpaired == 0


@pytest.mark.tools
def test_dciodvfy_errors_are_reported(pair: tuple[Path, Path], tmp_path: Path) -> None:
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy is not installed")
    first = sorted(pair[1].rglob("*.dcm"))[0]
    assert dciodvfy_errors(first) == []
    broken = pydicom.dcmread(first)
    del broken.Modality
    broken.save_as(tmp_path / "broken.dcm")
    errors = dciodvfy_errors(tmp_path / "broken.dcm")
    assert any("Modality" in e for e in errors)
    report = verify([pair[0]], [tmp_path / "broken.dcm"], validate=-1)
    assert not report.clean and report.summary()["dciodvfy_errors"] >= 1
