"""Synthetic chest CT volumes with pneumonia findings drawn per RSNA category.

The anatomy comes from :mod:`teachingfiles.demo.anatomy`, rasterised slab by slab
(:mod:`teachingfiles.demo.synthetic_render`), and the findings from
:mod:`teachingfiles.demo.findings`. Each slice then gets a light partial-volume
blur and correlated quantum noise (inside the body only, so the outside air stays
flat and compresses well).

Example
-------
>>> ct = make_chest_ct("typical", seed=3, n_slices=16, size=128)
>>> ct.hu.shape, ct.hu.dtype.name
((16, 128, 128), 'int16')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from teachingfiles.demo.anatomy import CT_TOP, HU, Tissue, make_anatomy
from teachingfiles.demo.findings import CT_VARIANTS, SmoothNoise, plan_findings
from teachingfiles.demo.synthetic_render import Grid, Scene
from teachingfiles.errors import UsageError
from teachingfiles.vocabulary import Appearance, Finding

__all__ = [
    "CT_VARIANTS",
    "FIELD_OF_VIEW_MM",
    "Z_OFFSET_MM",
    "SyntheticCT",
    "ct_labels",
    "make_chest_ct",
]

FIELD_OF_VIEW_MM = 500.0
"""Reconstruction diameter: the body takes about 60 % of it."""

Z_OFFSET_MM = -260.0
"""Patient z (mm) of the bottom of the anatomy frame (table position of the scan)."""

NOISE_HU = 12.0
"""Standard deviation of the image noise inside the body (HU)."""


@dataclass(frozen=True)
class SyntheticCT:
    """A synthetic axial chest CT and the masks of what was drawn.

    Attributes
    ----------
    hu
        ``int16`` ``(n_slices, rows, cols)`` Hounsfield units; slice 0 is the most
        inferior (feet first order).
    pixel_spacing
        ``(row, col)`` spacing (mm).
    slice_thickness
        Slice thickness (mm), equal to the spacing between slices.
    slice_z
        ``float64`` patient z (mm) of each slice, ascending.
    origin_xy
        Patient ``(x, y)`` (mm) of the centre of pixel (0, 0) (LPS: columns run to
        the patient's left, rows run anterior to posterior).
    masks
        ``bool`` ``(n_slices, rows, cols)`` per finding drawn.
    appearance
        The RSNA category the findings were drawn for.
    summary
        One plain sentence describing what was generated (for case text).
    features
        Machine-readable tags, e.g. ``("bilateral", "peripheral", "ground-glass")``.
    variant
        The variant drawn (``"default"`` resolved to its name).
    """

    hu: npt.NDArray[np.int16]
    pixel_spacing: tuple[float, float]
    slice_thickness: float
    slice_z: npt.NDArray[np.float64]
    origin_xy: tuple[float, float]
    masks: dict[Finding, npt.NDArray[np.bool_]]
    appearance: Appearance
    summary: str
    features: tuple[str, ...]
    variant: str = "default"


class _Noise:
    """Correlated CT noise: random crops of two pre-smoothed tiles (cheap per slice)."""

    def __init__(self, rng: np.random.Generator, size: int) -> None:
        self.size = size
        self.pad = max(size // 8, 8)
        tiles = rng.standard_normal((2, size + self.pad, size + self.pad)).astype(np.float32)
        tiles = ndimage.gaussian_filter(tiles, (0, 0.7, 0.7))
        self.tiles = tiles / tiles.std()
        self.rng = rng

    def slice(self) -> npt.NDArray[np.float32]:
        o = self.rng.integers(0, self.pad, 4)
        n = self.size
        a = self.tiles[0, o[0] : o[0] + n, o[1] : o[1] + n]
        b = self.tiles[1, o[2] : o[2] + n, o[3] : o[3] + n]
        return np.asarray(a * np.float32(0.8) + b * np.float32(0.6), np.float32)


_SOFT = np.array([0.2, 0.6, 0.2], np.float32)
_NO_NOISE = np.isin(np.arange(len(Tissue)), [Tissue.OUTSIDE, Tissue.AIR, Tissue.COUCH])


def make_chest_ct(
    appearance: Appearance | str,
    *,
    seed: int,
    variant: str = "default",
    n_slices: int = 64,
    size: int = 512,
) -> SyntheticCT:
    """Generate a chest CT, lung bases to thoracic inlet, showing ``appearance``.

    Parameters
    ----------
    appearance
        RSNA category (``"typical"``, ``"Indeterminate Appearance"``, an
        :class:`~teachingfiles.vocabulary.Appearance` ...).
    seed
        Seed of :func:`numpy.random.default_rng`: the same seed gives the same volume.
    variant
        A pattern of the category (:data:`CT_VARIANTS`); ``"default"`` is the first.
    n_slices
        Number of contiguous slices over the 320 mm covered.
    size
        Rows and columns per slice (field of view :data:`FIELD_OF_VIEW_MM`).

    Raises
    ------
    UsageError
        For a variant the category does not have, or a size too small to draw.
    """
    kind = Appearance.parse(appearance)
    if n_slices < 4 or size < 64:
        raise UsageError(f"need n_slices >= 4 and size >= 64, got {n_slices} and {size}")
    rng = np.random.default_rng(seed)
    anatomy = make_anatomy(rng)
    plan = plan_findings(anatomy, kind, variant, rng)
    thickness = CT_TOP / n_slices
    spacing = FIELD_OF_VIEW_MM / size
    grid = Grid.square(size, spacing)
    scene = Scene(anatomy, grid, thickness)
    texture = SmoothNoise(rng, n_slices, size, cells=max(size // 12, 8))
    noise = _Noise(rng, size)
    z_frame = (np.arange(n_slices) + 0.5) * thickness
    hu_out = np.empty((n_slices, size, size), np.int16)
    masks = {f: np.zeros((n_slices, size, size), bool) for f in plan.findings()}
    gradient = (grid.Y * np.float32(0.35)).astype(np.float32)  # dependent lung is denser
    for k, z in enumerate(z_frame):
        labels, lung = scene.render(float(z))
        hu = HU[labels]
        hu += np.where(labels == Tissue.LUNG, gradient, np.float32(0.0))
        for finding, mask in plan.apply(scene, float(z), labels, lung, hu, texture, k).items():
            masks[finding][k] = mask
        if spacing < 1.5:  # partial volume of about a millimetre
            hu = ndimage.correlate1d(hu, _SOFT, axis=0, mode="nearest")
            hu = ndimage.correlate1d(hu, _SOFT, axis=1, mode="nearest")
        quiet = _NO_NOISE[labels]
        hu += np.where(quiet, np.float32(0.0), noise.slice() * np.float32(NOISE_HU))
        hu[quiet & (hu < -990.0)] = -1000.0  # flat air outside the body
        hu[labels == Tissue.OUTSIDE] = -1024.0
        hu_out[k] = np.clip(np.rint(hu), -1024, 3071).astype(np.int16)
    return SyntheticCT(
        hu=hu_out,
        pixel_spacing=(spacing, spacing),
        slice_thickness=thickness,
        slice_z=(z_frame + Z_OFFSET_MM).astype(np.float64),
        origin_xy=grid.origin,
        masks=masks,
        appearance=kind,
        summary=plan.summary,
        features=plan.features,
        variant=plan.variant,
    )


def ct_labels(
    seed: int, *, n_slices: int = 64, size: int = 512
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """Render the tissue labels and lung masks behind :func:`make_chest_ct` for ``seed``.

    Returns ``uint8`` :class:`~teachingfiles.demo.anatomy.Tissue` labels and the
    ``bool`` lung masks, both ``(n_slices, size, size)``, before any finding was
    drawn: the ground truth of the anatomy (for tests and teaching overlays).
    """
    rng = np.random.default_rng(seed)
    anatomy = make_anatomy(rng)  # the first draw of make_chest_ct, so the same patient
    thickness = CT_TOP / n_slices
    scene = Scene(anatomy, Grid.square(size, FIELD_OF_VIEW_MM / size), thickness)
    labels = np.empty((n_slices, size, size), np.uint8)
    lungs = np.empty((n_slices, size, size), bool)
    for k in range(n_slices):
        labels[k], lungs[k] = scene.render((k + 0.5) * thickness)
    return labels, lungs
