"""Pixels right for every image type: decode, modality LUT, VOI, photometric.

The display pipeline of PS3.4 N.2, in the order a viewer applies it::

    stored values --Modality LUT--> modality values (HU) --VOI--> grey --invert
    if MONOCHROME1--> 8-bit display;   PALETTE COLOR --palette--> RGB;
    RGB / YBR --(decoder converts YBR)--> RGB, scaled to 8 bits.

Decoding is pydicom 3's (with pylibjpeg, python-gdcm when installed): every
transfer syntax they handle is handled here. What cannot be decoded raises one
:class:`~teachingfiles.errors.DecodeError` naming the file, the transfer syntax or
photometric interpretation, and what to install or do.

Example
-------
>>> image = DicomImage.from_file("CT_small.dcm")
>>> grey = image.display()            # uint8, the file's first window
>>> hu = image.values()               # Hounsfield units
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike, fspath
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError as PydicomInvalidDicomError
from pydicom.uid import UID

from teachingfiles.dicom.voi import Window, apply_voi_lut_item, apply_window, to_uint8
from teachingfiles.errors import DecodeError, InvalidDicomError, MissingPixelDataError

__all__ = [
    "MONOCHROME",
    "DicomImage",
    "decode",
    "display",
    "frame_attribute",
    "modality_values",
    "number_of_frames",
    "read_dataset",
]

PathType = str | PathLike[str]

#: Photometric interpretations shown in grey.
MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
_COLOUR = {
    "RGB",
    "YBR_FULL",
    "YBR_FULL_422",
    "YBR_ICT",
    "YBR_RCT",
    "YBR_PARTIAL_420",
    "PALETTE COLOR",
}

# What to install or do, by transfer syntax UID (PS3.5 Annex A).
_HINTS: dict[str, str] = {
    "1.2.840.10008.1.2.4.50": "install pylibjpeg-libjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.51": "install pylibjpeg-libjpeg (12-bit JPEG Extended decodes only there)",
    "1.2.840.10008.1.2.4.57": "install pylibjpeg-libjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.70": "install pylibjpeg-libjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.80": "install pylibjpeg-libjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.81": "install pylibjpeg-libjpeg (or python-gdcm)",
    "1.2.840.10008.1.2.4.90": "install pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.91": "install pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.201": "install pylibjpeg-openjpeg>=2.0 (HTJ2K)",
    "1.2.840.10008.1.2.4.202": "install pylibjpeg-openjpeg>=2.0 (HTJ2K)",
    "1.2.840.10008.1.2.4.203": "install pylibjpeg-openjpeg>=2.0 (HTJ2K)",
    "1.2.840.10008.1.2.5": "install pylibjpeg-rle (pydicom's own RLE decoder also works)",
}
_VIDEO_HINT = (
    "this transfer syntax carries video or a link to pixel data elsewhere, which "
    "teachingfiles does not show; export the frames as images (e.g. JPEG 2000) first"
)
# MPEG-2/4, HEVC video (4.100-4.108) and JPIP referenced pixel data (4.94, 4.95)
_VIDEO_OR_REFERENCED = {f"1.2.840.10008.1.2.4.{n}" for n in (94, 95, *range(100, 109))}
_BROKEN_HINT = (
    "the pixel data is truncated or corrupt, or group 0028 (Rows, Columns, Bits "
    "Allocated, Samples per Pixel) does not match it; re-export the image from its source"
)


def _where(ds: Dataset, path: PathType | None) -> str | None:
    if path is not None:
        return fspath(path)
    name = getattr(ds, "filename", None)
    return name if isinstance(name, str) and name else None


def read_dataset(source: PathType | Dataset, *, stop_before_pixels: bool = False) -> Dataset:
    """Read a DICOM file (a dataset passes through unchanged).

    Raises
    ------
    InvalidDicomError
        If the file is missing, not DICOM, or its header cannot be parsed.
    """
    if isinstance(source, Dataset):
        return source
    try:
        return pydicom.dcmread(source, stop_before_pixels=stop_before_pixels)
    except PydicomInvalidDicomError as exc:
        ds = _read_without_meta(source)
        if ds is not None:
            return ds
        raise InvalidDicomError(
            "not a DICOM file: no 'DICM' marker after a 128-byte preamble, and it "
            "does not read as a bare DICOM data set either",
            path=source,
        ) from exc
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise InvalidDicomError(
            f"cannot read the DICOM header: {type(exc).__name__}: {exc}", path=source
        ) from exc


_RAW_SYNTAX = {
    (True, True): "1.2.840.10008.1.2",
    (False, True): "1.2.840.10008.1.2.1",
    (False, False): "1.2.840.10008.1.2.2",
}


def _read_without_meta(source: PathType) -> Dataset | None:
    """Read a bare data set (no preamble, no file meta), if it holds an image.

    Old archives hold such files (ACR-NEMA style). pydicom's ``force=True`` reads
    them and tells the encoding it found, which gives the transfer syntax.
    """
    from pydicom.dataset import FileMetaDataset

    from teachingfiles.errors import TeachingFilesWarning

    try:
        ds = pydicom.dcmread(source, force=True)
    except Exception:  # anything at all: it is not DICOM, and the caller says so
        return None
    if not ("PixelData" in ds and "Rows" in ds and "Columns" in ds):
        return None
    syntax = _RAW_SYNTAX.get(tuple(ds.original_encoding))  # type: ignore[arg-type]
    if syntax is None:
        return None
    import warnings

    warnings.warn(
        f"{fspath(source)}: no DICOM preamble or file meta; read as a bare data set "
        f"in {UID(syntax).name} (re-save it with pydicom to add the file meta)",
        TeachingFilesWarning,
        stacklevel=3,
    )
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(syntax)
    return ds


def transfer_syntax(ds: Dataset) -> UID | None:
    """Return the dataset's transfer syntax UID, if its file meta says."""
    meta = getattr(ds, "file_meta", None)
    uid = None if meta is None else meta.get("TransferSyntaxUID")
    return None if uid is None else UID(str(uid))


