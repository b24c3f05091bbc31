"""Pixels: windows, LUTs, photometric handling, decoding errors (pydicom test files)."""

from __future__ import annotations

import copy

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import pixel_array
from pydicom.pixels.processing import apply_modality_lut, apply_voi_lut, apply_windowing

from teachingfiles.dicom._slices import read_slice_headers
from teachingfiles.dicom.pixels import DicomImage, decode, modality_values
from teachingfiles.dicom.voi import VoiFunction, Window, apply_window
from teachingfiles.errors import DecodeError, InvalidDicomError, MissingPixelDataError


def _pydicom_grey(ds: pydicom.Dataset, values: np.ndarray) -> np.ndarray:
    """pydicom's windowing output rescaled from its y range to 0..255."""
    out = apply_windowing(values.astype(np.float64), ds)
    bits = ds.BitsStored
    if ds.PixelRepresentation == 0:
        lo, hi = 0.0, 2.0**bits - 1
    else:
        lo, hi = -(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1
    if "RescaleSlope" in ds:
        lo = lo * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        hi = hi * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return (out - lo) / (hi - lo) * 255


@pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")  # pydicom's
@pytest.mark.parametrize("function", list(VoiFunction))
@pytest.mark.parametrize(("center", "width"), [(40, 400), (-600, 1500), (0.5, 1), (100, 2)])
def test_apply_window_matches_pydicom_for_every_voi_function(function, center, width):
    if function is not VoiFunction.LINEAR and width == 1:
        width = 0.5
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = center, width, function.value
    values = modality_values(ds, ds.pixel_array).astype(np.float64)
    values = np.concatenate([values.ravel(), np.linspace(-2000, 2000, 4001)])
    ours = apply_window(values, Window(center, width, function))
    ref = _pydicom_grey(ds, values)
    assert ours.dtype == np.uint8
    assert np.abs(ours.astype(float) - ref).max() <= 1.0


def test_window_validates_width_and_parses_command_line_text():
    with pytest.raises(ValueError, match="at least 1"):
        Window(40, 0.5)
    with pytest.raises(ValueError, match="greater than 0"):
        Window(40, 0, VoiFunction.SIGMOID)
    assert Window.parse("-600,1500") == Window(-600, 1500, name="C -600 W 1500")
    with pytest.raises(ValueError, match="CENTER,WIDTH"):
        Window.parse("lung")
    with pytest.raises(ValueError, match="VOI LUT Function 'cubic' is not one DICOM defines"):
        VoiFunction.parse("cubic")


def test_monochrome1_is_shown_inverted_so_bone_is_white():
    path = get_testdata_file("RG1_UNCR.dcm")
    image = DicomImage.from_file(path)
    assert image.photometric == "MONOCHROME1"
    ds = image.dataset
    stored = ds.pixel_array
    ref = 255 - _pydicom_grey(ds, apply_modality_lut(stored, ds))
    ours = image.display()
    assert np.abs(ours.astype(float) - ref).max() <= 1.0
    # high stored values (dense bone in MONOCHROME1 means low) are dark
    assert ours[stored == stored.max()].mean() < ours[stored == stored.min()].mean()


def test_modality_lut_sequence_is_applied():
    ds = pydicom.dcmread(get_testdata_file("mlut_18.dcm"))
    image = DicomImage.from_dataset(ds)
    np.testing.assert_array_equal(image.values(), apply_modality_lut(ds.pixel_array, ds))


def test_voi_lut_sequence_is_used_before_windows():
    ds = pydicom.dcmread(get_testdata_file("vlut_04.dcm"))
    assert "VOILUTSequence" in ds
    ours = DicomImage.from_dataset(ds).display()
    lut = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds)
    bits = ds.VOILUTSequence[0].LUTDescriptor[2]
    ref = lut.astype(float) * 255 / (2**bits - 1)
    assert np.abs(ours - ref).max() <= 1.0


def test_multi_valued_window_uses_the_first_and_lists_all():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.WindowCenter = [40, -600]
    ds.WindowWidth = [400, 1500]
    ds.WindowCenterWidthExplanation = ["MEDIASTINUM", "LUNG"]
    image = DicomImage.from_dataset(ds)
    assert [(w.center, w.width, w.name) for w in image.windows()] == [
        (40, 400, "MEDIASTINUM"),
        (-600, 1500, "LUNG"),
    ]
    np.testing.assert_array_equal(image.display(), apply_window(image.values(), Window(40, 400)))


def test_enhanced_ct_rescale_is_read_from_functional_groups():
    ds = pydicom.dcmread(get_testdata_file("eCT_Supplemental.dcm"))
    assert "RescaleSlope" not in ds
    image = DicomImage.from_dataset(ds)
    for frame in range(image.number_of_frames):
        item = ds.SharedFunctionalGroupsSequence[0]
        group = ds.PerFrameFunctionalGroupsSequence[frame]
        tr = (
            group.get("PixelValueTransformationSequence") or item.PixelValueTransformationSequence
        )[0]
        expected = ds.pixel_array[frame] * float(tr.RescaleSlope) + float(tr.RescaleIntercept)
        np.testing.assert_allclose(image.values(frame), expected)
    assert image.values(0).min() < -500  # air in HU, not stored values
    assert image.windows(0)  # the Frame VOI LUT group gives the file's window


