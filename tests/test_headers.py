"""The fast header reader against pydicom, on every file pydicom and pydicom-data ship.

Test files come from the installed ``pydicom`` wheel (``pydicom.data``) and the
``pydicom-data`` package (``data_store/data``); the others are made here with pydicom.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import data_store
import pydicom
import pytest
from pydicom.data import get_testdata_file, get_testdata_files
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

from teachingfiles.dicom.headers import HEADER_FIELDS, read_header, read_header_pydicom
from teachingfiles.errors import DicomError, InvalidDicomError, MissingPixelDataError

PYDICOM_DATA = Path(data_store.__file__).parent / "data"
ALL_FILES = sorted(get_testdata_files()) + sorted(str(p) for p in PYDICOM_DATA.iterdir())


def _reference(path: str) -> object:
    """pydicom's answer: the header values, or the class of its refusal."""
    try:
        return read_header_pydicom(path)
    except DicomError as exc:
        return type(exc)


def test_fast_reader_agrees_with_pydicom_on_every_shipped_file() -> None:
    assert len(ALL_FILES) > 300
    declined = []
    for path in ALL_FILES:
        expected = _reference(path)
        try:
            got: object = read_header(path, fallback=False)
        except LookupError:
            declined.append(Path(path).name)
            continue
        except DicomError as exc:
            got = type(exc)
        if isinstance(expected, type):
            # same refusal; the fast path may be more specific (truncated vs no pixels)
            assert isinstance(got, type), f"{path}: pydicom refuses ({expected}), fast reads"
            assert issubclass(got, DicomError)
            continue
        assert got == expected, f"{path}: fast reader differs from pydicom"
    # the fast path reads nearly everything itself; the rest goes to pydicom
    assert len(declined) < 15, declined


def test_every_shipped_file_reads_with_fallback_without_crashing() -> None:
    outcomes = {"read": 0, "refused": 0}
    for path in ALL_FILES:
        try:
            read_header(path)
        except DicomError:
            outcomes["refused"] += 1
        else:
            outcomes["read"] += 1
    assert outcomes["read"] > 200
    assert outcomes["refused"] > 10


def test_ct_small_values() -> None:
    h = read_header(get_testdata_file("CT_small.dcm"))
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    assert h.modality == "CT"
    assert (h.rows, h.columns) == (ds.Rows, ds.Columns)
    assert h.image_position == tuple(float(v) for v in ds.ImagePositionPatient)
    assert h.pixel_spacing == tuple(float(v) for v in ds.PixelSpacing)
    assert h.patient_name == str(ds.PatientName)
    assert h.sop_instance_uid == ds.SOPInstanceUID
    assert h.pixel_length == len(ds.PixelData)
    raw = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    assert raw[h.pixel_offset : h.pixel_offset + h.pixel_length] == ds.PixelData
    assert "tcia_collection" in HEADER_FIELDS