def _describe(ds: Dataset) -> str:
    uid = transfer_syntax(ds)
    ts = "no transfer syntax" if uid is None else f"transfer syntax {uid.name} ({uid})"
    return f"{ts}, photometric interpretation {ds.get('PhotometricInterpretation', 'absent')}"


def number_of_frames(ds: Dataset) -> int:
    """Return Number of Frames (1 when absent or malformed)."""
    try:
        return max(int(ds.get("NumberOfFrames") or 1), 1)
    except (TypeError, ValueError):
        return 1


def _check_decodable(ds: Dataset, path: str | None) -> None:
    if not any(t in ds for t in (0x7FE00010, 0x7FE00008, 0x7FE00009)):  # (Float) Pixel Data
        if "Rows" in ds and "BitsAllocated" in ds:
            raise MissingPixelDataError(
                "the file has image attributes (Rows, Bits Allocated) but no Pixel Data "
                "(7FE0,0010): it is truncated; copy or download it again",
                path=path,
                tag="PixelData",
            )
        raise MissingPixelDataError(
            f"{ds.get('Modality', 'the')} object has no Pixel Data (7FE0,0010): "
            "it is not an image (a structured report, a presentation state, a "
            "registration...); pick an image of the series instead",
            path=path,
            tag="PixelData",
        )
    uid = transfer_syntax(ds)
    if uid is None:
        raise DecodeError(
            "the file meta has no Transfer Syntax UID (0002,0010), so its pixel data "
            "cannot be interpreted; set file_meta.TransferSyntaxUID and re-save it",
            path=path,
            tag="TransferSyntaxUID",
        )
    if str(uid) in _VIDEO_OR_REFERENCED:
        raise DecodeError(f"{_describe(ds)}: {_VIDEO_HINT}", path=path, tag="TransferSyntaxUID")
    photometric = str(ds.get("PhotometricInterpretation", ""))
    if photometric not in MONOCHROME and photometric not in _COLOUR:
        raise DecodeError(
            f"{_describe(ds)}: photometric interpretation {photometric or '(absent)'!r} "
            "cannot be shown; expected MONOCHROME1/2, PALETTE COLOR, RGB or YBR_*. "
            "Convert the image to one of these (e.g. with dcmtk's dcmconv)",
            path=path,
            tag="PhotometricInterpretation",
        )


