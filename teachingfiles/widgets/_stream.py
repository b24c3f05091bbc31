"""Encode slices for the browser: 8-bit JPEG previews and lossless 16-bit chunks.

The browser asks for slices (``want`` messages naming the slice indices, nearest to
the one on screen first); each answer is one or more binary messages, none larger
than the chunk limit. A message carries several whole slices, or, for an image
larger than the limit (a 2048 x 2048 radiograph), a band of rows of one slice.

Full-quality data travels as little-endian int16 (uint16 when values exceed
32767) in one of three encodings:

``planes`` (the default)
    Two byte planes: every low byte as it is, then every high byte deflated (zlib
    level 1). CT holds 12-bit values, so the high plane shrinks to almost nothing
    while the noisy low plane would not compress anyway: half the bytes of ``raw``
    for ~0.7 ms of kernel time a 512 x 512 slice (full deflate costs ~10 ms for a
    further fifth).
``deflate``
    Byte-shuffled and deflated: the low bytes of every value, then the high bytes,
    which compresses CT about 15 % better than plain deflate; for slow links.
``raw``
    The values as they are.

The browser undoes both after ``DecompressionStream("deflate")``.

Previews may be reduced (``step``: the mean of each ``step`` x ``step`` block), so
the whole series is scrollable sooner over a slow link; the browser scales them up
until the lossless values arrive. JPEG encoding and deflate release the GIL, so
both run on a small thread pool while earlier chunks are being sent.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from teachingfiles.widgets._source import SliceSource

__all__ = [
    "MAX_MESSAGE_BYTES",
    "Chunk",
    "PartialPlanes",
    "encode_full",
    "encode_preview",
    "shuffle_deflate",
    "split_planes",
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


def split_planes(data: npt.NDArray[Any], level: int = 1) -> bytes:
    """Return the ``planes`` payload of 16-bit values: all low bytes, then the high bytes deflated.

    CT values span 12 bits, so the high bytes take a handful of values and deflate
    to almost nothing, while the noisy low bytes would not compress: they travel
    as they are, saving the kernel ~90 % of the work of deflating both.
    """
    raw = np.ascontiguousarray(data).view(np.uint8).reshape(-1, 2)
    planes = np.ascontiguousarray(raw.T)
    return b"".join((memoryview(planes[0]), zlib.compress(memoryview(planes[1]), level)))


@cache
def _pool() -> ThreadPoolExecutor:
    """Two workers: the machine the kernel runs on may have only two cores."""
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="tf-viewer")


def _pipelined(jobs: Sequence[Callable[[], Chunk]], ahead: int = 2) -> Iterator[Chunk]:
    """Run ``jobs`` on the pool, at most ``ahead`` beyond the one being yielded, in order."""
    pending: list[Future[Chunk]] = []
    todo = iter(jobs)
    for job in todo:
        pending.append(_pool().submit(job))
        if len(pending) > ahead:
            break
    while pending:
        chunk = pending.pop(0).result()
        nxt = next(todo, None)
        if nxt is not None:
            pending.append(_pool().submit(nxt))
        yield chunk


@lru_cache(maxsize=8)
def _window_lut(center: float, width: float, dtype: str = "int16") -> npt.NDArray[np.uint8]:
    """Grey levels for every 16-bit value (read-only, cached: requests repeat a window).

    Indexed by ``value + 32768`` for ``"int16"`` and by the value for ``"uint16"``.
    """
    start = -32768 if dtype == "int16" else 0
    values = np.arange(start, start + 65536, dtype=np.float32)
    scaled = (values - np.float32(center - width / 2.0)) * np.float32(255.0 / width)
    lut: npt.NDArray[np.uint8] = np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
    lut.flags.writeable = False
    return lut


def _window_to_uint8(
    image: npt.NDArray[Any], center: float, width: float, lut: npt.NDArray[np.uint8] | None = None
) -> npt.NDArray[np.uint8]:
    # a table lookup is ~4x faster than float arithmetic on a 512 x 512 slice
    if lut is not None and image.dtype == np.int16:
        grey: npt.NDArray[np.uint8] = lut[image.view(np.uint16) ^ np.uint16(0x8000)]
        return grey
    if lut is not None and image.dtype == np.uint16:
        grey = lut[image]
        return grey
    lo = center - width / 2.0
    scaled = (image.astype(np.float32) - np.float32(lo)) * np.float32(255.0 / width)
    grey = np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
    return grey


def _reduce(grey: npt.NDArray[np.uint8], step: int) -> npt.NDArray[np.uint8]:
    """Mean of each ``step`` x ``step`` block (edge rows/columns that do not fill one dropped)."""
    if step <= 1:
        return grey
    ny, nx = grey.shape[0] // step * step, grey.shape[1] // step * step
    if ny == 0 or nx == 0:
        return grey
    # strided sums are ~6x faster than reshape(...).sum(axis=(1, 3)) for a 512 x 512 slice
    total = np.zeros((ny // step, nx // step), np.uint16 if step <= 16 else np.uint32)
    for dy in range(step):
        for dx in range(step):
            total += grey[dy:ny:step, dx:nx:step]
    out: npt.NDArray[np.uint8] = ((total + (step * step) // 2) // (step * step)).astype(np.uint8)
    return out


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
    step: int = 1,
    limit: int = MAX_MESSAGE_BYTES,
) -> Iterator[Chunk]:
    """Yield messages of JPEG previews windowed at ``center``/``width``.

    The header lists ``slices`` and the byte ``lengths`` of each JPEG in the buffer,
    the ``window`` used, so the browser can map preview grey back to values, the
    reduction ``step``, and ``ms``, the kernel time spent encoding.

    Parameters
    ----------
    step
        Reduce each preview by this factor (block mean); 1 keeps every pixel.
    """
    started = time.perf_counter()
    dtype = np.dtype(source.dtype)
    lut = _window_lut(center, width, dtype.name) if dtype in (np.int16, np.uint16) else None

    def one(index: int) -> bytes:
        image = np.asarray(source.slice(index))
        return _jpeg(_reduce(_window_to_uint8(image, center, width, lut), step), quality)

    encoded = _pool().map(one, [int(i) for i in indices])
    slices: list[int] = []
    parts: list[bytes] = []
    size = 0
    for index, data in zip(indices, encoded, strict=True):
        if parts and size + len(data) > limit:
            yield _preview_chunk(slices, parts, center, width, step, started)
            slices, parts, size = [], [], 0
            started = time.perf_counter()
        slices.append(int(index))
        parts.append(data)
        size += len(data)
    if parts:
        yield _preview_chunk(slices, parts, center, width, step, started)


def _preview_chunk(
    slices: list[int], parts: list[bytes], center: float, width: float, step: int, started: float
) -> Chunk:
    header = {
        "kind": "preview",
        "slices": slices,
        "lengths": [len(p) for p in parts],
        "window": [center, width],
        "step": step,
        "ms": round((time.perf_counter() - started) * 1e3, 2),
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
    Encoded (``planes``, ``deflate``) chunks are made on the thread pool, two ahead of the one
    yielded; ``ms`` in the header is the kernel time spent making the chunk.

    Parameters
    ----------
    kind
        The wire dtype, ``"int16"`` or ``"uint16"`` (see :func:`wire_dtype`).
    encoding
        ``"planes"`` (low bytes, then the high bytes deflated), ``"deflate"``
        (byte-shuffled, zlib level 1) or ``"raw"``.
    """
    _, ny, nx = source.shape
    row_bytes = nx * 2
    slice_bytes = ny * row_bytes
    # deflate may grow incompressible data by ~0.03 %: keep that room under the hard limit
    room = limit if encoding == "raw" else min(limit, MAX_MESSAGE_BYTES - (MAX_MESSAGE_BYTES >> 10))
    jobs: list[Callable[[], Chunk]] = []
    if slice_bytes > limit:
        band = max(1, room // row_bytes)
        for index in indices:
            for row0 in range(0, ny, band):
                rows = min(band, ny - row0)
                jobs.append(_band_job(source, int(index), row0, rows, kind, encoding))
    else:
        per_message = max(1, room // slice_bytes)
        todo = [int(i) for i in indices]
        jobs.extend(
            _group_job(source, todo[start : start + per_message], kind, encoding)
            for start in range(0, len(todo), per_message)
        )
    if encoding in ("deflate", "planes"):
        yield from _pipelined(jobs)
    else:  # copying raw values is quicker than handing them to a thread
        for job in jobs:
            yield job()


def _group_job(
    source: SliceSource, group: list[int], kind: str, encoding: str
) -> Callable[[], Chunk]:
    def job() -> Chunk:
        started = time.perf_counter()
        block = np.stack([to_wire(source.slice(i), kind) for i in group])
        return _full_chunk(group, block, 0, block.shape[1], encoding, started)

    return job


def _band_job(
    source: SliceSource, index: int, row0: int, rows: int, kind: str, encoding: str
) -> Callable[[], Chunk]:
    def job() -> Chunk:
        started = time.perf_counter()
        band = to_wire(np.asarray(source.slice(index))[row0 : row0 + rows], kind)
        return _full_chunk([index], band, row0, rows, encoding, started)

    return job


def _full_chunk(
    slices: list[int],
    block: npt.NDArray[Any],
    row0: int,
    rows: int,
    encoding: str,
    started: float,
) -> Chunk:
    if encoding == "planes":
        payload = split_planes(block)
    elif encoding == "deflate":
        payload = shuffle_deflate(block)
    else:
        payload = block.tobytes()
    header = {
        "kind": "full",
        "slices": slices,
        "row0": row0,
        "rows": rows,
        "encoding": encoding,
        "raw_bytes": int(block.nbytes),
        "ms": round((time.perf_counter() - started) * 1e3, 2),
    }
    return Chunk(header, payload)


class PartialPlanes:
    """Coronal or sagittal images the page holds partial, and when to send them again.

    While a series downloads (a reformat whose source is ``partial``), the kernel
    answers a preview request with the rows there are, blank for slices still to
    come, and lists the images as missing, so the page asks for no full-quality
    values yet. This keeps the page's copy fresh: the image on screen is sent again
    unasked (:meth:`due`, :meth:`chunks`) as slices land, at most every ``every``
    seconds; the download's progress goes with "ready" messages naming no image
    (:meth:`progress`); once every slice is in, one "ready" message names every
    image (:meth:`finish`), so the page asks again for each, at full quality. The
    viewer's arrival watcher calls these on its thread, ``sent`` comes from the
    kernel's: a lock keeps the record whole.

    Parameters
    ----------
    every
        Seconds between two sends of the image on screen (a JPEG of ~10-40 KB).
    """

    def __init__(self, every: float = 0.25) -> None:
        self.every = every
        self._lock = threading.Lock()
        self._generation = -1
        self._cut: dict[int, int] = {}  # image -> slices loaded when it was cut
        self._last = -math.inf
        self._reported = -1
        self._finished = -1
        self._ids = itertools.count(1)

    def _stack(self, generation: int) -> None:
        """Forget what was sent for an earlier stack (lock held)."""
        if generation != self._generation:
            self._generation, self._cut = generation, {}
            self._last, self._reported = -math.inf, -1

    def sent(self, generation: int, images: Iterable[int], loaded: int) -> None:
        """Record partial images sent to the page, cut when ``loaded`` slices were in."""
        with self._lock:
            self._stack(generation)
            for image in images:
                self._cut[int(image)] = loaded

    def due(self, generation: int, index: int, loaded: int, now: float) -> list[int]:
        """Return the images to send again now: the one on screen, if slices landed since.

        ``now`` is a :func:`time.monotonic` reading; the images returned count as
        sent at ``loaded`` (the caller sends them).
        """
        with self._lock:
            self._stack(generation)
            cut = self._cut.get(index)
            if cut is None or cut >= loaded or now - self._last < self.every:
                return []
            self._last = now
            self._cut[index] = loaded
            return [index]

    def progress(self, generation: int, loaded: int) -> bool:
        """Whether the page should hear the download's progress (it moved since last told)."""
        with self._lock:
            self._stack(generation)
            if loaded == self._reported:
                return False
            self._reported = loaded
            return True

    def finish(self, generation: int) -> bool:
        """Whether to tell the page every image of this stack is final (once a stack)."""
        with self._lock:
            if generation == self._finished:
                return False
            self._finished = generation
            self._stack(generation)
            self._cut = {}
            return True

    def messages(
        self,
        source: SliceSource,
        generation: int,
        index: int,
        loaded: int,
        total: int,
        **preview: Any,
    ) -> Iterator[tuple[dict[str, Any], list[bytes]]]:
        """Yield what the page should hear now about the stack ``generation`` on screen.

        ``index`` is the image on screen, ``loaded`` of ``total`` slices are in,
        ``preview`` are :func:`encode_preview`'s options. Nothing for a stack that
        was never partial but one "ready" naming every image.
        """
        ready = {"type": "ready", "generation": generation, "total": total, "loaded": loaded}
        if not getattr(source, "partial", False):
            if self.finish(generation):
                yield {**ready, "slices": list(range(source.shape[0]))}, []
            return
        due = self.due(generation, index, loaded, time.monotonic())
        for chunk in self.chunks(source, due, generation, **preview):
            yield chunk.header, [chunk.payload]
        if self.progress(generation, loaded):
            yield {**ready, "slices": []}, []

    def chunks(
        self, source: SliceSource, images: Sequence[int], generation: int, **preview: Any
    ) -> Iterator[Chunk]:
        """Yield unasked preview messages of ``images`` (``preview``: see :func:`encode_preview`).

        Each is a whole answer of its own (``last``, an ``id`` no request has), still
        listed missing, for the stack ``generation``.
        """
        for chunk in encode_preview(source, images, **preview):
            header = dict(chunk.header)
            header.update(
                type="chunk",
                id=f"refresh-{next(self._ids)}",
                generation=generation,
                last=True,
                missing=list(header["slices"]),
            )
            yield Chunk(header, chunk.payload)
