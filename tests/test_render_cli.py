"""``teachingfiles render``: the PNG is exactly what the viewer shows."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from teachingfiles.cli import main
from teachingfiles.dicom.pixels import DicomImage
from teachingfiles.dicom.presets import WindowPreset
from teachingfiles.dicom.synthetic import phantom_slice, write_ct_series
from teachingfiles.dicom.voi import Window, apply_window


def _png(path) -> np.ndarray:
    return np.asarray(Image.open(path))


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("CT_small.dcm", "L"),
        ("RG1_J2KR.dcm", "L"),
        ("US1_J2KR.dcm", "RGB"),
        ("OBXXXX1A.dcm", "RGB"),
    ],
)
def test_a_file_renders_as_the_viewer_shows_it(tmp_path, capsys, name, mode):
    out = tmp_path / "out.png"
    assert main(["render", get_testdata_file(name), str(out)]) == 0
    img = Image.open(out)
    assert img.mode == mode
    np.testing.assert_array_equal(
        _png(out), DicomImage.from_file(get_testdata_file(name)).display()
    )
    assert f"{out}: {img.width}x{img.height}" in capsys.readouterr().out


def test_preset_window_and_frame_options(tmp_path):
    ct = get_testdata_file("CT_small.dcm")
    image = DicomImage.from_file(ct)
    main(["render", ct, str(tmp_path / "lung.png"), "--preset", "lung"])
    np.testing.assert_array_equal(
        _png(tmp_path / "lung.png"), apply_window(image.values(), WindowPreset.LUNG.window)
    )
    main(["render", ct, str(tmp_path / "w.png"), "--window", "100,50"])
    np.testing.assert_array_equal(
        _png(tmp_path / "w.png"), apply_window(image.values(), Window(100, 50))
    )
    mf = get_testdata_file("emri_small.dcm")
    main(["render", mf, str(tmp_path / "f.png"), "--frame", "7"])
    np.testing.assert_array_equal(_png(tmp_path / "f.png"), DicomImage.from_file(mf).display(7))


def test_a_series_folder_renders_slices_and_reformats(tmp_path):
    series = tmp_path / "series"
    write_ct_series(series, 10, 40, 48, slice_spacing=1.4)
    (series / "notes.txt").write_text("not DICOM, skipped")
    out = tmp_path / "axial.png"
    assert main(["render", str(series), str(out), "--slice", "3", "--preset", "mediastinum"]) == 0
    expected = apply_window(phantom_slice(40, 48, 3, 10), WindowPreset.MEDIASTINUM.window)
    np.testing.assert_array_equal(_png(out), expected)
    cor = tmp_path / "coronal.png"
    assert main(["render", str(series), str(cor), "--view", "coronal"]) == 0
    assert _png(cor).shape == (20, 48)  # 10 slices of 1.4 mm stretched to 0.7 mm pixels


def test_refused_images_exit_non_zero_with_the_reason(tmp_path, capsys):
    status = main(["render", get_testdata_file("MR_truncated.dcm"), str(tmp_path / "x.png")])
    assert status == 1
    err = capsys.readouterr().err
    assert "MR_truncated.dcm: cannot decode the pixel data" in err
    assert not (tmp_path / "x.png").exists()
    status = main(["render", get_testdata_file("CT_small.dcm"), str(tmp_path / "x.png"),
                   "--view", "coronal"])  # fmt: skip
    assert status == 1 and "needs a series" in capsys.readouterr().err


def test_annotations_from_an_mdai_export_are_drawn_only_when_asked(tmp_path, capsys):
    ct = get_testdata_file("CT_small.dcm")
    sop = DicomImage.from_file(ct).dataset.SOPInstanceUID
    export = {
        "labelGroups": [{"id": "G_1", "name": "g", "labels": [
            {"id": "L_1", "name": "Infectious opacity", "annotationMode": "polygon",
             "color": "#ff0000", "scope": "INSTANCE"}]}],
        "datasets": [{"id": "D_1", "name": "d", "studies": [], "annotations": [
            {"id": "A_1", "labelId": "L_1", "StudyInstanceUID": "1.2", "SOPInstanceUID": sop,
             "data": {"vertices": [[20, 20], [100, 20], [100, 90], [20, 90]]}}]}],
    }  # fmt: skip
    mdai = tmp_path / "mdai.json"
    mdai.write_text(json.dumps(export))
    plain, drawn = tmp_path / "plain.png", tmp_path / "drawn.png"
    main(["render", ct, str(plain), "--mdai", str(mdai)])
    main(["render", ct, str(drawn), "--annotations", "--mdai", str(mdai)])
    assert Image.open(plain).mode == "L"
    rgb = _png(drawn)
    red = (rgb[..., 0] == 255) & (rgb[..., 1] == 0) & (rgb[..., 2] == 0)
    assert red[20, 20:101].all() and red[20:91, 100].all() and not red[50, 50]
    main(["render", ct, str(tmp_path / "n.png"), "--annotations"])
    assert "no annotations to draw" in capsys.readouterr().err
