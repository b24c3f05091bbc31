"""Reformats: views, aspect, orientation letters and point mapping."""

from __future__ import annotations

import numpy as np
import pytest

from teachingfiles.dicom.reformat import View, orientation_letters, plan_view
from teachingfiles.dicom.synthetic import write_ct_series
from teachingfiles.dicom.volume import Volume


@pytest.fixture(scope="module")
def axial(tmp_path_factory):
    paths = write_ct_series(tmp_path_factory.mktemp("axial"), 10, 24, 32, slice_spacing=2.5)
    vol = Volume.open(paths)
    vol.wait()
    return vol


def test_axial_is_the_acquired_slices_as_they_are(axial):
    plan = plan_view(axial, "axial")
    assert plan.count == 10 and plan.aspect == pytest.approx(1.0)
    np.testing.assert_array_equal(plan.image(axial.array, 4), axial.slice(4))
    np.testing.assert_array_equal(plan.image_of(axial, 4), axial.slice(4))
    assert orientation_letters(axial, plan) == {
        "left": "R",
        "right": "L",
        "top": "A",
        "bottom": "P",
    }


def test_coronal_has_superior_at_the_top_and_the_aspect_of_the_spacing(axial):
    plan = plan_view(axial, View.CORONAL)
    assert plan.count == 24  # one image per row of the axial slices
    img = plan.image(axial.array, 5)
    assert img.shape == (10, 32)
    np.testing.assert_array_equal(img[0], axial.array[9, 5])  # top row: most superior slice
    np.testing.assert_array_equal(img[-1], axial.array[0, 5])
    assert plan.aspect == pytest.approx(2.5 / 0.7)
    assert orientation_letters(axial, plan) == {
        "left": "R",
        "right": "L",
        "top": "S",
        "bottom": "I",
    }


def test_sagittal_has_anterior_on_the_left(axial):
    plan = plan_view(axial, "sag")
    img = plan.image(axial.array, 7)
    assert img.shape == (10, 24)
    np.testing.assert_array_equal(img[0], axial.array[9, :, 7])
    letters = orientation_letters(axial, plan)
    assert (letters["left"], letters["right"], letters["top"]) == ("A", "P", "S")


@pytest.mark.parametrize("view", list(View))
def test_points_map_between_view_volume_and_patient(axial, view):
    plan = plan_view(axial, view)
    rng = np.random.default_rng(0)
    for _ in range(20):
        k = int(rng.integers(plan.count))
        x, y = rng.uniform(0, plan.shape[2] - 1), rng.uniform(0, plan.shape[1] - 1)
        idx = plan.to_volume(k, x, y)
        np.testing.assert_allclose(plan.from_volume(idx), [k, x, y])
        xyz = axial.index_to_patient(idx)
        np.testing.assert_allclose(axial.patient_to_index(xyz), idx, atol=1e-9)
        # the pixel drawn at (x, y) of the view is the voxel at those indices
        xi, yi = round(x), round(y)
        voxel = tuple(round(float(v)) for v in plan.to_volume(k, xi, yi))
        assert plan.image(axial.array, k)[yi, xi] == axial.array[voxel]


def test_a_coronal_acquisition_shows_the_same_anatomy_in_each_view(tmp_path):
    # coronal slices: rows run inferior (-z), columns to the left (+x), normal posterior
    paths = write_ct_series(tmp_path, 8, 12, 16, orientation=(1, 0, 0, 0, 0, -1), slice_spacing=3)
    vol = Volume.open(paths)
    assert np.allclose(vol.normal, [0, 1, 0])
    cor = plan_view(vol, "coronal")
    assert cor.axes[0] == 0 and cor.count == 8
    np.testing.assert_array_equal(cor.image_of(vol, 2), vol.slice(2))
    ax = plan_view(vol, "axial")
    assert ax.count == 12 and ax.image(vol.wait(), 0).shape == (8, 16)
    assert ax.aspect == pytest.approx(3 / 0.7)
    # axial image 0 is the most inferior: the last row of each coronal slice
    np.testing.assert_array_equal(ax.image(vol.wait(), 0), vol.wait()[:, -1, :])


def test_views_parse_and_refuse_unknown_names(axial):
    assert View.parse("Coronal") is View.CORONAL
    with pytest.raises(ValueError, match="'oblique' is not a view"):
        View.parse("oblique")
    with pytest.raises(IndexError, match="coronal image 24 does not exist: 0 to 23"):
        plan_view(axial, "coronal").image(axial.array, 24)
