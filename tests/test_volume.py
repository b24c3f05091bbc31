"""Volume: ordering, spacing, honest warnings, lazy parallel loading, memory."""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import JPEG2000Lossless, RLELossless

from teachingfiles.dicom.synthetic import phantom_slice, write_ct_series
from teachingfiles.dicom.volume import SliceHeader, Volume
from teachingfiles.errors import DecodeError, NotFoundError, TeachingFilesWarning, UsageError


def _expected(n: int, rows: int, cols: int) -> np.ndarray:
    return np.stack([phantom_slice(rows, cols, k, n) for k in range(n)])


def test_slices_are_ordered_along_the_normal_whatever_the_file_order(tmp_path):
    paths = write_ct_series(tmp_path, 12, 32, 40)
    shuffled = paths[:]
    random.Random(1).shuffle(shuffled)
    with Volume.open(shuffled) as vol:
        np.testing.assert_array_equal(vol.wait(), _expected(12, 32, 40))
        assert vol.shape == (12, 32, 40) and vol.dtype == np.int16
        assert vol.spacing == pytest.approx((1.25, 0.7, 0.7))
        assert vol.sop_uids == tuple(pydicom.dcmread(p).SOPInstanceUID for p in paths)
        assert vol.index_of(pydicom.dcmread(paths[7]).SOPInstanceUID) == 7
        assert vol.warnings == []
        assert vol.orientation == (1, 0, 0, 0, 1, 0)
    np.testing.assert_array_equal(Volume.from_files(paths).wait(), _expected(12, 32, 40))
    datasets = [pydicom.dcmread(p) for p in paths]
    np.testing.assert_array_equal(Volume.from_datasets(datasets).wait(), _expected(12, 32, 40))


def test_feet_first_normal_still_orders_by_position(tmp_path):
    # orientation with the normal pointing inferior: index grows along the normal
    paths = write_ct_series(tmp_path, 6, 16, 16, orientation=(1, 0, 0, 0, -1, 0))
    with Volume.open(paths[::-1]) as vol:
        assert np.allclose(vol.normal, [0, 0, -1])
        np.testing.assert_array_equal(vol.wait(), _expected(6, 16, 16))


def test_datasets_and_compressed_files_give_the_same_volume(tmp_path):
    plain = write_ct_series(tmp_path / "plain", 5, 64, 64)
    rle = write_ct_series(tmp_path / "rle", 5, 64, 64, compress=RLELossless)
    j2k = write_ct_series(tmp_path / "j2k", 5, 64, 64, compress=JPEG2000Lossless)
    reference = Volume.open(plain).wait()
    np.testing.assert_array_equal(
        Volume.open([pydicom.dcmread(p) for p in plain]).wait(), reference
    )
    np.testing.assert_array_equal(Volume.open(rle).wait(), reference)
    np.testing.assert_array_equal(Volume.open(j2k).wait(), reference)


def test_a_slice_is_decoded_on_demand_without_background_loading(tmp_path):
    paths = write_ct_series(tmp_path, 8, 16, 16)
    vol = Volume.open(paths, background=False)
    assert vol.loaded == 0
    np.testing.assert_array_equal(vol.slice(3), phantom_slice(16, 16, 3, 8))
    assert vol.loaded == 1 and vol.is_ready(3) and not vol.is_ready(4)
    assert vol.slice(-1) is not None and vol.loaded == 2
    with pytest.raises(NotFoundError, match="slice 8 does not exist: the volume has 8 slices"):
        vol.slice(8)
    vol.wait()
    assert vol.loaded == 8


def test_missing_slice_is_reported(tmp_path):
    paths = write_ct_series(tmp_path, 10, 16, 16)
    with pytest.warns(TeachingFilesWarning, match=r"1 slice\(s\) missing: gaps of up to 2.50 mm"):
        vol = Volume.open(paths[:4] + paths[5:])
    assert vol.spacing[0] == pytest.approx(1.25)
    assert len(vol.warnings) == 1


def test_duplicate_slices_are_dropped_and_reported(tmp_path):
    paths = write_ct_series(tmp_path, 6, 16, 16)
    with pytest.warns(TeachingFilesWarning, match=r"1 duplicate slice\(s\)"):
        vol = Volume.open([*paths, paths[2]])
    assert vol.shape[0] == 6


def test_uneven_spacing_is_reported(tmp_path):
    z = [0, 1.0, 2.0, 3.3, 4.3, 5.3]
    paths = write_ct_series(tmp_path, 6, 16, 16, positions=[(0, 0, v) for v in z])
    with pytest.warns(TeachingFilesWarning, match="uneven slice spacing from 1.000 to 1.300 mm"):
        vol = Volume.open(paths)
    # positions stay exact per slice
    assert vol.index_to_patient([3, 0, 0])[2] == pytest.approx(3.3)


def test_gantry_tilt_is_reported(tmp_path):
    tilt = np.tan(np.radians(15))
    paths = write_ct_series(tmp_path, 5, 16, 16, positions=[(0, k * tilt, k) for k in range(5)])
    with pytest.warns(TeachingFilesWarning, match="gantry tilt of 15.0 degrees"):
        Volume.open(paths)


def test_mixed_sizes_keep_the_majority(tmp_path):
    paths = write_ct_series(tmp_path / "a", 5, 16, 16)
    odd = write_ct_series(tmp_path / "b", 1, 20, 20)
    with pytest.warns(
        TeachingFilesWarning, match=r"mixed image sizes .*kept the 5 slices of 16x16"
    ):
        vol = Volume.open(paths + odd)
    assert vol.shape == (5, 16, 16)


