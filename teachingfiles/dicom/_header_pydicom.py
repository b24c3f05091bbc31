"""The pydicom path of :mod:`teachingfiles.dicom.headers`: slow, general, always right.

Used for the files the fast walk declines (other character sets, odd VRs, a File
Meta without a transfer syntax) and to check the fast path in the tests.
"""

from __future__ import annotations

import os
import struct
import warnings
from os import PathLike
from pathlib import Path
from typing import Any

from teachingfiles.dicom._header_stream import _UNDEFINED, _Buffer, _check_fragments, _Parser
from teachingfiles.dicom.headers import (
    _FIELD_OF,
    _MULTI,
    _PAD,
    _PIXEL_TAGS,
    _TS_DEFLATED,
    _WANTED,
    DicomHeader,
)
from teachingfiles.errors import InvalidDicomError, MissingPixelDataError

__all__ = ["read_with_pydicom"]


def read_with_pydicom(path: str | PathLike[str]) -> DicomHeader:
    """Read the same values with pydicom (the slow, general path).

    Raises the same errors as :func:`read_header`.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError as PydicomInvalid

    name = os.fspath(path)
    try:
        with Path(name).open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size == 0:
                raise InvalidDicomError("empty file (0 bytes), not DICOM", path=name)
            try:
                with warnings.catch_warnings():  # the reason is reported, not warned
                    warnings.simplefilter("ignore")
                    ds = pydicom.dcmread(fh, stop_before_pixels=True)
            except PydicomInvalid as exc:
                raise InvalidDicomError(f"not DICOM ({exc})", path=name) from None
            except Exception as exc:  # pydicom raises many kinds for broken files
                raise InvalidDicomError(
                    f"broken header ({type(exc).__name__}: {exc})", path=name
                ) from None
            ts = str(getattr(ds.file_meta, "TransferSyntaxUID", "") or "")
            if ts == _TS_DEFLATED:
                pixel = _pixel_deflated(name)
            else:
                implicit, little = ds.original_encoding
                pixel = _pixel_element(fh, bool(implicit), little is not False, size, name)
    except OSError as exc:
        raise InvalidDicomError(f"cannot be read ({exc.strerror or exc})", path=name) from exc
    with warnings.catch_warnings():  # values are converted lazily; pydicom warns on odd ones
        warnings.simplefilter("ignore")
        return _from_dataset(ds, ts, pixel)


def _pixel_element(
    fh: Any, implicit: bool, little: bool, size: int, name: str
) -> tuple[int, int, int]:
    """(tag, value offset, length) of the element pydicom stopped at."""
    start = fh.tell()
    head = fh.read(12)
    if not head:
        raise MissingPixelDataError(
            "no pixel data: the data set ends without a Pixel Data element "
            "(not an image, e.g. a report or a presentation state)",
            path=name,
        )
    if len(head) < 8:
        raise InvalidDicomError("truncated: the file ends inside an element header", path=name)
    e = "<" if little else ">"
    group, elem = struct.unpack_from(e + "HH", head)
    tag = group << 16 | elem
    if implicit or not head[4:6].isalpha():  # implicit VR despite the transfer syntax
        length, hlen = struct.unpack_from(e + "I", head, 4)[0], 8
    else:
        if len(head) < 12:
            raise InvalidDicomError("truncated: the file ends inside an element header", path=name)
        length, hlen = struct.unpack_from(e + "I", head, 8)[0], 12
    if tag not in _PIXEL_TAGS:
        raise InvalidDicomError(f"broken header: unexpected element {tag:08X}", path=name)
    offset = start + hlen
    if length == _UNDEFINED:
        parser = _Parser(_Buffer(fh.fileno(), size), explicit=True, little=True, path=name)
        _check_fragments(parser, offset, name)
        return tag, offset, -1
    if offset + length > size:
        raise InvalidDicomError(
            f"truncated: Pixel Data ({group:04X},{elem:04X}) declares {length} bytes but the "
            f"file ends {size - offset} bytes after it starts",
            path=name,
        )
    return tag, offset, length


def _pixel_deflated(name: str) -> tuple[int, int, int]:
    import pydicom

    try:
        ds = pydicom.dcmread(name)
    except Exception as exc:  # a broken deflate stream surfaces as many kinds
        raise InvalidDicomError(f"broken Deflated data set ({exc})", path=name) from None
    for tag in _PIXEL_TAGS:
        if tag in ds:
            value = ds[tag].value
            return tag, -1, -1 if ds[tag].is_undefined_length else len(value)
    raise MissingPixelDataError(
        "no pixel data: the data set ends without a Pixel Data element "
        "(not an image, e.g. a report or a presentation state)",
        path=name,
    )


def _from_dataset(ds: Any, ts: str, pixel: tuple[int, int, int]) -> DicomHeader:
    values: dict[str, Any] = {}
    for tag, keyword, vr in _WANTED:
        if keyword == "SpecificCharacterSet" or tag not in ds:
            continue
        value = ds[tag].value
        if value is None or value == "":
            continue
        if vr in ("DS", "IS"):
            nums = _numbers(value, vr)
            if nums:
                values[_FIELD_OF[keyword]] = tuple(nums) if keyword in _MULTI else nums[0]
        elif vr == "US":
            values[_FIELD_OF[keyword]] = int(value[0] if _is_multi(value) else value)
        else:
            text = "\\".join(map(str, value)) if _is_multi(value) else str(value)
            text = text.strip(_PAD)
            if text:
                values[_FIELD_OF[keyword]] = text
    try:
        block = ds.private_block(0x0013, "CTP")
        value = block[0x10].value
        if isinstance(value, bytes):  # VR UN after some de-identification tools
            value = value.decode("latin-1")
        text = str(value or "").rstrip("\x00 ").strip()
    except KeyError:
        text = ""
    if text:
        values["tcia_collection"] = text
    tag, offset, length = pixel
    return DicomHeader(
        transfer_syntax=ts, pixel_tag=tag, pixel_offset=offset, pixel_length=length, **values
    )


def _numbers(value: Any, vr: str) -> list[Any]:
    items = list(value) if _is_multi(value) else [value]
    out: list[Any] = []
    for item in items:
        if item is None or str(item).strip() == "":
            continue
        try:
            out.append(int(float(item)) if vr == "IS" else float(item))
        except ValueError:
            return []  # an invalid number is treated as absent, as in the fast path
    return out


def _is_multi(value: Any) -> bool:
    return isinstance(value, list | tuple) or type(value).__name__ == "MultiValue"
