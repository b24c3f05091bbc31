"""One slice of a series: the header facts a volume needs, and fast pixel reading.

Uncompressed little-endian slices skip pydicom's ``pixel_array`` (which copies
the whole file into memory and validates a lot): the header is read with
``defer_size`` so pydicom records where Pixel Data starts, and the pixels are
read straight from that offset with :func:`numpy.fromfile`, which releases the
GIL, so several threads read at once. Everything else goes through
:func:`pydicom.pixels.pixel_array` one frame at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike, fspath
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian

from teachingfiles.dicom.pixels import (
    MONOCHROME,
    _check_decodable,
    _decode_message,
    frame_attribute,
    number_of_frames,
    read_dataset,
    transfer_syntax,
)
from teachingfiles.errors import DecodeError, InvalidDicomError, TeachingFilesError

__all__ = ["SliceHeader", "fix_bits", "read_slice_headers"]

_UNCOMPRESSED_LE = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")


def _floats(value: Any, n: int) -> tuple[float, ...] | None:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return out if len(out) == n and all(np.isfinite(out)) else None


@dataclass(frozen=True)
class SliceHeader:
    """What a :class:`~teachingfiles.dicom.volume.Volume` needs to know of one slice.

    A catalog that already indexed the headers can build these itself (only
    ``path``, ``sop_uid``, ``rows``, ``columns`` and the geometry are needed) and
    pass them to ``Volume.open(..., headers=...)``, so opening reads no header twice.
    """

    sop_uid: str
    rows: int
    columns: int
    position: tuple[float, ...] | None = None
    orientation: tuple[float, ...] | None = None
    pixel_spacing: tuple[float, ...] | None = None
    instance_number: int | None = None
    slope: float = 1.0
    intercept: float = 0.0
    path: str | None = None
    frame: int | None = None
    modality: str = "OT"
    photometric: str = "MONOCHROME2"
    pixel_offset: int | None = None
    pixel_dtype: str | None = None
    bits_stored: int = 16
    dataset: Dataset | None = None
    deflated: bool = False

    @classmethod
    def from_dataset(
        cls, ds: Dataset, *, path: str | None = None, frame: int | None = None
    ) -> SliceHeader:
        """Read the header of one slice (or of one frame of an enhanced multi-frame object)."""
        where = path or getattr(ds, "filename", None)
        where = where if isinstance(where, str) else None
        _check_decodable(ds, where)
        g = ds.get
        pos_holder = ori_holder = spc_holder = tr_holder = ds
        if 0x52009229 in ds or 0x52009230 in ds:  # enhanced: functional groups
            pos_holder = (
                frame_attribute(ds, "PlanePositionSequence", "ImagePositionPatient", frame) or ds
            )
            ori_holder = (
                frame_attribute(ds, "PlaneOrientationSequence", "ImageOrientationPatient", frame)
                or ds
            )
            spc_holder = frame_attribute(ds, "PixelMeasuresSequence", "PixelSpacing", frame) or ds
            tr_holder = (
                frame_attribute(ds, "PixelValueTransformationSequence", "RescaleSlope", frame) or ds
            )
        slope = tr_holder.get("RescaleSlope")
        intercept = tr_holder.get("RescaleIntercept")
        number = g("InstanceNumber")
        try:
            instance = None if number in (None, "") else int(number)
        except (TypeError, ValueError):
            instance = None
        spacing = spc_holder.get("PixelSpacing")
        if spacing is None and 0x00181164 in ds:
            spacing = g("ImagerPixelSpacing")
        bits_allocated = g("BitsAllocated")
        bits_stored = g("BitsStored")
        return cls(
            sop_uid=str(g("SOPInstanceUID", "")),
            rows=int(ds.Rows),
            columns=int(ds.Columns),
            position=_floats(pos_holder.get("ImagePositionPatient"), 3),
            orientation=_floats(ori_holder.get("ImageOrientationPatient"), 6),
            pixel_spacing=_floats(spacing, 2),
            instance_number=instance,
            slope=1.0 if slope in (None, "") else float(slope),
            intercept=0.0 if intercept in (None, "") else float(intercept),
            path=where,
            frame=frame,
            modality=str(g("Modality") or "OT"),
            photometric=str(g("PhotometricInterpretation", "")),
            pixel_offset=_pixel_offset(ds),
            pixel_dtype=_fast_dtype(ds, bits_allocated),
            bits_stored=int(bits_stored or bits_allocated or 16),
            dataset=None if where else ds,
            deflated=transfer_syntax(ds) == DeflatedExplicitVRLittleEndian,
        )

    def read_stored(self) -> npt.NDArray[Any]:
        """Decode this slice's stored values (2-D)."""
        if self.pixel_offset is not None and self.pixel_dtype is not None and self.path:
            count = self.rows * self.columns
            arr = np.fromfile(self.path, self.pixel_dtype, count, offset=self.pixel_offset)
            if arr.size == count:
                return fix_bits(arr.reshape(self.rows, self.columns), self.bits_stored)
        from pydicom.pixels.utils import pixel_array

        source: Any = self.dataset if self.dataset is not None else self.path
        if self.deflated and self.dataset is None and self.path:
            # pydicom decodes a path from the raw stream and cannot see into a Deflated
            # data set (RICORD 1B); dcmread inflates it.
            source = read_dataset(self.path)
        try:
            arr = pixel_array(source, index=self.frame)
        except Exception as exc:  # pydicom raises many kinds; all mean "cannot decode"
            ds = source if isinstance(source, Dataset) else read_dataset(source)
            raise DecodeError(_decode_message(ds, exc), path=self.path, tag="PixelData") from exc
        if arr.ndim == 3 and self.frame is None:
            arr = arr[0]
        if arr.dtype.byteorder not in ("=", "|"):
            arr = arr.astype(arr.dtype.newbyteorder("="))
        return arr


