"""A fast, safe reader of the DICOM header fields a catalog needs.

Why hand-written: ``pydicom.dcmread(path, stop_before_pixels=True)`` builds a full
``Dataset`` of every element (about 2,000 files/s on the reference machine), while
the catalog needs some forty top-level values and where Pixel Data starts. This
module reads the first block of the file, walks the File Meta group and the top-level
data set with ``struct.unpack_from`` (Explicit VR Little Endian, Implicit VR Little
Endian, Explicit VR Big Endian, and Deflated Explicit VR Little Endian after
``zlib`` inflation), skips every other value by its length (undefined-length
sequences and items by walking to their delimiters) and stops at Pixel Data. On any
surprise (an unusual character set, a wanted tag with an unexpected VR, a malformed
element) it falls back to pydicom for that one file, so the answer is always right.

Example
-------
>>> header = read_header("1-001.dcm")
>>> header.modality, header.rows, header.columns
('CT', 512, 512)
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, fields
from os import PathLike
from typing import Any

from teachingfiles.dicom._header_stream import (
    _FIRST_BLOCK,
    _LONG_VRS,
    _UNDEFINED,
    _VRS,
    _Buffer,
    _check_fragments,
    _InflatingBuffer,
    _Parser,
    _SurpriseError,
    _TruncatedError,
)
from teachingfiles.errors import InvalidDicomError, MissingPixelDataError

__all__ = [
    "HEADER_FIELDS",
    "DicomHeader",
    "read_header",
    "read_header_pydicom",
    "transfer_syntax_of",
]

_PIXEL_TAGS = (0x7FE00008, 0x7FE00009, 0x7FE00010)  # Float, Double Float, Pixel Data
_TS_IMPLICIT = "1.2.840.10008.1.2"
_TS_EXPLICIT = "1.2.840.10008.1.2.1"
_TS_DEFLATED = "1.2.840.10008.1.2.1.99"
_TS_BIG = "1.2.840.10008.1.2.2"
_FAST_CHARSETS = {"": "latin-1", "ISO_IR 100": "latin-1", "ISO_IR 6": "latin-1",
                  "ISO_IR 192": "utf-8"}  # fmt: skip
_FADVISE = hasattr(os, "posix_fadvise")

#: (tag, keyword, VR) of every top-level attribute the reader extracts.
_WANTED: tuple[tuple[int, str, str], ...] = (
    (0x00080005, "SpecificCharacterSet", "CS"),
    (0x00080016, "SOPClassUID", "UI"),
    (0x00080018, "SOPInstanceUID", "UI"),
    (0x00080020, "StudyDate", "DA"),
    (0x00080021, "SeriesDate", "DA"),
    (0x00080030, "StudyTime", "TM"),
    (0x00080050, "AccessionNumber", "SH"),
    (0x00080060, "Modality", "CS"),
    (0x00080070, "Manufacturer", "LO"),
    (0x00080080, "InstitutionName", "LO"),
    (0x00081030, "StudyDescription", "LO"),
    (0x0008103E, "SeriesDescription", "LO"),
    (0x00081090, "ManufacturerModelName", "LO"),
    (0x00100010, "PatientName", "PN"),
    (0x00100020, "PatientID", "LO"),
    (0x00100040, "PatientSex", "CS"),
    (0x00101010, "PatientAge", "AS"),
    (0x00180015, "BodyPartExamined", "CS"),
    (0x00180050, "SliceThickness", "DS"),
    (0x00181164, "ImagerPixelSpacing", "DS"),
    (0x00185101, "ViewPosition", "CS"),
    (0x0020000D, "StudyInstanceUID", "UI"),
    (0x0020000E, "SeriesInstanceUID", "UI"),
    (0x00200011, "SeriesNumber", "IS"),
    (0x00200013, "InstanceNumber", "IS"),
    (0x00200032, "ImagePositionPatient", "DS"),
    (0x00200037, "ImageOrientationPatient", "DS"),
    (0x00200052, "FrameOfReferenceUID", "UI"),
    (0x00201041, "SliceLocation", "DS"),
    (0x00280002, "SamplesPerPixel", "US"),
    (0x00280004, "PhotometricInterpretation", "CS"),
    (0x00280008, "NumberOfFrames", "IS"),
    (0x00280010, "Rows", "US"),
    (0x00280011, "Columns", "US"),
    (0x00280030, "PixelSpacing", "DS"),
    (0x00280100, "BitsAllocated", "US"),
    (0x00280101, "BitsStored", "US"),
    (0x00280103, "PixelRepresentation", "US"),
    (0x00281050, "WindowCenter", "DS"),
    (0x00281051, "WindowWidth", "DS"),
    (0x00281052, "RescaleIntercept", "DS"),
    (0x00281053, "RescaleSlope", "DS"),
)
_MULTI = frozenset(
    ("ImagerPixelSpacing", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
     "WindowCenter", "WindowWidth")
)  # fmt: skip
_TCIA_GROUP = 0x0013


@dataclass(frozen=True, slots=True)
class DicomHeader:
    """The header values of one DICOM file that a teaching catalog keeps.

    Text is stripped of padding; ``IS`` values are ``int``, ``DS`` values ``float``,
    multi-valued ``DS`` a tuple of floats. ``WindowCenter``/``WindowWidth`` keep every
    value. ``tcia_collection`` is the TCIA private ProjectName (0013,1010) of the
    "CTP" private block. ``pixel_offset`` is the file offset of the Pixel Data value
    (``-1`` for a Deflated file), ``pixel_length`` its length (``-1`` if encapsulated).
    """

    transfer_syntax: str
    sop_class_uid: str | None = None
    sop_instance_uid: str | None = None
    study_uid: str | None = None
    series_uid: str | None = None
    patient_id: str | None = None
    patient_name: str | None = None
    patient_sex: str | None = None
    patient_age: str | None = None
    study_date: str | None = None
    series_date: str | None = None
    study_time: str | None = None
    accession_number: str | None = None
    modality: str | None = None
    manufacturer: str | None = None
    model_name: str | None = None
    institution_name: str | None = None
    study_description: str | None = None
    series_description: str | None = None
    body_part: str | None = None
    view_position: str | None = None
    series_number: int | None = None
    instance_number: int | None = None
    frame_of_reference_uid: str | None = None
    rows: int | None = None
    columns: int | None = None
    number_of_frames: int | None = None
    samples_per_pixel: int | None = None
    photometric_interpretation: str | None = None
    bits_allocated: int | None = None
    bits_stored: int | None = None
    pixel_representation: int | None = None
    pixel_spacing: tuple[float, ...] | None = None
    imager_pixel_spacing: tuple[float, ...] | None = None
    slice_thickness: float | None = None
    slice_location: float | None = None
    image_position: tuple[float, ...] | None = None
    image_orientation: tuple[float, ...] | None = None
    window_center: tuple[float, ...] | None = None
    window_width: tuple[float, ...] | None = None
    rescale_intercept: float | None = None
    rescale_slope: float | None = None
    tcia_collection: str | None = None
    pixel_tag: int = 0x7FE00010
    pixel_offset: int = -1
    pixel_length: int = -1


#: Names of the :class:`DicomHeader` fields, in order (the catalog's columns).
HEADER_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(DicomHeader))

_FIELD_OF = {
    "SOPClassUID": "sop_class_uid", "SOPInstanceUID": "sop_instance_uid",
    "StudyInstanceUID": "study_uid", "SeriesInstanceUID": "series_uid",
    "PatientID": "patient_id", "PatientName": "patient_name", "PatientSex": "patient_sex",
    "PatientAge": "patient_age", "StudyDate": "study_date", "SeriesDate": "series_date",
    "StudyTime": "study_time", "AccessionNumber": "accession_number", "Modality": "modality",
    "Manufacturer": "manufacturer", "ManufacturerModelName": "model_name",
    "InstitutionName": "institution_name", "StudyDescription": "study_description",
    "SeriesDescription": "series_description", "BodyPartExamined": "body_part",
    "ViewPosition": "view_position", "SeriesNumber": "series_number",
    "InstanceNumber": "instance_number", "FrameOfReferenceUID": "frame_of_reference_uid",
    "Rows": "rows", "Columns": "columns", "NumberOfFrames": "number_of_frames",
    "SamplesPerPixel": "samples_per_pixel",
    "PhotometricInterpretation": "photometric_interpretation",
    "BitsAllocated": "bits_allocated", "BitsStored": "bits_stored",
    "PixelRepresentation": "pixel_representation", "PixelSpacing": "pixel_spacing",
    "ImagerPixelSpacing": "imager_pixel_spacing", "SliceThickness": "slice_thickness",
    "SliceLocation": "slice_location", "ImagePositionPatient": "image_position",
    "ImageOrientationPatient": "image_orientation", "WindowCenter": "window_center",
    "WindowWidth": "window_width", "RescaleIntercept": "rescale_intercept",
    "RescaleSlope": "rescale_slope",
}  # fmt: skip


_TEXT, _US, _NUMBER, _MULTI_NUMBER, _CHARSET = range(5)
_PAD = " \x00"


def _kind(keyword: str, vr: str) -> int:
    if keyword == "SpecificCharacterSet":
        return _CHARSET
    if vr == "US":
        return _US
    if vr in ("DS", "IS"):
        return _MULTI_NUMBER if keyword in _MULTI else _NUMBER
    return _TEXT


#: tag -> (DicomHeader field, VR as bytes, how to decode): what the walk extracts.
_PLAN: dict[int, tuple[str, bytes, int]] = {
    tag: (_FIELD_OF.get(kw, kw), vr.encode(), _kind(kw, vr)) for tag, kw, vr in _WANTED
}
#: Parsed DS/IS values by (tag, raw bytes), shared by the files one process reads.
_NUMBERS: dict[tuple[int, bytes], Any] = {}


def _number(text: str, vr: str, multi: bool) -> Any:
    parts = [p.strip() for p in text.split("\\")]
    parts = [p for p in parts if p]
    if not parts:
        return None
    try:
        if vr == "IS":
            values: list[Any] = [int(float(p)) for p in parts]
        else:
            values = [float(p) for p in parts]
    except ValueError:
        return None  # an invalid number is treated as absent (pydicom only warns)
    if multi:
        return tuple(values)
    return values[0]


def read_header(
    path: str | PathLike[str], *, fallback: bool = True, size: int | None = None
) -> DicomHeader:
    """Read the catalog's header values from a DICOM file, stopping at Pixel Data.

    Parameters
    ----------
    path
        The file (with or without a ``.dcm`` suffix).
    fallback
        Read the file with pydicom when the fast path meets something it does not
        handle (the default). ``False`` raises :class:`LookupError` instead (tests
        use it to see which files the fast path reads on its own).
    size
        The file size if already known (saves a ``stat``).

    Raises
    ------
    InvalidDicomError
        Not DICOM (no ``DICM`` prefix), empty, truncated, or a broken header; the
        message names the file and what was found.
    MissingPixelDataError
        A valid DICOM object without Pixel Data (a report, a DICOMDIR, a KOS).
    """
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY)
    except OSError as exc:
        raise InvalidDicomError(f"cannot be read ({exc.strerror or exc})", path=name) from exc
    try:
        if size is None:
            size = os.fstat(fd).st_size
        if size == 0:
            raise InvalidDicomError("empty file (0 bytes), not DICOM", path=name)
        if _FADVISE:  # no read-ahead: only the header's pages are read from a cold disk
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        buf = _Buffer(fd, size, os.pread(fd, _FIRST_BLOCK, 0))
        try:
            return _read_fast(buf, name)
        except _SurpriseError as exc:
            if not fallback:
                raise LookupError(f"{name}: fast path declined: {exc}") from exc
    except OSError as exc:
        raise InvalidDicomError(f"cannot be read ({exc.strerror or exc})", path=name) from exc
    finally:
        os.close(fd)
    return read_header_pydicom(name)


def transfer_syntax_of(data: bytes) -> str | None:
    """Return the Transfer Syntax UID of a DICOM file held in memory (``None`` if none).

    Reads the File Meta Information only, as :func:`read_header` does.
    """
    try:
        return _meta(_Buffer(None, len(data), data), "<bytes>")[0]
    except (InvalidDicomError, _SurpriseError):
        return None


def _meta(buf: _Buffer, path: str) -> tuple[str, int]:
    data = buf.data
    if len(data) < 132 or data[128:132] != b"DICM":
        raise InvalidDicomError(
            "not DICOM: no 'DICM' prefix at byte 128 (a DICOM Part 10 file starts with "
            "a 128-byte preamble and 'DICM')",
            path=path,
        )
    pos = 132
    ts: str | None = None
    while True:
        if not buf.need(pos + 8):
            raise InvalidDicomError("truncated inside the File Meta Information", path=path)
        data = buf.data
        group, elem = struct.unpack_from("<HH", data, pos)
        if group != 2:
            break
        vr = data[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            length = struct.unpack_from("<I", data, pos + 8)[0]
            pos += 12
        else:
            length = struct.unpack_from("<H", data, pos + 6)[0]
            pos += 8
        if length == _UNDEFINED:
            raise _SurpriseError("undefined length in File Meta")
        if not buf.need(pos + length):
            raise InvalidDicomError("truncated inside the File Meta Information", path=path)
        if elem == 0x0010:
            ts = buf.data[pos : pos + length].decode("ascii", "replace").rstrip("\x00 ").strip()
        pos += length
    if not ts:
        raise _SurpriseError("no TransferSyntaxUID in File Meta")
    return ts, pos


def _read_fast(buf: _Buffer, path: str) -> DicomHeader:
    ts, start = _meta(buf, path)
    if ts == _TS_DEFLATED:
        inner = _InflatingBuffer(buf, start, path)
        parser = _Parser(inner, explicit=True, little=True, path=path)
        return _walk(parser, 0, ts, path, deflated=True)
    explicit, little = ts != _TS_IMPLICIT, ts != _TS_BIG
    return _walk(_Parser(buf, explicit, little, path), start, ts, path, deflated=False)


def _slow_header(parser: _Parser, pos: int, path: str) -> tuple[int, bytes | None, int, int]:
    """Read an element header near the end of the data read so far (reading more)."""
    buf = parser.buf
    if not buf.need(pos + 8):
        if pos == buf.size:
            raise MissingPixelDataError(
                "no pixel data: the data set ends without a Pixel Data element "
                "(not an image, e.g. a report or a presentation state)",
                path=path,
            )
        where = "inside an element header" if pos < buf.size else "inside an element value"
        raise InvalidDicomError(f"truncated: the file ends {where}", path=path)
    buf.need(pos + 12)  # as much as there is
    try:
        tag, vr, length, hlen = parser.header(pos)
    except _TruncatedError as exc:
        raise InvalidDicomError(f"truncated: {exc}", path=path) from None
    if tag >> 16 == 0xFFFE:
        raise _SurpriseError(f"stray item tag {tag:08X} at top level")
    return tag, vr, length, pos + hlen


def _walk(parser: _Parser, pos: int, ts: str, path: str, *, deflated: bool) -> DicomHeader:  # noqa: C901 - one linear scan; splitting it would cost a call per element
    buf = parser.buf
    values: dict[str, Any] = {}
    encoding = "latin-1"
    ctp_blocks: set[int] = set()
    explicit = parser.explicit
    head = parser.head
    u32 = parser.u32
    data = buf.data
    by_tag, long_vrs, vrs = _PLAN, _LONG_VRS, _VRS  # locals: this loop runs per element
    numbers = _NUMBERS
    while True:
        if pos + 12 <= len(data):  # the common case, inlined: one unpack per element
            if explicit:
                group, elem, vr, length = head.unpack_from(data, pos)
            else:
                group, elem, length = head.unpack_from(data, pos)
                vr = None
            if group == 0xFFFE:
                raise _SurpriseError(f"stray item tag at top level, offset {pos}")
            if vr is None:
                pos += 8
            elif vr in long_vrs:
                length = u32.unpack_from(data, pos + 8)[0]
                pos += 12
            elif vr in vrs:
                pos += 8
            else:
                raise _SurpriseError(f"odd VR bytes {vr!r} at offset {pos}")
            tag = group << 16 | elem
        else:
            tag, vr, length, pos = _slow_header(parser, pos, path)
            data = buf.data
        if tag >= 0x7FE00008 and tag in _PIXEL_TAGS:
            return _finish(values, ts, tag, pos, length, parser, path, deflated, ctp_blocks)
        if length == 0xFFFFFFFF:  # undefined length: a sequence
            try:
                pos = parser.skip_undefined(pos, implicit_inside=vr == b"UN")
            except _TruncatedError as exc:
                raise InvalidDicomError(f"truncated: {exc}", path=path) from None
            data = buf.data
            continue
        wanted = by_tag.get(tag)
        if wanted is None and tag >> 16 != _TCIA_GROUP:
            pos += length
            continue
        if pos + length > len(data):
            if not buf.need(pos + length):
                raise InvalidDicomError(
                    f"truncated: element ({tag >> 16:04X},{tag & 0xFFFF:04X}) runs past the "
                    "end of the file",
                    path=path,
                )
            data = buf.data
        raw = data[pos : pos + length]
        pos += length
        if wanted is None:
            _private(tag, raw, ctp_blocks, values)
            continue
        field, want_vr, kind = wanted
        if vr is not None and vr != want_vr:
            raise _SurpriseError(f"{field} has VR {vr!r}, expected {want_vr!r}")
        if kind == _TEXT:
            try:
                text = raw.decode(encoding).strip(_PAD)
            except UnicodeDecodeError:
                raise _SurpriseError(f"{field} does not decode as {encoding}") from None
            if text:
                values[field] = text
        elif kind == _US:
            if length >= 2:
                values[field] = parser.u16.unpack_from(raw)[0]
        elif kind == _CHARSET:
            charset = raw.decode("ascii", "replace").strip(_PAD)
            if charset not in _FAST_CHARSETS:
                raise _SurpriseError(f"character set {charset!r}")
            encoding = _FAST_CHARSETS[charset]
        else:  # DS / IS: the same text recurs across a series, so parse it once
            key = (tag, raw)
            value = numbers.get(key, numbers)
            if value is numbers:
                value = _number(raw.decode("latin-1"), want_vr.decode(), kind == _MULTI_NUMBER)
                if len(numbers) < 8192:
                    numbers[key] = value
            if value is not None:
                values[field] = value


def _private(tag: int, raw: bytes, ctp_blocks: set[int], values: dict[str, Any]) -> None:
    elem = tag & 0xFFFF
    text = raw.decode("latin-1").strip(_PAD)
    if 0x10 <= elem <= 0xFF:
        if text == "CTP":
            ctp_blocks.add(elem)
    elif elem >> 8 in ctp_blocks and elem & 0xFF == 0x10 and text:
        values["tcia_collection"] = text


def _finish(
    values: dict[str, Any],
    ts: str,
    tag: int,
    pos: int,
    length: int,
    parser: _Parser,
    path: str,
    deflated: bool,
    ctp_blocks: set[int],
) -> DicomHeader:
    size = parser.buf.size
    what = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    if length == _UNDEFINED:
        _check_fragments(parser, pos, path)
    elif not deflated and pos + length > size:
        raise InvalidDicomError(
            f"truncated: Pixel Data {what} declares {length} bytes but the file ends "
            f"{size - pos} bytes after it starts",
            path=path,
        )
    return DicomHeader(
        transfer_syntax=ts,
        pixel_tag=tag,
        pixel_offset=-1 if deflated else pos,
        pixel_length=-1 if length == _UNDEFINED else length,
        **values,
    )


def read_header_pydicom(path: str | PathLike[str]) -> DicomHeader:
    """Read the same values with pydicom (the slow, general path).

    Raises the same errors as :func:`read_header`.
    """
    from teachingfiles.dicom._header_pydicom import read_with_pydicom

    return read_with_pydicom(path)
