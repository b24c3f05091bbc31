"""Volumes made (not downloaded) for the browser tests and the scroll benchmark.

Imported by the notebooks in this folder (Voila runs their kernels here) and by
the tests, so both sides agree on every pixel.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BLOCK = 16
BLOCK_SHAPE = (40, 96, 128)  # slices, rows, columns
BLOCK_SPACING = (2.5, 0.8, 0.8)
BLOCK_WINDOW = (0.0, 2000.0)  # centre, width: value v shows as grey (v + 1000) / 2000


def block_value(z: int, row: int, col: int) -> int:
    """The value of every pixel in the 16 x 16 block holding (row, col) on slice z."""
    by, bx = row // BLOCK, col // BLOCK
    return (z * 37 + by * 211 + bx * 97) % 2000 - 1000


def block_volume() -> npt.NDArray[np.int16]:
    """Slices of constant 16 x 16 blocks whose values differ between slices."""
    nz, ny, nx = BLOCK_SHAPE
    z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    vol = (z * 37 + (y // BLOCK) * 211 + (x // BLOCK) * 97) % 2000 - 1000
    return vol.astype(np.int16)


def block_annotations() -> list[dict[str, object]]:
    """One polygon on slice 5 and a box on slice 7, in two labels."""
    return [
        {
            "slice": 5,
            "label": "Infectious opacity",
            "color": "#ff0000",
            "points": [[20, 20], [60, 20], [60, 60], [20, 60]],
        },
        {"slice": 7, "label": "Nodule", "kind": "box", "points": [[70, 30], [100, 70]]},
    ]


def phantom_ct(nz: int = 300, size: int = 512, seed: int = 0) -> npt.NDArray[np.int16]:
    """A chest-CT-like phantom in HU: body, two lungs with vessels, spine, noise.

    The noise (sigma 12 HU) makes it compress like a real scan rather than like a
    drawing.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32) / size
    out = np.empty((nz, size, size), np.int16)
    for k in range(nz):
        t = k / max(nz - 1, 1)
        img = np.full((size, size), -1000.0, np.float32)
        body = ((yy - 0.5) / 0.36) ** 2 + ((xx - 0.5) / 0.46) ** 2 < 1
        img[body] = 40.0
        r = 0.16 + 0.06 * np.sin(np.pi * t)
        for cx in (0.32, 0.68):
            lung = ((yy - 0.47) / (r * 1.5)) ** 2 + ((xx - cx) / r) ** 2 < 1
            img[lung] = -850.0
            vessel = ((yy - 0.45 - 0.1 * t) ** 2 + (xx - cx - 0.03) ** 2) < (0.012) ** 2
            img[vessel] = 30.0
        spine = ((yy - 0.76) / 0.05) ** 2 + ((xx - 0.5) / 0.05) ** 2 < 1
        img[spine] = 700.0
        img += rng.normal(0.0, 12.0, img.shape).astype(np.float32)
        out[k] = np.clip(img, -1024, 3071).astype(np.int16)
    return out
