"""Synthetic frontal chest radiographs (AP or PA) of the same parametric chest.

The soft tissues, heart, mediastinum, diaphragm and spine are a projection of a
coarse (3 mm) rendering of :mod:`teachingfiles.demo.anatomy`, split into three
depth slabs that are each magnified as a divergent beam would (the heart is
wider on an AP film). Ribs, clavicles, scapulae, humeral heads and lung markings
are projected from their 3-D centre lines at full resolution, since a 3 mm volume
would blur them. Airspace opacities are drawn per RSNA category and severity
(Litmanovich et al. 2020) by :mod:`teachingfiles.demo.findings_radiograph`.

Example
-------
>>> xr = make_chest_radiograph("typical", "moderate", seed=1, size=256)
>>> xr.pixels.dtype.name, xr.zones_involved in (3, 4)
('uint16', True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from teachingfiles.demo.anatomy import MU, Anatomy, Tissue, make_anatomy
from teachingfiles.demo.anatomy_trees import Tubes
from teachingfiles.demo.findings_radiograph import (
    XR_VARIANTS,
    lung_zones,
    plan_opacities,
)
from teachingfiles.demo.synthetic_render import Grid, Scene, interp_matrix, stamp_capsules, upsample
from teachingfiles.errors import UsageError
from teachingfiles.vocabulary import Appearance, Severity

__all__ = ["DETECTOR_MM", "XR_VARIANTS", "SyntheticRadiograph", "make_chest_radiograph"]

DETECTOR_MM = 400.0
"""Width and height of the detector area imaged (mm)."""

_SID = {"AP": 1000.0, "PA": 1800.0}  # source-image distance (mm), portable AP vs upright PA
_Z_CENTRE = 195.0  # height of the central ray in the anatomy frame (mm)
_VOXEL = 4.0

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SyntheticRadiograph:
    """A synthetic frontal chest radiograph and the mask of the airspace disease drawn.

    Attributes
    ----------
    pixels
        ``uint16`` ``(rows, cols)``, 12-bit (0-4095), high = dense (MONOCHROME2);
        the patient's right is on the image left, row 0 is superior.
    bits_stored
        12.
    pixel_spacing
        ``(row, col)`` spacing at the detector (mm).
    opacity_mask
        ``bool`` ``(rows, cols)``: every pixel changed by airspace disease.
    zones_involved
        How many of the six lung zones (upper/mid/lower, right/left) it touches.
    appearance, severity
        Category and airspace disease grade (``None`` when negative).
    view
        ``"AP"`` or ``"PA"``.
    summary, features
        One plain sentence, and machine-readable tags.
    variant
        The variant drawn (``"default"`` resolved to its name).
    zones
        ``int8`` map of the six zones (0 outside the lungs, 1-3 right upper to
        lower, 4-6 left upper to lower).
    """

    pixels: npt.NDArray[np.uint16]
    bits_stored: int
    pixel_spacing: tuple[float, float]
    opacity_mask: npt.NDArray[np.bool_]
    zones_involved: int
    appearance: Appearance
    severity: Severity | None
    view: str
    summary: str
    features: tuple[str, ...]
    variant: str = "default"
    zones: npt.NDArray[np.int8] | None = None


class Detector:
    """Projection geometry: where a 3-D point (mm) lands on the detector (pixels)."""

    def __init__(self, anatomy: Anatomy, size: int, view: str) -> None:
        self.size = size
        self.spacing = DETECTOR_MM / size
        self.sid = _SID[view]
        s = anatomy.scale
        self.view = view
        # the detector touches the back (AP, supine or sitting) or the front (PA)
        self.plane_y = 112.0 * s + 5.0 if view == "AP" else -96.0 * s - 5.0

    def magnification(self, y: npt.ArrayLike) -> F64:
        """Beam magnification of points at depth ``y`` (mm)."""
        gap = np.abs(self.plane_y - np.asarray(y, np.float64))
        return np.asarray(self.sid / (self.sid - gap))

    def to_pixels(self, x: npt.ArrayLike, y: npt.ArrayLike, z: npt.ArrayLike) -> tuple[F32, F32]:
        """Detector column and row (float pixels) of patient points (mm)."""
        m = self.magnification(y)
        u = np.asarray(x) * m / self.spacing + (self.size - 1) / 2.0
        v = -(np.asarray(z) - _Z_CENTRE) * m / self.spacing + (self.size - 1) / 2.0
        return u.astype(np.float32), v.astype(np.float32)


def make_chest_radiograph(
    appearance: Appearance | str,
    severity: Severity | str | None,
    *,
    seed: int,
    size: int = 1024,
    view: str = "AP",
    variant: str = "default",
) -> SyntheticRadiograph:
    """Generate a frontal chest radiograph showing ``appearance`` at ``severity``.

    Parameters
    ----------
    appearance
        RSNA category (``"typical"``, ``"Typical Appearance"``, an enum member ...).
    severity
        Airspace disease grade: mild = 1-2 zones, moderate = 3-4, severe = 5-6.
        Must be ``None`` for negative studies; ``None`` otherwise means mild.
    seed
        Seed of :func:`numpy.random.default_rng`: the same seed gives the same image.
    size
        Rows and columns (the detector is :data:`DETECTOR_MM` wide).
    view
        ``"AP"`` (portable: wider heart, scapulae over the lungs) or ``"PA"``.
    variant
        A pattern of the category (:data:`XR_VARIANTS`); ``"default"`` is the first.

    Raises
    ------
    UsageError
        For an unknown view or variant, a severity on a negative study, or a tiny size.
    """
    kind = Appearance.parse(appearance)
    view_name = str(view).upper()
    if view_name not in _SID:
        raise UsageError(f"view {view!r} is not a radiograph view; expected 'AP' or 'PA'")
    if size < 128:
        raise UsageError(f"size must be at least 128 pixels, got {size}")
    grade = None if severity is None else Severity.parse(severity)
    if kind is Appearance.NEGATIVE and grade is not None:
        raise UsageError(
            f"a negative radiograph has no airspace disease, so severity must be None "
            f"(got {grade.value!r})"
        )
    if kind is not Appearance.NEGATIVE and grade is None:
        grade = Severity.MILD
    rng = np.random.default_rng(seed)
    anatomy = make_anatomy(rng)
    det = Detector(anatomy, size, view_name)
    body, lung_thickness = _project_body(anatomy, det)
    smooth = upsample(  # hide the voxel steps (filtered at quarter resolution: cheaper)
        ndimage.gaussian_filter(lung_thickness[::4, ::4], 0.75 * size / 1024.0), size
    )
    lungs = smooth > 35.0  # the lung a reader sees (not the recesses behind the liver)
    zones = lung_zones(lungs)
    markings = _markings(anatomy, det) * lungs
    plan = plan_opacities(kind, grade, variant, rng, zones, lung_thickness, det.spacing)
    if plan.pneumothorax is not None:
        markings[plan.pneumothorax] = 0.0
    density = body + markings + _bones(anatomy, det) + _shoulders(anatomy, det) + plan.density
    pixels = _expose(density, rng)
    involved = len({int(v) for v in np.unique(zones[plan.mask])} - {0})
    return SyntheticRadiograph(
        pixels=pixels,
        bits_stored=12,
        pixel_spacing=(det.spacing, det.spacing),
        opacity_mask=plan.mask,
        zones_involved=involved,
        appearance=kind,
        severity=grade,
        view=view_name,
        summary=plan.summary,
        features=(*plan.features, view_name),
        variant=plan.variant,
        zones=zones,
    )


def _project_body(anatomy: Anatomy, det: Detector) -> tuple[F32, F32]:
    """Water-equivalent path length (mm) through the soft tissues, and through the lungs."""
    n = int(np.ceil(440.0 / _VOXEL))
    grid = Grid.square(n, _VOXEL)
    scene = Scene(anatomy, grid, _VOXEL)
    zs = np.arange(-30.0, 420.0, _VOXEL)
    ys = grid.Y[:, 0].astype(np.float64)
    groups = np.array_split(np.arange(n), 3)
    acc = np.zeros((3, len(zs), n), np.float32)
    lung = np.zeros((len(zs), n), np.float32)
    mu = MU.copy()
    mu[Tissue.CORTEX] = 1.5  # vertebrae: the fine overlay adds no spine
    for i, z in enumerate(zs):
        labels = scene.labels(float(z), ribs=False, pulmonary=False)
        att = mu[labels]
        for g, rows in enumerate(groups):
            acc[g, i] = att[rows].sum(axis=0) * _VOXEL
        lung[i] = (labels == Tissue.LUNG).sum(axis=0) * _VOXEL
    out = np.zeros((det.size, det.size), np.float32)
    lung_out = np.zeros_like(out)
    for g, rows in enumerate(groups):
        m = float(det.magnification(ys[rows].mean()))
        smooth = ndimage.gaussian_filter(acc[g], 0.7)  # hide the voxel steps
        out += _resample(smooth, zs, grid, det, m)
        if g == 1:
            lung_out = _resample(lung, zs, grid, det, m)
    return out, lung_out


def _resample(proj: F32, zs: F64, grid: Grid, det: Detector, m: float) -> F32:
    """Map a parallel projection (rows = heights ``zs``, cols = grid x) onto the detector.

    The mapping is separable, so two small linear-interpolation matrices do it with
    one BLAS product instead of a per-pixel ``map_coordinates``.
    """
    size = det.size
    centre = (size - 1) / 2.0
    idx = np.arange(size, dtype=np.float64)
    x = (idx - centre) * det.spacing / m
    z = _Z_CENTRE - (idx - centre) * det.spacing / m
    cols = interp_matrix((x - float(grid.X[0, 0])) / grid.spacing, proj.shape[1])
    rows = interp_matrix((z - zs[0]) / _VOXEL, proj.shape[0])
    return np.asarray(rows @ proj @ cols.T, np.float32)


def _rib_points(anatomy: Anatomy, k: int, theta: F64, sign: float) -> F64:
    z = anatomy.rib_z0[k] - anatomy.rib_drop * (theta / np.pi) ** 1.5
    width, ant, post = anatomy.body_axes(z)
    b = np.where(np.cos(theta) > 0, post, ant)
    rho = 1.0 / np.sqrt((np.sin(theta) / width) ** 2 + (np.cos(theta) / b) ** 2)
    rho = rho - (anatomy.wall_depth(theta, z) - 4.0)
    return np.stack([sign * rho * np.sin(theta), rho * np.cos(theta), z], axis=1)


def _polyline(det: Detector, lines: list[F64], radius_mm: float) -> npt.NDArray[np.bool_]:
    """Mask of several polylines (each ``(n, 3)`` mm), all drawn ``radius_mm`` thick."""
    u0, v0, u1, v1 = [], [], [], []
    for pts in lines:
        u, v = det.to_pixels(pts[:, 0], pts[:, 1], pts[:, 2])
        u0.append(u[:-1])
        v0.append(v[:-1])
        u1.append(u[1:])
        v1.append(v[1:])
    cu0 = np.concatenate(u0)
    r = np.full(len(cu0), radius_mm / det.spacing, np.float32)
    shape = (det.size, det.size)
    return stamp_capsules(shape, cu0, np.concatenate(v0), np.concatenate(u1),
                          np.concatenate(v1), r)  # fmt: skip


def _bones(anatomy: Anatomy, det: Detector) -> F32:
    """Water-equivalent thickness (mm) of ribs, clavicles, scapulae and humeral heads."""
    out = np.zeros((det.size, det.size), np.float32)
    s = anatomy.scale
    posterior: list[F64] = []
    anterior: list[F64] = []
    for k in range(len(anatomy.rib_z0)):
        end = 2.35 if k >= 2 else 1.9
        for sign in (-1.0, 1.0):
            posterior.append(_rib_points(anatomy, k, np.linspace(0.22, 1.7, 30), sign))
            anterior.append(_rib_points(anatomy, k, np.linspace(1.7, end, 12), sign))
    for lines, weight in ((posterior, 6.5), (anterior, 3.5)):
        outer = _polyline(det, lines, 5.0)
        inner = _polyline(det, lines, 3.2)
        out += np.where(outer, np.float32(weight), np.float32(0.0))
        out -= np.where(inner, np.float32(0.45 * weight), np.float32(0.0))
    clavicles = [
        np.array(
            [[18, -70, 292], [45, -78, 300], [80, -70, 305], [112, -40, 318], [138, -10, 324]],
            np.float64,
        ) * np.array([sign * s, s, 1.0])
        for sign in (-1.0, 1.0)
    ]  # fmt: skip
    out += 13.0 * _polyline(det, clavicles, 6.5)
    out += 5.0 * _polyline(det, clavicles, 4.0)
    for sign in (-1.0, 1.0):
        head = np.array([sign * 176.0 * s, 40.0, 301.0])
        elbow = np.array([sign * 230.0 * s, 40.0, 120.0])
        out += 1.2 * _chord(det, head, head + 0.01, 24.0 * s)  # humeral head
        neck = head + (elbow - head) * 0.15
        out += 1.6 * _chord(det, neck, elbow, 12.0 * s)  # shaft
        out -= 0.9 * _chord(det, neck, elbow, 8.0 * s)  # medullary cavity
        _scapula(det, sign, s, out)
    return out


def _scapula(det: Detector, sign: float, s: float, out: F32) -> None:
    """Add a scapula: a thin plate whose medial border overlies the lung on AP films."""
    from matplotlib.path import Path  # point-in-polygon in C

    medial = 82.0 if det.view == "AP" else 118.0
    pts = np.array(
        [[medial, 80, 305], [medial + 8, 80, 230], [medial + 20, 80, 175],
         [150, 60, 215], [165, 50, 290], [medial + 40, 70, 318]], np.float64,
    ) * np.array([sign * s, 1.0, 1.0])  # fmt: skip
    u, v = det.to_pixels(pts[:, 0], pts[:, 1], pts[:, 2])
    lo_c, hi_c = int(max(u.min() - 2, 0)), int(min(u.max() + 2, det.size))
    lo_r, hi_r = int(max(v.min() - 2, 0)), int(min(v.max() + 2, det.size))
    if lo_c < hi_c and lo_r < hi_r:
        rows, cols = np.mgrid[lo_r:hi_r, lo_c:hi_c]
        xy = np.stack([cols.ravel(), rows.ravel()], axis=1)
        inside = Path(np.stack([u, v], axis=1)).contains_points(xy)
        out[lo_r:hi_r, lo_c:hi_c] += 5.0 * inside.reshape(rows.shape)
    rim = np.concatenate([pts, pts[:1]])
    out += 3.0 * _polyline(det, [rim], 2.0)


def _chord(det: Detector, a: F64, b: F64, radius: float) -> F32:
    """Path length (mm) through a soft-tissue cylinder from ``a`` to ``b`` (mm, 3-D)."""
    ua, va = (float(v) for v in det.to_pixels(a[0], a[1], a[2]))
    ub, vb = (float(v) for v in det.to_pixels(b[0], b[1], b[2]))
    r = radius / det.spacing
    n = det.size
    c0, c1 = int(max(min(ua, ub) - r, 0)), int(min(max(ua, ub) + r + 1, n))
    r0, r1 = int(max(min(va, vb) - r, 0)), int(min(max(va, vb) + r + 1, n))
    out = np.zeros((n, n), np.float32)
    if c0 >= c1 or r0 >= r1:
        return out
    yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float32)
    dx, dy = ub - ua, vb - va
    t = np.clip(((xx - ua) * dx + (yy - va) * dy) / max(dx * dx + dy * dy, 1e-6), 0.0, 1.0)
    d2 = (xx - ua - t * dx) ** 2 + (yy - va - t * dy) ** 2
    out[r0:r1, c0:c1] = 2.0 * np.sqrt(np.clip(r * r - d2, 0.0, None)) * det.spacing
    return out


def _shoulders(anatomy: Anatomy, det: Detector) -> F32:
    """Soft tissue of the shoulders (trapezius, deltoid) and upper arms."""
    s = anatomy.scale
    out = np.zeros((det.size, det.size), np.float32)
    for sign in (-1.0, 1.0):
        for a, b, radius in (
            ((160.0, 20.0, 300.0), (178.0, 30.0, 292.0), 38.0),  # deltoid
            ((182.0, 35.0, 290.0), (238.0, 35.0, 110.0), 46.0),  # upper arm
        ):
            pa = np.array([sign * a[0] * s, a[1], a[2]])
            pb = np.array([sign * b[0] * s, b[1], b[2]])
            np.maximum(out, _chord(det, pa, pb, radius * s), out=out)
    return out


def _markings(anatomy: Anatomy, det: Detector) -> F32:
    """Lung markings: the pulmonary vessel trees projected, thicker vessels denser."""
    out = np.zeros((det.size, det.size), np.float32)
    vessels = Tubes.concat([anatomy.arteries, anatomy.veins])
    r = 0.5 * (vessels.r0 + vessels.r1)
    for lo, hi in ((0.0, 1.6), (1.6, 2.6), (2.6, 4.0)):
        sel = vessels.select((r >= lo) & (r < hi))
        if not len(sel):
            continue
        u0, v0 = det.to_pixels(sel.p0[:, 0], sel.p0[:, 1], sel.p0[:, 2])
        u1, v1 = det.to_pixels(sel.p1[:, 0], sel.p1[:, 1], sel.p1[:, 2])
        rad = (0.5 * (sel.r0 + sel.r1) / det.spacing).astype(np.float32)
        mask = stamp_capsules((det.size, det.size), u0, v0, u1, v1, rad)
        out += mask * np.float32(2.6 * float(np.mean(0.5 * (sel.r0 + sel.r1))))
    return out  # softened with everything else in _expose


def _expose(density: F32, rng: np.random.Generator) -> npt.NDArray[np.uint16]:
    """Turn water-equivalent path length (mm) into a processed 12-bit image."""
    size = density.shape[0]
    d = ndimage.gaussian_filter(density, 0.6 * size / 1024.0)
    v = (1.0 - np.exp(-d / 120.0)) ** 1.5  # film-like toe and shoulder
    step = max(size // 128, 1)
    small = ndimage.gaussian_filter(v[::step, ::step], 12.0 / step * size / 1024.0)
    v = v + 0.6 * (v - upsample(small, size))  # edge enhancement, as CR/DX processing does
    noise = ndimage.gaussian_filter(rng.standard_normal(v.shape).astype(np.float32), 0.7)
    v = v + noise * np.float32(0.012)
    pixels = 180.0 + v * 3900.0
    return np.asarray(np.clip(np.rint(pixels), 0, 4095), np.uint16)
