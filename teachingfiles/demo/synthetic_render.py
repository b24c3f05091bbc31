"""Rasterise the parametric chest (:mod:`teachingfiles.demo.anatomy`) slab by slab.

One axial slab becomes a ``uint8`` label image of :class:`~teachingfiles.demo.anatomy.Tissue`;
the CT generator turns labels into Hounsfield units and the radiograph generator
into attenuation. Everything that does not depend on the height of the slab (the
diaphragm and apex surfaces, the spine, the abdominal organs, the couch) is
computed once per :class:`Scene`.

Capsules are stamped with precomputed disc stencils (:func:`stamp_capsules`): a
vectorised alternative to per-capsule distance fields, which would need a Python
loop over thousands of pulmonary vessel segments per slice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from teachingfiles.demo.anatomy import Anatomy, Tissue
from teachingfiles.demo.anatomy_trees import Tubes

__all__ = ["Grid", "Scene", "interp_matrix", "stamp_capsules", "tubes_in_slab", "upsample"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
U8 = npt.NDArray[np.uint8]

T = Tissue


@dataclass(frozen=True)
class Grid:
    """An axial pixel grid: ``size`` x ``size`` pixels of ``spacing`` mm.

    ``X``/``Y`` hold the patient x/y (mm) of every pixel centre; column 0 is the
    patient's right, row 0 is anterior.
    """

    size: int
    spacing: float
    y_centre: float
    X: F32 = field(repr=False)
    Y: F32 = field(repr=False)

    @classmethod
    def square(cls, size: int, spacing: float, y_centre: float = 8.0) -> Grid:
        """Make a grid centred on ``(0, y_centre)`` mm."""
        axis = ((np.arange(size, dtype=np.float32) - (size - 1) / 2.0) * spacing).astype(np.float32)
        xs, ys = np.meshgrid(axis, axis + np.float32(y_centre))
        return cls(size, spacing, y_centre, xs, ys)

    @property
    def origin(self) -> tuple[float, float]:
        """Patient ``(x, y)`` (mm) of the centre of pixel (0, 0)."""
        return float(self.X[0, 0]), float(self.Y[0, 0])

    def to_pixels(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[F32, F32]:
        """Column and row (float) of patient coordinates (mm)."""
        col = (np.asarray(x, np.float32) - self.X[0, 0]) / self.spacing
        row = (np.asarray(y, np.float32) - self.Y[0, 0]) / self.spacing
        return col.astype(np.float32), row.astype(np.float32)

    def box(self, x0: float, x1: float, y0: float, y1: float) -> tuple[slice, slice]:
        """Row and column slices covering the patient rectangle (clipped to the grid)."""
        c0, r0 = self.to_pixels(x0, y0)
        c1, r1 = self.to_pixels(x1, y1)
        n = self.size

        def clip(a: float, b: float) -> slice:
            return slice(int(np.clip(np.floor(a), 0, n)), int(np.clip(np.ceil(b) + 1, 0, n)))

        return clip(float(r0), float(r1)), clip(float(c0), float(c1))


@lru_cache(maxsize=64)
def _disc(radius2: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Row/column offsets of a disc whose radius is ``radius2 / 2`` pixels."""
    r = radius2 / 2.0
    k = int(np.ceil(r))
    dy, dx = np.mgrid[-k : k + 1, -k : k + 1]
    keep = dx * dx + dy * dy <= r * r + 0.25
    return dy[keep].astype(np.intp), dx[keep].astype(np.intp)