def test_big_endian_and_little_endian_files_give_the_same_values():
    little = DicomImage.from_file(get_testdata_file("MR_small.dcm")).values()
    big = DicomImage.from_file(get_testdata_file("MR_small_bigendian.dcm")).values()
    assert big.dtype.byteorder in ("=", "|")
    np.testing.assert_array_equal(little, big)


@pytest.mark.parametrize(
    "name",
    ["emri_small.dcm", "emri_small_RLE.dcm", "emri_small_jpeg_ls_lossless.dcm",
     "emri_small_jpeg_2k_lossless.dcm", "emri_small_big_endian.dcm"],
)  # fmt: skip
def test_every_lossless_transfer_syntax_decodes_to_the_same_frames(name):
    reference = decode(get_testdata_file("emri_small.dcm"))
    np.testing.assert_array_equal(decode(get_testdata_file(name)), reference)
    np.testing.assert_array_equal(decode(get_testdata_file(name), frame=3), reference[3])


def test_colour_images_come_out_as_8_bit_rgb():
    ybr = DicomImage.from_file(get_testdata_file("SC_ybr_full_uncompressed.dcm"))
    rgb = DicomImage.from_file(get_testdata_file("SC_rgb.dcm"))
    assert ybr.is_color and ybr.display().shape == (100, 100, 3)
    # YBR is converted to RGB: close to the RGB original, and not the raw YBR planes
    raw = pixel_array(ybr.dataset, raw=True)
    assert np.abs(ybr.display().astype(int) - rgb.display().astype(int)).max() <= 8
    assert np.abs(ybr.display().astype(int) - raw.astype(int)).max() > 50
    deep = DicomImage.from_file(get_testdata_file("SC_rgb_16bit.dcm"))
    np.testing.assert_array_equal(
        deep.display(), np.rint(deep.stored() / 65535 * 255).astype(np.uint8)
    )


def test_palette_colour_goes_through_its_table():
    image = DicomImage.from_file(get_testdata_file("OBXXXX1A.dcm"))
    out = image.display()
    assert out.shape == (600, 800, 3) and out.dtype == np.uint8
    assert len(np.unique(out.reshape(-1, 3), axis=0)) > 2


def test_fast_uncompressed_read_equals_pydicom_for_odd_bit_depths(tmp_path):
    # 12 of 16 bits used, signed: the sign bit is bit 11 and the top bits hold junk
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    values = np.tile(np.array([-2048, -1, 0, 2047], np.int16), (64, 16))
    junk = (values.astype(np.uint16) & 0x0FFF) | 0xA000
    ds.Rows, ds.Columns = values.shape
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 1
    ds.PixelData = junk.astype("<u2").tobytes()
    path = tmp_path / "odd.dcm"
    ds.save_as(path)
    (header,) = read_slice_headers(path)
    assert header.pixel_offset is not None  # the fast path is taken
    np.testing.assert_array_equal(header.read_stored(), values)
    np.testing.assert_array_equal(header.read_stored(), pixel_array(path))


def test_missing_transfer_syntax_is_refused_with_the_fix():
    with pytest.raises(DecodeError, match=r"meta_missing_tsyntax\.dcm: .*set file_meta"):
        DicomImage.from_file(get_testdata_file("meta_missing_tsyntax.dcm"))


def test_non_image_objects_are_refused_as_such():
    with pytest.raises(MissingPixelDataError, match=r"rtplan\.dcm: RTPLAN object has no Pixel"):
        DicomImage.from_file(get_testdata_file("rtplan.dcm"))


def test_truncated_pixel_data_names_file_and_transfer_syntax():
    image = DicomImage.from_file(get_testdata_file("MR_truncated.dcm"))
    with pytest.raises(DecodeError, match=r"MR_truncated\.dcm: cannot decode .*Explicit VR Little"):
        image.display()


def test_a_missing_decoder_says_what_to_install(monkeypatch):
    ds = pydicom.dcmread(get_testdata_file("MR_small_jp2klossless.dcm"))
    import pydicom.pixels.utils as utils

    def no_plugins(*args, **kwargs):
        raise RuntimeError("Unable to decode as the plugins are missing dependencies")

    monkeypatch.setattr(utils, "pixel_array", no_plugins)
    monkeypatch.setattr("pydicom.pixels.pixel_array", no_plugins)
    with pytest.raises(DecodeError, match=r"JPEG 2000.*install pylibjpeg-openjpeg"):
        decode(ds, path="x.dcm")


def test_unknown_photometric_and_bad_frame_are_refused():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    bad = copy.deepcopy(ds)
    bad.PhotometricInterpretation = "CMYK"
    with pytest.raises(DecodeError, match="'CMYK' cannot be shown"):
        DicomImage.from_dataset(bad)
    with pytest.raises(DecodeError, match="frame 5 does not exist: the image has 1"):
        DicomImage.from_dataset(ds).display(5)


def test_not_dicom_is_an_invalid_dicom_error(tmp_path):
    path = tmp_path / "notes.dcm"
    path.write_text("hello")
    with pytest.raises(InvalidDicomError, match=r"notes\.dcm: not a DICOM file"):
        DicomImage.from_file(path)
