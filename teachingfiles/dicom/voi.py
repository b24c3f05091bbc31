"""Value of interest: windows and VOI lookup tables, down to 8-bit display values.

The VOI stage turns modality values (Hounsfield units for CT, stored values for
most other images) into grey levels. DICOM defines three window functions
(PS3.3 C.11.2.1.2 and C.11.2.1.3):

``LINEAR`` (the default)
    ``x <= c - 0.5 - (w - 1) / 2`` gives black, ``x > c - 0.5 + (w - 1) / 2`` white,
    between ``((x - (c - 0.5)) / (w - 1) + 0.5)`` of the output range.
``LINEAR_EXACT``
    the textbook window: ``(x - c) / w + 0.5``, clipped to ``[0, 1]``.
``SIGMOID``
    ``1 / (1 + exp(-4 (x - c) / w))``.

:func:`apply_window` evaluates them straight to ``uint8`` (0-255). pydicom's
``apply_windowing`` maps into the stored bit range as ``float64`` instead, which a
viewer would have to rescale again; the formulas are short, so they are written
here once, in ``float32``, and the result is checked against pydicom's in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

__all__ = [
    "VoiFunction",
    "Window",
    "apply_voi_lut_item",
    "apply_window",
    "to_uint8",
]


class VoiFunction(StrEnum):
    """The VOI LUT Function (0028,1056) values."""

    LINEAR = "LINEAR"
    LINEAR_EXACT = "LINEAR_EXACT"
    SIGMOID = "SIGMOID"

    @classmethod
    def parse(cls, value: Self | str | None) -> Self:
        """Convert the attribute's text (absent means ``LINEAR``); unknown raises."""
        if value is None or value == "":
            return cls("LINEAR")
        if isinstance(value, cls):
            return value
        key = str(value).strip().upper().replace(" ", "_")
        try:
            return cls(key)
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise ValueError(
                f"VOI LUT Function {value!r} is not one DICOM defines; expected {choices}"
            ) from None


@dataclass(frozen=True)
class Window:
    """A window: centre and width in modality units, and the function between.

    Parameters
    ----------
    center
        The value shown mid-grey (HU for CT).
    width
        The range of values spread from black to white.
    function
        How values map to grey inside the window.
    name
        What the window is called (a preset name, ``"file 1"``, ``"auto"``).
    """

    center: float
    width: float
    function: VoiFunction = VoiFunction.LINEAR
    name: str = ""

    def __post_init__(self) -> None:
        minimum = 1.0 if self.function is VoiFunction.LINEAR else 0.0
        if not np.isfinite(self.center) or not np.isfinite(self.width):
            raise ValueError(f"window centre and width must be finite numbers, got {self}")
        if self.width < minimum or (self.width == 0 and minimum == 0):
            raise ValueError(
                f"window width {self.width:g} is too small for {self.function.value}: "
                f"it must be {'at least 1' if minimum else 'greater than 0'} "
                "(PS3.3 C.11.2.1.2)"
            )

    @classmethod
    def parse(cls, text: str, *, name: str = "") -> Window:
        """Read ``"C,W"`` (as typed on a command line), e.g. ``"-600,1500"``.

        Raises
        ------
        ValueError
            If the text is not two numbers separated by a comma.
        """
        parts = [p.strip() for p in str(text).split(",")]
        try:
            if len(parts) != 2:
                raise ValueError
            center, width = float(parts[0]), float(parts[1])
        except ValueError:
            raise ValueError(
                f"window {text!r} is not 'CENTER,WIDTH'; write it like '-600,1500' "
                "(centre first, then width, in modality units such as HU)"
            ) from None
        return cls(center, width, name=name or f"C {center:g} W {width:g}")

    @property
    def low(self) -> float:
        """The value at and below which the LINEAR window shows black."""
        return self.center - 0.5 - (self.width - 1.0) / 2.0

    @property
    def high(self) -> float:
        """The value above which the LINEAR window shows white."""
        return self.center - 0.5 + (self.width - 1.0) / 2.0

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready form (for the viewer's traits)."""
        return {
            "center": self.center,
            "width": self.width,
            "function": self.function.value,
            "name": self.name,
        }


def apply_window(
    values: npt.ArrayLike, window: Window, *, invert: bool = False
) -> npt.NDArray[np.uint8]:
    """Map modality values through a window to 8-bit grey levels.

    Parameters
    ----------
    values
        Modality values (any shape, any numeric dtype).
    window
        The window to apply.
    invert
        Show high values dark (MONOCHROME1 images are displayed this way).

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of the same shape, 0 black and 255 white.

    Example
    -------
    >>> apply_window(np.array([-1000, 40, 1000]), Window(40, 400)).tolist()
    [0, 128, 255]
    """
    x = np.asarray(values, dtype=np.float32)
    c, w = np.float32(window.center), np.float32(window.width)
    if window.function is VoiFunction.SIGMOID:
        with np.errstate(over="ignore"):
            y = 1.0 / (1.0 + np.exp(np.float32(-4.0) * (x - c) / w))
    elif window.function is VoiFunction.LINEAR_EXACT:
        y = (x - c) / w + np.float32(0.5)
    elif window.width == 1:  # a threshold: PS3.3 puts c - 0.5 itself in the black half
        y = (x > c - np.float32(0.5)).astype(np.float32)
    else:
        y = (x - (c - np.float32(0.5))) / (w - np.float32(1.0)) + np.float32(0.5)
    np.clip(y, 0.0, 1.0, out=y)
    if invert:
        np.subtract(1.0, y, out=y)
    y *= np.float32(255.0)
    out: npt.NDArray[np.uint8] = np.rint(y, out=y).astype(np.uint8)
    return out


def to_uint8(values: npt.ArrayLike, max_value: float) -> npt.NDArray[np.uint8]:
    """Scale values in ``[0, max_value]`` to ``[0, 255]`` (rounded, clipped)."""
    x = np.asarray(values, dtype=np.float32)
    if max_value <= 0:
        return np.zeros(x.shape, np.uint8)
    y = x * np.float32(255.0 / max_value)
    np.clip(y, 0, 255, out=y)
    out: npt.NDArray[np.uint8] = np.rint(y, out=y).astype(np.uint8)
    return out


def apply_voi_lut_item(
    values: npt.ArrayLike, ds: Dataset, index: int = 0, *, invert: bool = False
) -> npt.NDArray[np.uint8]:
    """Map values through one item of the VOI LUT Sequence to 8-bit grey levels.

    The table's output range is ``0 .. 2**bits - 1`` with ``bits`` the third value
    of its LUT Descriptor (PS3.3 C.11.2.1.1); it is scaled to 0-255.

    Parameters
    ----------
    values
        Integer modality values.
    ds
        The dataset holding the VOI LUT Sequence (its encoding tells the byte order
        of ``OW`` table data).
    index
        Which item of the sequence.
    invert
        Show high values dark (MONOCHROME1).
    """
    # pydicom reads the table (both VRs, both byte orders) and applies it.
    from pydicom.pixels.processing import apply_voi

    arr = np.asarray(values)
    if not np.issubdtype(arr.dtype, np.integer):
        arr = np.rint(arr).astype(np.int64)
    out = apply_voi(arr, ds, index)
    bits = int(ds.VOILUTSequence[index].LUTDescriptor[2])
    y = to_uint8(out, float(2**bits - 1))
    return np.subtract(255, y, dtype=np.uint8) if invert else y