def stamp_capsules(
    shape: tuple[int, int],
    cols0: F32,
    rows0: F32,
    cols1: F32,
    rows1: F32,
    radius: F32,
) -> Bool:
    """Mask of the union of 2-D capsules (pixel units), stamped as discs along each axis."""
    out = np.zeros(shape, bool)
    if len(radius) == 0:
        return out
    length = np.hypot(cols1 - cols0, rows1 - rows0)
    step = np.maximum(0.5, 0.5 * radius)
    count = (np.ceil(length / step)).astype(np.intp) + 1
    which = np.repeat(np.arange(len(count)), count)
    first = np.cumsum(count) - count
    t = (np.arange(len(which)) - first[which]) / np.maximum(count[which] - 1, 1)
    pc = np.rint(cols0[which] + t * (cols1 - cols0)[which]).astype(np.intp)
    pr = np.rint(rows0[which] + t * (rows1 - rows0)[which]).astype(np.intp)
    bins = np.clip(np.rint(radius[which] * 2.0), 1, 120).astype(np.intp)
    h, w = shape
    for b in np.unique(bins):
        sel = bins == b
        dy, dx = _disc(int(b))
        rr = (pr[sel][:, None] + dy[None, :]).ravel()
        cc = (pc[sel][:, None] + dx[None, :]).ravel()
        ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        out[rr[ok], cc[ok]] = True
    return out


def tubes_in_slab(
    tubes: Tubes, z: float, half: float, grid: Grid, *, grow: float = 0.0, scale: float = 1.0
) -> Bool:
    """Mask of the capsules of ``tubes`` that cross the slab ``z +- half`` (mm).

    Each capsule's axis is clipped to the slab widened by half its radius, and the
    clipped part is drawn with its mean radius times ``scale`` plus ``grow`` mm.
    """
    shape = (grid.size, grid.size)
    if not len(tubes):
        return np.zeros(shape, bool)
    r = 0.5 * (tubes.r0 + tubes.r1) * scale + grow
    za, zb = tubes.p0[:, 2], tubes.p1[:, 2]
    lo, hi = z - half - 0.5 * r, z + half + 0.5 * r
    keep = (np.maximum(za, zb) >= lo) & (np.minimum(za, zb) <= hi) & (r > 0)
    if not keep.any():
        return np.zeros(shape, bool)
    p0, p1, r, lo, hi = tubes.p0[keep], tubes.p1[keep], r[keep], lo[keep], hi[keep]
    dz = p1[:, 2] - p0[:, 2]
    flat = np.abs(dz) < 1e-6
    safe = np.where(flat, 1.0, dz)
    ta = np.where(flat, 0.0, (lo - p0[:, 2]) / safe)
    tb = np.where(flat, 1.0, (hi - p0[:, 2]) / safe)
    t0 = np.clip(np.minimum(ta, tb), 0.0, 1.0)
    t1 = np.clip(np.maximum(ta, tb), 0.0, 1.0)
    a = p0 + t0[:, None] * (p1 - p0)
    b = p0 + t1[:, None] * (p1 - p0)
    c0, r0 = grid.to_pixels(a[:, 0], a[:, 1])
    c1, r1 = grid.to_pixels(b[:, 0], b[:, 1])
    return stamp_capsules(shape, c0, r0, c1, r1, (r / grid.spacing).astype(np.float32))


def interp_matrix(pos: F64, n: int) -> F32:
    """``(len(pos), n)`` weights of linear interpolation at fractional indices ``pos``."""
    out = np.zeros((len(pos), n), np.float32)
    i0 = np.floor(pos).astype(np.intp)
    f = (pos - i0).astype(np.float32)
    k = np.arange(len(pos))
    for idx, w in ((i0, 1.0 - f), (i0 + 1, f)):
        ok = (idx >= 0) & (idx < n)
        out[k[ok], idx[ok]] = w[ok]
    return out


def upsample(coarse: F32, size: int) -> F32:
    """Bilinear upsampling of a small 2-D array to ``size`` x ``size`` (two matrix products)."""
    rows = interp_matrix(np.linspace(0, coarse.shape[0] - 1, size), coarse.shape[0])
    cols = interp_matrix(np.linspace(0, coarse.shape[1] - 1, size), coarse.shape[1])
    return np.asarray(rows @ coarse @ cols.T, np.float32)


