"""A parametric adult chest: the shared 3-D anatomy behind the synthetic CT and radiograph.

Everything is in millimetres in one patient frame: ``x`` increases to the patient's
left, ``y`` increases posteriorly, ``z`` increases superiorly (DICOM LPS), with the
body axis at ``x = y = 0``. The CT covers ``z`` from 0 (upper abdomen, below the
diaphragm domes) to :data:`CT_TOP` (thoracic inlet, lung apices).

Shapes are closed-form (ellipses, ellipsoids, paraboloid domes) so that any slice
or any point can be tested with a few vectorised numpy operations; tubular
structures (great vessels, airways, pulmonary vessels) are lists of capsules
(:class:`Tubes`) that the renderer stamps slice by slice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from teachingfiles.demo.anatomy_trees import Tubes, grow_tree, offset_tubes

__all__ = [
    "CT_TOP",
    "HU",
    "MU",
    "Anatomy",
    "Tissue",
    "make_anatomy",
]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Arr = npt.NDArray[np.floating]
ArrF = npt.NDArray[np.floating] | float

CT_TOP = 320.0
"""Height (mm) of the top of the CT coverage above its bottom."""


class Tissue(IntEnum):
    """Labels painted by the renderer; :data:`HU` gives their CT numbers."""

    OUTSIDE = 0  # outside the reconstruction circle
    AIR = 1
    SKIN = 2
    FAT = 3
    MUSCLE = 4
    CORTEX = 5
    MARROW = 6
    CARTILAGE = 7
    LUNG = 8
    AIRWAY = 9
    AIRWAY_WALL = 10
    BLOOD = 11
    LIVER = 12
    SPLEEN = 13
    STOMACH = 14
    DISC = 15
    CSF = 16
    GAS = 17  # gas inside the body (stomach, oesophagus)
    VESSEL_SMALL = 18  # pulmonary vessels below ~3 mm (partial volume)
    COUCH = 19
    COUCH_SHELL = 20
    FLUID = 21  # pleural effusion


HU = np.zeros(len(Tissue), np.float32)
HU[[t.value for t in Tissue]] = [
    -1024, -1000, 25, -100, 45, 1050, 260, 110, -860, -985, 20, 40, 58, 48, 18, 85, 10,
    -990, -350, -900, 180, 8,
]  # fmt: skip
"""CT number (HU) of each :class:`Tissue` (unenhanced adult chest)."""

MU = np.clip((HU + 1000.0) / 1000.0, 0.0, None).astype(np.float32)
"""Linear attenuation relative to water, for projection radiographs."""
MU[Tissue.CORTEX] = 2.6  # bone attenuates more than its CT number suggests at ~70 keV
MU[Tissue.MARROW] = 1.45
MU[[Tissue.OUTSIDE, Tissue.COUCH, Tissue.COUCH_SHELL]] = 0.0


@dataclass(frozen=True)
class Anatomy:
    """One synthetic patient's chest.

    Attributes
    ----------
    scale
        Overall body size factor (about 0.9 to 1.1).
    fat
        Subcutaneous fat thickness (mm).
    dome_right, dome_left
        Height (mm) of the top of each hemidiaphragm.
    heart_center, heart_axes, heart_rotation
        The heart as an ellipsoid (mm), rotated by the 3x3 matrix.
    rib_z0
        Height (mm) of each rib's posterior end, lowest rib first.
    rib_drop
        How far (mm) a rib descends from its posterior to its anterior end.
    vertebra_z0
        Height (mm) of one intervertebral disc; discs repeat every 26 mm.
    great_vessels, oesophagus, central_airways, airways, arteries, veins
        Capsules of the aorta/PA/SVC, the oesophagus, the trachea and main bronchi
        and the intrapulmonary bronchi (lumen radius), pulmonary arteries and veins.
    """

    scale: float
    fat: float
    dome_right: float
    dome_left: float
    heart_center: tuple[float, float, float]
    heart_axes: tuple[float, float, float]
    heart_rotation: F64
    rib_z0: F64
    rib_drop: float
    vertebra_z0: float
    great_vessels: Tubes
    oesophagus: Tubes
    central_airways: Tubes
    airways: Tubes
    arteries: Tubes
    veins: Tubes

    # ------------------------------------------------------------ body wall
    def body_axes(self, z: ArrF) -> tuple[ArrF, ArrF, ArrF]:
        """Half-width, anterior and posterior half-depth (mm) of the body at ``z``."""
        s = self.scale
        top = np.clip((np.asarray(z) - 250.0) / 90.0, 0.0, 1.0)
        neck = np.clip((np.asarray(z) - 335.0) / 35.0, 0.0, 1.0)  # only radiographs reach it
        width = 150.0 * s * (1.0 - 0.12 * top**1.5) * (1.0 - neck) + 60.0 * s * neck
        ant = 96.0 * s * (1.0 - 0.08 * top) * (1.0 - neck) + 50.0 * s * neck
        return width, ant, 112.0 * s * (1.0 - neck) + 70.0 * s * neck

    def wall_depth(self, theta: Arr, z: ArrF) -> Arr:
        """Depth (mm) of the inner surface of the chest wall, by angle from the back.

        ``theta`` is 0 at the posterior midline and pi at the anterior midline.
        """
        pect = 10.0 * np.clip((np.asarray(z) - 170.0) / 60.0, 0.0, 1.0)  # pectoral muscles
        ant = np.clip((theta - 1.9) / 1.2, 0.0, 1.0)
        return np.asarray(self.fat + 11.0 + pect * ant + 5.0 * np.cos(theta) ** 2)

    # ------------------------------------------------------------ thoracic cavity
    def diaphragm_z(self, x: Arr, y: Arr) -> Arr:
        """Height of the lung base (diaphragm surface and recesses) under each point."""
        s = self.scale
        w = 1.0 / (1.0 + np.exp(np.clip(x / 12.0, -30.0, 30.0)))  # 1 on the right
        top = w * self.dome_right + (1.0 - w) * self.dome_left
        ax = np.abs(x) - 55.0 * s
        d2 = (ax / (95.0 * s)) ** 2 + ((y + 5.0) / (85.0 * s)) ** 2
        post = np.clip(y / (90.0 * s), 0.0, 1.0)
        return np.asarray(top - 48.0 * d2 - 22.0 * post**2)

    def apex_z(self, x: Arr, y: Arr) -> Arr:
        """Height of the lung apex surface over each point."""
        s = self.scale
        d2 = ((np.abs(x) - 48.0 * s) / (60.0 * s)) ** 2 + ((y - 15.0) / (62.0 * s)) ** 2
        return CT_TOP + 15.0 - 95.0 * d2

    def in_heart(self, x: Arr, y: Arr, z: Arr | float, grow: float = 0.0) -> npt.NDArray[np.bool_]:
        """Whether points lie in the heart (``grow`` mm larger on every axis)."""
        cx, cy, cz = self.heart_center
        rot = self.heart_rotation
        dx, dy, dz = x - cx, y - cy, z - cz
        acc = np.zeros(np.broadcast(dx, dy, dz).shape, np.float32)
        for i in range(3):
            u = rot[i, 0] * dx + rot[i, 1] * dy + rot[i, 2] * dz
            acc = acc + (u / (self.heart_axes[i] + grow)) ** 2
        return acc < 1.0

    def column_halfwidth(self, z: ArrF) -> ArrF:
        """Half-width (mm) of the central mediastinal column at height ``z``."""
        zz = np.asarray(z)
        arch = np.exp(-(((zz - 228.0) / 22.0) ** 2))
        return (22.0 + 8.0 * arch + 8.0 * np.clip((200.0 - zz) / 60.0, 0.0, 1.0)) * self.scale

    def column_profile(self, x: Arr, y: Arr) -> tuple[Arr, Arr]:
        """``(x - x0)**2`` and the squared depth profile of the mediastinal column.

        A point is in the column when the first is below ``halfwidth**2`` times the second.
        """
        s = self.scale
        v = ((y + 8.0 * s) / (72.0 * s)) ** 2
        return (x - 4.0 * s) ** 2, 1.0 - v * v

    def in_column(self, x: Arr, y: Arr, z: ArrF) -> npt.NDArray[np.bool_]:
        """Whether points lie in the central mediastinal column (sternum to spine)."""
        dx2, profile = self.column_profile(x, y)
        half = self.column_halfwidth(z)
        return np.asarray(dx2 < half * half * profile, bool)

    def lung_side(self, x: Arr, y: Arr, z: Arr | float) -> npt.NDArray[np.int8]:
        """0 outside the lungs, 1 in the right lung, 2 in the left lung (vectorised)."""
        s = self.scale
        zz = np.asarray(z, np.float32)
        inside = (zz > self.diaphragm_z(x, y)) & (zz < self.apex_z(x, y))
        if not inside.any():
            return np.zeros(np.broadcast(x, y, zz).shape, np.int8)
        # inner surface of the chest wall
        width, ant, post = self.body_axes(zz)
        b = np.where(y < 0, ant, post)
        r = np.sqrt(x * x + y * y)
        q = np.sqrt((x / width) ** 2 + (y / b) ** 2) + 1e-6
        depth = r / q - r
        theta = np.arctan2(np.abs(x), y)
        inside &= depth > self.wall_depth(theta, zz) + 2.0
        # mediastinum, spine and paraspinal gutters
        s = self.scale
        spine = ((x / (36.0 * s)) ** 2 + ((y - 38.0 * s) / (30.0 * s)) ** 2) < 1.0
        aorta = ((x - 27.0 * s) ** 2 + (y - 28.0 * s) ** 2) < (17.0 * s) ** 2
        inside &= ~(self.in_column(x, y, zz) | spine | (aorta & (zz < 222.0)))
        inside &= ~self.in_heart(x, y, zz, grow=5.0)
        return np.where(inside, np.where(x < 0, 1, 2), 0).astype(np.int8)

    def sample_lung(self, rng: np.random.Generator, n: int, side: int) -> F64:
        """``n`` points drawn uniformly inside one lung (1 right, 2 left)."""
        s = self.scale
        lo = np.array([-150.0 * s if side == 1 else 0.0, -100.0 * s, 0.0])
        hi = np.array([0.0 if side == 1 else 150.0 * s, 110.0 * s, CT_TOP + 15.0])
        out: list[F64] = []
        got = 0
        while got < n:
            pts = rng.uniform(lo, hi, size=(4 * n, 3))
            keep = pts[self.lung_side(pts[:, 0], pts[:, 1], pts[:, 2]) == side]
            out.append(keep)
            got += len(keep)
        return np.concatenate(out)[:n]

    # ------------------------------------------------------------ lobes
    def lobe(self, x: Arr, y: Arr, z: Arr | float, name: str) -> npt.NDArray[np.bool_]:
        """Whether points are in a lobe: ``"RUL"``, ``"RML"``, ``"RLL"``, ``"LUL"``, ``"LLL"``.

        The major fissure is an oblique plane running from the posterior chest at
        the level of the carina down to the anterior diaphragm; the minor fissure is
        horizontal at the level of the right hilum.
        """
        s = self.scale
        fissure = 75.0 * s + 0.85 * (np.asarray(z) - 235.0) - 0.45 * (np.abs(x) - 50.0 * s)
        lower = y > fissure
        upper_level = np.asarray(z) > 168.0
        right, left = x < 0, x >= 0
        masks = {
            "RLL": right & lower,
            "RUL": right & ~lower & upper_level,
            "RML": right & ~lower & ~upper_level,
            "LLL": left & lower,
            "LUL": left & ~lower,
        }
        return np.asarray(masks[name], bool)


def make_anatomy(rng: np.random.Generator) -> Anatomy:
    """Draw one plausible adult chest (size, fat, heart, diaphragm, trees) from ``rng``."""
    s = float(rng.uniform(0.93, 1.06))
    fat = float(rng.uniform(7.0, 22.0))
    dome_r = float(rng.uniform(78.0, 92.0))
    dome_l = dome_r - float(rng.uniform(8.0, 18.0))
    heart_scale = float(rng.uniform(0.92, 1.1))
    axes = (68.0 * heart_scale * s, 52.0 * heart_scale * s, 46.0 * heart_scale * s)
    centre = (12.0 * s, -22.0 * s, dome_l + 48.0)
    long_axis = np.array([0.62, -0.48, -0.62])
    long_axis /= np.linalg.norm(long_axis)
    second = np.cross(long_axis, [0.0, 0.0, 1.0])
    second /= np.linalg.norm(second)
    third = np.cross(long_axis, second)
    rotation = np.stack([long_axis, second, third])
    rib_z0 = np.asarray(20.0 + 24.5 * np.arange(12) + float(rng.uniform(-5.0, 5.0)), np.float64)
    anatomy = Anatomy(
        scale=s,
        fat=fat,
        dome_right=dome_r,
        dome_left=dome_l,
        heart_center=centre,
        heart_axes=axes,
        heart_rotation=rotation,
        rib_z0=rib_z0,
        rib_drop=float(rng.uniform(85.0, 105.0)),
        vertebra_z0=float(rng.uniform(0.0, 26.0)),
        great_vessels=_great_vessels(s, centre),
        oesophagus=_path(
            [(4, 12, CT_TOP + 40), (8, 16, 200), (12, 18, 120), (30, 8, 50), (50, 0, 20)], 8.0, s
        ),
        central_airways=Tubes.empty(),
        airways=Tubes.empty(),
        arteries=Tubes.empty(),
        veins=Tubes.empty(),
    )
    return _with_trees(anatomy, rng)


def _path(points: list[tuple[float, float, float]], radius: float, s: float) -> Tubes:
    pts = np.asarray(points, np.float64) * np.array([s, s, 1.0])
    n = len(pts) - 1
    return Tubes(pts[:-1], pts[1:], np.full(n, radius * s), np.full(n, radius * s))


def _great_vessels(s: float, heart: tuple[float, float, float]) -> Tubes:
    top = CT_TOP + 30.0
    hz = heart[2]
    aorta = _path(
        [(-8, -20, hz + 30), (-16, -26, hz + 70), (-12, -28, 205), (-2, -24, 224),
         (18, -14, 234), (28, 4, 232), (28, 24, 220), (27, 30, 200), (24, 32, 130),
         (16, 36, 60), (8, 40, -20)],
        15.0, s,
    )  # fmt: skip
    aorta = Tubes(aorta.p0, aorta.p1, np.linspace(16, 12, len(aorta)) * s,
                  np.linspace(15.5, 11, len(aorta)) * s)  # fmt: skip
    trunk = _path([(22, -30, hz + 40), (16, -26, hz + 62), (8, -12, 182)], 14.0, s)
    lpa = _path([(8, -12, 182), (30, -2, 188), (50, 8, 182), (62, 14, 172)], 11.0, s)
    rpa = _path([(8, -12, 182), (-12, -12, 181), (-36, -8, 178), (-56, -2, 172)], 11.0, s)
    svc = _path([(-34, -14, hz + 20), (-36, -16, 230), (-34, -18, 252)], 10.0, s)
    lbcv = _path([(-34, -18, 252), (-5, -30, 258), (30, -24, 268), (55, -10, 285)], 7.0, s)
    rbcv = _path([(-34, -18, 252), (-42, -14, 290), (-48, -6, top)], 8.0, s)
    bct = _path([(-2, -22, 228), (-16, -16, 270), (-28, -8, top)], 7.0, s)
    lcca = _path([(10, -16, 232), (16, -10, 280), (20, -6, top)], 5.0, s)
    lsca = _path([(22, 0, 232), (32, 6, 285), (55, 2, top)], 6.0, s)
    ivc = _path([(-22, 8, -40), (-20, 6, heart[2] - 30)], 12.0, s)
    return Tubes.concat([aorta, trunk, lpa, rpa, svc, lbcv, rbcv, bct, lcca, lsca, ivc])


def _with_trees(anatomy: Anatomy, rng: np.random.Generator) -> Anatomy:
    s = anatomy.scale
    carina = np.array([0.0, -2.0 * s, 196.0])
    trachea = Tubes(
        np.array([[0.0, -12.0 * s, CT_TOP + 30.0]]), carina[None, :],
        np.array([9.0 * s]), np.array([8.5 * s]),
    )  # fmt: skip
    hila = {1: np.array([-52.0 * s, 2.0 * s, 176.0]), 2: np.array([56.0 * s, 10.0 * s, 172.0])}
    atria = {1: np.array([-30.0 * s, 8.0 * s, 130.0]), 2: np.array([34.0 * s, 10.0 * s, 128.0])}
    central, airways, arteries, veins = [trachea], [], [], []
    for side in (1, 2):
        pts = anatomy.sample_lung(rng, 2400, side)
        tree = grow_tree(rng, hila[side], pts, radius=6.5 * s, stop_points=4)
        arteries.append(tree)
        main = Tubes(carina[None, :], hila[side][None, :], np.array([7.0 * s]),
                     np.array([6.0 * s]))  # fmt: skip
        central.append(main)
        big = tree.select(tree.r1 > 2.2)
        airways.append(offset_tubes(big, scale=0.75))
        veins.append(grow_tree(rng, atria[side], pts, radius=6.5 * s, stop_points=4, jitter=0.6))
    return replace(
        anatomy,
        central_airways=Tubes.concat(central),
        airways=Tubes.concat(airways),
        arteries=Tubes.concat(arteries),
        veins=Tubes.concat(veins),
    )
