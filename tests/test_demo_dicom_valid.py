"""The demo's synthetic DICOM files pass dciodvfy (dicom3tools) without errors.

One file of each kind is checked: CT (RLE Lossless, 1A), CT (Deflated, 1B), CR and
DX, each in MONOCHROME1 and MONOCHROME2. dciodvfy cannot inflate a Deflated file,
so the 1B sample is re-encoded as Explicit VR Little Endian (same dataset) first.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

from teachingfiles.repository.nbia import read_metadata_csv

DCIODVFY = shutil.which("dciodvfy")

pytestmark = [
    pytest.mark.tools,
    pytest.mark.skipif(
        DCIODVFY is None, reason="dciodvfy (Debian package dicom3tools) is not installed"
    ),
]


def _samples(root: Path) -> dict[str, Path]:
    """The first file of each kind, keyed like 'CT RLE', 'DX MONOCHROME1'."""
    found: dict[str, Path] = {}
    for csv_path in sorted(root.glob("manifest-*/metadata.csv")):
        for row in read_metadata_csv(csv_path):
            if row.collection == "PYDICOM-DATA":
                continue
            first = sorted(row.folder(csv_path.parent).glob("*.dcm"))[0]
            ds = pydicom.dcmread(first, stop_before_pixels=True)
            if ds.Modality == "CT":
                deflated = ds.file_meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian
                key = "CT deflated" if deflated else "CT RLE"
            else:
                key = f"{ds.Modality} {ds.PhotometricInterpretation}"
            found.setdefault(key, first)
    return found


def _errors(path: Path) -> list[str]:
    assert DCIODVFY is not None
    done = subprocess.run(
        [DCIODVFY, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    lines = (done.stdout + done.stderr).splitlines()
    return [line for line in lines if line.lstrip().startswith("Error") or " Error " in line]


def test_every_kind_of_synthetic_file_is_sampled(demo_root: Path) -> None:
    assert sorted(_samples(demo_root)) == [
        "CR MONOCHROME1", "CR MONOCHROME2", "CT RLE", "CT deflated",
        "DX MONOCHROME1", "DX MONOCHROME2",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "kind",
    [
        "CT RLE",
        "CT deflated",
        "CR MONOCHROME1",
        "CR MONOCHROME2",
        "DX MONOCHROME1",
        "DX MONOCHROME2",
    ],
)
def test_dciodvfy_finds_no_error(demo_root: Path, tmp_path: Path, kind: str) -> None:
    path = _samples(demo_root)[kind]
    if kind == "CT deflated":
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = tmp_path / "explicit.dcm"
        ds.save_as(path, enforce_file_format=True)
    assert _errors(path) == [], f"dciodvfy {path}"


def test_dciodvfy_reports_errors_in_a_broken_file(demo_root: Path, tmp_path: Path) -> None:
    # the check above is only worth something if dciodvfy does flag a broken file
    ds = pydicom.dcmread(_samples(demo_root)["DX MONOCHROME2"])
    del ds.ImagerPixelSpacing  # type 1 in the DX Detector module
    del ds.PresentationIntentType
    broken = tmp_path / "broken.dcm"
    ds.save_as(broken, enforce_file_format=True)
    assert _errors(broken)
