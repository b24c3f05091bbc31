"""Shapes drawn on a coronal or sagittal image, as MD.ai annotations on axial images.

MD.ai (and RICORD) keep an annotation on one image of the series as acquired:
a SOP Instance, in its pixel coordinates. A reformatted image (coronal, sagittal)
is not such an image: it cuts across the acquired slices. So a shape drawn on it
is stored as what it covers on each acquired slice it crosses:

* a **point** becomes one point on the slice under it, at its row and column;
* a **box**, **polygon** or **freehand** outline becomes, on each acquired slice
  whose centre line it covers (slices count by their centres, as
  :func:`~teachingfiles.cases.geometry.polygon_to_mask` counts pixels), the strip
  of that slice it covers: the reformatted image is one voxel thick, so the
  strip is one pixel deep (the row, or column, the image was cut along, from
  ``-0.5`` to ``+0.5`` around its centre) and as long as the shape is wide on
  that slice. A box gives one box per slice; a polygon one rectangle per run of
  the outline along the cut (a U shape gives two on the slices through its arms).

Seen again in the same reformat
(:func:`~teachingfiles.cases.geometry.shape_in_view`), the strips line up into
the shape as drawn, exact to the pixel. A shape thinner than one slice (between
two slice centres) lands on the slice nearest its middle, with its whole width.

A view along the acquired slices themselves (the viewer's axial view, or a
coronal view of a coronal acquisition) needs no conversion: the shape lands on
that slice as drawn, its points mapped through the view's flips.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from teachingfiles.cases._drafts import DrawKind
from teachingfiles.dicom.reformat import ViewPlan

__all__ = ["PlacedShape", "to_acquired"]

Point = tuple[float, float]


@dataclass(frozen=True)
class PlacedShape:
    """A shape on one acquired slice: its volume slice index, kind and ``(x, y)`` pixels."""

    slice: int
    kind: DrawKind
    points: tuple[Point, ...]


def to_acquired(
    plan: ViewPlan, index: int, kind: DrawKind, points: Sequence[Sequence[float]]
) -> list[PlacedShape]:
    """Place a shape drawn on image ``index`` of a view onto the acquired slices.

    Parameters
    ----------
    plan
        How the view is cut from the volume (:func:`~teachingfiles.dicom.reformat.plan_view`).
    index
        The image of the view the shape was drawn on.
    kind
        The shape: a box is two corners, a point one pair, a polygon or freehand
        outline its vertices.
    points
        ``[[x, y], ...]`` in the view image's pixels (x the column).

    Returns
    -------
    list of PlacedShape
        In slice order; for a native view exactly one.
    """
    pts = np.asarray(points, float).reshape(-1, 2)
    vol = plan.to_volume(index, pts[:, 0], pts[:, 1])  # (slice, row, column) each
    cut = plan.axes[0]
    if cut == 0:  # the view shows the acquired slices: map the points, keep the shape
        depth = round(float(vol[0, 0]))
        placed = tuple((float(c), float(r)) for _, r, c in vol)
        return [PlacedShape(depth, kind, placed)]
    fixed = float(vol[0, cut])  # the row (cut 1) or column (cut 2) the image lies along
    along = vol[:, 0]  # slice index of each point
    across = vol[:, 3 - cut]  # the other in-slice coordinate (column, or row)
    n = plan.shape[plan.axes.index(0)]  # slices in the volume
    if kind is DrawKind.POINT:
        depth = min(max(round(float(along[0])), 0), n - 1)
        o = float(across[0])
        return [PlacedShape(depth, kind, ((o, fixed) if cut == 1 else (fixed, o),))]
    if kind is DrawKind.BOX:
        lo, hi = sorted((float(across[0]), float(across[-1])))
        first, last = sorted((float(along[0]), float(along[-1])))
        depths = range(max(math.ceil(first), 0), min(math.floor(last), n - 1) + 1)
        runs = [(d, [(lo, hi)]) for d in depths] or _runs(np.array([[first, lo], [last, hi]]), n)
    else:
        runs = _runs(np.column_stack([along, across]), n)
    box = kind is DrawKind.BOX
    return [
        PlacedShape(depth, kind, _strip(cut, fixed, lo, hi, corners=box))
        for depth, spans in runs
        for lo, hi in spans
    ]


def _strip(cut: int, fixed: float, lo: float, hi: float, *, corners: bool) -> tuple[Point, ...]:
    """Return the one-voxel strip from ``lo`` to ``hi`` along the cut: box corners or a ring.

    The reformatted image is one voxel (a row, or a column, of every slice) thick:
    pixel centres sit at integers, so it covers ``fixed - 0.5`` to ``fixed + 0.5``.
    """
    if cut == 1:  # along a row: x runs lo..hi, y is the row
        x0, x1, y0, y1 = lo, hi, fixed - 0.5, fixed + 0.5
    else:  # along a column: y runs lo..hi, x is the column
        x0, x1, y0, y1 = fixed - 0.5, fixed + 0.5, lo, hi
    if corners:
        return ((x0, y0), (x1, y1))
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def _runs(ring: npt.NDArray[np.float64], n: int) -> list[tuple[int, list[tuple[float, float]]]]:
    """Return, per slice whose centre the ring covers, the runs ``(lo, hi)`` across it.

    ``ring`` holds ``(slice, across)`` vertices. A ring lying between two slice
    centres gives the slice nearest its middle with the ring's whole extent.
    """
    s, o = ring[:, 0], ring[:, 1]
    first = max(math.ceil(float(s.min())), 0)
    last = min(math.floor(float(s.max())), n - 1)
    out = []
    for depth in range(first, last + 1):
        crossings = []
        for i in range(len(ring)):
            j = (i + 1) % len(ring)
            ca, cb = s[i] - depth, s[j] - depth
            # half-open rule: a vertex exactly on the centre line counts once
            if (ca <= 0 < cb) or (cb <= 0 < ca):
                t = ca / (ca - cb)
                crossings.append(float(o[i] + t * (o[j] - o[i])))
        crossings.sort()
        runs = list(zip(crossings[0::2], crossings[1::2], strict=False))
        if runs:
            out.append((depth, runs))
    if not out:
        middle = min(max(round(float(s.min() + s.max()) / 2), 0), n - 1)
        out.append((middle, [(float(o.min()), float(o.max()))]))
    return out
