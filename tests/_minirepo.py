"""A small TCIA-shaped repository made with pydicom for the catalog tests.

It holds CT series and radiographs in two collections named by metadata.csv, a
series placed only by the TCIA private tag, one only by its PatientID prefix, one
by nothing; an MD.ai export (1a polygons + study labels, 1c three readers and an
adjudicator) and a clinical sheet; and, with ``bad=True``, files that must be
skipped: zero-byte, text, PNG bytes, a DICOM file without pixel data, one cut in
its header, one cut in its pixel data, a corrupt one, and a DICOMDIR.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from teachingfiles.dicom.synthetic import file_meta, image_pixels
from teachingfiles.repository.clinical import ClinicalRow, write_clinical_xlsx
from teachingfiles.repository.mdai import Annotation, MdaiDataset, MdaiProject, write_mdai
from teachingfiles.repository.nbia import MetadataRow, write_metadata_csv
from teachingfiles.repository.ricord import ricord_1a_label_groups, ricord_1c_label_groups

CT = "1.2.840.10008.5.1.4.1.1.2"
CR = "1.2.840.10008.5.1.4.1.1.1"
A, C = "TEST-RICORD-1A", "TEST-RICORD-1C"


def uid(*parts: object) -> str:
    return generate_uid(entropy_srcs=[str(p) for p in parts])


@dataclass
class MiniRepo:
    root: Path
    ct_studies: list[str] = field(default_factory=list)
    ct_series: list[str] = field(default_factory=list)
    cr_studies: list[str] = field(default_factory=list)
    sops: dict[str, list[str]] = field(default_factory=dict)  # series -> SOP UIDs by z
    other_series: dict[str, str] = field(default_factory=dict)  # how placed -> series uid
    project: MdaiProject | None = None
    bad: dict[str, str] = field(default_factory=dict)  # relative path -> expected kind


def image(
    path: Path,
    *,
    patient: str,
    study: str,
    series: str,
    sop: str,
    modality: str,
    z: float = 0.0,
    number: int = 1,
    ctp: str | None = None,
    description: str = "",
    pixels: bool = True,
) -> Path:
    ds = Dataset()
    ds.SOPClassUID = CT if modality == "CT" else CR
    ds.SOPInstanceUID = sop
    ds.StudyDate = "20200415"
    ds.Modality = modality
    ds.Manufacturer = "teachingfiles tests"
    ds.StudyDescription = description or f"SYNTHETIC {modality} CHEST"
    ds.SeriesDescription = "axial lung" if modality == "CT" else "AP"
    item = Dataset()
    item.ReferencedSOPClassUID = ds.SOPClassUID
    item.ReferencedSOPInstanceUID = "1.2.3.4"
    ds.ReferencedImageSequence = Sequence([item])
    if ctp:
        ds.private_block(0x0013, "CTP", create=True).add_new(0x10, "LO", ctp)
    ds.PatientName = "SYNTHETIC^TEST"
    ds.PatientID = patient
    ds.PatientSex = "F"
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.SeriesNumber = 2
    ds.InstanceNumber = number
    if modality == "CT":
        ds.ImagePositionPatient = [-100.0, -100.0, z]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.SliceThickness = 2.5
    ds.PixelSpacing = [0.7, 0.7]
    ds.WindowCenter = [-600, 40]
    ds.WindowWidth = [1500, 400]
    photometric = "MONOCHROME2" if modality == "CT" else "MONOCHROME1"
    image_pixels(ds, np.zeros((8, 8), np.uint16), photometric=photometric)
    if not pixels:
        del ds.PixelData
    file_meta(ds)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def build(root: Path, *, bad: bool = False) -> MiniRepo:
    repo = MiniRepo(root)
    dl = root / "manifest-1600000000000"
    rows: list[MetadataRow] = []
    # --- 1A: two CT studies of two patients, 3 slices each; files named against z order
    for k in range(2):
        patient = f"{A}-SITE1-00000{k + 1}"
        study, series = uid("st", k), uid("se", k)
        repo.ct_studies.append(study)
        repo.ct_series.append(series)
        folder = dl / A / patient / f"study{k}" / f"series{k}"
        zs = [30.0, 10.0, 20.0]  # instance 1 is the highest slice
        sops = []
        for n, z in enumerate(zs, start=1):
            sop = uid("sop", k, n)
            sops.append((z, sop))
            image(
                folder / f"1-{n:03d}.dcm",
                patient=patient,
                study=study,
                series=series,
                sop=sop,
                modality="CT",
                z=z,
                number=n,
                description="SYNTHETIC CT CHEST WO CONTRAST" if k == 0 else "CT ANGIO",
            )
        repo.sops[series] = [s for _, s in sorted(sops)]
        rows.append(_row(series, A, patient, study, "CT", 3, f"./{A}/{patient}/study{k}/series{k}"))
    # --- 1C: three radiographs, one patient with two studies
    for k in range(3):
        patient = f"{C}-SITE2-00000{1 + k // 2}"
        study, series = uid("cst", k), uid("cse", k)
        repo.cr_studies.append(study)
        folder = dl / C / patient / f"cstudy{k}" / f"cseries{k}"
        image(
            folder / "1-1.dcm",
            patient=patient,
            study=study,
            series=series,
            sop=uid("csop", k),
            modality="CR",
        )
        rows.append(
            _row(series, C, patient, study, "CR", 1, f"./{C}/{patient}/cstudy{k}/cseries{k}")
        )
    write_metadata_csv(rows, dl / "metadata.csv")
    # --- series placed without metadata.csv: private tag, PatientID prefix, nothing
    for how, patient, ctp in (
        ("ctp", "ANON-1", "PRIVATE-TAG-COLLECTION"),
        ("prefix", "MIDRC-RICORD-1B-SITE3-000009", None),
        ("none", "LOCAL-42", None),
    ):
        series = uid("other", how)
        repo.other_series[how] = series
        image(
            root / "pacs export" / how / "IMG0001",
            patient=patient,
            study=uid("ost", how),
            series=series,
            sop=uid("osop", how),
            modality="CT",
            ctp=ctp,
        )
    # --- MD.ai: 1a polygon + study labels; 1c readers
    g1a, g1c = ricord_1a_label_groups(), ricord_1c_label_groups()
    by_name = {(lab.group_name, lab.name): lab.id for g in (*g1a, *g1c) for lab in g.labels}
    anns = []
    s0, s1 = repo.ct_studies
    anns.append(
        Annotation(
            "A_poly01",
            by_name[("Default group", "Infectious opacity")],
            s0,
            repo.ct_series[0],
            repo.sops[repo.ct_series[0]][1],
            0,
            {"vertices": [[1, 1], [5, 1], [5, 5]]},
            8,
            8,
            created_by="U_aaaaaa",
            created_at="2020-12-01T10:00:00.000Z",
        )
    )
    for aid, study, name in (
        ("A_st0", s0, "Typical"),
        ("A_st0b", s0, "Infectious lung disease"),
        ("A_st1", s1, "Atypical"),
    ):
        anns.append(
            Annotation(
                aid,
                by_name[("Default group", name)],
                study,
                created_by="U_aaaaaa",
                created_at="2020-12-01T10:00:00.000Z",
            )
        )
    c0, c1, c2 = repo.cr_studies
    reads: dict[str, list[tuple[str, str, str | None]]] = {
        c0: [
            ("Reader 1", "Typical Appearance", "Moderate"),
            ("Reader 2", "Typical Appearance", "Moderate"),
            ("Reader 3", "Typical Appearance", "Moderate"),
        ],
        c1: [
            ("Reader 1", "Typical Appearance", "Mild"),
            ("Reader 2", "Indeterminate Appearance", "Mild"),
            ("Reader 3", "Typical Appearance", "Moderate"),
        ],
        c2: [
            ("Reader 1", "Typical Appearance", "Severe"),
            ("Reader 2", "Indeterminate Appearance", "Moderate"),
            ("Reader 3", "Atypical Appearance", "Severe"),
            ("Adjudication", "Indeterminate Appearance", None),
        ],
    }
    n = 0
    for study, labels in reads.items():
        for group, app, sev in labels:
            for name in (app, sev or ""):
                if name:
                    n += 1
                    anns.append(
                        Annotation(
                            f"A_c{n:03d}",
                            by_name[(group, name)],
                            study,
                            created_by=f"U_{group[-1]}xxxxx",
                            created_at="2021-01-08T16:41:02.000Z",
                        )
                    )
    repo.project = MdaiProject(
        label_groups=(*g1a, *g1c),
        datasets=(
            MdaiDataset(
                "D_test01",
                "test",
                tuple((s, i + 1) for i, s in enumerate([s0, s1, c0, c1, c2])),
                tuple(anns),
            ),
        ),
        name="test",
        id="P_test",
    )
    write_mdai(repo.project, root / "annotations" / "test_annotations_labelgroup_all.json")
    (root / "clinical").mkdir()
    write_clinical_xlsx(
        [
            ClinicalRow(
                "SITE1-000001",
                61,
                "CT CHEST WO CONTRAST HIGH RESOLUTION",
                "F",
                s0,
                3,
                "CT",
                "DETECTED",
                "NP swab",
                "4/15/2020",
            )
        ],
        root / "clinical" / "TEST-RICORD-1a-Clinical-Data.xlsx",
        collection="1a",
    )
    (root / "README.md").write_text("a test repository\n")
    if bad:
        _bad_files(repo)
    return repo


def _row(
    series: str, coll: str, patient: str, study: str, mod: str, n: int, loc: str
) -> MetadataRow:
    return MetadataRow(
        series,
        coll,
        "NO",
        "",
        patient,
        study,
        "",
        "04-15-2020",
        "",
        "",
        mod,
        "",
        CT if mod == "CT" else CR,
        n,
        "1 KB",
        loc,
        "2020-12-01",
    )


def _bad_files(repo: MiniRepo) -> None:
    bad = repo.root / "bad"
    bad.mkdir()
    (bad / "zero.dcm").write_bytes(b"")
    (bad / "notes.txt").write_text("these are not images\n" * 20)
    (bad / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + zlib.compress(bytes(2000)))
    good = image(
        bad / "src.dcm",
        patient="X",
        study="1.2.3",
        series="1.2.3.4",
        sop="1.2.3.4.5",
        modality="CT",
    )
    data = good.read_bytes()
    good.unlink()
    (bad / "cut_in_pixels.dcm").write_bytes(data[:-40])
    (bad / "cut_in_header.dcm").write_bytes(data[:400])
    meta_end = 144 + struct.unpack_from("<I", data, 140)[0]  # after (0002,0000) group length
    broken_sequence = struct.pack("<HH2sHI", 0x0008, 0x1140, b"SQ", 0, 0xFFFFFFFF)
    not_an_item = struct.pack("<HHI", 0x0010, 0x0010, 4) + b"ABCD" + bytes(40)
    (bad / "corrupt.dcm").write_bytes(data[:meta_end] + broken_sequence + not_an_item)
    image(
        bad / "nopixels.dcm",
        patient="X",
        study="1.2.3",
        series="1.2.3.4",
        sop="1.2.3.4.6",
        modality="CT",
        pixels=False,
    )
    (bad / "DICOMDIR").write_bytes(bytes(128) + b"DICM" + bytes(50))
    (bad / "other.json").write_text('{"hello": 1}')
    repo.bad = {
        "bad/zero.dcm": "empty",
        "bad/notes.txt": "not-dicom",
        "bad/picture.png": "not-dicom",
        "bad/cut_in_pixels.dcm": "truncated",
        "bad/cut_in_header.dcm": "truncated",
        "bad/corrupt.dcm": "broken-header",
        "bad/nopixels.dcm": "no-pixel-data",
        "bad/DICOMDIR": "dicomdir",
        "bad/other.json": "not-dicom",
    }
