"""CT files full of made-up PHI, for the de-identification tests and benchmark.

Every file carries identifying values in standard attributes, in sequences nested
three deep, and in private elements (a private creator of its own, a private
sequence). With ``every_attribute=True`` each attribute of PS3.15 Table E.1-1 that
a file can hold gets an identifying value too. Each patient has its own values;
each file has its own pixel bytes (so tools' outputs can be paired to their input
by the pixel data, which every tool passes through). Nothing here is real.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage

from teachingfiles.dicom._deid_table import annex_e
from teachingfiles.dicom.synthetic import code_item, file_meta, image_pixels

ROOT = "1.2.826.0.1.3680043.8.498.77"
_SKIP = {"PatientSex", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"}


def person(p: int) -> dict[str, str]:
    """The made-up identity of patient ``p``."""
    return {
        "PatientName": f"PHIDOE^JANEP{p:03d}^Q",
        "PatientID": f"MRN{p:06d}PHI",
        "PatientBirthDate": f"19{50 + p % 40:02d}0{1 + p % 9}1{p % 10}",
        "PatientAddress": f"{100 + p} PHI STREET, SPRINGFIELD",
        "InstitutionName": f"PHI GENERAL HOSPITAL {p}",
        "ReferringPhysicianName": f"PHIREFER^JOHNP{p:03d}",
        "AccessionNumber": f"ACC{p:05d}PHI",
        "StudyDate": f"2020{1 + p % 12:02d}{10 + p % 18:02d}",
    }


def _value(vr: str, keyword: str, p: int, i: int) -> object:
    text = f"PHI {keyword} P{p}"
    values: dict[str, object] = {
        "PN": f"PHI{keyword[:12]}^P{p:03d}",
        "LO": text[:64],
        "LT": text,
        "ST": text,
        "UT": text,
        "UC": text,
        "SH": f"PHI{p}{keyword}"[:16],
        "CS": "PHICODE",
        "AE": f"PHIAE{p}",
        "DA": f"2019{1 + i % 12:02d}{10 + p % 18:02d}",
        "TM": "101112",
        "DT": f"2019{1 + i % 12:02d}{10 + p % 18:02d}101112",
        "UI": f"{ROOT}.9.{p}.{i}",
        "AS": "058Y",
        "IS": "12",
        "DS": "1.5",
        "UR": f"http://phi.example/p{p}",
    }
    return values.get(vr)


def _every_attribute(ds: Dataset, p: int) -> None:
    for i, row in enumerate(annex_e().rows):
        if "x" in row.tag or row.keyword in _SKIP or row.keyword in ds:
            continue
        tag = row.value
        if tag >> 16 in (0x0000, 0x0002, 0xFFFA, 0xFFFC):
            continue
        vr = row.vr.split(" ")[0]
        if vr == "SQ":
            item = Dataset()
            item.PersonName = f"PHISEQ^{row.keyword[:20]}^P{p:03d}"
            item.ReferencedSOPInstanceUID = f"{ROOT}.8.{p}.{i}"
            ds.add(DataElement(tag, "SQ", Sequence([item])))
            continue
        value = _value(vr, row.keyword, p, i)
        if value is not None:
            ds.add(DataElement(tag, vr, value))


def _nested(p: int, who: dict[str, str]) -> Sequence:
    deep = Dataset()
    deep.PatientName = who["PatientName"]
    deep.OtherPatientIDs = who["PatientID"]
    deep.add_new(0x00291010, "LO", "PHI CORP 1.0")
    deep.add_new(0x00291011, "LO", who["PatientName"])
    middle = code_item("51185008", "SCT", "Chest")
    middle.PrimaryAnatomicStructureSequence = Sequence([deep])
    top = code_item("51185008", "SCT", "Chest")
    top.AnatomicRegionModifierSequence = Sequence([middle])
    return Sequence([top])


def phi_dataset(
    p: int, s: int, n: int, *, rows: int = 64, every_attribute: bool = False
) -> Dataset:
    """One CT slice of patient ``p``, series ``s``, instance ``n`` (from 1)."""
    who = person(p)
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = f"{ROOT}.3.{p}.{s}.{n}"
    ds.StudyInstanceUID = f"{ROOT}.1.{p}"
    ds.SeriesInstanceUID = f"{ROOT}.2.{p}.{s}"
    ds.FrameOfReferenceUID = f"{ROOT}.4.{p}"
    for key, value in who.items():
        setattr(ds, key, value)
    ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = ds.StudyDate
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = "101500"
    ds.PatientSex = "F" if p % 2 else "M"
    ds.PatientAge = f"{40 + p % 40:03d}Y"
    ds.PatientWeight = "71.5"
    ds.OtherPatientIDs = f"OTHER{p:05d}PHI"
    ds.StudyID = f"S{p:04d}PHI"
    ds.StudyDescription = f"CT CHEST for PHIDOE MRN{p:06d}PHI"
    ds.SeriesDescription = "Lung 1.25mm"
    ds.StationName = f"PHISTATION{p}"
    ds.OperatorsName = f"PHIOPERATOR^P{p:03d}"
    ds.DeviceSerialNumber = f"SN{p:05d}PHI"
    ds.Modality = "CT"
    ds.Manufacturer = "ACME"
    ds.BodyPartExamined = "CHEST"
    ds.SeriesNumber = s
    ds.AcquisitionNumber = 1
    ds.PositionReferenceIndicator = ""
    ds.InstanceNumber = n
    ds.PatientPosition = "FFS"
    ds.ImagePositionPatient = [-160.0, -160.0, -1.25 * n]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.7, 0.7]
    ds.SliceThickness = 1.25
    ds.KVP = 120
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.RescaleType = "HU"
    ds.WindowCenter = -600
    ds.WindowWidth = 1500
    req = Dataset()
    req.AccessionNumber = who["AccessionNumber"]
    req.RequestedProcedureID = f"RP{p:05d}PHI"
    req.ScheduledProcedureStepID = f"SPS{p:05d}PHI"
    ds.RequestAttributesSequence = Sequence([req])
    if n > 1:
        ref = Dataset()
        ref.ReferencedSOPClassUID = CTImageStorage
        ref.ReferencedSOPInstanceUID = f"{ROOT}.3.{p}.{s}.{n - 1}"
        ds.ReferencedImageSequence = Sequence([ref])
    ds.AnatomicRegionSequence = _nested(p, who)
    block = ds.private_block(0x0009, "PHI CORP 1.0", create=True)
    block.add_new(0x10, "LO", who["PatientName"])
    block.add_new(0x11, "LO", who["PatientID"])
    block.add_new(0x12, "DA", who["PatientBirthDate"])
    inner = Dataset()
    inner.add_new(0x00100010, "PN", who["PatientName"])
    block.add_new(0x13, "SQ", Sequence([inner]))
    if every_attribute:
        _every_attribute(ds, p)
    pixels = np.full((rows, rows), 1024, dtype=np.uint16)
    pixels[0, :4] = [p, s, n % 4096, n // 4096]  # every file's pixel bytes differ
    image_pixels(ds, pixels)
    file_meta(ds).SourceApplicationEntityTitle = f"PHIAE{p}"
    return ds


def write_corpus(
    root: Path,
    *,
    patients: int = 2,
    series: int = 1,
    slices: int = 3,
    rows: int = 64,
    every_attribute: bool = False,
) -> list[Path]:
    """Write the corpus in an NBIA-like layout whose folder names carry PHI too."""
    paths = []
    for p in range(1, patients + 1):
        for s in range(1, series + 1):
            folder = root / person(p)["PatientID"] / f"{person(p)['StudyDate']}-CT CHEST" / f"{s}"
            folder.mkdir(parents=True, exist_ok=True)
            for n in range(1, slices + 1):
                ds = phi_dataset(p, s, n, rows=rows, every_attribute=every_attribute)
                path = folder / f"{p}-{n:03d}.dcm"  # unique names: some tools flatten
                ds.save_as(path, enforce_file_format=True)
                paths.append(path)
    return paths
