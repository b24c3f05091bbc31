"""A generated corpus of CT files for the index benchmark.

One template dataset (512x512 int16, a realistic CT header with a few sequences and
private tags) is written once with pydicom; every other file is a byte copy with
its UIDs, position, instance number and PatientID patched in place. Placeholders
have the same length as the values that replace them, so lengths stay valid.
"""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage

from teachingfiles.dicom.synthetic import code_item, file_meta, image_pixels

__all__ = ["make_corpus"]

_ROOT_UID = "1.2.826.0.1.3680043.8.498"
SLICES_PER_SERIES = 250


def _uid(kind: int, n: int) -> str:
    return f"{_ROOT_UID}.{kind}.{n:012d}"


def _placeholder(kind: int) -> str:
    return _uid(kind, 999_999_999_999)


def _template() -> bytes:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = _placeholder(3)
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = "20200402"
    ds.StudyTime = ds.SeriesTime = "101500"
    ds.AccessionNumber = "BENCH0001"
    ds.Modality = "CT"
    ds.Manufacturer = "teachingfiles benchmark"
    ds.InstitutionName = "teachingfiles benchmark (synthetic)"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "SYNTHETIC CT CHEST WO CONTRAST"
    ds.SeriesDescription = "1.25mm lung"
    ds.ManufacturerModelName = "Synthetic 1"
    ds.ProcedureCodeSequence = Sequence([code_item("CTCHEST", "L", "CT CHEST WO CONTRAST")])
    ref = Dataset()
    ref.ReferencedSOPClassUID = CTImageStorage
    ref.ReferencedSOPInstanceUID = _placeholder(4)
    ds.ReferencedImageSequence = Sequence([ref, ref])
    ds.PatientName = "SYNTHETIC^BENCHMARK"
    ds.PatientID = "BENCH-000000"
    ds.PatientBirthDate = ""
    ds.PatientSex = "M"
    ds.PatientAge = "061Y"
    block = ds.private_block(0x0013, "CTP", create=True)
    block.add_new(0x10, "LO", "BENCH-CT")
    block.add_new(0x13, "LO", "SITE1")
    vendor = ds.private_block(0x0019, "SYNTHETIC VENDOR", create=True)
    vendor.add_new(0x01, "OB", bytes(2048))
    vendor.add_new(0x02, "DS", "1.0")
    ds.BodyPartExamined = "CHEST"
    ds.SliceThickness = "1.25"
    ds.KVP = "120"
    ds.ConvolutionKernel = "LUNG"
    ds.PatientPosition = "FFS"
    ds.StudyInstanceUID = _placeholder(1)
    ds.SeriesInstanceUID = _placeholder(2)
    ds.StudyID = "1"
    ds.SeriesNumber = 3
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = "     1"  # replaced by a right-aligned number of the same width
    ds.ImagePositionPatient = ["-175.000000", "-175.000000", "01000.0000"]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.FrameOfReferenceUID = _placeholder(5)
    ds.SliceLocation = "01000.0000"
    ds.PixelSpacing = ["0.683594", "0.683594"]
    ds.WindowCenter = ["-600", "40"]
    ds.WindowWidth = ["1500", "400"]
    ds.WindowCenterWidthExplanation = ["LUNG", "MEDIASTINUM"]
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    rng = np.random.default_rng(0)
    image_pixels(ds, rng.integers(-1024, 400, (512, 512), dtype=np.int16), bits_stored=16)
    file_meta(ds)
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def make_corpus(root: Path, n_files: int) -> list[Path]:
    """Write ``n_files`` CT files (250 a series, one series a study) under ``root``.

    Reuses a complete corpus of the same size already there.
    """
    marker = root / ".complete"
    if marker.exists() and marker.read_text().strip() == str(n_files):
        return sorted(root.rglob("*.dcm"))
    template = _template()
    ph = {k: _placeholder(k).encode() for k in (1, 2, 3, 4, 5)}
    paths = []
    for i in range(n_files):
        s, n = divmod(i, SLICES_PER_SERIES)
        z = 1000.0 - n * 1.25
        data = template
        for kind, value in ((1, _uid(1, s)), (2, _uid(2, s)), (3, _uid(3, i)),
                            (4, _uid(4, i)), (5, _uid(5, s))):  # fmt: skip
            data = data.replace(ph[kind], value.encode())
        data = data.replace(b"01000.0000", f"{z:010.4f}".encode())
        data = data.replace(b"     1", f"{n + 1:>6d}".encode(), 1)
        data = data.replace(b"BENCH-000000", f"BENCH-{s:06d}".encode())
        folder = root / f"BENCH-{s:06d}" / f"study-{s:04d}" / f"3.000000-lung-{s:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"1-{n + 1:03d}.dcm"
        path.write_bytes(data)
        paths.append(path)
    os.sync()
    marker.write_text(f"{n_files}\n")
    return paths
