"""A :class:`~teachingfiles.dicom.volume.Volume` whose slices are still downloading.

The geometry comes from the series' WADO-RS metadata, so the volume exists (shape,
order, spacing, SOP UIDs) before any pixel has arrived. Each slice decodes as soon
as its instance has come, from the bytes received (the metadata gives what
:mod:`~teachingfiles.repository._part_pixels` needs, so no header is parsed
again), while its file is written to the cache; :meth:`RemoteVolume.slice` waits
for that one slice only, and :meth:`RemoteVolume.focus` tells the download where
the viewer is. The volume's memory is mapped in the background (:func:`prefault`).

The metadata is read straight from its DICOM JSON (:func:`header_from_json`):
building pydicom datasets first (``Dataset.from_json``) costs ~1 ms an instance,
more than the request itself. The headers are kept in the cache beside the
series' instance list (:func:`header_to_record`), so a cached series re-opens
without reading a file header or asking the server.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from io import BytesIO
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels.utils import pixel_array
from pydicom.uid import DeflatedExplicitVRLittleEndian

from teachingfiles.dicom._slices import fix_bits
from teachingfiles.dicom.volume import SliceHeader, Volume
from teachingfiles.errors import InvalidDicomError, RepositoryError
from teachingfiles.repository._download import SeriesDownload
from teachingfiles.repository._part_pixels import (
    decode_part,
    stored_dtype,
    transfer_syntax,
)
from teachingfiles.repository.cache import InstanceCache

__all__ = [
    "RemoteVolume",
    "header_from_json",
    "header_from_record",
    "header_to_record",
    "prefault",
    "slice_header",
]


def _floats(value: Any, n: int) -> tuple[float, ...] | None:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return out if len(out) == n else None


def slice_header(ds: Dataset, cache: InstanceCache) -> SliceHeader:
    """Build the slice header of an instance from its metadata (pixels to come in ``cache``).

    Raises
    ------
    InvalidDicomError
        If the metadata lacks SOP Instance UID, Rows or Columns.
    """
    sop = str(ds.get("SOPInstanceUID", ""))
    if not sop or "Rows" not in ds or "Columns" not in ds:
        raise InvalidDicomError(
            f"instance {sop or '(no SOPInstanceUID)'}: the server's metadata lacks "
            "SOPInstanceUID/Rows/Columns, so it is not an image this viewer can show",
            tag="Rows",
        )
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    number = ds.get("InstanceNumber")
    return SliceHeader(
        sop_uid=sop,
        rows=int(ds.Rows),
        columns=int(ds.Columns),
        position=_floats(ds.get("ImagePositionPatient"), 3),
        orientation=_floats(ds.get("ImageOrientationPatient"), 6),
        pixel_spacing=_floats(spacing, 2),
        instance_number=None if number in (None, "") else int(number),
        slope=1.0 if slope in (None, "") else float(slope),
        intercept=0.0 if intercept in (None, "") else float(intercept),
        path=str(cache.path(sop)),
        modality=str(ds.get("Modality") or "OT"),
        photometric=str(ds.get("PhotometricInterpretation", "MONOCHROME2")),
        bits_stored=int(ds.get("BitsStored") or ds.get("BitsAllocated") or 16),
    )


def _json_values(attrs: Mapping[str, Any], tag: str) -> list[Any]:
    values = attrs.get(tag, {}).get("Value")
    return list(values) if values else []


def _json_first(attrs: Mapping[str, Any], tag: str) -> Any:
    values = _json_values(attrs, tag)
    return values[0] if values else None


def header_from_json(attrs: Mapping[str, Any], cache: InstanceCache) -> SliceHeader:
    """Build the slice header of an instance from its DICOM JSON metadata (WADO-RS).

    The same facts as :func:`slice_header`, read without building a dataset.

    Raises
    ------
    InvalidDicomError
        If the metadata lacks SOP Instance UID, Rows or Columns.
    """
    sop = str(_json_first(attrs, "00080018") or "")
    rows, columns = _json_first(attrs, "00280010"), _json_first(attrs, "00280011")
    if not sop or rows is None or columns is None:
        raise InvalidDicomError(
            f"instance {sop or '(no SOPInstanceUID)'}: the server's metadata lacks "
            "SOPInstanceUID/Rows/Columns, so it is not an image this viewer can show",
            tag="Rows",
        )
    spacing = _json_values(attrs, "00280030") or _json_values(attrs, "00181164")
    slope, intercept = _json_first(attrs, "00281053"), _json_first(attrs, "00281052")
    number = _json_first(attrs, "00200013")
    bits = _json_first(attrs, "00280101") or _json_first(attrs, "00280100")
    return SliceHeader(
        sop_uid=sop,
        rows=int(rows),
        columns=int(columns),
        position=_floats(_json_values(attrs, "00200032"), 3),
        orientation=_floats(_json_values(attrs, "00200037"), 6),
        pixel_spacing=_floats(spacing, 2),
        instance_number=None if number in (None, "") else int(number),
        slope=1.0 if slope in (None, "") else float(slope),
        intercept=0.0 if intercept in (None, "") else float(intercept),
        path=str(cache.path(sop)),
        modality=str(_json_first(attrs, "00080060") or "OT"),
        photometric=str(_json_first(attrs, "00280004") or "MONOCHROME2"),
        bits_stored=int(bits or 16),
        pixel_dtype=stored_dtype(attrs),
    )


_RECORDED = tuple(f.name for f in fields(SliceHeader) if f.name not in ("path", "dataset"))


def header_to_record(header: SliceHeader) -> dict[str, Any]:
    """Turn a header into plain JSON-able values (its path and dataset left out).

    Read field by field: :func:`dataclasses.asdict` deep-copies every value
    (~0.1 ms a header, on the path that opens a series).
    """
    record = {name: getattr(header, name) for name in _RECORDED}
    for name in ("position", "orientation", "pixel_spacing"):
        if record[name] is not None:
            record[name] = list(record[name])
    return record


def header_from_record(record: Mapping[str, Any], cache: InstanceCache) -> SliceHeader:
    """Rebuild a header saved by :func:`header_to_record`, its file in ``cache``."""
    values: dict[str, Any] = {name: record[name] for name in _RECORDED if name in record}
    for name in ("position", "orientation", "pixel_spacing"):
        if values.get(name) is not None:
            values[name] = tuple(values[name])
    return SliceHeader(**values, path=str(cache.path(str(record["sop_uid"]))))


#: ``madvise`` advice: fault pages in writable, keeping their content (Linux 5.14+).
_MADV_POPULATE_WRITE = 23
_PAGE = 4096


def _madvise() -> Any:
    """Return libc's ``madvise`` through ctypes, or ``None`` off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        func = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    func.restype = ctypes.c_int
    return func


