"""Every image-bearing file in pydicom's test files and pydicom-data renders right.

"Right" means: the same 8-bit values as pydicom's own ``pixel_array`` +
``apply_modality_lut`` + ``apply_voi_lut`` (rescaled from pydicom's output range
to 0-255, inverted for MONOCHROME1), within 1 grey level; or for colour, pydicom's
RGB (palette through ``apply_color_lut``) scaled from its bit depth. Otherwise the
file must be refused with a DicomError naming it. Files that are not images at all
(SR, RT plan, JSON, DICOMDIR...) are counted apart.
"""

from __future__ import annotations

import copy
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_files
from pydicom.pixels import pixel_array
from pydicom.pixels.processing import apply_color_lut, apply_modality_lut, apply_voi_lut

from teachingfiles.dicom.pixels import DicomImage, frame_attribute
from teachingfiles.dicom.presets import auto_window
from teachingfiles.errors import DecodeError, DicomError, InvalidDicomError, MissingPixelDataError

FILES = sorted({str(Path(f).resolve()) for f in get_testdata_files() if Path(f).is_file()})
TOLERANCE = 1.0  # grey levels: float32 here against float64 in pydicom, then rounding


def _flatten_enhanced(ds: pydicom.Dataset, frame: int) -> pydicom.Dataset:
    """Copy frame ``frame``'s rescale and window up to the top level, where pydicom looks."""
    flat = copy.copy(ds)
    tr = frame_attribute(ds, "PixelValueTransformationSequence", "RescaleSlope", frame)
    if tr is not None:
        flat.RescaleSlope, flat.RescaleIntercept = tr.RescaleSlope, tr.RescaleIntercept
    voi = frame_attribute(ds, "FrameVOILUTSequence", "WindowCenter", frame)
    if voi is not None:
        flat.WindowCenter, flat.WindowWidth = voi.WindowCenter, voi.WindowWidth
    return flat


def _reference(ds: pydicom.Dataset, frame: int, ours_values: np.ndarray) -> np.ndarray:
    arr = pixel_array(ds, index=frame if int(ds.get("NumberOfFrames") or 1) > 1 else None)
    pi = ds.PhotometricInterpretation
    if pi == "PALETTE COLOR":
        bits = ds.RedPaletteColorLookupTableDescriptor[2]
        return apply_color_lut(arr, ds).astype(float) * 255 / (2**bits - 1)
    if pi not in ("MONOCHROME1", "MONOCHROME2"):
        return arr.astype(float) * 255 / (2**ds.BitsStored - 1)
    flat = _flatten_enhanced(ds, frame)
    values = apply_modality_lut(arr, flat)
    if flat.get("VOILUTSequence"):
        bits = flat.VOILUTSequence[0].LUTDescriptor[2]
        grey = apply_voi_lut(values, flat).astype(float) * 255 / (2**bits - 1)
    else:
        if "WindowCenter" not in flat or "WindowWidth" not in flat:
            # no window in the file: give pydicom the automatic one we chose
            win = auto_window(ours_values)
            flat.WindowCenter, flat.WindowWidth = win.center, win.width
        grey = apply_voi_lut(values, flat)
        if flat.get("ModalityLUTSequence"):
            lo, hi = 0.0, 2.0 ** flat.ModalityLUTSequence[0].LUTDescriptor[2] - 1
        elif flat.PixelRepresentation == 0:
            lo, hi = 0.0, 2.0**flat.BitsStored - 1
        else:
            lo, hi = -(2.0 ** (flat.BitsStored - 1)), 2.0 ** (flat.BitsStored - 1) - 1
        if "RescaleSlope" in flat and not flat.get("ModalityLUTSequence"):
            s, i = float(flat.RescaleSlope), float(flat.RescaleIntercept)
            lo, hi = lo * s + i, hi * s + i
        grey = (grey.astype(float) - lo) / (hi - lo) * 255
    return 255 - grey if pi == "MONOCHROME1" else grey


def _outcome(path: str) -> tuple[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's own warnings about odd files
        try:
            image = DicomImage.from_file(path)
            frames = range(image.number_of_frames) if image.number_of_frames <= 3 else (0, 1)
            for frame in frames:
                ours = image.display(frame)
                ref = _reference(image.dataset, frame, image.values(frame))
                assert ours.dtype == np.uint8 and ours.shape == ref.shape
                worst = float(np.abs(ours.astype(float) - ref).max())
                assert worst <= TOLERANCE, f"{path} frame {frame}: off by {worst}"
        except (InvalidDicomError, MissingPixelDataError) as exc:
            assert Path(path).name in str(exc)
            return "not an image", type(exc).__name__
        except DicomError as exc:
            assert Path(path).name in str(exc)
            assert isinstance(exc, DecodeError)
            return "refused", str(exc).split(": ", 1)[1][:60]
    return "rendered", image.photometric


@pytest.mark.slow
def test_every_test_file_renders_like_pydicom_or_is_refused_clearly():
    outcomes = {path: _outcome(path) for path in FILES}
    counts = Counter(kind for kind, _ in outcomes.values())
    refused = {Path(p).name: why for p, (kind, why) in outcomes.items() if kind == "refused"}
    print(dict(counts), refused)
    # the real images the demo relies on are among the rendered ones
    rendered = {Path(p).name for p, (kind, _) in outcomes.items() if kind == "rendered"}
    assert {"RG1_UNCR.dcm", "RG1_J2KR.dcm", "RG3_UNCR.dcm", "693_J2KR.dcm", "MR2_J2KI.dcm",
            "US1_J2KR.dcm", "OBXXXX1A.dcm", "CT_small.dcm"} <= rendered  # fmt: skip
    # exactly the broken files are refused: each is corrupt, and says so
    assert set(refused) == {
        "JPEG2000-embedded-sequence-delimiter.dcm", "JPEG-lossy.dcm", "MR_truncated.dcm",
        "badVR.dcm", "meta_missing_tsyntax.dcm", "nested_priv_SQ.dcm",
    }  # fmt: skip
    assert counts["rendered"] >= 100
