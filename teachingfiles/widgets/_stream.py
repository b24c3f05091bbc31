"""Encode slices for the browser: 8-bit JPEG previews and lossless 16-bit chunks.

The browser asks for slices (``want`` messages naming the slice indices, nearest to
the one on screen first); each answer is one or more binary messages, none larger
than the chunk limit. A message carries several whole slices, or, for an image
larger than the limit (a 2048 x 2048 radiograph), a band of rows of one slice.

Full-quality data travels as little-endian int16 (uint16 when values exceed
32767), raw, or byte-shuffled and deflated (zlib): the low bytes of every value,
then the high bytes, which compresses CT about 15 % better than plain deflate and
is undone in the browser after ``DecompressionStream("deflate")``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from teachingfiles.widgets._source import SliceSource

__all__ = [
    "MAX_MESSAGE_BYTES",
    "Chunk",
    "encode_full",
    "encode_preview",
    "shuffle_deflate",
    "to_wire",
    "wire_dtype",
]

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""No single message to the browser may be larger than this (measured limit)."""


@dataclass(frozen=True)
class Chunk:
    """One binary message: its JSON header and its single buffer."""

    header: dict[str, Any]
    payload: bytes


def wire_dtype(source: SliceSource) -> str:
    """Return ``"int16"`` or ``"uint16"``: how the source's values travel."""
    dtype = np.dtype(source.dtype)
    if dtype == np.uint16 or (dtype.kind == "u" and dtype.itemsize > 2):
        return "uint16"
    return "int16"


def to_wire(image: npt.ArrayLike, kind: str) -> npt.NDArray[Any]:
    """Convert a slice to the wire dtype (rounding floats, clipping to its range)."""
    arr = np.asarray(image)
    target = np.dtype("<i2") if kind == "int16" else np.dtype("<u2")
    if arr.dtype == target:
        return np.ascontiguousarray(arr)
    info = np.iinfo(target)
    if arr.dtype.kind == "f":
        arr = np.rint(np.nan_to_num(arr))
    if arr.dtype.kind in "iuf" and (arr.size and (arr.min() < info.min or arr.max() > info.max)):
        arr = np.clip(arr, info.min, info.max)
    return np.ascontiguousarray(arr.astype(target))


def shuffle_deflate(data: npt.NDArray[Any], level: int = 1) -> bytes:
    """Byte-shuffle 16-bit values (all low bytes, then all high bytes) and deflate."""
    raw = np.ascontiguousarray(data).view(np.uint8).reshape(-1, 2)
    return zlib.compress(np.ascontiguousarray(raw.T).tobytes(), level)


def _window_to_uint8(image: npt.NDArray[Any], center: float, width: float) -> npt.NDArray[np.uint8]:
    lo = center - width / 2.0
    scaled = (image.astype(np.float32) - np.float32(lo)) * np.float32(255.0 / width)
    grey: npt.NDArray[np.uint8] = np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
    return grey


def _jpeg(gray: npt.NDArray[np.uint8], quality: int) -> bytes:
    try:
        import simplejpeg  # type: ignore[import-untyped]  # libjpeg-turbo: ~0.6 ms for a 512 x 512 slice
    except ImportError:  # pragma: no cover - Pillow is the slower fallback
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(gray, mode="L").save(buf, format="JPEG", quality=quality)
        return buf.getvalue()
    return bytes(simplejpeg.encode_jpeg(np.ascontiguousarray(gray[..., None]), quality, "GRAY"))


def encode_preview(
    source: SliceSource,
    indices: Sequence[int],
    *,
    center: float,
    width: float,
    quality: int = 85,
    limit: int = MAX_MESSAGE_BYTES,
) -> Iterator[Chunk]:
    """Yield messages of JPEG previews windowed at ``center``/``width``.

    The header lists ``slices`` and the byte ``lengths`` of each JPEG in the buffer,
    and the ``window`` used, so the browser can map preview grey back to values.
    """
    slices: list[int] = []
    parts: list[bytes] = []
    size = 0
    for index in indices:
        data = _jpeg(_window_to_uint8(np.asarray(source.slice(index)), center, width), quality)
        if parts and size + len(data) > limit:
            yield _preview_chunk(slices, parts, center, width)
            slices, parts, size = [], [], 0
        slices.append(int(index))
        parts.append(data)
        size += len(data)
    if parts:
        yield _preview_chunk(slices, parts, center, width)


def _preview_chunk(slices: list[int], parts: list[bytes], center: float, width: float) -> Chunk:
    header = {
        "kind": "preview",
        "slices": slices,
        "lengths": [len(p) for p in parts],
        "window": [center, width],
    }
    return Chunk(header, b"".join(parts))


def encode_full(
    source: SliceSource,
    indices: Sequence[int],
    *,
    kind: str,
    encoding: str = "raw",
    limit: int = MAX_MESSAGE_BYTES,
) -> Iterator[Chunk]:
    """Yield messages of full-quality values for ``indices``.

    Whole slices are grouped while their raw size fits in ``limit``; a slice larger
    than ``limit`` is sent as bands of rows (``row0``, ``rows`` in the header).

    Parameters
    ----------
    kind
        The wire dtype, ``"int16"`` or ``"uint16"`` (see :func:`wire_dtype`).
    encoding
        ``"raw"`` or ``"deflate"`` (byte-shuffled, zlib level 1).
    """
    _, ny, nx = source.shape
    row_bytes = nx * 2
    slice_bytes = ny * row_bytes
    if slice_bytes > limit:
        band = max(1, limit // row_bytes)
        for index in indices:
            image = to_wire(source.slice(index), kind)
            for row0 in range(0, ny, band):
                rows = min(band, ny - row0)
                yield _full_chunk([int(index)], image[row0 : row0 + rows], row0, rows, encoding)
        return
    per_message = max(1, limit // slice_bytes)
    todo = [int(i) for i in indices]
    for start in range(0, len(todo), per_message):
        group = todo[start : start + per_message]
        block = np.stack([to_wire(source.slice(i), kind) for i in group])
        yield _full_chunk(group, block, 0, ny, encoding)


def _full_chunk(
    slices: list[int], block: npt.NDArray[Any], row0: int, rows: int, encoding: str
) -> Chunk:
    payload = shuffle_deflate(block) if encoding == "deflate" else block.tobytes()
    header = {
        "kind": "full",
        "slices": slices,
        "row0": row0,
        "rows": rows,
        "encoding": encoding,
        "raw_bytes": int(block.nbytes),
    }
    return Chunk(header, payload)
