"""Decoding a streamed instance's pixels straight from its bytes (repository/_part_pixels.py)."""

from __future__ import annotations

import os
import sys
from io import BytesIO
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.pixels.utils import pixel_array
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless

from teachingfiles.dicom.synthetic import ct_dataset, file_meta, image_pixels, save_dataset
from teachingfiles.repository._part_pixels import decode_part, stored_dtype
from teachingfiles.repository._remote_volume import prefault


def _instance(tmp_path: Path, syntax: str, *, signed: bool = False) -> bytes:
    rng = np.random.default_rng(7)
    hu = rng.integers(-1000, 1500, (48, 40)).astype(np.int16)
    ds = ct_dataset(hu, position=(0, 0, 0))
    if signed:
        image_pixels(ds, hu)  # Pixel Representation 1
    path = tmp_path / "x.dcm"
    if syntax == ImplicitVRLittleEndian:
        file_meta(ds, ImplicitVRLittleEndian)
        save_dataset(ds, path)
    else:
        save_dataset(ds, path, RLELossless if syntax == RLELossless else None)
    return path.read_bytes()


def _dtype(data: bytes) -> str:
    ds = pydicom.dcmread(BytesIO(data), stop_before_pixels=True)
    dtype = stored_dtype(ds.to_json_dict())
    assert dtype is not None
    return dtype


@pytest.mark.parametrize("syntax", [RLELossless, ExplicitVRLittleEndian, ImplicitVRLittleEndian])
@pytest.mark.parametrize("signed", [False, True])
def test_decode_part_gives_pydicoms_pixels(tmp_path: Path, syntax: str, signed: bool) -> None:
    data = _instance(tmp_path, syntax, signed=signed)
    dtype = _dtype(data)
    assert dtype == ("<i2" if signed else "<u2")
    got = decode_part(data, 48, 40, dtype)
    assert got is not None
    want = pixel_array(BytesIO(data))
    assert got.dtype == want.dtype
    assert np.array_equal(got, want)


def test_an_rle_frame_in_several_fragments_is_joined(tmp_path: Path) -> None:
    data = _instance(tmp_path, RLELossless)
    ds = pydicom.dcmread(BytesIO(data))
    frame = next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate([frame], fragments_per_frame=3)
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    three = out.getvalue()
    assert len(list(pydicom.encaps.generate_fragments(ds.PixelData))) == 4  # offsets + 3
    got = decode_part(three, 48, 40, _dtype(three))
    assert got is not None
    assert np.array_equal(got, pixel_array(BytesIO(data)))


def test_bytes_laid_out_otherwise_are_left_to_pydicom(tmp_path: Path) -> None:
    rle = _instance(tmp_path, RLELossless)
    native = _instance(tmp_path, ExplicitVRLittleEndian)
    assert decode_part(rle[:-100], 48, 40, "<u2") is None  # cut short
    assert decode_part(native[:-100], 48, 40, "<u2") is None
    assert decode_part(b"not dicom" * 100, 48, 40, "<u2") is None
    assert decode_part(rle, 48, 41, "<u2") is None  # the metadata disagrees with the bytes
    ds = pydicom.dcmread(BytesIO(native))
    ds.DataSetTrailingPadding = b"\x00" * 8  # an element after Pixel Data
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    assert decode_part(out.getvalue(), 48, 40, "<u2") is None


def test_stored_dtype_only_for_single_frame_grey_images() -> None:
    def attrs(**values: int) -> dict[str, dict[str, object]]:
        tags = {
            "bits": "00280100",
            "signed": "00280103",
            "samples": "00280002",
            "frames": "00280008",
        }
        return {tags[k]: {"vr": "US", "Value": [v]} for k, v in values.items()}

    assert stored_dtype(attrs(bits=8, signed=0)) == "<u1"
    assert stored_dtype(attrs(bits=16, signed=1, frames=1)) == "<i2"
    assert stored_dtype(attrs(bits=16, signed=0, samples=3)) is None
    assert stored_dtype(attrs(bits=16, signed=0, frames=20)) is None
    assert stored_dtype(attrs(bits=32, signed=0)) is None
    assert stored_dtype({}) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise(2) is Linux's")
def test_prefault_maps_a_fresh_array_and_keeps_what_was_stored() -> None:
    def resident() -> int:  # bytes of this process in memory (/proc/self/statm)
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGESIZE")

    # 96 MiB: above glibc's largest mmap threshold (32 MiB), so fresh pages, never
    # memory an earlier test freed (32 MiB could come back already in memory)
    array = np.empty((192, 512, 512), np.int16)
    array[3] = 7  # a decoder stored a slice already
    before = resident()
    thread = prefault(array)
    assert thread is not None
    thread.join(30)
    assert resident() - before > 72 << 20  # the pages were faulted in, not on first store
    assert (array[3] == 7).all()  # and what was there is kept
