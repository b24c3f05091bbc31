"""Decode the pixels of one streamed instance straight from its bytes, without pydicom's parse.

When a series streams in, every part is a whole DICOM file whose header the
client already knows from the series' WADO-RS metadata (rows, columns, bits,
signedness: see :func:`stored_dtype`). Parsing each part again with pydicom
(``pixel_array(BytesIO(part))``) costs ~0.4 ms an instance before any pixel
is decoded, and pydicom's decoder front end adds its option checks: together
about as long as the RLE decode itself (~0.5 ms for 512x512 with
pylibjpeg-rle). So this module only finds, in the bytes:

* the Transfer Syntax UID (the catalog's header reader reads the file meta
  group from the bytes), and
* the Pixel Data value: the last element of the file, found from the end and
  checked item by item up to its closing delimiter (encapsulated), or by its
  exact length (native),

and decodes RLE Lossless with pylibjpeg-rle's public ``decode_pixel_data``
(the plugin pydicom itself calls) or reads native little-endian pixels with
numpy. Anything else, or anything unexpected, returns ``None`` and the caller
falls back to pydicom, which reports real errors with the file's path.

Hand-written (about eighty lines) because pydicom offers no way to hand it the
header facts it would otherwise parse from the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from rle.utils import decode_pixel_data

from teachingfiles.dicom.headers import transfer_syntax_of as transfer_syntax

__all__ = ["decode_part", "stored_dtype", "transfer_syntax"]

RLE_LOSSLESS = "1.2.840.10008.1.2.5"
_NATIVE_LE = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")
#: (7FE0,0010) Pixel Data, VR OB, undefined length: encapsulated (compressed) pixels.
_ENCAPSULATED = b"\xe0\x7f\x10\x00OB\x00\x00\xff\xff\xff\xff"
_ITEM = b"\xfe\xff\x00\xe0"
_PIXEL_TAG = b"\xe0\x7f\x10\x00"
_NATIVE_VRS = (b"OW\x00\x00", b"OB\x00\x00")
_SEQ_END = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"


def stored_dtype(attrs: Mapping[str, Any]) -> str | None:
    """Return the numpy dtype of an instance's stored pixels, from its DICOM JSON metadata.

    ``None`` unless it is a single-frame, single-sample image of 8 or 16 bits
    (what :func:`decode_part` handles).
    """

    def first(tag: str) -> Any:
        values = attrs.get(tag, {}).get("Value")
        return values[0] if values else None

    bits, signed = first("00280100"), first("00280103")
    samples, frames = first("00280002") or 1, first("00280008") or 1
    try:
        if int(samples) != 1 or int(frames) != 1 or int(bits) not in (8, 16):
            return None
        return f"<{'i' if int(signed or 0) == 1 else 'u'}{int(bits) // 8}"
    except (TypeError, ValueError):
        return None


def _rle_frame(data: bytes) -> bytes | None:
    """Return the frame of the encapsulated Pixel Data ending ``data`` (fragments joined)."""
    at = data.rfind(_ENCAPSULATED)
    if at < 0:
        return None
    pos = at + len(_ENCAPSULATED)
    fragments: list[bytes] = []
    first = True  # the first item is the Basic Offset Table, not pixels
    while data[pos : pos + 4] == _ITEM:
        length = int.from_bytes(data[pos + 4 : pos + 8], "little")
        end = pos + 8 + length
        if end > len(data):
            return None
        if not first:
            fragments.append(data[pos + 8 : end])
        first, pos = False, end
    if data[pos : pos + 8] != _SEQ_END or pos + 8 != len(data) or not fragments:
        return None  # not the last element, or not what it seemed: let pydicom parse it
    return fragments[0] if len(fragments) == 1 else b"".join(fragments)


def decode_part(data: bytes, rows: int, columns: int, dtype: str) -> npt.NDArray[Any] | None:
    """Decode the stored pixels of one single-frame instance (``rows`` x ``columns``).

    Parameters
    ----------
    data
        The whole DICOM file, as the server sent it.
    rows, columns, dtype
        From the series' metadata (``dtype`` from :func:`stored_dtype`).

    Returns
    -------
    numpy.ndarray or None
        The stored values (native byte order), or ``None`` when the bytes are
        not RLE Lossless or native little-endian pixels laid out as expected
        (decode those with pydicom).
    """
    syntax = transfer_syntax(data)
    want = np.dtype(dtype)
    count = rows * columns
    if syntax == RLE_LOSSLESS:
        frame = _rle_frame(data)
        if frame is None:
            return None
        try:
            raw = decode_pixel_data(
                frame, version=2, rows=rows, columns=columns, bits_allocated=8 * want.itemsize
            )
        except ValueError:  # a segment count or length that does not fit the header
            return None
        out = np.frombuffer(raw, want)
    elif syntax in _NATIVE_LE:
        size = count * want.itemsize
        tail = len(data) - size
        length = size.to_bytes(4, "little")
        if syntax == _NATIVE_LE[0]:  # Implicit VR: tag, 4-byte length
            fits = data[tail - 8 : tail] == _PIXEL_TAG + length
        else:  # Explicit VR: tag, OW or OB, two reserved bytes, 4-byte length
            fits = data[tail - 12 : tail] in (_PIXEL_TAG + vr + length for vr in _NATIVE_VRS)
        if tail < 12 or not fits:
            return None  # trailing elements or padding: pydicom parses it
        out = np.frombuffer(data, want, count, offset=tail)
    else:
        return None
    if out.size != count:
        return None
    return out.reshape(rows, columns)
