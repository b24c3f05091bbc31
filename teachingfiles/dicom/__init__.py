"""DICOM: pixels right for every image type, volumes, reformats and window presets.

The public face of the subpackage; the modules behind it are small and private
in spirit (``pixels``, ``voi``, ``presets``, ``volume``, ``reformat``, ``seg``).
Names load on first use: the catalog's fast header reader
(:mod:`teachingfiles.dicom.headers`) lives in this package too, and importing it
must not pull in numpy and pydicom's pixel machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from teachingfiles.dicom.pixels import (
        DicomImage,
        decode,
        display,
        modality_values,
        read_dataset,
    )
    from teachingfiles.dicom.presets import WindowPreset, auto_window, file_windows
    from teachingfiles.dicom.reformat import View, ViewPlan, orientation_letters, plan_view
    from teachingfiles.dicom.seg import Segment, read_segments
    from teachingfiles.dicom.voi import VoiFunction, Window, apply_window
    from teachingfiles.dicom.volume import SliceHeader, Volume

_HOME = {
    "DicomImage": "pixels",
    "decode": "pixels",
    "display": "pixels",
    "modality_values": "pixels",
    "read_dataset": "pixels",
    "WindowPreset": "presets",
    "auto_window": "presets",
    "file_windows": "presets",
    "View": "reformat",
    "ViewPlan": "reformat",
    "orientation_letters": "reformat",
    "plan_view": "reformat",
    "Segment": "seg",
    "read_segments": "seg",
    "VoiFunction": "voi",
    "Window": "voi",
    "apply_window": "voi",
    "SliceHeader": "volume",
    "Volume": "volume",
}

__all__ = [
    "DicomImage",
    "Segment",
    "SliceHeader",
    "View",
    "ViewPlan",
    "VoiFunction",
    "Volume",
    "Window",
    "WindowPreset",
    "apply_window",
    "auto_window",
    "decode",
    "display",
    "file_windows",
    "modality_values",
    "orientation_letters",
    "plan_view",
    "read_dataset",
    "read_segments",
]


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"teachingfiles.dicom.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
