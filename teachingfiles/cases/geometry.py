"""Annotation geometry: the shapes MD.ai stores, scoring helpers, masks and polygons.

Coordinates follow MD.ai: ``(x, y)`` in pixels, x the column, y the row, with the
pixel centre at integer coordinates. A :class:`Shape` is one drawn annotation
(box, polygon, freeform, line, point) on one slice; :func:`place_shape` finds its
slice in a :class:`~teachingfiles.dicom.volume.Volume`, and :func:`shape_in_view`
maps it onto an axial, coronal or sagittal view. Scoring uses
:func:`point_in_polygon` ("click the finding") and :func:`box_iou` ("box the
finding", IoU > 0.5 as in the SIIM-FISABIO-RSNA challenge).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from teachingfiles.vocabulary import AnnotationMode

if TYPE_CHECKING:
    from teachingfiles.dicom.reformat import ViewPlan
    from teachingfiles.dicom.volume import Volume
    from teachingfiles.repository.mdai import Annotation

__all__ = [
    "Shape",
    "box_iou",
    "mask_to_polygons",
    "place_shape",
    "point_in_polygon",
    "polygon_to_mask",
    "shape_in_view",
]

Point = tuple[float, float]


@dataclass(frozen=True)
class Shape:
    """One drawn annotation on one slice, in MD.ai pixel coordinates.

    ``points`` holds the vertices: a box as its four corners (clockwise from the
    top left), a polygon/freeform ring (first vertex not repeated), a line's
    vertices, or a point's single vertex.
    """

    mode: AnnotationMode
    points: tuple[Point, ...]
    sop_uid: str | None = None
    frame: int | None = None
    label_id: str | None = None
    color: str = "#ffcc00"
    name: str = ""

    @property
    def closed(self) -> bool:
        """Whether the shape encloses an area (box, polygon, freeform, mask)."""
        return self.mode in (
            AnnotationMode.BBOX,
            AnnotationMode.POLYGON,
            AnnotationMode.MASK,
            AnnotationMode.FREEFORM,
        )

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The bounding box ``(x, y, width, height)``."""
        pts = np.asarray(self.points, float)
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        return (float(x0), float(y0), float(x1 - x0), float(y1 - y0))

    @classmethod
    def from_mdai(
        cls,
        annotation: Annotation,
        *,
        mode: AnnotationMode | str | None = None,
        color: str = "#ffcc00",
        name: str = "",
    ) -> Shape:
        """Build the shape of an MD.ai annotation (its label gives ``mode``, colour, name).

        Raises
        ------
        ValueError
            If the annotation has no geometry (a study label) or its data does
            not match the mode; the message names the annotation.
        """
        data = annotation.data or {}
        kind = AnnotationMode.parse(mode) if mode is not None else _guess_mode(data)
        try:
            if kind is AnnotationMode.BBOX:
                x, y = float(data["x"]), float(data["y"])
                w, h = float(data["width"]), float(data["height"])
                pts: list[Point] = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
            elif kind is AnnotationMode.LOCATION:
                pts = [(float(data["x"]), float(data["y"]))]
            elif kind is AnnotationMode.MASK:
                raise ValueError("mask annotations carry no vertices; decode them as masks")
            else:
                pts = [(float(x), float(y)) for x, y in data["vertices"]]
        except (KeyError, TypeError) as exc:
            raise ValueError(
                f"annotation {annotation.id}: data {data!r} does not hold a {kind.value} "
                f"(missing {exc}); expected MD.ai's {kind.value} fields"
            ) from None
        if (
            kind in (AnnotationMode.POLYGON, AnnotationMode.FREEFORM)
            and len(pts) > 1
            and pts[0] == pts[-1]
        ):
            pts = pts[:-1]
        return cls(kind, tuple(pts), annotation.sop_uid, annotation.frame_number,
                   annotation.label_id, color, name)  # fmt: skip


