"""Tubular anatomy: capsule lists and branching trees that fill a lung.

Pulmonary vessels and airways are grown by recursive *territory splitting*: a
branch aims at the centroid of the lung points it supplies, then divides that
territory in two along its longest spread, and each child's radius follows
Murray's law (``r**3`` proportional to the territory it supplies). This gives
space-filling, tapering trees from a few thousand random points in a fraction of a
second, without the cost of space-colonisation or constrained constructive
optimisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Tubes", "grow_tree", "offset_tubes"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Tubes:
    """Capsules from ``p0`` to ``p1`` (mm, shape ``(n, 3)``), radius ``r0`` to ``r1`` (mm)."""

    p0: F64
    p1: F64
    r0: F64
    r1: F64

    def __len__(self) -> int:
        return len(self.r0)

    @classmethod
    def empty(cls) -> Tubes:
        """No capsules."""
        return cls(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), np.zeros(0))

    @classmethod
    def concat(cls, parts: list[Tubes]) -> Tubes:
        """All capsules of ``parts`` in one list."""
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.p0 for p in parts]),
            np.concatenate([p.p1 for p in parts]),
            np.concatenate([p.r0 for p in parts]),
            np.concatenate([p.r1 for p in parts]),
        )

    def select(self, keep: npt.NDArray[np.bool_]) -> Tubes:
        """Keep the capsules where ``keep`` is true."""
        return Tubes(self.p0[keep], self.p1[keep], self.r0[keep], self.r1[keep])

    def scaled(self, factor: float) -> Tubes:
        """Return the same capsules with radii multiplied by ``factor``."""
        return Tubes(self.p0, self.p1, self.r0 * factor, self.r1 * factor)


def grow_tree(
    rng: np.random.Generator,
    root: F64,
    points: F64,
    *,
    radius: float,
    stop_points: int = 5,
    jitter: float = 0.3,
    alpha: float = 0.5,
) -> Tubes:
    """Grow a branching tree from ``root`` that supplies every point of ``points``.

    Parameters
    ----------
    rng
        Source of the random split directions.
    root
        Start of the trunk (mm).
    points
        ``(n, 3)`` points inside the organ to supply.
    radius
        Trunk radius (mm); children follow Murray's law.
    stop_points
        A branch supplying fewer points than this ends at their centroid.
    jitter
        How far split directions stray from the longest spread (0 = not at all).
    alpha
        Where along the way to its territory's centroid a branch divides (0-1).
    """
    p0: list[F64] = []
    p1: list[F64] = []
    radii: list[float] = []
    total = len(points)
    stack: list[tuple[F64, F64]] = [(np.asarray(root, np.float64), points)]
    kicks = jitter * rng.standard_normal((2 * total + 8, 3))
    n_kick = 0
    while stack:
        start, territory = stack.pop()
        r = radius * (len(territory) / total) ** (1.0 / 3.0)
        centre = np.add.reduce(territory, axis=0) / len(territory)
        if len(territory) < stop_points:
            p0.append(start)
            p1.append(centre)
            radii.append(r)
            continue
        fork = start + alpha * (centre - start)
        p0.append(start)
        p1.append(fork)
        radii.append(r)
        axis = kicks[n_kick % len(kicks)].copy()
        n_kick += 1
        spread = np.maximum.reduce(territory, axis=0) - np.minimum.reduce(territory, axis=0)
        axis[int(np.argmax(spread))] += 1.0
        side = (territory - centre) @ axis > 0
        stack.extend((fork, part) for part in (territory[side], territory[~side]) if len(part))
    r_arr = np.asarray(radii)
    # taper: each capsule ends a little thinner than it starts
    return Tubes(np.asarray(p0), np.asarray(p1), r_arr, r_arr * 0.9)


def offset_tubes(tubes: Tubes, *, scale: float) -> Tubes:
    """Companion tubes beside ``tubes`` (bronchi beside their arteries), radius x ``scale``."""
    if not len(tubes):
        return tubes
    direction = tubes.p1 - tubes.p0
    ref = np.array([0.35, 0.55, 0.75])
    normal = np.cross(direction, ref)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-9
    gap = (tubes.r0 * (1.0 + scale) + 1.0)[:, None]
    return Tubes(
        tubes.p0 + normal * gap, tubes.p1 + normal * gap, tubes.r0 * scale, tubes.r1 * scale
    )
