"""Axial, coronal and sagittal views of a volume, and mapping points between them.

A view picks, for each screen direction, the volume axis whose direction in the
patient is closest to it, and flips it so the image appears as radiologists read
it (patient coordinates are DICOM LPS: x to the patient's left, y posterior, z
superior):

==========  ====================  ======================  =====================
view        screen right is       screen down is          slice index grows to
==========  ====================  ======================  =====================
axial       patient left (+x)     posterior (+y)          superior (+z)
coronal     patient left (+x)     inferior (-z)           posterior (+y)
sagittal    posterior (+y)        inferior (-z)           patient left (+x)
==========  ====================  ======================  =====================

So the patient's right is on the screen's left (the radiological convention), and
anterior is on the left of a sagittal image. Points map between a view's
``(index, x, y)`` (x the column, y the row, pixel centres at integers, as MD.ai
writes them), volume indices ``(slice, row, column)`` and patient mm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from teachingfiles.dicom.volume import Volume
from teachingfiles.vocabulary import View

__all__ = ["View", "ViewPlan", "orientation_letters", "plan_view"]


# Patient direction (LPS unit vector) of: screen right, screen down, depth.
_SCREEN: dict[View, tuple[tuple[int, int], tuple[int, int], tuple[int, int]]] = {
    View.AXIAL: ((0, +1), (1, +1), (2, +1)),
    View.CORONAL: ((0, +1), (2, -1), (1, +1)),
    View.SAGITTAL: ((1, +1), (2, -1), (0, +1)),
}
_LETTERS = {(0, +1): "L", (0, -1): "R", (1, +1): "P", (1, -1): "A", (2, +1): "S", (2, -1): "I"}


def _axis_dirs(volume: Volume) -> list[npt.NDArray[np.float64]]:
    """Patient directions of volume axes 0 (slice), 1 (row), 2 (column)."""
    return [volume.normal, volume.column_direction, volume.row_direction]


@dataclass(frozen=True)
class ViewPlan:
    """How to cut one view out of a volume.

    ``axes`` lists the volume axes shown as (depth, screen rows, screen columns);
    ``flips`` whether each runs backwards; ``spacing`` the mm per step along them.
    """

    view: View
    axes: tuple[int, int, int]
    flips: tuple[bool, bool, bool]
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]

    @property
    def count(self) -> int:
        """Number of images in this view."""
        return self.shape[0]

    @property
    def aspect(self) -> float:
        """Height/width of one pixel on screen (for ``imshow(aspect=...)``)."""
        return self.spacing[1] / self.spacing[2]

    def image(self, data: npt.NDArray[Any], index: int) -> npt.NDArray[Any]:
        """Cut the 2-D image ``index`` of this view (a view into ``data`` when possible)."""
        if not 0 <= index < self.count:
            raise IndexError(
                f"{self.view.value} image {index} does not exist: 0 to {self.count - 1}"
            )
        arr = np.transpose(data, self.axes)
        depth = self.count - 1 - index if self.flips[0] else index
        img: npt.NDArray[Any] = arr[depth]
        if self.flips[1]:
            img = img[::-1]
        if self.flips[2]:
            img = img[:, ::-1]
        return img

    def image_of(self, volume: Volume, index: int) -> npt.NDArray[Any]:
        """Image ``index`` of this view from a volume, waiting only for what it needs.

        A view along the acquisition's own slices needs one slice (decoded at once
        if not loaded yet); a reformat needs the whole volume.
        """
        if self.axes[0] != 0:
            return self.image(volume.wait(), index)
        if not 0 <= index < self.count:
            raise IndexError(
                f"{self.view.value} image {index} does not exist: 0 to {self.count - 1}"
            )
        depth = self.count - 1 - index if self.flips[0] else index
        img = volume.slice(depth)
        if self.axes[1:] == (2, 1):
            img = img.T
        if self.flips[1]:
            img = img[::-1]
        if self.flips[2]:
            img = img[:, ::-1]
        return img

    def to_volume(
        self, index: float, x: npt.ArrayLike, y: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        """Volume indices ``(slice, row, column)`` of view points (``(..., 3)``)."""
        xs = np.asarray(x, float)
        ys = np.asarray(y, float)
        zs = np.full(np.broadcast(xs, ys).shape, float(index))
        view_coords = [zs, np.broadcast_to(ys, zs.shape), np.broadcast_to(xs, zs.shape)]
        out = [np.zeros(zs.shape)] * 3
        for pos, axis in enumerate(self.axes):
            size = self.shape[pos]
            value = view_coords[pos]
            out[axis] = (size - 1 - value) if self.flips[pos] else value
        return np.stack(out, axis=-1)

    def from_volume(self, index: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """View coordinates ``(image index, x, y)`` of volume indices (``(..., 3)``)."""
        idx = np.asarray(index, float)
        values = []
        for pos, axis in enumerate(self.axes):
            size = self.shape[pos]
            v = idx[..., axis]
            values.append((size - 1 - v) if self.flips[pos] else v)
        depth, row, col = values
        return np.stack([depth, col, row], axis=-1)


def plan_view(volume: Volume, view: View | str) -> ViewPlan:
    """Plan how to cut ``view`` from ``volume`` (any acquisition plane).

    Example
    -------
    >>> plan = plan_view(vol, "coronal")
    >>> img = plan.image(vol.wait(), plan.count // 2)
    """
    v = View.parse(view)
    dirs = _axis_dirs(volume)
    chosen: list[int] = []
    flips: list[bool] = []
    for patient_axis, sign in _SCREEN[v]:
        best = max(
            (a for a in range(3) if a not in chosen), key=lambda a: abs(dirs[a][patient_axis])
        )
        chosen.append(best)
        flips.append(bool(np.sign(dirs[best][patient_axis]) != sign))
    right, down, depth = chosen
    axes = (depth, down, right)  # the array order: depth, screen rows, screen columns
    shape = tuple(volume.shape[a] for a in axes)
    spacing = tuple(float(volume.spacing[a]) for a in axes)
    return ViewPlan(v, axes, (flips[2], flips[1], flips[0]), shape, spacing)  # type: ignore[arg-type]


def orientation_letters(volume: Volume, plan: ViewPlan) -> dict[str, str]:
    """Give the letters at the image edges (``left``, ``right``, ``top``, ``bottom``).

    Read from the true directions, so an oblique acquisition shows e.g. ``"LP"``.
    """
    dirs = _axis_dirs(volume)

    def letters(vec: npt.NDArray[np.float64]) -> str:
        order = np.argsort(-np.abs(vec))
        text = ""
        for axis in order:
            if abs(vec[axis]) > 0.25:
                text += _LETTERS[(int(axis), 1 if vec[axis] > 0 else -1)]
        return text or "?"

    right = dirs[plan.axes[2]] * (-1 if plan.flips[2] else 1)
    down = dirs[plan.axes[1]] * (-1 if plan.flips[1] else 1)
    return {
        "right": letters(right),
        "left": letters(-right),
        "bottom": letters(down),
        "top": letters(-down),
    }