def _guess_mode(data: dict[str, object]) -> AnnotationMode:
    if "vertices" in data:
        return AnnotationMode.POLYGON
    if "width" in data and "height" in data:
        return AnnotationMode.BBOX
    if "x" in data and "y" in data:
        return AnnotationMode.LOCATION
    raise ValueError(f"annotation data {data!r} has no geometry (a study-level label?)")


def point_in_polygon(point: Sequence[float], polygon: Sequence[Sequence[float]]) -> bool:
    """Whether ``(x, y)`` lies inside (or on the edge of) a polygon.

    Uses matplotlib's ``Path.contains_point`` with a small radius so a click on
    the outline counts as inside.
    """
    from matplotlib.path import Path

    pts = np.asarray(polygon, float)
    if len(pts) < 3:
        return False
    path = Path(pts, closed=False)
    p = (float(point[0]), float(point[1]))
    return bool(path.contains_point(p, radius=1e-9) or path.contains_point(p, radius=-1e-9))


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x, y, width, height)`` boxes (0 to 1)."""
    ax0, ay0, aw, ah = (float(v) for v in a)
    bx0, by0, bw, bh = (float(v) for v in b)
    iw = max(0.0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    ih = max(0.0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def polygon_to_mask(
    polygon: Sequence[Sequence[float]], shape: tuple[int, int]
) -> npt.NDArray[np.bool_]:
    """Pixels whose centres lie inside a polygon (``(rows, cols)`` boolean mask)."""
    from matplotlib.path import Path

    mask = np.zeros(shape, bool)
    pts = np.asarray(polygon, float)
    if len(pts) < 3:
        return mask
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, shape[1] - 1), min(y1, shape[0] - 1)
    if x1 < x0 or y1 < y0:
        return mask
    yy, xx = np.mgrid[y0 : y1 + 1, x0 : x1 + 1]
    inside = Path(pts).contains_points(np.column_stack([xx.ravel(), yy.ravel()]))
    mask[y0 : y1 + 1, x0 : x1 + 1] = inside.reshape(yy.shape)
    return mask


def place_shape(shape: Shape, volume: Volume) -> int:
    """Find the slice index of the volume a shape was drawn on (by SOP Instance UID).

    Raises
    ------
    NotFoundError
        If the shape's instance is not a slice of the volume.
    UsageError
        If the shape names no instance.
    """
    from teachingfiles.errors import UsageError

    if not shape.sop_uid:
        raise UsageError("the shape has no SOP Instance UID, so it belongs to no slice")
    return volume.index_of(shape.sop_uid, shape.frame)


def shape_in_view(
    shape: Shape, slice_index: int, plan: ViewPlan, view_index: int
) -> list[list[Point]]:
    """Where a shape drawn on volume slice ``slice_index`` appears in a view image.

    In the native (axial) view it is the shape itself, on its own slice only.
    In a reformat, the image cuts the drawn slice along one line: a closed shape
    shows as the segment(s) of that line inside it, a line or point only where it
    crosses the cut. Returns vertex lists in the view's ``(x, y)``; empty if the
    shape does not appear in this image.
    """
    native = plan.axes[0] == 0
    if native:
        depth = plan.from_volume([slice_index, 0, 0])[0]
        if round(float(depth)) != view_index:
            return []
        pts = np.array([[slice_index, y, x] for x, y in shape.points], float)
        view = plan.from_volume(pts)
        return [[(float(x), float(y)) for _, x, y in view]]
    return _cut(shape, slice_index, plan, view_index)


def _cut(shape: Shape, slice_index: int, plan: ViewPlan, view_index: int) -> list[list[Point]]:
    # the view image is a plane of constant volume index along plan.axes[0]
    # (1 = a row of the drawn slice, 2 = a column); find where the shape meets it
    cut_axis = plan.axes[0]
    fixed = float(plan.to_volume(view_index, 0.0, 0.0)[cut_axis])
    pts = np.asarray(shape.points, float)  # (x, y) = (column, row)
    coord = pts[:, 1] if cut_axis == 1 else pts[:, 0]
    other = pts[:, 0] if cut_axis == 1 else pts[:, 1]
    if shape.mode is AnnotationMode.LOCATION:
        hits = [float(other[0])] if abs(coord[0] - fixed) <= 0.5 else []
        pairs = [(h, h) for h in hits]
    else:
        ring = shape.closed
        n = len(pts)
        crossings = []
        for i in range(n if ring else n - 1):
            a, b = i, (i + 1) % n
            ca, cb = coord[a] - fixed, coord[b] - fixed
            if ca == cb == 0:
                crossings += [float(other[a]), float(other[b])]
            elif (ca <= 0 < cb) or (cb <= 0 < ca):
                t = ca / (ca - cb)
                crossings.append(float(other[a] + t * (other[b] - other[a])))
        crossings.sort()
        if ring:
            pairs = list(zip(crossings[0::2], crossings[1::2], strict=False))
        else:
            pairs = [(c, c) for c in crossings]
    out: list[list[Point]] = []
    for lo, hi in pairs:
        seg = []
        for o in (lo, hi):
            idx = [float(slice_index), 0.0, 0.0]
            idx[cut_axis] = fixed
            idx[3 - cut_axis] = o
            _, x, y = plan.from_volume(idx)
            seg.append((float(x), float(y)))
        out.append(seg)
    return out


def mask_to_polygons(
    mask: npt.ArrayLike, *, min_area: float = 4.0, simplify: float = 0.5
) -> list[list[tuple[float, float]]]:
    """Outline each connected region of a 2-D mask as a closed polygon.

    Parameters
    ----------
    mask
        2-D array, non-zero inside.
    min_area
        Polygons enclosing less than this many square pixels are dropped.
    simplify
        Vertices closer than this (pixels) to the line through their neighbours
        are removed; 0 keeps every vertex.

    Returns
    -------
    list of list of (x, y)
        One vertex list per outer boundary and per hole, first vertex not repeated.

    Example
    -------
    >>> m = np.zeros((8, 8), bool); m[2:6, 3:7] = True
    >>> len(mask_to_polygons(m))
    1
    """
    import contourpy  # ships with matplotlib; fast marching squares in C++

    arr = np.asarray(mask, dtype=bool)
    if arr.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {arr.shape}")
    if not arr.any():
        return []
    padded = np.pad(arr, 1).astype(np.float32)
    gen = contourpy.contour_generator(z=padded, line_type=contourpy.LineType.Separate)
    polygons: list[list[tuple[float, float]]] = []
    for line in gen.lines(0.5):
        pts = np.asarray(line, dtype=np.float64) - 1.0  # undo the padding
        if len(pts) > 1 and np.allclose(pts[0], pts[-1]):
            pts = pts[:-1]
        if len(pts) < 3 or _area(pts) < min_area:
            continue
        if simplify > 0:
            pts = _simplify(pts, simplify)
        polygons.append([(round(float(x), 2), round(float(y), 2)) for x, y in pts])
    return polygons


def _area(pts: npt.NDArray[np.float64]) -> float:
    x, y = pts[:, 0], pts[:, 1]
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2.0)


def _simplify(pts: npt.NDArray[np.float64], tol: float) -> npt.NDArray[np.float64]:
    """Greedy line simplification: drop a vertex when the path stays within ``tol``.

    Walks the ring keeping a vertex only if some skipped vertex would otherwise lie
    farther than ``tol`` from the straight segment that replaces them.
    """
    n = len(pts)
    kept = [0]
    anchor = 0
    i = 1
    while i < n:
        j = i + 1
        end = pts[j % n]
        a = pts[anchor]
        seg = end - a
        length = float(np.hypot(*seg))
        inner = pts[anchor + 1 : j] if j <= n else pts[anchor + 1 :]
        if length > 0 and len(inner):
            rel = inner - a
            dist = np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / length
            too_far = bool(dist.max() > tol)
        else:
            too_far = False
        if too_far or j >= n:
            kept.append(i)
            anchor = i
        i += 1
    out = pts[sorted(set(kept))]
    return out if len(out) >= 3 else pts