class Scene:
    """An :class:`Anatomy` on a :class:`Grid`, ready to render slabs.

    Parameters
    ----------
    anatomy
        The patient.
    grid
        The axial pixel grid.
    slab
        Slab thickness (mm): capsules and ribs crossing it are drawn.
    """

    def __init__(self, anatomy: Anatomy, grid: Grid, slab: float) -> None:
        self.anatomy = anatomy
        self.grid = grid
        self.half = slab / 2.0
        a, gx, gy = anatomy, grid.X, grid.Y
        s = a.scale
        self.R = np.maximum(np.hypot(gx, gy), 1e-3).astype(np.float32)
        self.theta = np.arctan2(np.abs(gx), gy).astype(np.float32)
        self.anterior = gy < 0
        self.X2, self.Y2 = gx * gx, gy * gy
        radius = (grid.size / 2.0) * grid.spacing
        self.fov = np.hypot(gx, gy - grid.y_centre) <= radius
        self.diaphragm = a.diaphragm_z(gx, gy).astype(np.float32)
        self.apex = a.apex_z(gx, gy).astype(np.float32)
        self.spine_block = ((gx / (36.0 * s)) ** 2 + ((gy - 38.0 * s) / (30.0 * s)) ** 2) < 1.0
        self.aorta_block = ((gx - 27.0 * s) ** 2 + (gy - 28.0 * s) ** 2) < (17.0 * s) ** 2
        self.paraspinal = (((np.abs(gx) - 34.0 * s) / (27.0 * s)) ** 2 + (
            (gy - 76.0 * s) / (24.0 * s)
        ) ** 2 < 1.0) & (gy > 48.0 * s)  # fmt: skip
        dx2, profile = a.column_profile(gx, gy)
        self.column_dx2 = dx2.astype(np.float32)
        self.column_profile = profile.astype(np.float32)
        self.wall_base = a.wall_depth(self.theta, 0.0).astype(np.float32)
        self.wall_anterior = np.clip((self.theta - 1.9) / 1.2, 0.0, 1.0).astype(np.float32)
        self.abdomen = self._abdomen_labels()
        self.couch = self._couch()

    # ------------------------------------------------------------ constant parts
    def _abdomen_labels(self) -> U8:
        gx, gy, s = self.grid.X, self.grid.Y, self.anatomy.scale
        lab = np.full(gx.shape, T.LIVER, np.uint8)
        spleen = ((gx - 78.0 * s) / (32.0 * s)) ** 2 + ((gy - 45.0 * s) / (42.0 * s)) ** 2 < 1.0
        stomach = ((gx - 58.0 * s) / (38.0 * s)) ** 2 + ((gy + 12.0 * s) / (34.0 * s)) ** 2 < 1.0
        lab[spleen] = T.SPLEEN
        lab[stomach] = T.STOMACH
        lab[stomach & (gy < -28.0 * s)] = T.GAS  # air rises anteriorly in a supine patient
        return lab

    def _couch(self) -> U8:
        gx, gy = self.grid.X, self.grid.Y
        top = 112.0 * self.anatomy.scale + 2.0 - 0.00025 * gx * gx
        lab = np.zeros(gx.shape, np.uint8)
        inside = (gy > top) & (gy < top + 16.0) & (np.abs(gx) < 215.0) & self.fov
        lab[inside] = T.COUCH
        lab[inside & ((gy < top + 2.0) | (gy > top + 14.0))] = T.COUCH_SHELL
        return lab

    # ------------------------------------------------------------ one slab
    def labels(self, z: float, *, ribs: bool = True, pulmonary: bool = True) -> U8:
        """Render the tissue labels of the slab centred at height ``z`` (mm)."""
        return self.render(z, ribs=ribs, pulmonary=pulmonary)[0]

    def render(self, z: float, *, ribs: bool = True, pulmonary: bool = True) -> tuple[U8, Bool]:
        """Labels of the slab at ``z`` (mm), and the mask of the lungs (with their vessels)."""
        a, g = self.anatomy, self.grid
        lab = np.where(self.fov, np.uint8(T.AIR), np.uint8(T.OUTSIDE)).astype(np.uint8)
        np.copyto(lab, self.couch, where=self.couch > 0)
        width, ant, post = (float(v) for v in a.body_axes(z))
        invb2 = np.where(self.anterior, np.float32(1.0 / ant**2), np.float32(1.0 / post**2))
        q = np.sqrt(self.X2 * np.float32(1.0 / width**2) + self.Y2 * invb2)
        depth = (self.R / np.maximum(q, 1e-6) - self.R).astype(np.float32)
        pect = np.float32(10.0 * np.clip((z - 170.0) / 60.0, 0.0, 1.0))
        wall = self.wall_base + pect * self.wall_anterior
        lab[depth > 0] = T.SKIN
        lab[depth > 2.0] = T.FAT
        muscle = depth > a.fat
        lab[muscle] = T.MUSCLE
        lab[self.paraspinal & muscle] = T.MUSCLE
        cavity = depth > wall
        lab[cavity] = T.FAT
        above = z > self.diaphragm
        lungs = cavity & above & (z < self.apex)
        lungs &= ~(self.spine_block | (self.aorta_block & (z < 222.0)))
        half = np.float32(a.column_halfwidth(z))
        lungs &= ~(self.column_dx2 < half * half * self.column_profile)
        heart_rows, heart_cols = self._heart_box()
        sub = (heart_rows, heart_cols)
        heart = a.in_heart(g.X[sub], g.Y[sub], z) & above[sub]
        heart_grown = a.in_heart(g.X[sub], g.Y[sub], z, grow=5.0)
        lungs[sub] &= ~heart_grown
        lab[lungs] = T.LUNG
        abdomen = cavity & ~above
        np.copyto(lab, self.abdomen, where=abdomen)
        lab[sub][heart] = T.BLOOD
        self._spine(lab, z)
        self._sternum(lab, z, ant)
        self._mediastinal_tubes(lab, z)
        if pulmonary:
            self._pulmonary(lab, z)
        if ribs:
            self._ribs(lab, z, depth, wall)
        inner = (lab == T.LUNG) | (lab == T.VESSEL_SMALL) | (lab == T.BLOOD)
        inner |= (lab == T.AIRWAY) | (lab == T.AIRWAY_WALL)
        return lab, lungs & inner

    def _heart_box(self) -> tuple[slice, slice]:
        cx, cy, _ = self.anatomy.heart_center
        m = max(self.anatomy.heart_axes) + 6.0
        return self.grid.box(cx - m, cx + m, cy - m, cy + m)

    def _spine(self, lab: U8, z: float) -> None:
        s, g = self.anatomy.scale, self.grid
        sub = g.box(-50.0 * s, 50.0 * s, 12.0 * s, 100.0 * s)
        x, y, part = g.X[sub], g.Y[sub], lab[sub]
        phase = (z - self.anatomy.vertebra_z0) % 26.0
        disc = phase < 5.0
        body = x * x + (y - 36.0 * s) ** 2
        rb = (18.0 * s) ** 2
        part[body < rb] = T.DISC if disc else T.CORTEX
        if not disc:
            part[body < (16.0 * s) ** 2] = T.MARROW
        canal = x * x + (y - 63.0 * s) ** 2
        arch = (canal < (15.0 * s) ** 2) & (y > 55.0 * s)
        spinous = (np.abs(x) < (4.0 - (y - 75.0 * s) / (12.0 * s)) * s) & (y > 70.0 * s) & (
            y < 100.0 * s
        )  # fmt: skip
        transverse = (np.abs(y - (56.0 * s + 0.4 * np.abs(x))) < 4.5 * s) & (np.abs(x) < 32.0 * s)
        if 8.0 < phase < 20.0:
            arch |= transverse | spinous
        elif not disc:
            arch |= spinous
        part[arch] = T.CORTEX
        part[arch & (canal > (11.0 * s) ** 2) & (canal < (13.5 * s) ** 2)] = T.MARROW
        part[canal < (9.0 * s) ** 2] = T.CSF

    def _sternum(self, lab: U8, z: float, ant: float) -> None:
        if not 95.0 < z < 300.0:
            return
        s, g = self.anatomy.scale, self.grid
        yc = -ant + self.anatomy.fat + 9.0
        half_w = (13.0 + 12.0 * np.clip((z - 250.0) / 40.0, 0.0, 1.0)) * s
        sub = g.box(-half_w - 2, half_w + 2, yc - 9.0, yc + 9.0)
        x, y, part = g.X[sub], g.Y[sub], lab[sub]
        e = (x / half_w) ** 2 + ((y - yc) / 6.5) ** 2
        part[e < 1.0] = T.CORTEX
        part[e < 0.55] = T.MARROW

    def _mediastinal_tubes(self, lab: U8, z: float) -> None:
        a, g, h = self.anatomy, self.grid, self.half
        lab[tubes_in_slab(a.great_vessels, z, h, g)] = T.BLOOD
        oes = tubes_in_slab(a.oesophagus, z, h, g) & (lab != T.CORTEX) & (lab != T.MARROW)
        lab[oes] = T.MUSCLE
        if z > 150.0:
            lab[tubes_in_slab(a.oesophagus, z, h, g, scale=0.25) & oes] = T.GAS
        central = a.central_airways
        lab[tubes_in_slab(central, z, h, g, scale=1.2, grow=0.8)] = T.AIRWAY_WALL
        lab[tubes_in_slab(central, z, h, g)] = T.AIRWAY

    def _pulmonary(self, lab: U8, z: float) -> None:
        a, g, h = self.anatomy, self.grid, self.half
        lung = lab == T.LUNG
        wall = tubes_in_slab(a.airways, z, h, g, scale=1.25, grow=0.6) & lung
        lab[wall] = T.AIRWAY_WALL
        lab[tubes_in_slab(a.airways, z, h, g) & wall] = T.AIRWAY
        lung &= ~wall
        vessels = Tubes.concat([a.arteries, a.veins])
        big = vessels.select(vessels.r0 >= 1.6)
        small = vessels.select(vessels.r0 < 1.6)
        lab[tubes_in_slab(small, z, h, g) & lung] = T.VESSEL_SMALL
        lab[tubes_in_slab(big, z, h, g) & lung] = T.BLOOD

    def _ribs(self, lab: U8, z: float, depth: F32, wall: F32) -> None:
        a = self.anatomy
        band = (depth > wall - 8.0) & (depth < wall - 0.5) & (self.theta > 0.3)
        rows, cols = np.nonzero(band)
        if not len(rows):
            return
        th = self.theta[rows, cols]
        d = depth[rows, cols] - wall[rows, cols]
        phase = z + a.rib_drop * (th / np.pi) ** 1.5
        k = np.clip(np.rint((phase - a.rib_z0[0]) / 24.5), 0, len(a.rib_z0) - 1).astype(int)
        dz = np.abs(phase - a.rib_z0[k])
        reach = 4.0 + 0.5 * self.half
        bone = (dz < reach) & ((k >= 2) | (th < 2.0)) & ((k <= 10) | (th < 2.4))
        cartilage = bone & (th > 2.45)
        marrow = bone & ~cartilage & (dz < reach - 1.5) & (d > -6.5) & (d < -2.0)
        vals = lab[rows, cols]
        vals[bone] = T.CORTEX
        vals[marrow] = T.MARROW
        vals[cartilage] = T.CARTILAGE
        lab[rows, cols] = vals