def decode(
    source: PathType | Dataset, *, frame: int | None = None, path: PathType | None = None
) -> npt.NDArray[Any]:
    """Decode stored values: native byte order, colour as RGB.

    Parameters
    ----------
    source
        A file or a dataset.
    frame
        0-based frame to decode alone (faster for large multi-frame objects);
        ``None`` decodes all, shaped ``(frames, rows, cols[, 3])`` when there is
        more than one frame, else ``(rows, cols[, 3])``.
    path
        The file name for messages, when ``source`` is a dataset.

    Raises
    ------
    MissingPixelDataError, DecodeError
        What failed and what to install or do.
    """
    from pydicom.pixels.utils import pixel_array

    ds = read_dataset(source)
    where = _where(
        ds, path if path is not None else None if isinstance(source, Dataset) else source
    )
    _check_decodable(ds, where)
    nframes = number_of_frames(ds)
    if frame is not None and not 0 <= frame < nframes:
        raise DecodeError(
            f"frame {frame} does not exist: the image has {nframes} frame(s), numbered "
            f"0 to {nframes - 1}",
            path=where,
            tag="NumberOfFrames",
        )
    try:
        arr = pixel_array(ds, index=frame)
    except Exception as exc:  # pydicom raises many kinds; all mean "cannot decode"
        raise DecodeError(_decode_message(ds, exc), path=where, tag="PixelData") from exc
    if arr.dtype.byteorder not in ("=", "|"):
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def _decode_message(ds: Dataset, exc: Exception) -> str:
    uid = transfer_syntax(ds)
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:300] + "..."
    missing = (
        "plugin" in text.lower() and "missing" in text.lower()
    ) or "no pixel data decoders" in text.lower()
    hint = _HINTS.get(str(uid), "") if missing else _BROKEN_HINT
    return f"cannot decode the pixel data ({_describe(ds)}): {text}; {hint or _BROKEN_HINT}"


def frame_attribute(ds: Dataset, sequence: str, keyword: str, frame: int | None) -> Dataset | None:
    """Find the functional group item that holds ``keyword`` for ``frame``, if any.

    Enhanced multi-frame objects (CT, MR, PET...) keep per-frame values in
    Per-frame Functional Groups, shared ones in Shared Functional Groups; the
    per-frame item wins (PS3.3 C.7.6.16).
    """
    groups: list[Dataset] = []
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and frame is not None and frame < len(per_frame):
        groups.append(per_frame[frame])
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        groups.append(shared[0])
    for group in groups:
        seq = group.get(sequence)
        if seq and keyword in seq[0]:
            return seq[0]  # type: ignore[no-any-return]
    return None


def _rescale(ds: Dataset, frame: int | None) -> tuple[float, float] | None:
    item = frame_attribute(ds, "PixelValueTransformationSequence", "RescaleSlope", frame)
    holder = item if item is not None else ds
    if "RescaleSlope" in holder or "RescaleIntercept" in holder:
        slope = holder.get("RescaleSlope")
        intercept = holder.get("RescaleIntercept")
        return (
            1.0 if slope is None else float(slope),
            0.0 if intercept is None else float(intercept),
        )
    return None


def modality_values(
    ds: Dataset, stored: npt.NDArray[Any], *, frame: int | None = None
) -> npt.NDArray[Any]:
    """Apply the Modality LUT: Modality LUT Sequence, or Rescale Slope/Intercept.

    Enhanced multi-frame objects are looked up per frame (Pixel Value
    Transformation functional group). Integer results stay integer (``int32``);
    fractional slopes give ``float32``. Colour images are returned unchanged.
    """
    if str(ds.get("PhotometricInterpretation", "")) not in MONOCHROME:
        return stored
    if ds.get("ModalityLUTSequence"):
        from pydicom.pixels.processing import apply_modality_lut

        return apply_modality_lut(stored, ds)
    rescale = _rescale(ds, frame)
    if rescale is None:
        return stored
    slope, intercept = rescale
    if slope == int(slope) and intercept == int(intercept) and stored.dtype.kind in "iu":
        out = stored.astype(np.int32)
        if slope != 1:
            out *= int(slope)
        out += int(intercept)
        return out
    return stored.astype(np.float32) * np.float32(slope) + np.float32(intercept)


