"""Airspace disease on the synthetic radiograph, per RSNA category and severity.

Severity is the number of the six lung zones involved (upper/mid/lower thirds of
each lung; Litmanovich et al., J Thorac Imaging 2020): mild 1-2, moderate 3-4,
severe 5-6. Opacities are drawn only inside the zones chosen, so the count is
exact. Where they go follows the category:

- typical: bilateral, peripheral, lower zones first;
- indeterminate: perihilar/central, or one lung, upper zones first;
- atypical: lobar consolidation, a cavity, nodules, an effusion or a pneumothorax
  (one per variant, the others drawn as patchy consolidation);
- negative: nothing.

Densities are water-equivalent thicknesses (mm) added to the projection, so the
lung markings stay visible through ground glass and vanish in dense consolidation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from teachingfiles.demo.synthetic_render import upsample
from teachingfiles.errors import UsageError
from teachingfiles.vocabulary import Appearance, Severity

__all__ = ["XR_VARIANTS", "XRPlan", "lung_zones", "plan_opacities"]

F32 = npt.NDArray[np.float32]
Bool = npt.NDArray[np.bool_]
I8 = npt.NDArray[np.int8]

XR_VARIANTS: dict[Appearance, tuple[str, ...]] = {
    Appearance.TYPICAL: ("patchy", "consolidation"),
    Appearance.INDETERMINATE: ("perihilar", "unilateral"),
    Appearance.ATYPICAL: ("lobar", "cavity", "nodules", "effusion", "pneumothorax"),
    Appearance.NEGATIVE: ("clear",),
}
"""The variants of each category; ``"default"`` means the first one."""

_ZONE_NAMES = {1: "right upper", 2: "right mid", 3: "right lower", 4: "left upper",
               5: "left mid", 6: "left lower"}  # fmt: skip
_ZONE_COUNT = {Severity.MILD: (1, 2), Severity.MODERATE: (3, 4), Severity.SEVERE: (5, 6)}


@dataclass(frozen=True)
class XRPlan:
    """What the radiograph shows: added density, the airspace mask, and its words."""

    variant: str
    density: F32
    mask: Bool
    summary: str
    features: tuple[str, ...]
    pneumothorax: Bool | None = None


def lung_zones(lungs: Bool) -> I8:
    """Split a projected lung mask into six zones (thirds of each lung's height).

    Returns 0 outside the lungs, 1-3 for the right upper/mid/lower zones (image
    left) and 4-6 for the left.
    """
    size = lungs.shape[1]
    zones = np.zeros(lungs.shape, np.int8)
    for first, cols in ((1, slice(0, size // 2)), (4, slice(size // 2, size))):
        side = lungs[:, cols]
        rows = np.flatnonzero(side.any(axis=1))
        if not len(rows):
            continue
        top, bottom = rows[0], rows[-1] + 1
        cuts = top + (bottom - top) * np.array([1 / 3, 2 / 3])
        level = np.searchsorted(cuts, np.arange(lungs.shape[0]), side="right")
        zones[:, cols] = np.where(side, (first + level)[:, None], 0)
    return zones


def _lateralness(zones: I8) -> F32:
    """0 at each lung's medial edge, 1 at its lateral edge (row by row)."""
    size = zones.shape[1]
    out = np.zeros(zones.shape, np.float32)
    cols = np.arange(size, dtype=np.float32)
    for right in (True, False):
        side = np.asarray(((zones >= 1) & (zones <= 3)) if right else (zones >= 4), bool)
        any_ = np.asarray(side.any(axis=1), bool)
        first = np.argmax(side, axis=1).astype(np.float32)
        last = (size - 1 - np.argmax(side[:, ::-1], axis=1)).astype(np.float32)
        t = (cols[None, :] - first[:, None]) / np.maximum(last - first, 1.0)[:, None]
        t = 1.0 - t if right else t
        out = np.where(side & any_[:, None], t, out).astype(np.float32)
    return out


def _zone_order(kind: Appearance, variant: str, rng: np.random.Generator) -> list[int]:
    flip = bool(rng.integers(0, 2))

    def mirror(order: list[int]) -> list[int]:
        return [z + 3 if z <= 3 else z - 3 for z in order] if flip else order

    if kind is Appearance.TYPICAL:
        return mirror([3, 6, 2, 5, 1, 4])
    if kind is Appearance.INDETERMINATE:
        if variant == "unilateral":
            return mirror([1, 2, 3, 4, 5, 6])
        return mirror([2, 5, 1, 4, 3, 6])
    start_low = bool(rng.integers(0, 2))
    return mirror([3, 2, 1, 6, 5, 4] if start_low else [1, 2, 3, 4, 5, 6])


def _smooth_noise(rng: np.random.Generator, size: int) -> F32:
    coarse = rng.standard_normal((48, 48)).astype(np.float32)
    coarse = ndimage.gaussian_filter(coarse, 1.2, mode="wrap")
    rows = np.linspace(0, 47, size)
    i0 = np.minimum(rows.astype(np.intp), 46)
    f = (rows - i0).astype(np.float32)[:, None]
    tall = coarse[i0] * (1 - f) + coarse[i0 + 1] * f  # (size, 48)
    wide = tall[:, i0] * (1 - f.T) + tall[:, i0 + 1] * f.T  # (size, size)
    return np.asarray(wide / (3.0 * wide.std() + 1e-6), np.float32)


def _blobs(
    rng: np.random.Generator, zone: Bool, where: Bool, n: int, radius: float, noise: F32
) -> F32:
    """Make a 0-1 field of ``n`` soft rounded blobs centred in ``where`` (else ``zone``).

    Centres keep about a radius away from the zone's top and bottom, so that few
    blobs are cut straight by the zone boundary.
    """
    rows_in = np.flatnonzero(zone.any(axis=1))
    if len(rows_in):
        top, bottom = rows_in[0], rows_in[-1]
        margin = min(0.8 * radius, 0.3 * (bottom - top))
        band = np.zeros(zone.shape[0], bool)
        band[int(top + margin) : int(bottom - margin) + 1] = True
        where = where & band[:, None]
    pool = np.flatnonzero(where) if where.any() else np.flatnonzero(zone)
    field = np.zeros(zone.shape, np.float32)
    size = zone.shape[1]
    rows, cols = np.divmod(rng.choice(pool, size=n), size)
    for r, c in zip(rows, cols, strict=True):
        rad = radius * rng.uniform(0.7, 1.2)
        k = int(2.5 * rad)
        r0, r1 = max(r - k, 0), min(r + k + 1, zone.shape[0])
        c0, c1 = max(c - k, 0), min(c + k + 1, size)
        yy, xx = np.ogrid[r0:r1, c0:c1]
        d2 = ((yy - r) ** 2 + ((xx - c) / 0.85) ** 2) / (rad * rad)
        field[r0:r1, c0:c1] = np.maximum(field[r0:r1, c0:c1], np.exp(-d2).astype(np.float32))
    return np.asarray(field + noise * field, np.float32)


def plan_opacities(
    kind: Appearance,
    grade: Severity | None,
    variant: str,
    rng: np.random.Generator,
    zones: I8,
    lung_thickness: F32,
    spacing: float,
) -> XRPlan:
    """Draw the airspace disease of a radiograph of ``kind`` at ``grade``."""
    choices = XR_VARIANTS[kind]
    name = choices[0] if variant == "default" else variant
    if name not in choices:
        raise UsageError(
            f"variant {variant!r} is not a variant of {kind.value} radiographs; "
            f"expected 'default' or one of {', '.join(choices)}"
        )
    size = zones.shape[0]
    density = np.zeros(zones.shape, np.float32)
    mask = np.zeros(zones.shape, bool)
    if kind is Appearance.NEGATIVE or grade is None:
        return XRPlan(name, density, mask, "clear lungs without airspace disease", ("clear",))
    lo, hi = _ZONE_COUNT[grade]
    count = int(rng.integers(lo, hi + 1))
    order = [z for z in _zone_order(kind, name, rng) if (zones == z).any()][:count]
    lateral = _lateralness(zones)
    noise = _smooth_noise(rng, size)
    lung_px = float(np.sqrt((zones > 0).sum() / 6.0))  # typical zone size (pixels)
    ptx = _pneumothorax(zones, lateral, order) if name == "pneumothorax" else None
    lung_soft = ndimage.gaussian_filter((zones > 0).astype(np.float32), 0.006 * size)
    involved = np.isin(zones, order) if ptx is None else np.isin(zones, order) & ~ptx
    soft = _soft(involved)  # fade at the edge of the involved zones, not between them
    for i, z in enumerate(order):
        zone = zones == z
        if ptx is not None:
            zone &= ~ptx
        field, amp, hole = _zone_field(
            kind, name, i, rng, zone, lateral, noise, lung_px, spacing, lung_soft
        )
        density -= amp * 0.75 * hole
        region = zone & (field > 0.45)
        if not region.any():
            region = zone
            field = np.where(zone, np.float32(1.0), field)
        # nodules keep sharp margins; airspace disease fades out, also at the zone's edges
        fade = np.clip((field - 0.45) / 0.35, 0.0, 1.0)
        w = field if name == "nodules" else fade * soft
        density += np.where(region, amp * w, 0.0).astype(np.float32)
        mask |= region
    features, summary = _describe(kind, name, order, grade)
    if name == "effusion":
        density += _effusion(zones, lateral, order)
    if ptx is not None:
        density -= np.where(ptx, 0.2 * lung_thickness, 0.0).astype(np.float32)
        pleura = ndimage.binary_dilation(ptx, iterations=2) & ~ptx & (zones > 0)
        density += 6.0 * pleura  # the visceral pleural line
    return XRPlan(name, density, mask, summary, features, ptx)


def _zone_field(
    kind: Appearance, name: str, i: int, rng: np.random.Generator, zone: Bool, lateral: F32,
    noise: F32, lung_px: float, spacing: float, lung_soft: F32,
) -> tuple[F32, float, F32]:  # fmt: skip
    """Return the 0-1 disease field of one zone, its density (mm), and any cavity."""
    hole = np.zeros(zone.shape, np.float32)
    if kind is Appearance.TYPICAL:
        amp = 45.0 if name == "consolidation" else 30.0
        return _blobs(rng, zone, zone & (lateral > 0.6), 3, 0.32 * lung_px, noise), amp, hole
    if kind is Appearance.INDETERMINATE:
        return _blobs(rng, zone, zone & (lateral < 0.45), 3, 0.3 * lung_px, noise), 32.0, hole
    if name == "lobar":  # homogeneous, with a little texture and no ragged medial edge
        return np.where(zone, lung_soft + noise * 0.3, np.float32(0.0)), 50.0, hole
    if name == "nodules":
        return _nodules(rng, zone, spacing), 1.0, hole
    if name == "cavity" and i == 0:
        field, hole = _cavity(zone, lung_px)
        return field, 50.0, hole
    return _blobs(rng, zone, zone, 2, 0.3 * lung_px, noise), 45.0, hole


def _soft(mask: Bool) -> F32:
    """Return 1 deep inside ``mask`` falling to 0 at its edge (over about 3 % of the image)."""
    small = ndimage.gaussian_filter(mask[::4, ::4].astype(np.float32), 0.008 * mask.shape[0])
    big = upsample(small, mask.shape[0])
    return np.asarray(np.clip(2.0 * big - 1.0, 0.05, 1.0), np.float32)


def _nodules(rng: np.random.Generator, zone: Bool, spacing: float) -> F32:
    """Round well-defined nodules: the chord length (mm) through each sphere."""
    out = np.zeros(zone.shape, np.float32)
    pool = np.flatnonzero(zone)
    size = zone.shape[1]
    for idx in rng.choice(pool, size=int(rng.integers(1, 4))):
        r, c = divmod(int(idx), size)
        rad = rng.uniform(7.0, 14.0) / spacing
        k = int(rad) + 1
        yy, xx = np.ogrid[max(r - k, 0) : r + k + 1, max(c - k, 0) : c + k + 1]
        d2 = (yy - r) ** 2 + (xx - c) ** 2
        chord = 2.0 * np.sqrt(np.clip(rad * rad - d2, 0, None)) * spacing
        part = out[max(r - k, 0) : r + k + 1, max(c - k, 0) : c + k + 1]
        np.maximum(part, (chord * 1.1 + 0.46 * (chord > 0)).astype(np.float32), out=part)
    return out


def _cavity(zone: Bool, lung_px: float) -> tuple[F32, F32]:
    """Draw a round consolidation in ``zone`` with a cavity and an air-fluid level."""
    rows, cols = np.nonzero(zone)
    r, c = rows.mean(), cols.mean()
    rad = 0.45 * lung_px
    yy, xx = np.ogrid[0 : zone.shape[0], 0 : zone.shape[1]]
    d = np.sqrt((yy - r) ** 2 + (xx - c) ** 2) / rad
    field = np.clip(1.6 - d, 0.0, 1.0).astype(np.float32)
    cavity = ((d < 0.5) & (yy < r + 0.12 * rad)).astype(np.float32)  # gas above the fluid
    return field, cavity * (field > 0.45)


def _effusion(zones: I8, lateral: F32, order: list[int]) -> F32:
    """Draw a dependent effusion with a meniscus, on the side of the first zone drawn."""
    right = not order or order[0] <= 3
    side = np.asarray(((zones >= 1) & (zones <= 3)) if right else (zones >= 4), bool)
    rows = np.flatnonzero(side.any(axis=1))
    bottom, height = rows[-1], rows[-1] - rows[0]
    rr = np.arange(zones.shape[0], dtype=np.float32)[:, None]
    level = bottom - height * (0.12 + 0.16 * lateral**2)  # meniscus climbs laterally
    fluid = side & (rr > level)
    depth = np.clip((rr - level) / (0.05 * height), 0.0, 1.0)
    return np.where(fluid, 60.0 * depth, 0.0).astype(np.float32)


def _pneumothorax(zones: I8, lateral: F32, order: list[int]) -> Bool:
    """Outline an apicolateral pneumothorax on the side opposite the first zone drawn."""
    right = bool(order) and order[0] > 3
    side = ((zones >= 1) & (zones <= 3)) if right else (zones >= 4)
    rows = np.flatnonzero(side.any(axis=1))
    top, bottom = rows[0], rows[-1]
    rr = np.arange(zones.shape[0], dtype=np.float32)[:, None]
    frac = np.clip((rr - top) / max(bottom - top, 1), 0.0, 1.0)
    return np.asarray(side & (lateral > 0.62 + 0.8 * frac**2) & (frac < 0.6), bool)


def _describe(
    kind: Appearance, name: str, order: list[int], grade: Severity
) -> tuple[tuple[str, ...], str]:
    sides = {"right" if z <= 3 else "left" for z in order}
    lateral = "bilateral" if len(sides) == 2 else "unilateral"
    where = ", ".join(_ZONE_NAMES[z] for z in sorted(order))
    n = len(order)
    zones_text = f"{n} of 6 zones ({where}), {grade.value}"
    if kind is Appearance.TYPICAL:
        pattern = "consolidation" if name == "consolidation" else "hazy opacities"
        feats: tuple[str, ...] = (lateral, "peripheral", "lower-zone", pattern.split()[0])
        text = f"{lateral} peripheral lower-zone predominant {pattern} in {zones_text}"
    elif kind is Appearance.INDETERMINATE:
        feats = (lateral, "central", "perihilar", "hazy")
        text = f"{lateral} central (perihilar) hazy opacities in {zones_text}"
    else:
        extra = {
            "lobar": ("lobar consolidation", "lobar-consolidation"),
            "cavity": ("consolidation with a cavity and an air-fluid level", "cavity"),
            "nodules": ("multiple well-defined pulmonary nodules", "nodules"),
            "effusion": ("consolidation with a pleural effusion", "effusion"),
            "pneumothorax": ("consolidation and a pneumothorax", "pneumothorax"),
        }[name]
        feats = (lateral, extra[1])
        text = f"{extra[0]}, {lateral}, in {zones_text}"
    return (*feats, grade.value), text
