"""Key-image figures and JPEG thumbnails."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from PIL import Image
from pydicom.data import get_testdata_file

from teachingfiles.cases.figures import (
    key_image_figure,
    resolve_window,
    save_figure,
    thumbnail_jpeg,
    view_pixels,
)
from teachingfiles.cases.geometry import Shape
from teachingfiles.dicom.pixels import DicomImage
from teachingfiles.dicom.presets import WindowPreset
from teachingfiles.dicom.synthetic import write_ct_series
from teachingfiles.dicom.voi import Window, apply_window
from teachingfiles.dicom.volume import Volume
from teachingfiles.vocabulary import AnnotationMode


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    paths = write_ct_series(tmp_path_factory.mktemp("fig"), 8, 64, 64)
    vol = Volume.open(paths)
    vol.wait()
    return vol


def _pixels(fig) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3]


def test_view_pixels_apply_the_window_the_viewer_would(volume):
    pixels, spacing, letters, k = view_pixels(volume, window="lung")
    assert k == 4 and spacing == (0.7, 0.7) and letters["left"] == "R"
    np.testing.assert_array_equal(pixels, apply_window(volume.slice(4), WindowPreset.LUNG.window))
    file_window, *_ = view_pixels(volume, index=2)  # the file's own C 40 W 400
    np.testing.assert_array_equal(file_window, apply_window(volume.slice(2), Window(40, 400)))


def test_resolve_window_accepts_every_form():
    values = np.arange(10)
    assert resolve_window("bone", values).center == 400
    assert resolve_window("-600,1500", values).width == 1500
    assert resolve_window(WindowPreset.BRAIN, values).width == 80
    assert resolve_window(None, values).name == "auto"


def test_key_image_draws_annotations_in_their_label_colour_with_a_legend(volume, tmp_path):
    red = "#ff0000"
    shape = Shape(AnnotationMode.POLYGON, ((10, 10), (50, 10), (50, 40), (10, 40)),
                  volume.sop_uids[4], color=red, name="Infectious opacity")  # fmt: skip
    other = Shape(AnnotationMode.LOCATION, ((5, 5),), volume.sop_uids[0], color="#00ff00")
    fig = key_image_figure(volume, index=4, window="lung", shapes=[shape, other], dpi=64)
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "Infectious opacity"
    ]  # the point is elsewhere
    texts = {t.get_text() for t in ax.texts}
    assert {"R", "L", "A", "P"} <= texts and "1 cm" in texts
    rgb = _pixels(fig)
    is_red = np.all(np.abs(rgb.astype(int) - np.array(to_rgb(red)) * 255) < 40, axis=-1)
    assert is_red.sum() > 50
    out = save_figure(fig, tmp_path / "key.png")
    assert Image.open(out).size == (384, 384)


def test_key_image_of_a_reformat_and_of_a_radiograph(volume):
    fig = key_image_figure(volume, view="coronal", scale_bar=False)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"S", "I"} <= texts
    width, height = fig.get_size_inches()
    assert height / width == pytest.approx(8 * 1.25 / (64 * 0.7))  # the spacing's aspect
    cr = DicomImage.from_file(get_testdata_file("RG3_UNCR.dcm"))
    fig = key_image_figure(cr, orientation=False, title="Non-ossifying fibroma", dpi=20)
    assert any(t.get_text() == "Non-ossifying fibroma" for t in fig.axes[0].texts)


def test_thumbnail_is_a_small_jpeg_with_the_right_aspect():
    pixels = np.tile(np.arange(256, dtype=np.uint8), (128, 2))
    data = thumbnail_jpeg(pixels, size=128)
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG" and img.size == (128, 32)
    stretched = Image.open(io.BytesIO(thumbnail_jpeg(pixels, size=128, aspect=4.0)))
    assert stretched.size == (128, 128)
    rgb = np.zeros((40, 20, 3), np.uint8)
    assert Image.open(io.BytesIO(thumbnail_jpeg(rgb, size=64))).mode == "RGB"