def display(
    ds: Dataset,
    values: npt.NDArray[Any],
    *,
    window: Window | None = None,
    frame: int | None = None,
) -> npt.NDArray[np.uint8]:
    """Modality values to what a radiologist sees: ``uint8`` grey or RGB.

    Grey images use ``window`` if given, else the file's VOI LUT, else its first
    window, else an automatic window; MONOCHROME1 is inverted (high values dark).
    Colour images are scaled from their bit depth (palettes through their
    table) and ignore ``window``.
    """
    from teachingfiles.dicom.presets import auto_window, file_windows

    photometric = str(ds.get("PhotometricInterpretation", ""))
    if photometric == "PALETTE COLOR":
        from pydicom.pixels.processing import apply_color_lut

        rgb = apply_color_lut(values, ds)
        bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
        return to_uint8(rgb, float(2**bits - 1))
    if photometric not in MONOCHROME:
        bits = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 8)
        if values.dtype == np.uint8 and bits == 8:
            return values
        return to_uint8(values, float(2**bits - 1))
    invert = photometric == "MONOCHROME1"
    if window is None:
        if ds.get("VOILUTSequence") and values.dtype.kind in "iu":
            # a VOI LUT wins over windows when both are present, as pydicom does
            return apply_voi_lut_item(values, ds, 0, invert=invert)
        windows = file_windows(ds, frame)
        window = windows[0] if windows else auto_window(values)
    return apply_window(values, window, invert=invert)


@dataclass
class DicomImage:
    """One DICOM image object (single or multi-frame), ready to show.

    Build with :meth:`from_file` or :meth:`from_dataset`; frames decode on first
    use and are kept.
    """

    dataset: Dataset
    path: str | None = None
    _stored: npt.NDArray[Any] | None = field(default=None, repr=False)

    @classmethod
    def from_file(cls, path: PathType) -> DicomImage:
        """Read a file (pixels are decoded when first asked for)."""
        ds = read_dataset(path)
        image = cls(ds, fspath(path))
        _check_decodable(ds, image.path)
        return image

    @classmethod
    def from_dataset(cls, ds: Dataset, *, path: PathType | None = None) -> DicomImage:
        """Wrap a dataset already in memory."""
        image = cls(ds, _where(ds, path))
        _check_decodable(ds, image.path)
        return image

    @property
    def photometric(self) -> str:
        """Photometric Interpretation as written in the file."""
        return str(self.dataset.get("PhotometricInterpretation", ""))

    @property
    def is_color(self) -> bool:
        """Whether the image is shown in colour (RGB, YBR, palette)."""
        return self.photometric not in MONOCHROME

    @property
    def number_of_frames(self) -> int:
        """How many frames the object holds."""
        return number_of_frames(self.dataset)

    @property
    def modality(self) -> str:
        """The Modality attribute ('OT' when absent)."""
        return str(self.dataset.get("Modality") or "OT")

    def _check_frame(self, frame: int) -> None:
        if not 0 <= frame < self.number_of_frames:
            raise DecodeError(
                f"frame {frame} does not exist: the image has {self.number_of_frames} "
                f"frame(s), numbered 0 to {self.number_of_frames - 1}",
                path=self.path,
                tag="NumberOfFrames",
            )

    def stored(self, frame: int = 0) -> npt.NDArray[Any]:
        """Return the stored values of one frame (colour as RGB)."""
        self._check_frame(frame)
        if self._stored is None:
            self._stored = decode(self.dataset, path=self.path)
        arr = self._stored
        return arr[frame] if self.number_of_frames > 1 else arr

    def values(self, frame: int = 0) -> npt.NDArray[Any]:
        """Modality values of one frame (HU for CT)."""
        return modality_values(self.dataset, self.stored(frame), frame=frame)

    def windows(self, frame: int = 0) -> list[Window]:
        """List the windows the file proposes for this frame (may be empty)."""
        from teachingfiles.dicom.presets import file_windows

        return file_windows(self.dataset, frame)

    def display(self, frame: int = 0, window: Window | None = None) -> npt.NDArray[np.uint8]:
        """Return what the viewer shows for one frame.

        ``uint8`` grey ``(rows, cols)`` or RGB ``(rows, cols, 3)``.
        """
        return display(self.dataset, self.values(frame), window=window, frame=frame)
