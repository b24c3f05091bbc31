"""Write a de-identified dataset fast: untouched elements go out as their raw bytes.

pydicom's writer handles every element through a per-element context manager and a
buffer; for a de-identification pass, where most elements (and the pixel data) are
never decoded, that costs more than the whole profile. This writer covers the little
endian transfer syntaxes (explicit and implicit VR, native or encapsulated pixel
data): raw elements are copied byte for byte, elements the profile changed are
encoded by pydicom's own element writer, sequences are written with defined lengths.
Anything else (big endian, deflated) goes through :meth:`pydicom.Dataset.save_as`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import BinaryIO, cast

from pydicom.charset import convert_encodings, encode_string
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_file_meta_info
from pydicom.multival import MultiValue
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
)

__all__ = ["Tail", "element_of", "encode_items", "write_deidentified"]

_LONG = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UR", "UT", "UN", "SV", "UV"})
_TEXT = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM",
                   "UC", "UR", "UT"})  # fmt: skip
_ITEM = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
_ITEM_END = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
_SEQ_END = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def element_of(ds: Dataset, tag: int) -> DataElement | RawDataElement | None:
    """Return ``ds.get_item(tag)`` with its real type (pydicom annotates DataElement only)."""
    return cast("DataElement | RawDataElement | None", ds.get_item(tag))


def _vr_of(tag: int, vr: str | None) -> str:
    if vr:
        return vr
    try:
        return dictionary_VR(tag).split(" ")[0]
    except KeyError:
        return "UN"


def _header(out: bytearray, tag: int, vr: str, length: int, implicit: bool) -> None:
    out += struct.pack("<HH", tag >> 16, tag & 0xFFFF)
    if implicit:
        out += struct.pack("<I", length)
    elif vr in _LONG:
        out += vr.encode() + struct.pack("<HI", 0, length)
    else:
        out += vr.encode() + struct.pack("<H", length)


def _dataset(out: bytearray, ds: Dataset, implicit: bool, encodings: list[str]) -> None:
    for tag in sorted(ds.keys()):
        t = int(tag)
        if t == 0x00020000:  # the file meta group length: written by _meta
            continue
        elem = element_of(ds, t)
        if elem is None:
            continue
        if isinstance(elem, RawDataElement):
            value = elem.value or b""
            vr = _vr_of(t, elem.VR)
            if elem.length == 0xFFFFFFFF:
                _header(out, t, vr, 0xFFFFFFFF, implicit)
                out += value
                out += _SEQ_END
                continue
            if len(value) % 2:
                value = value + (b" " if vr in _TEXT else b"\0")
            _header(out, t, vr, len(value), implicit)
            out += value
        elif elem.VR == "SQ":
            # undefined lengths: no need to know an item's size before writing it
            _header(out, t, "SQ", 0xFFFFFFFF, implicit)
            for item in elem.value:
                out += _ITEM
                _dataset(out, item, implicit, encodings)
                out += _ITEM_END
            out += _SEQ_END
        else:
            _element(out, elem, implicit, encodings)


def encode_items(items: Iterable[Dataset], implicit: bool) -> bytes:
    """Encode sequence items (undefined lengths) as the value of a raw SQ element."""
    out = bytearray()
    for one in items:
        out += _ITEM
        _dataset(out, one, implicit, ["iso8859"])
        out += _ITEM_END
    return bytes(out)


def _element(out: bytearray, elem: DataElement, implicit: bool, encodings: list[str]) -> None:
    vr = elem.VR
    if vr in _TEXT or vr == "UI":
        value = elem.value
        if value is None or value == "":
            raw = b""
        else:
            parts = value if isinstance(value, MultiValue | list) else [value]
            text = "\\".join(str(p) for p in parts)
            raw = text.encode("ascii") if text.isascii() else encode_string(text, encodings)
            if len(raw) % 2:
                raw += b"\0" if vr == "UI" else b" "
        _header(out, int(elem.tag), vr, len(raw), implicit)
        out += raw
        return
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = implicit
    write_data_element(fp, elem, encodings)
    out += fp.getvalue()


_META_REQUIRED = (0x00020001, 0x00020002, 0x00020003, 0x00020010, 0x00020012)


def _meta(out: bytearray, meta: Dataset) -> None:
    if not all(t in meta for t in _META_REQUIRED):
        head = DicomBytesIO()
        head.is_little_endian = True
        head.is_implicit_VR = False
        write_file_meta_info(
            head, cast(FileMetaDataset, meta), enforce_standard=True
        )  # fills in what is missing
        out += head.getvalue()
        return
    body = bytearray()
    _dataset(body, meta, False, ["iso8859"])
    out += struct.pack("<HH2sHI", 0x0002, 0x0000, b"UL", 4, len(body))
    out += body


@dataclass(frozen=True)
class Tail:
    """The pixel data element at the end of a source file, copied without reading it."""

    path: Path
    offset: int
    length: int

    def copy_to(self, fh: BinaryIO) -> None:
        """Append the bytes to ``fh`` (never decoded; one read, one write)."""
        with self.path.open("rb") as src:
            src.seek(self.offset)
            data = src.read(self.length)
        if len(data) != self.length:
            raise OSError(f"{self.path}: changed while being read (pixel data cut short)")
        fh.write(data)


def write_deidentified(ds: Dataset, path: str | PathLike[str], tail: Tail | None = None) -> None:
    """Write ``ds`` (with its file meta) to ``path`` with a zeroed preamble.

    ``tail``: the source's pixel data element, appended byte for byte (``ds`` was
    read with ``stop_before_pixels``).
    """
    meta = ds.file_meta
    syntax = str(meta.get("TransferSyntaxUID", ""))
    if syntax in (ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian) or not syntax:
        if tail is not None:
            raise ValueError(f"{tail.path}: a pixel data tail cannot be copied into {syntax}")
        ds.preamble = bytes(128)
        ds.save_as(path, enforce_file_format=True)
        return
    out = bytearray(bytes(128) + b"DICM")
    _meta(out, meta)
    encodings = convert_encodings(ds.get("SpecificCharacterSet") or "ISO_IR 6")
    _dataset(out, ds, syntax == ImplicitVRLittleEndian, encodings)
    with Path(path).open("wb") as fh:
        fh.write(out)
        if tail is not None:
            tail.copy_to(fh)
