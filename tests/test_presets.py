"""Window presets, file windows and the automatic window."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from teachingfiles.dicom.presets import WindowPreset, auto_window, file_windows
from teachingfiles.dicom.voi import VoiFunction, Window


def test_presets_have_the_documented_values():
    assert {p.value: (p.window.center, p.window.width) for p in WindowPreset} == {
        "lung": (-600, 1500),
        "mediastinum": (40, 400),
        "bone": (400, 1800),
        "soft_tissue": (50, 350),
        "brain": (40, 80),
    }
    assert WindowPreset.LUNG.window.function is VoiFunction.LINEAR
    assert WindowPreset.LUNG.window.name == "lung"


def test_preset_names_parse_loosely_and_unknown_names_list_the_choices():
    assert WindowPreset.parse("Soft Tissue") is WindowPreset.SOFT_TISSUE
    assert WindowPreset.parse("soft-tissue") is WindowPreset.SOFT_TISSUE
    with pytest.raises(ValueError, match="'liver' is not a window preset; expected one of lung"):
        WindowPreset.parse("liver")


def test_file_windows_read_every_value_and_the_function():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.WindowCenter, ds.WindowWidth = [40, 300], [400, 1500]
    ds.VOILUTFunction = "SIGMOID"
    assert file_windows(ds) == [
        Window(40, 400, VoiFunction.SIGMOID, "file 1"),
        Window(300, 1500, VoiFunction.SIGMOID, "file 2"),
    ]
    del ds.WindowCenter
    assert file_windows(ds) == []


def test_a_zero_width_window_in_a_file_is_skipped():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.WindowCenter, ds.WindowWidth = [40, 50], [0, 350]
    assert [w.width for w in file_windows(ds)] == [350]


def test_auto_window_spans_the_bulk_of_the_values_not_the_outliers():
    rng = np.random.default_rng(0)
    values = rng.normal(100, 20, 10_000)
    values[:5] = 30_000  # hot pixels
    win = auto_window(values)
    assert win.name == "auto"
    assert 40 < win.low < 60 and 140 < win.high < 160
    flat = auto_window(np.full((4, 4), 7))
    assert (flat.center, flat.width) == (7.5, 1.0)


def test_the_dicom_package_public_names_are_pinned():
    import teachingfiles.dicom as dicom

    assert sorted(dicom.__all__) == [
        "DicomImage", "Segment", "SliceHeader", "View", "ViewPlan", "VoiFunction", "Volume",
        "Window", "WindowPreset", "apply_window", "auto_window", "decode", "display",
        "file_windows", "modality_values", "orientation_letters", "plan_view", "read_dataset",
        "read_segments",
    ]  # fmt: skip
    assert all(hasattr(dicom, name) for name in dicom.__all__)
