"""Make a synthetic CT series (RLE Lossless, 512x512) for the DICOMweb benchmark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.uid import RLELossless, generate_uid

from teachingfiles.dicom.synthetic import ct_dataset, save_dataset

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
        ds = ct_dataset(
            np.floor(hu).astype(np.int16),  # floor: stored = floor(HU + 1024), as before
            position=(-250.0, -250.0, -300.0 + 2.0 * i),
            spacing=(0.9765625, 0.9765625),
            instance=i + 1,
            series_uid=series,
            study_uid=study,
            sop_uid=generate_uid(prefix, [f"bench-{n}-{i}"]),
            patient_id="BENCH-DICOMWEB-000001",
            slice_thickness=2.0,
            window=None,
        )
        ds.FrameOfReferenceUID, ds.PatientName = frame, "SYNTHETIC^BENCHMARK"
        ds.StudyDate, ds.SeriesNumber = "20200101", 1
        ds.SeriesDescription = f"SYNTHETIC {n} slices"
        path = dest / f"1-{i + 1:03d}.dcm"
        paths.append(save_dataset(ds, path, RLELossless if rle else None))
    return paths
