"""Small synthetic CT series for tests and benchmarks (made, not downloaded).

The phantom is a water ellipse (0 HU) in air (-1000 HU) with a bone ring
(+700 HU) and a lung-like region (-800 HU) whose extent changes with the slice,
so orientation mistakes show. Files are valid CT Image Storage objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

__all__ = ["ct_dataset", "phantom_slice", "write_ct_series"]


def phantom_slice(rows: int, cols: int, k: int, n: int) -> npt.NDArray[np.int16]:
    """One phantom slice in HU (``int16``); ``k`` of ``n`` sets the lung's size."""
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    cy, cx = (rows - 1) / 2, (cols - 1) / 2
    r = ((x - cx) / (0.45 * cols)) ** 2 + ((y - cy) / (0.35 * rows)) ** 2
    img = np.full((rows, cols), -1000, np.int16)
    img[r < 1.0] = 700
    img[r < 0.85] = 0
    frac = 0.2 + 0.6 * (k + 1) / max(n, 1)
    lung = ((x - cx * 0.6) / (0.15 * cols)) ** 2 + ((y - cy) / (0.25 * rows * frac)) ** 2
    img[lung < 1.0] = -800
    return img


def ct_dataset(
    pixels: npt.NDArray[np.int16],
    *,
    position: Sequence[float],
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    spacing: tuple[float, float] = (0.7, 0.7),
    instance: int = 1,
    series_uid: str | None = None,
    study_uid: str | None = None,
) -> Dataset:
    """Build a CT slice dataset holding ``pixels`` (HU) as unsigned values with intercept -1024."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.Modality = "CT"
    ds.PatientID = "SYNTHETIC"
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [float(v) for v in position]
    ds.ImageOrientationPatient = [float(v) for v in orientation]
    ds.PixelSpacing = [float(spacing[0]), float(spacing[1])]
    ds.SliceThickness = 1.0
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    ds.PixelData = (pixels.astype(np.int32) + 1024).clip(0, 4095).astype("<u2").tobytes()
    return ds


def write_ct_series(
    folder: str | PathLike[str],
    n: int = 20,
    rows: int = 64,
    cols: int = 64,
    *,
    slice_spacing: float = 1.25,
    pixel_spacing: tuple[float, float] = (0.7, 0.7),
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    compress: str | None = None,
    positions: Sequence[Sequence[float]] | None = None,
) -> list[Path]:
    """Write a synthetic axial CT series; the paths, in slice order (inferior first).

    ``compress`` is a transfer syntax UID to encode with (``Dataset.compress``;
    JPEG 2000 lossless needs pylibjpeg-openjpeg, RLE needs nothing extra).
    ``positions`` overrides the Image Position (Patient) of each slice.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    series, study = generate_uid(), generate_uid()
    normal = np.cross(np.asarray(orientation[:3], float), np.asarray(orientation[3:], float))
    paths = []
    for k in range(n):
        pos = positions[k] if positions is not None else list(normal * k * slice_spacing)
        ds = ct_dataset(
            phantom_slice(rows, cols, k, n),
            position=pos,
            orientation=orientation,
            spacing=pixel_spacing,
            instance=k + 1,
            series_uid=series,
            study_uid=study,
        )
        if compress:
            ds.compress(compress)
        path = out / f"slice-{k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