def _pixel_offset(ds: Dataset) -> int | None:
    """Where Pixel Data's value starts in the file, when pydicom deferred reading it."""
    if "PixelData" not in ds:
        return None
    raw = ds.get_item(0x7FE00010, keep_deferred=True)
    if getattr(raw, "value", b"") is not None:
        return None  # already read (small, or from memory): nothing to seek
    tell = getattr(raw, "value_tell", None)
    return None if tell is None else int(tell)


def _fast_dtype(ds: Dataset, bits_allocated: Any) -> str | None:
    """Choose the numpy dtype to read Pixel Data with directly, or None if it needs a decoder."""
    if str(transfer_syntax(ds)) not in _UNCOMPRESSED_LE or bits_allocated not in (8, 16):
        return None
    if int(ds.get("SamplesPerPixel") or 1) != 1 or (0x00280008 in ds and number_of_frames(ds) != 1):
        return None
    if str(ds.get("PhotometricInterpretation", "")) not in MONOCHROME:
        return None
    signed = int(ds.get("PixelRepresentation") or 0) == 1
    if bits_allocated == 16:
        return "<i2" if signed else "<u2"
    return "i1" if signed else "u1"


def fix_bits(arr: npt.NDArray[Any], bits_stored: int) -> npt.NDArray[Any]:
    """Drop bits above Bits Stored (overlays), sign-extending signed values (in place)."""
    total = arr.dtype.itemsize * 8
    if bits_stored >= total:
        return arr
    if arr.dtype.kind == "i":
        shift = arr.dtype.type(total - bits_stored)
        np.left_shift(arr, shift, out=arr)
        np.right_shift(arr, shift, out=arr)  # arithmetic: extends the sign bit
        return arr
    np.bitwise_and(arr, arr.dtype.type((1 << bits_stored) - 1), out=arr)
    return arr


def read_slice_headers(
    source: str | PathLike[str] | Dataset,
) -> list[SliceHeader]:
    """Read the slice headers of one file: one, or one per frame of a multi-frame object.

    Raises
    ------
    InvalidDicomError, MissingPixelDataError, DecodeError
        If the file is not DICOM, holds no image, or cannot be decoded.
    """
    if isinstance(source, Dataset):
        ds = source
        path = getattr(ds, "filename", None)
        path = path if isinstance(path, str) else None
    else:
        path = fspath(source)
        fast = _from_fast_header(path)
        if fast is not None:
            return [fast]
        try:
            ds = pydicom.dcmread(path, defer_size=1024)
        except Exception:  # let the thorough reader phrase the message
            ds = read_dataset(path)
    if "Rows" not in ds or "Columns" not in ds:
        raise InvalidDicomError("no Rows/Columns: not an image", path=path, tag="Rows")
    frames = number_of_frames(ds)
    if frames == 1:
        return [SliceHeader.from_dataset(ds, path=path)]
    return [SliceHeader.from_dataset(ds, path=path, frame=f) for f in range(frames)]


def _from_fast_header(path: str) -> SliceHeader | None:
    """Read a plain single-frame slice with the catalog's header reader, if it can.

    :func:`teachingfiles.dicom.headers.read_header` is several times faster than
    pydicom (it parses only what a catalog needs). Anything unusual (multi-frame,
    geometry missing or in functional groups, a fast-path surprise, an error) returns
    None, and pydicom reads the file and phrases any error.
    """
    try:
        from teachingfiles.dicom.headers import read_header
    except ImportError:  # the catalog's reader is optional here
        return None
    try:
        h = read_header(path, fallback=False)
    except (LookupError, TeachingFilesError):
        return None
    photometric = h.photometric_interpretation or ""
    usable = (
        (h.number_of_frames or 1) == 1
        and h.rows
        and h.columns
        and h.pixel_offset >= 0
        and h.pixel_tag == 0x7FE00010
        and h.image_position is not None
        and h.image_orientation is not None
        and photometric in MONOCHROME
    )
    if not usable:
        return None
    rows, cols = int(h.rows), int(h.columns)  # type: ignore[arg-type]
    bits = h.bits_allocated
    dtype = None
    if (
        h.transfer_syntax in _UNCOMPRESSED_LE
        and (h.samples_per_pixel or 1) == 1
        and bits in (8, 16)
        and h.pixel_length >= rows * cols * (bits // 8)
    ):
        signed = h.pixel_representation == 1
        dtype = ("<i2" if signed else "<u2") if bits == 16 else ("i1" if signed else "u1")
    return SliceHeader(
        sop_uid=h.sop_instance_uid or "",
        rows=rows,
        columns=cols,
        position=_floats(h.image_position, 3),
        orientation=_floats(h.image_orientation, 6),
        pixel_spacing=_floats(h.pixel_spacing or h.imager_pixel_spacing, 2),
        instance_number=h.instance_number,
        slope=1.0 if h.rescale_slope is None else float(h.rescale_slope),
        intercept=0.0 if h.rescale_intercept is None else float(h.rescale_intercept),
        path=path,
        modality=h.modality or "OT",
        photometric=photometric,
        pixel_offset=h.pixel_offset if dtype else None,
        pixel_dtype=dtype,
        bits_stored=int(h.bits_stored or bits or 16),
        deflated=h.transfer_syntax == DeflatedExplicitVRLittleEndian,
    )