def _dataset(
    tmp: Path,
    name: str,
    ts: str,
    *,
    pixels: bool = True,
    charset: str | None = None,
    extra: bool = True,
) -> Path:
    ds = Dataset()
    if charset:
        ds.SpecificCharacterSet = charset
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[name])
    ds.StudyDate = "20200402"
    ds.Modality = "CT"
    ds.StudyDescription = "SYNTHETIC CT CHEST"
    if extra:
        # a sequence of undefined length with nested items, before the wanted tags
        inner = Dataset()
        inner.CodeValue = "123"
        inner.CodeMeaning = "a nested item"
        item = Dataset()
        item.ReferencedSOPInstanceUID = "1.2.3"
        item.ConceptNameCodeSequence = Sequence([inner])
        ds.ReferencedImageSequence = Sequence([item, item])
        ds.private_block(0x0013, "CTP", create=True).add_new(0x10, "LO", "DEMO-COLLECTION")
        ds.private_block(0x0009, "ACME", create=True).add_new(0x01, "OB", b"\x00" * 3000)
    ds.PatientName = "Müller^Jürgen" if charset == "ISO_IR 192" else "SYNTHETIC^CASE 01"
    ds.PatientID = "DEMO-COLLECTION-SYN001-000001"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.2"
    ds.SeriesNumber = 3
    ds.InstanceNumber = 7
    ds.ImagePositionPatient = [-100.5, -120.25, 30.0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 4
    ds.Columns = 4
    ds.PixelSpacing = [0.7, 0.7]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.WindowCenter = [-600, 40]
    ds.WindowWidth = [1500, 400]
    if pixels:
        ds.PixelData = bytes(range(32))
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = tmp / name
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize(
    "ts",
    [
        ExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
        ExplicitVRBigEndian,
        DeflatedExplicitVRLittleEndian,
    ],
)
def test_each_transfer_syntax_reads_like_pydicom(tmp_path: Path, ts: str) -> None:
    path = _dataset(tmp_path, "a.dcm", ts)
    fast = read_header(path, fallback=False)
    assert fast == read_header_pydicom(path)
    assert fast.transfer_syntax == ts
    assert fast.tcia_collection == "DEMO-COLLECTION"
    assert fast.window_center == (-600.0, 40.0)
    assert fast.series_number == 3
    assert fast.pixel_length == 32
    if ts != DeflatedExplicitVRLittleEndian:
        assert path.read_bytes()[fast.pixel_offset :][:32] == bytes(range(32))


def test_utf8_charset_fast_path(tmp_path: Path) -> None:
    path = _dataset(tmp_path, "u.dcm", ExplicitVRLittleEndian, charset="ISO_IR 192")
    assert read_header(path, fallback=False).patient_name == "Müller^Jürgen"


def test_other_charset_falls_back_to_pydicom(tmp_path: Path) -> None:
    path = _dataset(tmp_path, "j.dcm", ExplicitVRLittleEndian, charset="ISO_IR 144")
    with pytest.raises(LookupError, match="fast path declined: character set 'ISO_IR 144'"):
        read_header(path, fallback=False)
    assert read_header(path) == read_header_pydicom(path)


def test_no_pixel_data(tmp_path: Path) -> None:
    path = _dataset(tmp_path, "n.dcm", ExplicitVRLittleEndian, pixels=False)
    with pytest.raises(MissingPixelDataError, match=r"n\.dcm: no pixel data"):
        read_header(path)
    with pytest.raises(MissingPixelDataError, match="no pixel data"):
        read_header_pydicom(path)


@pytest.mark.parametrize("cut", [60, 300, 900, -10])
def test_truncated_files(tmp_path: Path, cut: int) -> None:
    good = _dataset(tmp_path, "g.dcm", ExplicitVRLittleEndian, extra=cut > 0 and cut < 1000)
    data = good.read_bytes()
    bad = tmp_path / "t.dcm"
    bad.write_bytes(data[:cut])
    expected = "not DICOM" if 0 <= cut < 132 else "truncated"
    with pytest.raises(InvalidDicomError, match=rf"t\.dcm: {expected}"):
        read_header(bad)


def test_truncated_deflated(tmp_path: Path) -> None:
    good = _dataset(tmp_path, "d.dcm", DeflatedExplicitVRLittleEndian)
    data = good.read_bytes()
    meta_end = 144 + int.from_bytes(data[140:144], "little")
    bad = tmp_path / "dt.dcm"
    bad.write_bytes(data[: meta_end + 40])  # cut inside the compressed header
    with pytest.raises(InvalidDicomError, match="truncated: the Deflated data set ends"):
        read_header(bad)
    # only the header is inflated: a cut in the compressed pixels shows when decoding
    tail = tmp_path / "dp.dcm"
    tail.write_bytes(data[:-5])
    assert read_header(tail).pixel_length == 32


def test_truncated_encapsulated_pixel_data(tmp_path: Path) -> None:
    src = Path(get_testdata_file("MR_small_RLE.dcm"))
    full = read_header(src)
    assert full.pixel_length == -1
    bad = tmp_path / "rle.dcm"
    bad.write_bytes(src.read_bytes()[: full.pixel_offset + 200])
    with pytest.raises(InvalidDicomError, match="truncated: a Pixel Data fragment runs past"):
        read_header(bad)


def test_not_dicom_and_empty(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 100)
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + zlib.compress(b"\x00" * 500))
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(InvalidDicomError, match=r"notes\.txt: not DICOM: no 'DICM' prefix"):
        read_header(text)
    with pytest.raises(InvalidDicomError, match=r"image\.png: not DICOM"):
        read_header(png)
    with pytest.raises(InvalidDicomError, match=r"empty: empty file \(0 bytes\)"):
        read_header(empty)
    with pytest.raises(InvalidDicomError, match="cannot be read"):
        read_header(tmp_path / "missing.dcm")
