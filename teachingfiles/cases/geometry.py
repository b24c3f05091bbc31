"""Annotation geometry: polygons from masks, and the shapes MD.ai stores.

Coordinates follow MD.ai: ``(x, y)`` in pixels, x the column, y the row, with the
pixel centre at integer coordinates.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["mask_to_polygons"]


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
