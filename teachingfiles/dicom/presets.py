"""Window presets: the named CT windows, the file's own windows, and an automatic one.

Values (centre / width, Hounsfield units) are the ones taught in chest and neuro
radiology; each preset documents what it is for:

============  =======  ======  ==========================================================
preset        centre   width   shows
============  =======  ======  ==========================================================
lung          -600     1500    lung parenchyma, ground-glass, consolidation, airways
mediastinum   40       400     vessels, nodes, heart, pleural fluid
bone          400      1800    cortex and marrow of ribs and spine; the wider window
                               (rather than 300/1500) keeps dense cortex and surgical
                               metal from saturating, which is what chest CT bone
                               review needs
soft_tissue   50       350     chest wall, abdomen in the upper slices
brain         40       80      grey/white matter on head CT
============  =======  ======  ==========================================================
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from teachingfiles.dicom.voi import VoiFunction, Window

__all__ = ["WindowPreset", "auto_window", "file_windows"]


class WindowPreset(StrEnum):
    """Named CT windows (see the module docstring for the values and their use)."""

    LUNG = "lung"
    MEDIASTINUM = "mediastinum"
    BONE = "bone"
    SOFT_TISSUE = "soft_tissue"
    BRAIN = "brain"

    @property
    def window(self) -> Window:
        """The preset as a :class:`Window` (LINEAR function)."""
        center, width = _PRESET_VALUES[self]
        return Window(center, width, VoiFunction.LINEAR, name=self.value)

    @classmethod
    def parse(cls, value: Self | str) -> Self:
        """Accept the member, its value or name, any case, spaces or hyphens.

        Raises
        ------
        ValueError
            Naming the presets that exist.
        """
        if isinstance(value, cls):
            return value
        key = str(value).strip().lower().replace("-", "_").replace(" ", "_")
        for member in cls:
            if key == member.value:
                return member
        choices = ", ".join(m.value for m in cls)
        raise ValueError(f"{value!r} is not a window preset; expected one of {choices}")


_PRESET_VALUES: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (40.0, 400.0),
    "bone": (400.0, 1800.0),
    "soft_tissue": (50.0, 350.0),
    "brain": (40.0, 80.0),
}


def _values(elem: Any) -> list[float]:
    if elem is None:
        return []
    if isinstance(elem, str | int | float):
        return [float(elem)]
    return [float(v) for v in elem]  # a MultiValue of DS


def file_windows(ds: Dataset, frame: int | None = None) -> list[Window]:
    """List the windows the file itself proposes, in file order (may be empty).

    Window Center / Width may be multi-valued; Window Center & Width Explanation
    names them. Enhanced multi-frame images keep them in the Frame VOI LUT
    functional group (per frame, or shared), which is searched first for
    ``frame``.
    """
    from teachingfiles.dicom.pixels import frame_attribute

    source = frame_attribute(ds, "FrameVOILUTSequence", "WindowCenter", frame)
    holder = ds
    if source is not None:
        holder = source
    centers = _values(holder.get("WindowCenter"))
    widths = _values(holder.get("WindowWidth"))
    names = _values_text(holder.get("WindowCenterWidthExplanation"))
    function = VoiFunction.parse(holder.get("VOILUTFunction") or ds.get("VOILUTFunction"))
    windows = []
    for i, (c, w) in enumerate(zip(centers, widths, strict=False)):
        name = names[i] if i < len(names) and names[i] else f"file {i + 1}"
        try:
            windows.append(Window(c, w, function, name=name))
        except ValueError:
            continue  # a zero-width window in a file is unusable, not fatal
    return windows


def _values_text(elem: object) -> list[str]:
    if elem is None:
        return []
    if isinstance(elem, str):
        return [elem]
    return [str(v) for v in elem]  # type: ignore[attr-defined]


def auto_window(values: npt.ArrayLike, *, name: str = "auto") -> Window:
    """Choose a window for images that carry none: the 1st to 99th percentile of values.

    Percentiles (rather than min/max) keep a few hot pixels or the padding
    outside a CT's field of view from flattening the image. A constant image
    gets a width-1 window at its value.
    """
    arr = np.asarray(values)
    if arr.size > 1_000_000:  # a strided sample is plenty for percentiles
        arr = arr.reshape(-1)[:: arr.size // 1_000_000]
    finite = arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr
    if finite.size == 0:
        return Window(0.0, 1.0, name=name)
    lo, hi = (float(v) for v in np.percentile(finite, [1.0, 99.0]))
    if hi - lo < 1.0:
        lo, hi = float(finite.min()), float(finite.max())
    width = max(hi - lo + 1.0, 1.0)
    return Window(lo + 0.5 + (width - 1.0) / 2.0, width, name=name)
