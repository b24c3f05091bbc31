"""Download the instances of a series into the cache: one stream, the slice on screen first.

:class:`SeriesDownload` brings a series in two ways at once. When given a
``stream`` (one WADO-RS request for the whole series, its multipart answer read
part by part as it arrives, see :func:`iter_parts`), a thread writes each
instance to the :class:`~teachingfiles.repository.cache.InstanceCache` as it
lands, and a few worker threads fetch single instances (one WADO-RS request
each) only when someone waits for one that has not arrived yet (the viewer's
slice). Without a stream, or when the stream breaks or leaves instances out, the
workers fetch everything still missing one instance at a time, nearest the
current :attr:`~SeriesDownload.focus` first. Every file is written atomically;
:meth:`~SeriesDownload.wait_for` returns an instance's path as soon as it is there,
:meth:`~SeriesDownload.wait_for_data` as soon as its bytes went to the decoder
(:meth:`~SeriesDownload.on_data`), so a busy disk delays no slice on screen.

Why one stream: a request per instance costs the server a lookup and the client a
round trip, ~10 ms on loopback; a 150-slice series then takes far longer than the
bytes need (Orthanc streams 40 MB of a series in ~70 ms).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path
from typing import Any

import pydicom
import requests
from tqdm.auto import tqdm

from teachingfiles.errors import RepositoryError
from teachingfiles.repository.cache import InstanceCache

__all__ = [
    "SeriesDownload",
    "iter_parts",
    "multipart_boundary",
    "single_part",
    "sop_uid_of",
]

Fetch = Callable[[str], bytes]
#: Yields ``(SOP Instance UID, bytes of the instance)`` for the instances of a series.
Stream = Callable[[], Iterable[tuple[str, bytes]]]
#: Seconds the stream waits for the slice on screen to arrive alone before it starts.
_HEAD_START = 2.0


def multipart_boundary(content_type: str) -> bytes | None:
    """Return the boundary of a ``multipart/...`` Content-Type (``None`` if not multipart)."""
    media, *params = (p.strip() for p in content_type.split(";"))
    if not media.lower().startswith("multipart/"):
        return None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "boundary":
            return value.strip().strip('"').encode()
    return None


def iter_parts(chunks: Iterable[bytes], boundary: bytes, where: str) -> Iterator[bytes]:
    """Yield the bodies of a ``multipart/related`` message's parts as each one completes.

    Hand-written (about thirty lines) because the well-kept parsers do not fit:
    dicomweb-client's public calls hand back parsed datasets (re-encoding them
    costs time and changes the bytes the cache keeps), its splitter is private,
    and the multipart libraries on PyPI parse form data (they demand a
    Content-Disposition in every part).

    Parameters
    ----------
    chunks
        The message body in pieces of any size (``response.iter_content(...)``).
    boundary
        The boundary from the Content-Type (see :func:`multipart_boundary`).
    where
        The URL, named in the error.

    Raises
    ------
    RepositoryError
        If the body ends before the closing boundary (the connection was cut);
        the parts yielded before are whole.
    """
    delimiter = b"\r\n--" + boundary
    buf = bytearray(b"\r\n")  # the first boundary line has no CRLF before it
    in_body = False
    scan = 0  # where the next search for the delimiter starts
    for chunk in chunks:
        buf += chunk
        while True:
            at = buf.find(delimiter, scan)
            if at < 0:
                scan = max(0, len(buf) - len(delimiter) + 1)
                break
            if in_body:
                with memoryview(buf) as view:  # one copy (``bytes(buf[:at])`` makes two)
                    part = bytes(view[:at])
                yield part
                del buf[:at]
                in_body, at, scan = False, 0, 0
            after = at + len(delimiter)
            if buf[after : after + 2] == b"--":
                return  # the closing boundary
            head_end = buf.find(b"\r\n\r\n", after)
            if head_end < 0:
                scan = at  # wait for the rest of this part's headers
                break
            del buf[: head_end + 4]
            in_body, scan = True, 0
    raise RepositoryError(
        f"{where}: the multipart answer ended before its closing boundary (the "
        "connection was cut); the instances that arrived whole are kept, run again "
        "to fetch the rest"
    )


def single_part(response: requests.Response) -> bytes:
    """Cut out the body of a one-part ``multipart/related`` answer.

    dicomweb-client's own decoder returns parsed datasets (re-encoding them would
    cost time and change bytes); the cache keeps the server's bytes.
    """
    body = response.content
    boundary = multipart_boundary(response.headers.get("Content-Type", ""))
    if boundary is None:
        return body
    for part in iter_parts([body], boundary, response.url):
        return part
    raise RepositoryError(f"{response.url}: an empty multipart answer; run again")


#: (0008,0018) SOP Instance UID in Explicit VR Little Endian: tag, VR ``UI``, 2-byte length.
_SOP_UID_TAG = b"\x08\x00\x18\x00UI"
#: Where to look for it: the file meta and the first elements of group 0008.
_SOP_UID_SCAN = 4096


def _sop_uid_fast(part: bytes) -> str | None:
    """Find the SOP Instance UID in Explicit VR Little Endian bytes without parsing.

    Hand-written: pydicom's parse (even limited to one tag) costs ~0.25 ms an
    instance, on the thread that reads the stream. The element is searched after
    the file meta group (which holds the same UID as Media Storage SOP Instance
    UID (0002,0003), a different tag); anything unexpected returns ``None`` and
    the caller parses with pydicom.
    """
    if part[128:132] != b"DICM":
        return None
    at = part.find(_SOP_UID_TAG, 132, _SOP_UID_SCAN)
    if at < 0:
        return None
    length = int.from_bytes(part[at + 6 : at + 8], "little")
    uid = part[at + 8 : at + 8 + length].rstrip(b"\x00 ").decode("ascii", "replace")
    return uid if uid and all(c.isdigit() or c == "." for c in uid) else None


def sop_uid_of(part: bytes, url: str) -> str:
    """Read the SOP Instance UID of one instance's bytes (its header only).

    Raises
    ------
    RepositoryError
        If the bytes are not a DICOM instance.
    """
    fast = _sop_uid_fast(part)
    if fast is not None:
        return fast
    try:
        ds = pydicom.dcmread(BytesIO(part), stop_before_pixels=True, specific_tags=[0x00080018])
        return str(ds.SOPInstanceUID)
    except Exception as exc:  # pydicom raises several kinds for bytes that are not DICOM
        raise RepositoryError(
            f"{url}: a part of the answer is not a DICOM instance ({exc}); the server "
            "sent something other than application/dicom"
        ) from exc


class SeriesDownload:
    """Fetch a list of instances into a cache in the background, focus first.

    Parameters
    ----------
    sop_uids
        The instances, in slice order (index ``k`` is slice ``k``).
    fetch
        Returns the bytes of one instance (a DICOM file) given its SOP Instance UID.
    cache
        Where the files go; instances already there are not fetched again.
    focus
        The index to fetch first; the others follow by distance from it.
    workers
        Parallel single-instance requests.
    progress
        Show a tqdm progress bar (``tqdm.auto``: a widget in Jupyter).
    description
        The progress bar's label.
    stream
        Brings the whole series in one request (see the module docstring); it
        starts once the ``focus`` instance, fetched alone, has arrived (or after
        two seconds). The workers then fetch only the instances waited for
        before the stream brings them, and whatever the stream fails to bring.
    """

    def __init__(
        self,
        sop_uids: Sequence[str],
        fetch: Fetch,
        cache: InstanceCache,
        *,
        focus: int | None = None,
        workers: int = 4,
        progress: bool = False,
        description: str = "download",
        stream: Stream | None = None,
    ) -> None:
        self.sop_uids = tuple(sop_uids)
        self._index = {uid: k for k, uid in enumerate(self.sop_uids)}
        self._fetch = fetch
        self._cache = cache
        n = len(self.sop_uids)
        self._focus = n // 2 if focus is None else min(max(focus, 0), max(n - 1, 0))
        self._cond = threading.Condition()
        self._paths: list[Path | None] = [cache.get(u) for u in self.sop_uids]
        self._errors: dict[int, BaseException] = {}
        self._pending = {k for k, p in enumerate(self._paths) if p is None}
        self._urgent: list[int] = []  # waited for while the stream runs
        self._received: set[int] = set()  # handed to the on_data callbacks
        self._stopped = False
        self._callbacks: list[Callable[[int], None]] = []
        self._data_callbacks: list[Callable[[int, bytes], None]] = []
        self._bar: Any = tqdm(
            total=n, initial=n - len(self._pending), unit="img", desc=description,
            disable=not progress, leave=False,
        )  # fmt: skip
        #: Why the stream stopped early (``None`` if it did not, or there was none).
        self.stream_error: BaseException | None = None
        self._streaming = stream is not None and bool(self._pending)
        self._stream_thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        if not self._pending:
            self._bar.close()
            return
        if stream is not None:
            with self._cond:
                self._hurry(self._focus)  # the slice on screen comes alone, ahead of the stream
            self._stream_thread = threading.Thread(
                target=self._read_stream, args=(stream,), name="tf-stream", daemon=True
            )
            self._stream_thread.start()
        n_workers = max(1, min(workers, len(self._pending)))
        self._pool = ThreadPoolExecutor(n_workers, thread_name_prefix="tf-download")
        for _ in range(n_workers):
            self._pool.submit(self._work)

    # ------------------------------------------------------------------ control
    @property
    def focus(self) -> int:
        """The index fetched first among those still missing."""
        return self._focus

    @focus.setter
    def focus(self, k: int) -> None:
        with self._cond:
            self._focus = k
            self._hurry(k)

    def on_arrival(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(k)`` for every instance in the cache (now, and as they arrive).

        It is also called when fetching instance ``k`` failed (:meth:`wait_for` raises).
        """
        with self._cond:
            self._callbacks.append(callback)
            ready = [k for k, p in enumerate(self._paths) if p is not None]
        for k in ready:
            callback(k)

    def on_data(self, callback: Callable[[int, bytes], None]) -> None:
        """Call ``callback(k, data)`` with the bytes of each instance that comes over the network.

        Called as soon as an instance is whole, before its file is written
        (:meth:`on_arrival` follows once it is), so a decoder need not wait for
        the disk: on the stream's thread for what the stream brings (it reads its
        next part once ``callback`` returns, the server sending into the socket
        buffer meanwhile, so a decoder that holds the GIL anyway may work right
        there), on a worker's thread for an instance fetched alone.
        """
        with self._cond:
            self._data_callbacks.append(callback)

    def stop(self) -> None:
        """Stop fetching (requests under way finish; nothing more starts)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._stream_thread is not None:
            self._stream_thread.join(timeout=10)  # it stops after the part it is on
        self._bar.close()

    # ------------------------------------------------------------------ state
    @property
    def cache_root(self) -> Path:
        """The folder of the cache the instances go to."""
        return self._cache.root

    @property
    def done(self) -> int:
        """Instances in the cache."""
        with self._cond:
            return sum(p is not None for p in self._paths)

    def wait_for(self, k: int, timeout: float | None = None) -> Path:
        """Wait until instance ``k`` is cached; its path.

        Raises
        ------
        RepositoryError
            If fetching it failed (the server's message is kept as the cause).
        TimeoutError
            If ``timeout`` seconds pass first.
        """
        path = self._wait(k, timeout, data=False)
        assert path is not None
        return path

    def wait_for_data(self, k: int, timeout: float | None = None) -> None:
        """Wait until instance ``k`` has come: its bytes went to :meth:`on_data`, or it is cached.

        A decoder that took the bytes need not wait for the file to be written
        (on a busy disk that can take long). Raises as :meth:`wait_for`.
        """
        self._wait(k, timeout, data=True)

    def _wait(self, k: int, timeout: float | None, *, data: bool) -> Path | None:
        with self._cond:
            if self._paths[k] is None and k not in self._errors:
                self._focus = k  # someone is waiting on this one: it comes next
                self._hurry(k)
            ok = self._cond.wait_for(
                lambda: (
                    self._paths[k] is not None
                    or k in self._errors
                    or self._stopped
                    or (data and k in self._received)
                ),
                timeout,
            )
            path = self._paths[k]
            if path is not None or (data and k in self._received):
                return path
            if k in self._errors:
                err = self._errors[k]
                if isinstance(err, RepositoryError):
                    raise err
                raise RepositoryError(
                    f"instance {self.sop_uids[k]} could not be downloaded: {err}"
                ) from err
        if not ok:
            raise TimeoutError(f"instance {self.sop_uids[k]} not downloaded after {timeout} s")
        raise RepositoryError(f"download stopped before instance {self.sop_uids[k]} arrived")

    def wait(self, timeout: float | None = None) -> list[Path]:
        """Wait for every instance; their paths in order.

        Raises
        ------
        RepositoryError
            Naming how many instances failed and why the first did; those that
            arrived stay in the cache, so running again fetches only the rest.
        """
        with self._cond:
            self._cond.wait_for(
                lambda: (
                    all(p is not None or k in self._errors for k, p in enumerate(self._paths))
                    or self._stopped
                ),
                timeout,
            )
            errors = dict(self._errors)
            paths = list(self._paths)
        self._bar.close()
        if errors:
            first = min(errors)
            raise RepositoryError(
                f"{len(errors)} of {len(paths)} instance(s) could not be downloaded "
                f"(first: {self.sop_uids[first]}: {errors[first]}); the "
                f"{len(paths) - len(errors)} others are in the cache {self._cache.root}, "
                "so running again fetches only what is missing"
            ) from errors[first]
        if any(p is None for p in paths):
            raise TimeoutError(f"download not finished after {timeout} s")
        return [p for p in paths if p is not None]

    # ------------------------------------------------------------------ workers
    def _hurry(self, k: int) -> None:
        """Have a worker fetch ``k`` alone if the stream has not brought it (lock held)."""
        if (
            self._streaming
            and k in self._pending
            and k not in self._urgent
            and k not in self._received  # in hand, its file being written
        ):
            self._urgent.append(k)
            self._cond.notify_all()

    def _next(self) -> int | None:
        with self._cond:
            while True:
                if self._stopped or not self._pending:
                    return None
                while self._urgent:
                    k = self._urgent.pop()
                    if k in self._pending:
                        self._pending.discard(k)
                        return k
                if not self._streaming:  # no stream, or it ended: fetch one at a time
                    f = self._focus
                    k = min(self._pending, key=lambda i: (abs(i - f), i))
                    self._pending.discard(k)
                    return k
                self._cond.wait()

    def _mark_received(self, k: int) -> None:
        with self._cond:
            self._received.add(k)
            self._cond.notify_all()

    def _arrived(self, k: int, path: Path) -> None:
        with self._cond:
            if self._paths[k] is not None:
                return  # the stream and a worker both brought it
            self._paths[k] = path
            self._pending.discard(k)
            self._errors.pop(k, None)
            callbacks = list(self._callbacks)
            self._cond.notify_all()
        self._bar.update(1)
        for callback in callbacks:
            callback(k)

    def _work(self) -> None:
        while (k := self._next()) is not None:
            uid = self.sop_uids[k]
            try:
                data = self._fetch(uid)
                with self._cond:
                    data_callbacks = list(self._data_callbacks)
                for hand_over in data_callbacks:
                    hand_over(k, data)
                self._mark_received(k)
                path = self._cache.put(uid, data)
            except BaseException as exc:
                with self._cond:
                    if self._paths[k] is not None:
                        continue  # the stream brought it meanwhile
                    self._errors[k] = exc
                    callbacks = list(self._callbacks)
                    self._cond.notify_all()
                for callback in callbacks:
                    callback(k)  # the waiter finds the error
                continue
            self._arrived(k, path)

    def _read_stream(self, stream: Stream) -> None:
        first = self._focus
        with self._cond:  # let the slice on screen have the link and the CPU to itself
            self._cond.wait_for(
                lambda: (
                    self._paths[first] is not None
                    or first in self._received  # decoded: its file may wait on the disk
                    or first in self._errors
                    or self._stopped
                ),
                _HEAD_START,
            )
        # Files are written by another thread while this one reads the answer: opening
        # and renaming a file are syscalls that wait on the disk, not on the GIL. One
        # writer keeps up (40 MB in ~20 ms to the page cache); more only contend.
        writers = ThreadPoolExecutor(1, thread_name_prefix="tf-stream-write")
        try:
            for uid, data in stream():
                k = self._index.get(uid)
                with self._cond:
                    if self._stopped:
                        return
                    if k is None or self._paths[k] is not None:
                        continue  # not one of ours, or already here
                    data_callbacks = list(self._data_callbacks)
                for callback in data_callbacks:
                    callback(k, data)
                self._mark_received(k)
                writers.submit(self._write, k, uid, data)
        except BaseException as exc:  # the workers fetch what is left, one by one
            self.stream_error = exc
        finally:
            writers.shutdown(wait=True)
            with self._cond:
                self._streaming = False
                self._cond.notify_all()

    def _write(self, k: int, uid: str, data: bytes) -> None:
        try:
            path = self._cache.put(uid, data)
        except BaseException as exc:  # a full or read-only disk: a worker tries again
            with self._cond:
                if self._paths[k] is None:
                    self._errors[k] = exc
                self._cond.notify_all()
            return
        self._arrived(k, path)