def test_instance_number_is_the_fallback_without_positions(tmp_path):
    paths = write_ct_series(tmp_path, 4, 16, 16)
    datasets = []
    for p in paths[::-1]:
        ds = pydicom.dcmread(p)
        del ds.ImagePositionPatient
        datasets.append(ds)
    with pytest.warns(TeachingFilesWarning, match="ordered by Instance Number"):
        vol = Volume.open(datasets)
    np.testing.assert_array_equal(vol.wait(), _expected(4, 16, 16))


def test_enhanced_ct_frames_are_slices_placed_by_their_functional_groups():
    path = get_testdata_file("eCT_Supplemental.dcm")
    ds = pydicom.dcmread(path)
    with Volume.open([path]) as vol:
        assert vol.shape == (2, 512, 512)
        groups = ds.PerFrameFunctionalGroupsSequence
        pos = np.array([[float(v) for v in g.PlanePositionSequence[0].ImagePositionPatient]
                        for g in groups])  # fmt: skip
        dist = pos @ vol.normal
        np.testing.assert_allclose(pos[np.argsort(dist)], vol.positions)
        k = int(np.argmin(dist))
        tr = ds.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
        hu = ds.pixel_array[k] * float(tr.RescaleSlope) + float(tr.RescaleIntercept)
        np.testing.assert_array_equal(vol.slice(0), hu)
        assert vol.index_of(vol.sop_uids[0], k) == 0


def test_multiframe_without_geometry_falls_back_with_a_warning():
    path = get_testdata_file("emri_small.dcm")  # its functional groups were stripped
    with pytest.warns(TeachingFilesWarning, match="ordered by Instance Number"):
        vol = Volume.open([path])
    np.testing.assert_array_equal(vol.wait(), pydicom.dcmread(path).pixel_array)


def test_patient_and_index_coordinates_round_trip(tmp_path):
    paths = write_ct_series(tmp_path, 6, 20, 30, orientation=(0.8, 0.6, 0, -0.6, 0.8, 0))
    vol = Volume.open(paths)
    idx = np.array([[0, 0, 0], [2.5, 3, 7], [5, 19, 29]], float)
    xyz = vol.index_to_patient(idx)
    np.testing.assert_allclose(vol.patient_to_index(xyz), idx, atol=1e-9)
    np.testing.assert_allclose(xyz[1], (vol.affine @ np.r_[idx[1], 1])[:3])
    # one column step moves 0.7 mm along the row direction
    step = vol.index_to_patient([0, 0, 1]) - vol.index_to_patient([0, 0, 0])
    np.testing.assert_allclose(step, [0.56, 0.42, 0])


def test_errors_name_what_is_wrong(tmp_path):
    with pytest.raises(UsageError, match="got no files"):
        Volume.open([])
    rgb = get_testdata_file("SC_rgb.dcm")
    with pytest.raises(DecodeError, match="a volume needs grey images, but this one is RGB"):
        Volume.open([rgb])
    vol = Volume.open(write_ct_series(tmp_path, 3, 8, 8))
    with pytest.raises(
        NotFoundError, match=r"SOP Instance UID 1\.2\.3 .* not a slice of this volume"
    ):
        vol.index_of("1.2.3")


def test_a_broken_slice_fails_when_asked_for(tmp_path):
    paths = write_ct_series(tmp_path, 4, 16, 16)
    headers = [
        SliceHeader.from_dataset(pydicom.dcmread(p, defer_size=64), path=str(p)) for p in paths
    ]
    paths[2].write_bytes(paths[2].read_bytes()[:400])  # truncated after the header was read
    vol = Volume.open([], headers=headers)
    np.testing.assert_array_equal(vol.slice(1), phantom_slice(16, 16, 1, 4))
    with pytest.raises(DecodeError, match=r"slice-0002\.dcm"):
        vol.slice(2)
    with pytest.raises(DecodeError):
        vol.wait()


def test_loading_holds_little_more_than_the_volume(tmp_path):
    n, rows, cols = 40, 256, 256
    paths = write_ct_series(tmp_path, n, rows, cols)
    tracemalloc.start()
    try:
        vol = Volume.open(paths, workers=2)
        vol.wait()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    volume_bytes = n * rows * cols * 2
    assert peak <= 1.3 * volume_bytes, f"peak {peak / volume_bytes:.2f}x the int16 volume"


def test_fast_catalog_header_reader_and_pydicom_agree_on_every_field(tmp_path):
    from teachingfiles.dicom._slices import _from_fast_header, read_slice_headers

    (path,) = write_ct_series(tmp_path, 1, 32, 32)
    fast = _from_fast_header(str(path))
    if fast is None:
        pytest.skip("teachingfiles.dicom.headers is not available")
    slow = SliceHeader.from_dataset(pydicom.dcmread(path, defer_size=64), path=str(path))
    assert fast == slow
    assert read_slice_headers(path) == [fast]


def test_deflated_series_decodes_like_pydicom(tmp_path: Path) -> None:
    """RICORD 1B ships Deflated Explicit VR files: pydicom must inflate them to decode."""
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    paths = write_ct_series(tmp_path, n=6, rows=32, cols=32)
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
        ds.save_as(p, enforce_file_format=True)
    volume = Volume.from_files(paths)
    for k, p in enumerate(paths):
        ds = pydicom.dcmread(p)
        hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        assert np.array_equal(volume.array[k], hu)
