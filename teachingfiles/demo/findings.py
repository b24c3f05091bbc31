"""Pneumonia findings for the synthetic CT, placed per RSNA category (Simpson et al. 2020).

:func:`plan_findings` decides *what* goes *where* in 3-D (millimetres, the
:mod:`~teachingfiles.demo.anatomy` frame); :meth:`FindingPlan.apply` then changes
the CT numbers of one slice and returns, per :class:`~teachingfiles.vocabulary.Finding`,
the mask of the pixels it changed. Findings stay inside the lungs.

Patterns drawn:

- ground-glass opacity: lung raised to -650..-350 HU, vessels still visible;
- consolidation: -10..+35 HU, airways inside keep their air (air bronchograms);
- crazy paving: ground glass crossed by a polygonal net of thickened septa;
- lobar consolidation: a whole lobe, sharply bounded by its fissure;
- cavity: a thick-walled gas-filled space (with a fluid level) in consolidation;
- tree-in-bud: clusters of 2-4 mm branching centrilobular nodules;
- benign nodule: a small calcified granuloma; pleural effusion: dependent fluid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from teachingfiles.demo.anatomy import HU, Anatomy, Tissue
from teachingfiles.demo.anatomy_trees import Tubes, offset_tubes
from teachingfiles.demo.synthetic_render import Scene, interp_matrix, tubes_in_slab
from teachingfiles.errors import UsageError
from teachingfiles.vocabulary import Appearance, Finding

__all__ = ["CT_VARIANTS", "FindingPlan", "Lesion", "SmoothNoise", "plan_findings"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

CT_VARIANTS: dict[Appearance, tuple[str, ...]] = {
    Appearance.TYPICAL: ("ggo", "crazy-paving", "consolidation"),
    Appearance.INDETERMINATE: ("perihilar", "unilateral", "diffuse"),
    Appearance.ATYPICAL: ("lobar", "cavity", "tree-in-bud", "effusion"),
    Appearance.NEGATIVE: ("clear", "nodule"),
}
"""The variants of each category; ``"default"`` means the first one."""

LUNG_BASE = -860.0


class SmoothNoise:
    """Smooth random field in about [-1, 1], sampled slice by slice.

    A coarse 3-D grid of Gaussian noise is smoothed once and bilinearly upsampled
    per slice, which is far cheaper than filtering a full-resolution volume.
    """

    def __init__(self, rng: np.random.Generator, n_slices: int, size: int, cells: int) -> None:
        coarse = rng.standard_normal((n_slices // 2 + 3, cells, cells)).astype(np.float32)
        coarse = ndimage.gaussian_filter(coarse, (0.8, 1.0, 1.0), mode="wrap")
        self.coarse = coarse / (coarse.std() * 2.0 + 1e-6)
        self.size = size
        self.n_slices = n_slices
        # bilinear upsampling as two small matrix products (cheaper than ndimage.zoom)
        self._up = interp_matrix(np.linspace(-0.5, cells - 0.5, size) % cells, cells)

    def slice(self, k: int) -> F32:
        """Return the field on slice ``k`` at full resolution."""
        zc = k / 2.0 + 1.0
        i = int(zc)
        f = np.float32(zc - i)
        plane = self.coarse[i] * (1 - f) + self.coarse[i + 1] * f
        return np.asarray(self._up @ plane @ self._up.T, np.float32)


@dataclass(frozen=True)
class Lesion:
    """An opacity: an ellipsoid (mm) roughened by noise, of one pattern.

    ``pattern`` is ``"ggo"``, ``"crazy"``, ``"mixed"`` (consolidation core, ground
    glass rim) or ``"consolidation"``; ``level`` its CT number (HU).
    """

    pattern: str
    centre: tuple[float, float, float]
    radii: tuple[float, float, float]
    angle: float
    roughness: float
    level: float
    septa_seed: int = 0

    def reaches(self, z: float) -> bool:
        """Whether the lesion can touch the slice at height ``z``."""
        return abs(z - self.centre[2]) < self.radii[2] * (1.0 + self.roughness)


@dataclass(frozen=True)
class FindingPlan:
    """Everything abnormal in one synthetic CT, and how to say it."""

    appearance: Appearance
    variant: str
    summary: str
    features: tuple[str, ...]
    lesions: tuple[Lesion, ...] = ()
    lobe: str | None = None
    cavity: tuple[tuple[float, float, float], float, float] | None = None
    tib_centre: tuple[float, float, float] | None = None
    tib_radii: tuple[float, float, float] = (0.0, 0.0, 0.0)
    tib: Tubes = field(default_factory=Tubes.empty)
    bronchograms: Tubes = field(default_factory=Tubes.empty)
    nodule: tuple[tuple[float, float, float], float] | None = None
    effusion_side: int = 0

    def findings(self) -> tuple[Finding, ...]:
        """List the instance-level findings this plan draws (the keys of the masks)."""
        out: list[Finding] = []
        if self.lesions or self.lobe:
            out.append(Finding.INFECTIOUS_OPACITY)
        if self.cavity is not None:
            out.append(Finding.INFECTIOUS_CAVITY)
        if self.tib_centre is not None:
            out.append(Finding.INFECTIOUS_TIB)
        if self.nodule is not None:
            out.append(Finding.NONINFECTIOUS_NODULE)
        return tuple(out)

    # ------------------------------------------------------------ per slice
    def apply(
        self, scene: Scene, z: float, labels: npt.NDArray[np.uint8], lung: Bool, hu: F32,
        noise: SmoothNoise, k: int,
    ) -> dict[Finding, Bool]:  # fmt: skip
        """Change ``hu`` (in place) on slice ``k`` at height ``z``; masks of what changed."""
        masks: dict[Finding, Bool] = {}
        if not lung.any():
            return masks
        self._opacities(scene, z, labels, lung, hu, noise.slice(k) if self._near(z) else None,
                        masks)  # fmt: skip
        if self.tib_centre is not None:
            _put(masks, Finding.INFECTIOUS_TIB, self._tree_in_bud(scene, z, lung, hu))
        if self.nodule is not None:
            _put(masks, Finding.NONINFECTIOUS_NODULE, self._nodule(scene, z, lung, hu))
        if self.effusion_side:
            hu[self._effusion(scene, z, lung)] = HU[Tissue.FLUID]
        return masks

    def _near(self, z: float) -> bool:
        return any(les.reaches(z) for les in self.lesions)

    def _opacities(
        self, scene: Scene, z: float, labels: npt.NDArray[np.uint8], lung: Bool, hu: F32,
        field_: F32 | None, masks: dict[Finding, Bool],
    ) -> None:  # fmt: skip
        g = scene.grid
        opacity = np.zeros(hu.shape, bool)
        if field_ is not None:
            for les in self.lesions:
                if les.reaches(z):
                    opacity |= _paint_lesion(les, scene, z, lung, hu, field_)
        if self.lobe is not None:
            region = lung & scene.anatomy.lobe(g.X, g.Y, z, self.lobe)
            if self.effusion_side:
                region &= ~self._effusion(scene, z, lung)
            _consolidate(hu, region, labels, 22.0)
            opacity |= region
        if self.cavity is not None:
            cav = self._cavity(scene, z, lung, hu)
            _put(masks, Finding.INFECTIOUS_CAVITY, cav)
            opacity &= ~cav
        if opacity.any() and len(self.bronchograms):
            air = tubes_in_slab(self.bronchograms, z, scene.half, g) & opacity
            air &= hu > -100.0
            hu[air] = -930.0
        _put(masks, Finding.INFECTIOUS_OPACITY, opacity)

    def _nodule(self, scene: Scene, z: float, lung: Bool, hu: F32) -> Bool:
        assert self.nodule is not None
        g = scene.grid
        (cx, cy, cz), r = self.nodule
        gap = max(abs(z - cz) - scene.half, 0.0)  # the slab holds the nodule's widest part
        rz2 = r * r - gap * gap
        if rz2 <= 0:
            return np.zeros(hu.shape, bool)
        nod = ((g.X - cx) ** 2 + (g.Y - cy) ** 2 < rz2) & lung
        hu[nod] = 420.0  # calcified granuloma
        return nod

    def _effusion(self, scene: Scene, z: float, lung: Bool) -> Bool:
        g = scene.grid
        side = g.X < 0 if self.effusion_side == 1 else g.X >= 0
        level = 55.0 * scene.anatomy.scale + 0.55 * max(z - 30.0, 0.0)
        return lung & side & (level < g.Y) & (z < 120.0)

    def _cavity(self, scene: Scene, z: float, lung: Bool, hu: F32) -> Bool:
        assert self.cavity is not None
        (cx, cy, cz), r_out, wall = self.cavity
        g = scene.grid
        d2 = (g.X - cx) ** 2 + (g.Y - cy) ** 2 + np.float32((z - cz) ** 2)
        outer = (d2 < r_out * r_out) & lung
        if not outer.any():
            return outer
        lumen = outer & (d2 < (r_out - wall) ** 2)
        hu[outer] = 30.0
        hu[lumen] = -990.0
        hu[lumen & (cy + 0.45 * (r_out - wall) < g.Y)] = 12.0  # dependent fluid level
        return outer

    def _tree_in_bud(self, scene: Scene, z: float, lung: Bool, hu: F32) -> Bool:
        assert self.tib_centre is not None
        g = scene.grid
        cx, cy, cz = self.tib_centre
        rx, ry, rz = self.tib_radii
        if abs(z - cz) >= rz:
            return np.zeros(hu.shape, bool)
        env = ((g.X - cx) / rx) ** 2 + ((g.Y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2 < 1.0
        env &= lung
        buds = tubes_in_slab(self.tib, z, scene.half, g) & env
        hu[buds] = np.maximum(hu[buds], -60.0)
        return env


def _put(masks: dict[Finding, Bool], finding: Finding, mask: Bool) -> None:
    if mask.any():
        masks[finding] = mask


def _paint_lesion(les: Lesion, scene: Scene, z: float, lung: Bool, hu: F32, noise: F32) -> Bool:
    """Paint one lesion on the slice; return the pixels changed (all in the lung)."""
    g = scene.grid
    cx, cy, cz = les.centre
    rx, ry, rz = les.radii
    grow = 1.0 + les.roughness
    rows, cols = g.box(cx - rx * grow, cx + rx * grow, cy - ry * grow, cy + ry * grow)
    x, y = g.X[rows, cols] - cx, g.Y[rows, cols] - cy
    c, s = np.cos(les.angle), np.sin(les.angle)
    u, v = (c * x + s * y) / rx, (-s * x + c * y) / ry
    d = np.sqrt(u * u + v * v + np.float32(((z - cz) / rz) ** 2))
    n = noise[rows, cols]
    d = d + les.roughness * n
    region = (d < 1.0) & lung[rows, cols]
    out = np.zeros(hu.shape, bool)
    if not region.any():
        return out
    part = hu[rows, cols]
    w = np.clip((1.0 - d) / 0.25, 0.35, 1.0)
    ggo_level = les.level + 60.0 * n
    ggo = LUNG_BASE + (ggo_level - LUNG_BASE) * w
    if les.pattern == "crazy":
        ggo = ggo + 260.0 * _septa(les, g.X[rows, cols], g.Y[rows, cols], z)
    if les.pattern in ("mixed", "consolidation"):
        core = d < (0.62 if les.pattern == "mixed" else 2.0)
        ggo = np.where(core, np.float32(25.0) + 15.0 * n, ggo)
    new = np.maximum(part, ggo.astype(np.float32))
    # airways keep their air inside consolidation (air bronchograms)
    keep_air = part < -950.0
    part[region] = np.where(keep_air, part, new)[region]
    out[rows, cols] = region
    return out


def _septa(les: Lesion, x: F32, y: F32, z: float) -> F32:
    """Draw a net of thickened interlobular septa: the walls of 3-D Voronoi cells.

    Secondary pulmonary lobules are irregular polyhedra 10-25 mm across; the
    cross-section of a Voronoi tessellation of random points looks like them, and
    stays consistent from slice to slice because the points are fixed in 3-D.
    """
    rng = np.random.default_rng(les.septa_seed)
    cell = 13.0
    lo = np.asarray(les.centre) - np.asarray(les.radii) * 1.6
    hi = np.asarray(les.centre) + np.asarray(les.radii) * 1.6
    count = int(np.prod((hi - lo) / cell)) + 8
    seeds = rng.uniform(lo, hi, size=(count, 3))
    seeds = seeds[np.abs(seeds[:, 2] - z) < 2.0 * cell]
    if len(seeds) < 2:
        return np.zeros(x.shape, np.float32)
    d2 = (
        (x.reshape(-1, 1) - seeds[None, :, 0].astype(np.float32)) ** 2
        + (y.reshape(-1, 1) - seeds[None, :, 1].astype(np.float32)) ** 2
        + ((z - seeds[None, :, 2]) ** 2).astype(np.float32)
    )
    two = np.sqrt(np.partition(d2, 1, axis=1)[:, :2])
    wall = (two[:, 1] - two[:, 0]) < 1.5
    return np.asarray(wall.reshape(x.shape), np.float32)


def _consolidate(hu: F32, region: Bool, labels: npt.NDArray[np.uint8], level: float) -> None:
    """Raise ``region`` to consolidation, sparing airway lumens (air bronchograms)."""
    air = labels == Tissue.AIRWAY
    hu[region & ~air] = np.float32(level)


# ---------------------------------------------------------------- planning
def _points(anatomy: Anatomy, rng: np.random.Generator, n: int) -> tuple[F64, F64]:
    """Random lung points (both lungs) and their depth below the costal pleura (mm)."""
    pts = np.concatenate([anatomy.sample_lung(rng, n, 1), anatomy.sample_lung(rng, n, 2)])
    x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
    width, ant, post = anatomy.body_axes(z)
    b = np.where(y < 0, ant, post)
    r = np.hypot(x, y)
    q = np.sqrt((x / width) ** 2 + (y / b) ** 2) + 1e-6
    theta = np.arctan2(np.abs(x), y)
    depth = r / q - r - anatomy.wall_depth(theta, z)
    return pts, np.asarray(depth, np.float64)


def _pick(rng: np.random.Generator, pts: F64, weight: F64, n: int, spacing: float) -> F64:
    """``n`` points drawn by ``weight``, at least ``spacing`` mm apart where possible."""
    chosen: list[F64] = []
    p = weight / weight.sum()
    for idx in rng.choice(len(pts), size=min(len(pts), 40 * n), p=p):
        cand = pts[idx]
        if all(np.linalg.norm(cand - c) >= spacing for c in chosen):
            chosen.append(cand)
        if len(chosen) == n:
            break
    return np.asarray(chosen)


def _lesions(
    rng: np.random.Generator, centres: F64, pattern: str, size: tuple[float, float],
    roughness: float, level: tuple[float, float], elongate: float = 1.0,
) -> list[Lesion]:  # fmt: skip
    out = []
    for i, c in enumerate(centres):
        r = rng.uniform(*size)
        pat = pattern if pattern != "crazy" or i % 2 == 0 else "ggo"
        out.append(
            Lesion(
                pattern=pat,
                centre=(float(c[0]), float(c[1]), float(c[2])),
                radii=(r * elongate, r * rng.uniform(0.8, 1.05), r * rng.uniform(0.85, 1.2)),
                angle=float(rng.uniform(0, np.pi)),
                roughness=roughness,
                level=float(rng.uniform(*level)),
                septa_seed=int(rng.integers(0, 2**31)),
            )
        )
    return out


def plan_findings(
    anatomy: Anatomy, appearance: Appearance, variant: str, rng: np.random.Generator
) -> FindingPlan:
    """Decide the findings of one CT of ``appearance`` (see :data:`CT_VARIANTS`)."""
    choices = CT_VARIANTS[appearance]
    name = choices[0] if variant == "default" else variant
    if name not in choices:
        raise UsageError(
            f"variant {variant!r} is not a variant of {appearance.value} CT; "
            f"expected 'default' or one of {', '.join(choices)}"
        )
    if appearance is Appearance.TYPICAL:
        return _typical(anatomy, name, rng)
    if appearance is Appearance.INDETERMINATE:
        return _indeterminate(anatomy, name, rng)
    if appearance is Appearance.ATYPICAL:
        return _atypical(anatomy, name, rng)
    return _negative(anatomy, name, rng)


def _bilateral(rng: np.random.Generator, pts: F64, weight: F64, n: int, spacing: float) -> F64:
    right = _pick(rng, pts[pts[:, 0] < 0], weight[pts[:, 0] < 0], (n + 1) // 2, spacing)
    left = _pick(rng, pts[pts[:, 0] >= 0], weight[pts[:, 0] >= 0], n // 2, spacing)
    return np.concatenate([right, left])


def _typical(anatomy: Anatomy, name: str, rng: np.random.Generator) -> FindingPlan:
    pts, depth = _points(anatomy, rng, 2500)
    z, y = pts[:, 2], pts[:, 1]
    weight = ((depth > 6) & (depth < 20)).astype(float) * (1.0 + (z < 170)) * (1 + (y > 0))
    weight *= z < 230
    centres = _bilateral(rng, pts, weight, int(rng.integers(5, 9)), 40.0)
    pattern = {"ggo": "ggo", "crazy-paving": "crazy", "consolidation": "mixed"}[name]
    lesions = _lesions(rng, centres, pattern, (20.0, 34.0), 0.18, (-540.0, -400.0))
    base = ("bilateral", "peripheral", "lower-lobe", "multifocal", "rounded", "ground-glass")
    extra = {"ggo": (), "crazy-paving": ("crazy-paving",), "consolidation": ("consolidation",)}
    text = {
        "ggo": "bilateral peripheral lower-lobe predominant rounded ground-glass opacities",
        "crazy-paving": "bilateral peripheral lower-lobe predominant rounded ground-glass "
        "opacities with crazy paving",
        "consolidation": "bilateral peripheral lower-lobe predominant rounded ground-glass "
        "opacities with areas of consolidation",
    }
    bronch = _bronchograms(rng, lesions) if name == "consolidation" else Tubes.empty()
    return FindingPlan(
        Appearance.TYPICAL, name, text[name], base + extra[name], lesions=tuple(lesions),
        bronchograms=bronch,
    )  # fmt: skip


def _indeterminate(anatomy: Anatomy, name: str, rng: np.random.Generator) -> FindingPlan:
    pts, depth = _points(anatomy, rng, 2500)
    x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
    if name == "perihilar":
        hilum = np.where(x < 0, -55.0, 55.0) * anatomy.scale
        near = np.hypot(x - hilum, np.hypot(y - 5.0, z - 175.0)) < 48.0
        weight = (near & (depth > 35)).astype(float)
        centres = _bilateral(rng, pts, weight, int(rng.integers(3, 5)), 30.0)
        lesions = _lesions(rng, centres, "ggo", (18.0, 26.0), 0.45, (-580.0, -440.0), 1.6)
        text = "bilateral perihilar ground-glass opacities without a peripheral distribution"
        feats: tuple[str, ...] = ("bilateral", "perihilar", "central", "ground-glass",
                                  "non-rounded")  # fmt: skip
    elif name == "unilateral":
        right = bool(rng.integers(0, 2))
        weight = (((x < 0) == right) & (depth > 20) & (z > 150)).astype(float)
        centres = _pick(rng, pts, weight, int(rng.integers(2, 4)), 35.0)
        lesions = _lesions(rng, centres, "ggo", (16.0, 24.0), 0.5, (-560.0, -440.0), 1.5)
        side = "right" if right else "left"
        text = f"patchy non-rounded ground-glass opacities in the {side} upper and mid lung"
        feats = ("unilateral", "upper-lobe", "ground-glass", "non-rounded", "multifocal")
    else:
        weight = np.ones(len(pts))
        centres = _bilateral(rng, pts, weight, int(rng.integers(10, 14)), 40.0)
        lesions = _lesions(rng, centres, "ggo", (20.0, 32.0), 0.5, (-620.0, -500.0))
        text = "diffuse patchy ground-glass opacity in all lobes without a peripheral pattern"
        feats = ("bilateral", "diffuse", "ground-glass", "non-rounded")
    return FindingPlan(Appearance.INDETERMINATE, name, text, feats, lesions=tuple(lesions))


def _atypical(anatomy: Anatomy, name: str, rng: np.random.Generator) -> FindingPlan:
    s = anatomy.scale
    if name in ("lobar", "effusion"):
        lobe = str(rng.choice(["RLL", "LLL", "RUL", "RML"])) if name == "lobar" else "LLL"
        names = {"RLL": "right lower", "LLL": "left lower", "RUL": "right upper",
                 "RML": "right middle"}  # fmt: skip
        text = f"{names[lobe]} lobe consolidation with air bronchograms, without ground glass"
        feats: tuple[str, ...] = ("lobar", "consolidation", "air-bronchograms", "unilateral")
        side = 0
        if name == "effusion":
            text += ", and a small left pleural effusion"
            feats += ("effusion",)
            side = 2
        arteries = anatomy.arteries
        bronch = offset_tubes(arteries.select(arteries.r1 > 1.1), scale=0.55)
        return FindingPlan(
            Appearance.ATYPICAL, name, text, feats, lobe=lobe, effusion_side=side,
            bronchograms=bronch,
        )  # fmt: skip
    if name == "cavity":
        right = bool(rng.integers(0, 2))
        centre = (-62.0 * s if right else 62.0 * s, 40.0 * s, float(rng.uniform(215.0, 235.0)))
        r = float(rng.uniform(24.0, 30.0))
        les = Lesion("consolidation", centre, (r, r * 0.85, r * 1.1), 0.6, 0.3, 20.0)
        cav = (centre, float(rng.uniform(12.0, 16.0)), float(rng.uniform(4.5, 6.5)))
        side_name = "right" if right else "left"
        text = (f"{side_name} upper lobe consolidation containing a thick-walled cavity "
                "with an air-fluid level")  # fmt: skip
        return FindingPlan(
            Appearance.ATYPICAL, name, text, ("consolidation", "cavity", "unilateral",
                                              "upper-lobe"),
            lesions=(les,), cavity=cav,
        )  # fmt: skip
    # tree-in-bud
    centre = (-70.0 * s, 45.0 * s, float(rng.uniform(80.0, 110.0)))
    radii = (38.0, 36.0, 34.0)
    tib = _tib_branches(rng, centre, radii)
    text = "clustered centrilobular nodules with a tree-in-bud pattern in the right lower lobe"
    return FindingPlan(
        Appearance.ATYPICAL, name, text, ("tree-in-bud", "centrilobular-nodules", "unilateral",
                                          "lower-lobe"),
        tib_centre=centre, tib_radii=radii, tib=tib,
    )  # fmt: skip


def _negative(anatomy: Anatomy, name: str, rng: np.random.Generator) -> FindingPlan:
    if name == "clear":
        return FindingPlan(
            Appearance.NEGATIVE, name, "clear lungs without features of pneumonia", ("clear",)
        )
    pts, depth = _points(anatomy, rng, 600)
    ok = pts[(depth > 20) & (pts[:, 2] > 120) & (pts[:, 2] < 260)]
    c = ok[0]
    nodule = ((float(c[0]), float(c[1]), float(c[2])), float(rng.uniform(2.5, 3.5)))
    return FindingPlan(
        Appearance.NEGATIVE, name, "clear lungs with a small calcified granuloma",
        ("clear", "benign-nodule", "calcified"), nodule=nodule,
    )  # fmt: skip


def _bronchograms(rng: np.random.Generator, lesions: list[Lesion]) -> Tubes:
    """Short branching air-filled bronchi inside each consolidation core."""
    parts = []
    for les in lesions:
        c = np.asarray(les.centre)
        outward = np.array([np.sign(c[0]), 0.4 * rng.standard_normal(), 0.3])
        outward /= np.linalg.norm(outward)
        start = c - outward * les.radii[0] * 0.6
        ends = [c + outward * les.radii[0] * 0.5 + rng.normal(0, 6.0, 3) for _ in range(3)]
        mid = start + 0.5 * (c - start)
        p0 = np.array([start, mid, mid, mid])
        p1 = np.array([mid, *ends])
        parts.append(Tubes(p0, p1, np.array([2.2, 1.6, 1.5, 1.4]), np.array([1.8, 1.2, 1.1, 1.0])))
    return Tubes.concat(parts)


def _tib_branches(
    rng: np.random.Generator, centre: tuple[float, float, float], radii: tuple[float, float, float]
) -> Tubes:
    """Many small Y-shaped branching opacities with nodular tips, inside an ellipsoid."""
    n = 150
    u = rng.normal(size=(n, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    stems = np.asarray(centre) + u * rng.uniform(0, 1, (n, 1)) ** (1 / 3) * np.asarray(radii)
    direction = rng.normal(size=(n, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    side = np.cross(direction, [0.0, 0.0, 1.0])
    side /= np.linalg.norm(side, axis=1, keepdims=True) + 1e-9
    fork = stems + direction * 4.0
    tip_a = fork + (direction + 0.8 * side) * 3.5
    tip_b = fork + (direction - 0.8 * side) * 3.5
    p0 = np.concatenate([stems, fork, fork, tip_a, tip_b])
    p1 = np.concatenate([fork, tip_a, tip_b, tip_a, tip_b])
    r = np.concatenate([np.full(3 * n, 0.8), np.full(2 * n, 1.6)])
    return Tubes(p0, p1, r, r)
