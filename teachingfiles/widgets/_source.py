"""What the viewer can show: a stack of 2-D slices with geometry.

The viewer needs little from its data: a shape ``(z, y, x)``, a dtype, the spacing
in millimetres, and one slice at a time (which may block while it is decoded). The
imaging core's ``Volume`` offers that; so does :class:`ArraySource`, which wraps a
plain numpy array. :func:`as_source` turns whatever the caller passed into one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from teachingfiles.errors import UsageError

__all__ = ["VIEWS", "ArraySource", "SliceSource", "as_source", "blank_value", "reformat"]

VIEWS = ("axial", "coronal", "sagittal")


@runtime_checkable
class SliceSource(Protocol):
    """The minimal protocol the viewer reads from.

    Attributes
    ----------
    shape
        ``(z, y, x)``: slices, rows, columns.
    dtype
        The stored values' dtype (int16 Hounsfield units for CT).
    spacing
        ``(z, y, x)`` in millimetres: slice spacing, row spacing, column spacing.
    """

    @property
    def shape(self) -> tuple[int, int, int]: ...

    @property
    def dtype(self) -> np.dtype[Any]: ...

    @property
    def spacing(self) -> tuple[float, float, float]: ...

    def slice(self, index: int) -> npt.NDArray[Any]:
        """Return slice ``index`` as a 2-D array (may block until it is decoded)."""
        ...


@dataclass
class ArraySource:
    """A :class:`SliceSource` over a numpy array, with optional DICOM geometry.

    Parameters
    ----------
    array
        ``(z, y, x)`` values (a 2-D array is one slice).
    spacing
        ``(z, y, x)`` millimetres; 1 mm each when unknown.
    positions
        Patient position (x, y, z mm) of the first pixel of each slice
        (DICOM Image Position Patient); by default slices step along z.
    orientation
        Row and column direction cosines (DICOM Image Orientation Patient).
    sop_uids
        The SOP Instance UID of each slice, used to place annotations.
    windows
        Extra named windows ``{name: (centre, width)}`` (e.g. the file's own).
    """

    array: npt.NDArray[Any]
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    positions: npt.NDArray[np.float64] | None = None
    orientation: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    sop_uids: Sequence[str] | None = None
    windows: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        arr = np.asarray(self.array)
        if arr.ndim == 2:
            arr = arr[np.newaxis]
        if arr.ndim != 3 or 0 in arr.shape:
            raise UsageError(
                f"the viewer needs a non-empty 2-D or 3-D array (slices, rows, columns), "
                f"got shape {np.shape(self.array)}"
            )
        if arr.dtype.kind not in "iuf" and arr.dtype != np.bool_:
            raise UsageError(f"the viewer shows numbers, got an array of dtype {arr.dtype}")
        self.array = arr
        spacing = tuple(float(s) for s in self.spacing)
        if len(spacing) != 3 or not all(np.isfinite(s) and s > 0 for s in spacing):
            raise UsageError(
                f"spacing must be three positive millimetre values (z, y, x), got {self.spacing}"
            )
        self.spacing = (spacing[0], spacing[1], spacing[2])
        if self.positions is None:
            z = np.arange(arr.shape[0], dtype=np.float64) * self.spacing[0]
            self.positions = np.stack([np.zeros_like(z), np.zeros_like(z), z], axis=1)
        else:
            self.positions = np.asarray(self.positions, dtype=np.float64).reshape(-1, 3)
            if len(self.positions) != arr.shape[0]:
                raise UsageError(
                    f"positions has {len(self.positions)} rows for {arr.shape[0]} slices"
                )

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(z, y, x)``."""
        z, y, x = self.array.shape
        return (int(z), int(y), int(x))

    @property
    def dtype(self) -> np.dtype[Any]:
        """The array's dtype."""
        return self.array.dtype

    def slice(self, index: int) -> npt.NDArray[Any]:
        """Return slice ``index``."""
        return np.asarray(self.array[index])


def _is_paths_or_datasets(obj: object) -> bool:
    if isinstance(obj, str | PathLike):
        return True
    if isinstance(obj, Sequence) and not isinstance(obj, str | bytes) and len(obj) > 0:
        first = obj[0]
        return isinstance(first, str | PathLike) or type(first).__name__ in {
            "Dataset",
            "FileDataset",
        }
    return False


def _from_dicom(obj: Any) -> Any:
    """Assemble a volume with the imaging core (slices decode in the background)."""
    from teachingfiles.dicom.volume import Volume

    items = [obj] if isinstance(obj, str | PathLike) else list(obj)
    return Volume.open(items)


@dataclass
class _PlanSource:
    """A view (coronal, sagittal) of an imaging-core Volume, cut by its ViewPlan."""

    volume: Any
    plan: Any
    positions: npt.NDArray[np.float64] = field(init=False)
    orientation: tuple[float, ...] = field(init=False)

    def __post_init__(self) -> None:
        n = self.plan.count
        patient = self.volume.index_to_patient
        origins = [patient(self.plan.to_volume(i, 0.0, 0.0)) for i in range(n)]
        self.positions = np.asarray(origins, dtype=np.float64).reshape(n, 3)
        along_x = patient(self.plan.to_volume(0, 1.0, 0.0)) - self.positions[0]
        along_y = patient(self.plan.to_volume(0, 0.0, 1.0)) - self.positions[0]
        row = along_x / np.linalg.norm(along_x)
        col = along_y / np.linalg.norm(along_y)
        self.orientation = tuple(float(v) for v in (*row, *col))

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(images, rows, columns)`` of the view."""
        a, b, c = self.plan.shape
        return (int(a), int(b), int(c))

    @property
    def dtype(self) -> np.dtype[Any]:
        """The volume's dtype."""
        dtype: np.dtype[Any] = np.dtype(self.volume.dtype)
        return dtype

    @property
    def spacing(self) -> tuple[float, float, float]:
        """``(between images, row, column)`` mm of the view."""
        a, b, c = self.plan.spacing
        return (float(a), float(b), float(c))

    @property
    def partial(self) -> bool:
        """Whether images come partial now: a reformat of a series still arriving.

        Each axial slice gives one row (coronal) or column (sagittal) of every image,
        so an image is final only once the whole series is in. Meanwhile
        :meth:`slice` gives the rows there are, blank elsewhere, instead of waiting.
        Only a volume that says whether it has ``settled`` (a
        :class:`~teachingfiles.repository.RemoteVolume`) is shown partial: a local
        volume decodes in about a second.
        """
        return self.plan.axes[0] != 0 and getattr(self.volume, "settled", True) is False

    def is_ready(self, index: int) -> bool:
        """Whether image ``index`` is final (every slice it is cut from is in)."""
        return not self.partial

    def slice(self, index: int) -> npt.NDArray[Any]:
        """Image ``index`` of the view, at once.

        Partial while the series arrives (see :attr:`partial`); otherwise waits
        only for the slices it needs.
        """
        if self.partial:
            return self._partial_image(index)
        image: npt.NDArray[Any] = self.plan.image_of(self.volume, index)
        return image

    def _partial_image(self, index: int) -> npt.NDArray[Any]:
        """Image ``index`` with the rows (or columns) of slices still to come blank."""
        ready, data = self.volume.snapshot()
        image = np.array(self.plan.image(data, index))  # a copy: rows get blanked
        where = self.plan.axes.index(0)  # 1: a slice is a row of the image; 2: a column
        lacking = ~ready[::-1] if self.plan.flips[where] else ~ready
        if where == 1:
            image[lacking, :] = blank_value(image.dtype)
        else:
            image[:, lacking] = blank_value(image.dtype)
        return image


def blank_value(dtype: npt.DTypeLike) -> float:
    """Return the value drawn where an image is still to come: the lowest of ``dtype``.

    Below every window, so it shows as the viewer's black background (white when
    inverted), like the space around the image.
    """
    kind = np.dtype(dtype)
    if kind.kind == "b":
        return 0.0
    if kind.kind == "f":
        return float(np.finfo(kind).min)
    return float(np.iinfo(kind).min)


def _volume_to_source(volume: Any) -> SliceSource:
    """Adapt an imaging-core Volume (or anything array-like with geometry)."""
    if isinstance(volume, SliceSource):
        return volume
    array = None
    for name in ("hu", "array", "pixels", "data"):
        value = getattr(volume, name, None)
        if isinstance(value, np.ndarray):
            array = value
            break
    if array is None:
        raise UsageError(
            f"cannot show a {type(volume).__name__}: expected a numpy array, a Volume, "
            "or a list of DICOM datasets or paths"
        )
    return ArraySource(
        array,
        spacing=tuple(getattr(volume, "spacing", (1.0, 1.0, 1.0))),
        positions=getattr(volume, "positions", None),
        orientation=tuple(getattr(volume, "orientation", (1.0, 0.0, 0.0, 0.0, 1.0, 0.0))),
        sop_uids=getattr(volume, "sop_uids", None),
    )


def as_source(data: object, spacing: Sequence[float] | None = None) -> SliceSource:
    """Turn what the caller passed into a :class:`SliceSource`.

    Parameters
    ----------
    data
        A numpy array ``(z, y, x)`` or ``(y, x)``; a Volume of the imaging core (or
        any object following :class:`SliceSource`); a list of pydicom datasets or
        of DICOM file paths (assembled by the imaging core).
    spacing
        Millimetres ``(z, y, x)`` for a plain array (ignored otherwise).

    Raises
    ------
    UsageError
        If the data is of a kind the viewer cannot show.
    """
    if isinstance(data, np.ndarray):
        mm = tuple(float(v) for v in spacing) if spacing else (1.0, 1.0, 1.0)
        return ArraySource(data, spacing=(mm[0], mm[1], mm[2]))
    if _is_paths_or_datasets(data):
        data = _from_dicom(data)
    if isinstance(data, SliceSource):
        return data
    return _volume_to_source(data)


def _positions(source: SliceSource) -> npt.NDArray[np.float64]:
    pos = getattr(source, "positions", None)
    if pos is None:
        z = np.arange(source.shape[0], dtype=np.float64) * source.spacing[0]
        return np.stack([np.zeros_like(z), np.zeros_like(z), z], axis=1)
    return np.asarray(pos, dtype=np.float64).reshape(-1, 3)


def reformat(source: SliceSource, view: str) -> SliceSource:
    """Return the stack of ``source`` seen as ``view`` (axial, coronal, sagittal).

    The whole series is read. Coronal and sagittal images put the patient's head at
    the top, whatever the order in which axial slices were stored.

    Raises
    ------
    UsageError
        For an unknown view, or a single-slice source that has no other views.
    """
    if view not in VIEWS:
        raise UsageError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
    if view == "axial":
        return source
    if hasattr(source, "index_to_patient"):  # the imaging core's Volume: its own reformat
        from teachingfiles.dicom.reformat import plan_view

        return _PlanSource(source, plan_view(source, view))  # type: ignore[arg-type]
    nz, ny, nx = source.shape
    if nz < 2:
        raise UsageError(f"a single image has no {view} view; use view='axial'")
    # A plain array has no patient geometry to plan with: transpose it, assuming
    # axial slices (the imaging core's plan_view handles any acquisition plane).
    volume = np.stack([np.asarray(source.slice(i)) for i in range(nz)])
    dz, dy, dx = source.spacing
    pos = _positions(source)
    if pos[-1, 2] > pos[0, 2]:  # ascending z: flip so superior is the top row
        volume = volume[::-1]
        pos = pos[::-1]
    top = pos[0]
    if view == "coronal":
        stack = np.ascontiguousarray(volume.transpose(1, 0, 2))  # (y, z, x)
        positions = np.array([[top[0], top[1] + j * dy, top[2]] for j in range(ny)])
        orient = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
        return ArraySource(stack, (dy, dz, dx), positions, orient)
    stack = np.ascontiguousarray(volume.transpose(2, 0, 1))  # (x, z, y)
    positions = np.array([[top[0] + i * dx, top[1], top[2]] for i in range(nx)])
    orient = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    return ArraySource(stack, (dx, dz, dy), positions, orient)
