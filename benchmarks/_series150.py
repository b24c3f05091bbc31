"""Make a synthetic CT series (RLE Lossless, 512x512) for the DICOMweb benchmark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, RLELossless, generate_uid

__all__ = ["make_ct_series"]


def make_ct_series(dest: Path, n: int = 150, size: int = 512, *, rle: bool = True) -> list[Path]:
    """Write ``n`` axial slices of a phantom (a body ellipse with lungs) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    prefix = "1.2.826.0.1.3680043.8.498."
    study, series, frame = (generate_uid(prefix, [f"bench-{n}-{k}"]) for k in ("st", "se", "for"))
    yy, xx = np.mgrid[:size, :size] / size - 0.5
    body = (xx / 0.42) ** 2 + (yy / 0.32) ** 2 < 1
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        z = i / max(n - 1, 1)
        lung_r = 0.1 + 0.08 * np.sin(np.pi * z)
        lungs = ((xx - 0.17) ** 2 + yy**2 < lung_r**2) | ((xx + 0.17) ** 2 + yy**2 < lung_r**2)
        hu = np.where(body, 40, -1000) + np.where(lungs, -860, 0)
        hu = hu + rng.normal(0, 12, hu.shape)
        stored = np.clip(hu + 1024, 0, 4095).astype(np.uint16)
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        sop = generate_uid(prefix, [f"bench-{n}-{i}"])
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientID, ds.PatientName = "BENCH-DICOMWEB-000001", "SYNTHETIC^BENCHMARK"
        ds.StudyDate, ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "20200101", "CT", 1, i + 1
        ds.SeriesDescription = f"SYNTHETIC {n} slices"
        ds.ImagePositionPatient = [-250.0, -250.0, -300.0 + 2.0 * i]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing, ds.SliceThickness = [0.9765625, 0.9765625], 2.0
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.PixelData = stored.tobytes()
        if rle:
            ds.compress(RLELossless)
        path = dest / f"1-{i + 1:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
