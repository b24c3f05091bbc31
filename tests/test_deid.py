from __future__ import annotations

import datetime as dt
import json
import shutil
from itertools import pairwise
from pathlib import Path

import numpy as np
import pydicom
import pytest
from _phi_corpus import ROOT, person, phi_dataset, write_corpus
from pydicom.data import get_testdata_file
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
)

from teachingfiles.dicom import deid as deid_module
from teachingfiles.dicom._deid_table import Action, annex_e
from teachingfiles.dicom._deid_values import Keys, shift_date, shift_datetime
from teachingfiles.dicom.deid import (
    ANNEX_E_EDITION,
    Deidentifier,
    DeidOptions,
    burned_in_reason,
    deidentify,
    load_secret,
)
from teachingfiles.dicom.phi_check import dciodvfy_errors, verify
from teachingfiles.errors import UsageError

SECRET = b"test-secret-0123456789abcdef"


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.dcm"))


def _by_instance(root: Path) -> dict[int, pydicom.Dataset]:
    return {int(ds.InstanceNumber): ds for ds in map(pydicom.dcmread, _files(root))}


@pytest.fixture(scope="module")
def every(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two patients, three slices each, PHI in every attribute of Table E.1-1."""
    root = tmp_path_factory.mktemp("every")
    write_corpus(root, patients=2, slices=3, every_attribute=True)
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(root, patients=2, slices=4)
    return root


# ---------------------------------------------------------------- the table
def test_table_is_data_with_its_edition() -> None:
    table = annex_e()
    assert table.edition == ANNEX_E_EDITION == "2024b"
    assert len(table.rows) >= 600
    assert table.row("PatientName").basic == "Z"
    assert table.row("StudyInstanceUID").basic == "U"
    assert table.row("InstitutionName").basic == "X/Z/D"
    assert table.row("ReferencedImageSequence").basic == "X/Z/U*"
    assert table.row("PatientAge").options["rtn_pat_chars"] == "K"
    assert table.row("StudyDate").options["rtn_long_modif_dates"] == "C"
    assert table.row("StudyDescription").options["clean_desc"] == "C"


def test_table_keywords_agree_with_pydicom() -> None:
    for row in annex_e().rows:
        if "x" in row.tag:
            continue
        assert pydicom.datadict.keyword_for_tag(row.value) == row.keyword, row.tag


def test_compound_codes_resolve_to_what_keeps_objects_valid() -> None:
    assert Action.resolve("X/Z/D") is Action.DUMMY
    assert Action.resolve("X/Z") is Action.ZERO
    assert Action.resolve("Z/D") is Action.DUMMY
    assert Action.resolve("X/Z/U*") is Action.UID
    assert Action.resolve("X") is Action.REMOVE
    with pytest.raises(ValueError, match="not an Annex E action code"):
        Action.resolve("Q")


def test_repeating_groups_match_every_overlay() -> None:
    rows = {r.tag: r for r in annex_e().rows if "x" in r.tag}
    overlay = rows["(60xx,3000)"]
    assert all(t & overlay.mask == overlay.value for t in (0x60003000, 0x601E3000))
    assert 0x60003001 & overlay.mask != overlay.value


# ---------------------------------------------------------------- values
def test_keyed_uids_are_stable_valid_and_secret_dependent() -> None:
    a, b = Keys(SECRET), Keys(SECRET)
    uid = "1.2.826.0.1.3680043.8.498.77.3.1.1.1"
    assert a.uid(uid) == b.uid(uid) == a.uid(uid + "\0")
    assert a.uid(uid).startswith("2.25.") and len(a.uid(uid)) <= 64
    assert pydicom.uid.UID(a.uid(uid)).is_valid
    assert Keys(b"another-secret-0123456789").uid(uid) != a.uid(uid)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Keys(b"short")


def test_date_shifts_keep_precision_and_reject_nonsense() -> None:
    assert shift_date("20200301", -1) == "20200229"
    assert shift_date("20200101-20200201", -31) == "20191201-20200101"
    assert shift_date("2020.03.01", -1) == "20200229"
    assert shift_date("not a date", -5) == "19000101"
    assert shift_datetime("20200301101112.123+0100", -1) == "20200229101112.123+0100"
    assert shift_datetime("202003", -40) == "202001"


# ---------------------------------------------------------------- the profile
def test_every_attribute_of_the_profile_is_cleared(every: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = deidentify([every], out, secret=SECRET)
    assert report.count("written") == 6
    check = verify([every], [out])
    assert check.hits == []
    assert check.unpaired == 0
    for ds in map(pydicom.dcmread, _files(out)):
        assert not any(elem.tag.is_private for elem in ds.iterall())
        assert ds.PatientIdentityRemoved == "YES"
        codes = [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]
        assert codes == ["113100"]
        assert "PS3.15 2024b" in " ".join(ds.DeidentificationMethod)
        assert ds.LongitudinalTemporalInformationModified == "REMOVED"
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert "SourceApplicationEntityTitle" not in ds.file_meta
        assert ds.preamble == bytes(128)


def test_the_check_finds_what_was_planted_in_every_attribute(every: Path) -> None:
    # guards the test above: the same check on the originals must light up everywhere
    check = verify([every], [every])
    found = {h.where.split(".")[-1] for h in check.hits}
    assert {"PatientName", "PatientID", "InstitutionName", "StudyDate"} <= found
    assert len(found) > 300
    assert any("(0009,1010)" in h.where for h in check.hits)  # private
    assert any("PrimaryAnatomicStructureSequence[0]" in h.where for h in check.hits)  # nested


def test_nested_sequences_and_private_data_are_walked(corpus: Path, tmp_path: Path) -> None:
    deidentify([corpus], tmp_path / "out", secret=SECRET)
    ds = pydicom.dcmread(_files(tmp_path / "out")[0])
    deep = ds.AnatomicRegionSequence[0].AnatomicRegionModifierSequence[0]
    inner = deep.PrimaryAnatomicStructureSequence[0]
    assert inner.PatientName == ""  # Z, three levels down
    assert "OtherPatientIDs" not in inner
    assert not any(e.tag.is_private for e in inner)
    assert "RequestAttributesSequence" not in ds  # X


def test_uids_and_references_follow_across_files_and_runs(corpus: Path, tmp_path: Path) -> None:
    deidentify([corpus], tmp_path / "a", secret=SECRET)
    deidentify([corpus], tmp_path / "b", secret=SECRET, workers=2)
    a = sorted(p.relative_to(tmp_path / "a") for p in _files(tmp_path / "a"))
    b = sorted(p.relative_to(tmp_path / "b") for p in _files(tmp_path / "b"))
    assert a == b and len(a) == 8
    patient = next(iter((tmp_path / "a").iterdir()))
    slices = _by_instance(patient)
    keys = Keys(SECRET)
    for n in (2, 3, 4):
        ref = slices[n].ReferencedImageSequence[0].ReferencedSOPInstanceUID
        assert ref == slices[n - 1].SOPInstanceUID
    p = int(slices[1].SOPInstanceUID != "")  # patient folders are pseudonyms, not MRNs
    assert p and not any(person(i)["PatientID"] in str(x) for i in (1, 2) for x in a)
    first = slices[1]
    assert first.SOPInstanceUID in {keys.uid(f"{ROOT}.3.{i}.1.1") for i in (1, 2)}
    deidentify([corpus], tmp_path / "c", secret=b"a-different-secret-0123456789")
    c = sorted(p.relative_to(tmp_path / "c") for p in _files(tmp_path / "c"))
    assert set(c).isdisjoint(a)


def test_dates_move_by_one_shift_per_patient(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    days = ["20200101", "20200315", "20210704"]
    for k, day in enumerate(days):
        ds = phi_dataset(1, k + 1, 1)
        ds.StudyInstanceUID = f"{ROOT}.1.1.{k}"
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = day
        ds.save_as(src / f"{k}.dcm", enforce_file_format=True)
    other = phi_dataset(2, 1, 1)
    other.save_as(src / "other.dcm", enforce_file_format=True)
    out = tmp_path / "out"
    audit = tmp_path / "audit.json"
    deidentify([src], out, secret=SECRET, options=DeidOptions.educator(), audit=audit)
    shifted = sorted(
        (ds.StudyDate, ds.ContentDate)
        for ds in map(pydicom.dcmread, _files(out))
        if ds.PatientID == Keys(SECRET).pseudonym(person(1)["PatientID"])
    )
    parse = [dt.date(int(d[:4]), int(d[4:6]), int(d[6:])) for d in days]
    new = [dt.date(int(s[:4]), int(s[4:6]), int(s[6:])) for s, _ in shifted]
    assert [b - a for a, b in pairwise(parse)] == [b - a for a, b in pairwise(new)]
    shift = (new[0] - parse[0]).days
    assert -3651 <= shift <= -365
    assert all(s == c for s, c in shifted)
    record = json.loads(audit.read_text())
    assert record["patients"][person(1)["PatientID"]]["date_shift_days"] == shift
    assert record["patients"][person(2)["PatientID"]]["date_shift_days"] != shift
    ds = pydicom.dcmread(_files(out)[0])
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    assert "113107" in [i.CodeValue for i in ds.DeidentificationMethodCodeSequence]


def test_educator_options_keep_characteristics_and_clean_descriptors(
    corpus: Path, tmp_path: Path
) -> None:
    deidentify([corpus], tmp_path / "out", secret=SECRET, options=DeidOptions.educator())
    ds = pydicom.dcmread(_files(tmp_path / "out")[0])
    assert ds.PatientAge.endswith("Y") and ds.PatientSex in ("F", "M")
    assert ds.PatientWeight == 71.5
    assert ds.StudyDescription == "CT CHEST for *** ***"
    assert ds.SeriesDescription == "Lung 1.25mm"
    assert verify([corpus], [tmp_path / "out"], options=DeidOptions.educator()).hits == []
    plain = tmp_path / "plain"
    deidentify([corpus], plain, secret=SECRET)
    ds = pydicom.dcmread(_files(plain)[0])
    assert "PatientAge" not in ds and "StudyDescription" not in ds


def test_safe_private_list_is_kept_only_on_request(tmp_path: Path) -> None:
    ds = phi_dataset(1, 1, 1)
    block = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
    block.add_new(0x0C, "IS", "1000")
    block.add_new(0x08, "CS", "PHIDOE")
    ds.save_as(tmp_path / "in.dcm", enforce_file_format=True)
    deidentify([tmp_path / "in.dcm"], tmp_path / "k", secret=SECRET,
               options=DeidOptions(retain_safe_private=True))  # fmt: skip
    kept = pydicom.dcmread(_files(tmp_path / "k")[0])
    assert kept.private_block(0x0019, "SIEMENS MR HEADER")[0x0C].value == 1000
    assert (0x0019, 0x1008) not in kept
    assert (0x0009, 0x1010) not in kept
    deidentify([tmp_path / "in.dcm"], tmp_path / "x", secret=SECRET)
    assert not any(e.tag.is_private for e in pydicom.dcmread(_files(tmp_path / "x")[0]))


def test_dates_options_exclude_each_other() -> None:
    with pytest.raises(UsageError, match="not both"):
        DeidOptions(retain_modified_dates=True, retain_full_dates=True)


# ---------------------------------------------------------------- burned-in text
def test_burned_in_images_are_held_until_blanked_or_confirmed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    flagged = phi_dataset(1, 1, 1)
    flagged.BurnedInAnnotation = "YES"
    flagged.save_as(src / "burned.dcm", enforce_file_format=True)
    us = phi_dataset(1, 1, 2)
    us.Modality = "US"
    us.save_as(src / "us.dcm", enforce_file_format=True)
    sc = phi_dataset(1, 1, 3)
    sc.SOPClassUID = sc.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    assert burned_in_reason(sc) is not None
    assert burned_in_reason(phi_dataset(1, 1, 4)) is None
    report = deidentify([src], tmp_path / "held", secret=SECRET)
    assert report.count("held") == 2 and report.count("written") == 0
    assert all("blank the text regions or confirm" in o.reason for o in report.outcomes)
    ok = deidentify([src], tmp_path / "ok", secret=SECRET, confirm_burned_in=True)
    assert ok.count("written") == 2
    blanked = deidentify([src / "burned.dcm"], tmp_path / "b", secret=SECRET, blank=[(0, 0, 8, 2)])
    assert blanked.count("written") == 1
    ds = pydicom.dcmread(_files(tmp_path / "b")[0])
    assert ds.BurnedInAnnotation == "NO"
    assert (ds.pixel_array[:2, :8] == ds.pixel_array.min()).all()
    assert (ds.pixel_array[2:, 8:] == 1024).all()


# ---------------------------------------------------------------- files
def test_audit_goes_apart_from_the_output(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="must not be inside the output folder"):
        deidentify([corpus], out, secret=SECRET, audit=out / "audit.json")
    report = deidentify([corpus], out, secret=SECRET, audit=tmp_path / "audit.json")
    record = json.loads((tmp_path / "audit.json").read_text())
    assert f"{ROOT}.1.1" in record["uids"]
    assert person(1)["PatientID"] in record["patients"]
    assert report.audit == str(tmp_path / "audit.json")
    assert not list(out.rglob("*.json"))


def test_other_files_are_skipped_not_fatal(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "notes.txt").write_text("not DICOM")
    phi_dataset(1, 1, 1).save_as(src / "a.dcm", enforce_file_format=True)
    report = deidentify([src], tmp_path / "out", secret=SECRET)
    assert report.count("written") == 1 and report.count("skipped") == 1
    assert "not DICOM" in report.summary()["not_written"][0]["reason"]


def test_implicit_vr_deflated_and_compressed_pixels_pass_through_untouched(
    tmp_path: Path,
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    implicit = phi_dataset(1, 1, 1)
    implicit.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    implicit.save_as(src / "implicit.dcm", enforce_file_format=True)
    deflated = phi_dataset(1, 1, 2)  # RICORD 1B-like: the whole data set deflated
    deflated.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    deflated.save_as(src / "deflated.dcm", enforce_file_format=True)
    rle = get_testdata_file("MR_small_RLE.dcm")
    jpeg = get_testdata_file("JPEG2000.dcm")
    shutil.copy(rle, src / "rle.dcm")
    shutil.copy(jpeg, src / "j2k.dcm")
    out = tmp_path / "out"
    # JPEG2000.dcm is a secondary capture: held back unless confirmed
    assert deidentify([src], tmp_path / "held", secret=SECRET).count("held") == 1
    assert deidentify([src], out, secret=SECRET, confirm_burned_in=True).count("written") == 4
    originals = {pydicom.dcmread(p).SOPInstanceUID: pydicom.dcmread(p) for p in _files(src)}
    keys = Keys(SECRET)
    for ds in map(pydicom.dcmread, _files(out)):
        before = next(o for u, o in originals.items() if keys.uid(u) == ds.SOPInstanceUID)
        assert ds.file_meta.TransferSyntaxUID == before.file_meta.TransferSyntaxUID
        assert ds.PixelData == before.PixelData
        assert np.array_equal(ds.pixel_array, before.pixel_array)


def test_trailing_elements_after_pixel_data_are_walked(tmp_path: Path) -> None:
    ds = phi_dataset(1, 1, 1)
    ds.DataSetTrailingPadding = b"PHIDOE^JANE\0"
    ds.save_as(tmp_path / "in.dcm", enforce_file_format=True)
    deidentify([tmp_path / "in.dcm"], tmp_path / "out", secret=SECRET)
    out = pydicom.dcmread(_files(tmp_path / "out")[0])
    assert "DataSetTrailingPadding" not in out
    assert b"PHIDOE" not in _files(tmp_path / "out")[0].read_bytes()


@pytest.mark.tools
def test_outputs_validate_with_dciodvfy(corpus: Path, tmp_path: Path) -> None:
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy is not installed (scripts/test.sh installs dicom3tools)")
    for options in (DeidOptions(), DeidOptions.educator()):
        out = tmp_path / str(len(options.enabled()))
        deidentify([corpus], out, secret=SECRET, options=options)
        for path in _files(out):
            assert dciodvfy_errors(path) == [], path


@pytest.mark.tools
def test_real_files_gain_no_dciodvfy_errors(tmp_path: Path) -> None:
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy is not installed (scripts/test.sh installs dicom3tools)")
    for name in ("CT_small.dcm", "MR_small.dcm"):
        src = Path(get_testdata_file(name))
        out = tmp_path / name
        assert deidentify([src], out, secret=SECRET).count("written") == 1
        before = set(dciodvfy_errors(src))
        after = set(dciodvfy_errors(_files(out)[0]))
        assert after <= before, after - before


def test_secret_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "secret"
    first = load_secret(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_secret(path) == first and len(first) == 64
    with pytest.raises(UsageError, match="no de-identification secret"):
        load_secret(tmp_path / "missing", create=False)
    (tmp_path / "weak").write_text("abc")
    with pytest.raises(UsageError, match="at least 16"):
        load_secret(tmp_path / "weak")


def test_public_names() -> None:
    assert set(deid_module.__all__) >= {"DeidOptions", "Deidentifier", "deidentify"}
    assert Deidentifier(SECRET).options == DeidOptions()
