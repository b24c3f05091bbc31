"""Small synthetic CT series for tests and benchmarks (made, not downloaded).

This is the one place that writes synthetic DICOM for tests and benchmarks:
:func:`image_pixels`, :func:`file_meta` and :func:`code_item` are the pieces
every hand-made CT/CR file shares (also used by ``tests/_phi_corpus.py``,
``tests/_minirepo.py``, ``benchmarks/_corpus.py``, ``benchmarks/_series150.py``);
:func:`ct_dataset` and :func:`write_ct_series` build whole CT slices and series.

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
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian, generate_uid

__all__ = [
    "code_item",
    "ct_dataset",
    "file_meta",
    "image_pixels",
    "phantom_slice",
    "save_dataset",
    "write_ct_series",
]


def image_pixels(
    ds: Dataset,
    stored: npt.NDArray[np.uint16] | npt.NDArray[np.int16],
    *,
    bits_stored: int = 12,
    photometric: str = "MONOCHROME2",
) -> None:
    """Set the Image Pixel module of ``ds`` from ``stored`` (the stored values, 16 bits).

    Signed arrays give Pixel Representation 1; the pixel bytes are little endian.
    """
    signed = stored.dtype.kind == "i"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = int(signed)
    ds.PixelData = stored.astype("<i2" if signed else "<u2").tobytes()


def file_meta(ds: Dataset, transfer_syntax: str = ExplicitVRLittleEndian) -> FileMetaDataset:
    """Give ``ds`` (whose SOP Class and Instance UIDs are set) its file meta information."""
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = UID(transfer_syntax)
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta = meta
    return meta


def code_item(value: str, scheme: str, meaning: str) -> Dataset:
    """Make a code sequence item (Code Value, Coding Scheme Designator, Code Meaning)."""
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def save_dataset(ds: Dataset, path: Path, compress: str | None = None) -> Path:
    """Encode ``ds`` with transfer syntax ``compress`` (if given) and write it to ``path``."""
    if compress:
        ds.compress(compress, generate_instance_uid=False)  # keep the UID the caller set
    ds.save_as(path, enforce_file_format=True)
    return path


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
    sop_uid: str | None = None,
    patient_id: str = "SYNTHETIC",
    slice_thickness: float = 1.0,
    window: tuple[float, float] | None = (40, 400),
) -> Dataset:
    """Build a CT slice dataset holding ``pixels`` (HU) as unsigned values with intercept -1024.

    UIDs not given are generated; ``window`` is (center, width), ``None`` for none.
    Callers add whatever else they need (Frame of Reference, names, dates).
    """
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid or generate_uid()
    file_meta(ds)
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.Modality = "CT"
    ds.PatientID = patient_id
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [float(v) for v in position]
    ds.ImageOrientationPatient = [float(v) for v in orientation]
    ds.PixelSpacing = [float(spacing[0]), float(spacing[1])]
    ds.SliceThickness = slice_thickness
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    image_pixels(ds, (pixels.astype(np.int32) + 1024).clip(0, 4095).astype(np.uint16))
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
        paths.append(save_dataset(ds, out / f"slice-{k:04d}.dcm", compress))
    return paths