def prefault(array: npt.NDArray[Any]) -> threading.Thread | None:
    """Map the memory of ``array`` in a background thread, its content untouched.

    The first store into each page of a fresh array faults it in (the kernel
    zeroes it, and with transparent huge pages may compact memory first): 0.3
    to 2 ms a 512x512 slice when measured on a busy machine, on the thread that
    decodes. ``madvise(MADV_POPULATE_WRITE)`` does it all in one call that,
    through ctypes, runs without the GIL on another core while the first
    requests are in flight; unlike writing the pages, it keeps what a decoder
    stored meanwhile. Hand-written because neither numpy nor :mod:`mmap` (before
    Python 3.14, and only for its own maps) offers it. Does nothing where the
    call does not exist (not Linux, a kernel before 5.14).
    """
    madvise = _madvise()
    if madvise is None or array.nbytes == 0:
        return None
    address = array.ctypes.data
    start = address - address % _PAGE

    def populate() -> None:
        madvise(start, array.nbytes + (address - start), _MADV_POPULATE_WRITE)  # errors: no-op

    thread = threading.Thread(target=populate, name="tf-prefault", daemon=True)
    thread.start()
    return thread


class RemoteVolume(Volume):
    """A volume that fills in as its instances download (see the module docstring).

    Build it with :meth:`DicomwebSource.open_series
    <teachingfiles.repository.dicomweb.DicomwebSource.open_series>`.
    """

    _download: SeriesDownload | None = None
    _workers: int = 2

    @classmethod
    def from_headers(
        cls, headers: Sequence[SliceHeader], *, workers: int | None = None
    ) -> RemoteVolume:
        """Build a volume from headers whose files are not there yet (call :meth:`attach`)."""
        vol = cls(headers, workers=workers, background=False)
        vol._workers = workers or 2
        return vol

    @classmethod
    def from_files(
        cls, paths: Sequence[str | PathLike[str]], *, workers: int | None = None
    ) -> RemoteVolume:
        """Open a volume of files already in the cache (decoding starts at once)."""
        vol = cls.open(paths, workers=workers)
        assert isinstance(vol, RemoteVolume)
        return vol

    def attach(self, download: SeriesDownload) -> None:
        """Decode each slice as ``download`` brings it in.

        A streamed instance is decoded on the stream's own thread from the bytes
        that came (:meth:`_load_bytes`), before its file is written; an instance
        fetched alone (the slice on screen, a slice jumped to) is decoded from
        its file in a small thread pool.

        Why on the stream's thread: the RLE decoder holds the GIL (~0.5 ms a
        512x512 slice), so decoding threads do not run in parallel with each
        other; they only make the thread reading the socket wait for the GIL
        after every ``recv`` (~2 ms a part when measured, 0.2 ms alone). One
        thread that reads a part and then decodes it lets the server keep
        sending into the socket buffer meanwhile.
        """
        prefault(self._data)
        self._download = download
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="tf-remote-decode")
        pool = self._pool

        def decode(k: int) -> None:
            if not self._ready[k]:  # streamed slices are decoded already
                pool.submit(self._load, k)

        def decode_bytes(k: int, data: bytes) -> None:
            self._load_bytes(k, data)

        download.on_data(decode_bytes)
        download.on_arrival(decode)

    def _load_bytes(self, k: int, data: bytes | None = None) -> bool:
        """Decode slice ``k`` from the bytes that came, not waiting for its file.

        Without ``data`` (a cached series re-opened, an instance fetched alone),
        the cached file's bytes are read. Whether slice ``k`` is done: on any
        failure the slice is left to :meth:`Volume._load`, which decodes the
        file again and reports the error with its path.
        """
        header = self.headers[k]
        if header.frame is not None or (data is None and not header.path):
            return False  # one frame of a multi-frame file: Volume._load picks it out
        with self._locks[k]:
            if self._ready[k] or k in self._errors:
                return True
            try:
                if data is None:
                    data = Path(str(header.path)).read_bytes()
                stored = self._decode_bytes(data, header)
                if stored.shape != self.shape[1:]:
                    return False
                self._store(k, stored, header)
            except Exception:  # pydicom raises many kinds: _load reports it, with the path
                return False
            self._ready[k] = True
        with self._count_lock:
            self._done += 1
            if self._done == self.shape[0]:
                self._complete.set()
        return True

    @staticmethod
    def _decode_fast(data: bytes, header: SliceHeader) -> npt.NDArray[Any] | None:
        """Decode one instance's bytes directly (see :func:`decode_part`), or ``None``."""
        if header.pixel_dtype is None:
            return None
        fast = decode_part(data, header.rows, header.columns, header.pixel_dtype)
        if fast is not None and header.bits_stored < 8 * fast.dtype.itemsize:
            fast = fix_bits(fast if fast.flags.writeable else fast.copy(), header.bits_stored)
        return fast

    @classmethod
    def _decode_bytes(cls, data: bytes, header: SliceHeader) -> npt.NDArray[Any]:
        """Decode one instance's bytes, directly where they allow, else with pydicom."""
        fast = cls._decode_fast(data, header)
        if fast is not None:
            return fast
        if (
            transfer_syntax(data) == DeflatedExplicitVRLittleEndian
        ):  # pydicom's stream decoder cannot inflate it
            stored = pixel_array(pydicom.dcmread(BytesIO(data)))
        else:
            stored = pixel_array(BytesIO(data))
        if stored.ndim == 3:
            stored = stored[0]
        if stored.dtype.byteorder not in ("=", "|"):
            stored = stored.astype(stored.dtype.newbyteorder("="))
        return stored

    @property
    def downloading(self) -> bool:
        """Whether instances are still on their way."""
        d = self._download
        return d is not None and d.done < self.shape[0]

    @property
    def settled(self) -> bool:
        """Whether no slice is on its way: each has loaded or failed, or none loads by itself.

        A volume built by :meth:`from_headers` and never attached loads a slice only
        when asked for (:meth:`wait` then loads them all): it counts as settled.
        """
        return self._pool is None or self._complete.is_set()

    def snapshot(self) -> tuple[npt.NDArray[np.bool_], npt.NDArray[Any]]:
        """Which slices are loaded now, and the volume's array (not a copy).

        The flags are copied first, and a slice is flagged only once it is stored,
        so every slice they mark is whole in the array; the rows of the others hold
        whatever is there yet (a slice being stored, or zeros). What a viewer reads
        to show a coronal or sagittal image of a series still downloading, without
        waiting for it.
        """
        ready: npt.NDArray[np.bool_] = self._ready.copy()
        return ready, self._data

    def focus(self, k: int) -> None:
        """Fetch the slices nearest ``k`` next (the viewer moved there)."""
        if self._download is not None:
            self._download.focus = k % self.shape[0]

    def _load(self, k: int) -> None:
        download = self._download
        if download is not None and not self._ready[k] and k not in self._errors:
            try:
                download.wait_for_data(k)  # decoded from its bytes, mostly: no disk wait
                if not self._ready[k]:
                    download.wait_for(k)  # they could not be decoded: its file
            except BaseException as exc:
                with self._locks[k]:
                    if self._ready[k] or k in self._errors:
                        return
                    self._errors[k] = exc
                with self._count_lock:
                    self._done += 1
                    if self._done == self.shape[0]:
                        self._complete.set()
                return
        if self._load_bytes(k):
            return  # decoded from the file's bytes (directly where they allow)
        super()._load(k)

    def wait(self, timeout: float | None = None) -> npt.NDArray[Any]:
        """Wait until every slice is loaded; the whole array.

        Raises
        ------
        RepositoryError
            If slices could not be downloaded: how many, the first reason, and
            that opening the series again resumes (what is cached is kept).
        DecodeError
            The first slice that could not be decoded.
        TimeoutError
            If ``timeout`` seconds pass first.
        """
        try:
            return super().wait(timeout)
        except RepositoryError as exc:
            download, n = self._download, self.shape[0]
            failed = sum(isinstance(e, RepositoryError) for e in self._errors.values())
            where = f" in the cache {download.cache_root}" if download is not None else ""
            raise RepositoryError(
                f"{failed} of {n} slice(s) could not be downloaded (first: {exc}); the "
                f"{n - failed} others are kept{where}: open the series again when the "
                "server answers and only the missing slices are stored"
            ) from exc

    def close(self) -> None:
        """Stop downloading and decoding (slices already loaded stay usable)."""
        if self._download is not None:
            self._download.stop()
        super().close()
