"""DICOM: pixels right for every image type, volumes, reformats and window presets.

The public face of the subpackage; the modules behind it are small and private
in spirit (``pixels``, ``voi``, ``presets``, ``volume``, ``reformat``, ``seg``).
"""

from teachingfiles.dicom.pixels import DicomImage, decode, display, modality_values, read_dataset
from teachingfiles.dicom.presets import WindowPreset, auto_window, file_windows
from teachingfiles.dicom.reformat import View, ViewPlan, orientation_letters, plan_view
from teachingfiles.dicom.seg import Segment, read_segments
from teachingfiles.dicom.voi import VoiFunction, Window, apply_window
from teachingfiles.dicom.volume import SliceHeader, Volume

# from teachingfiles.dicom.headers import ...   (the catalog's header reader, re-exported here)

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
