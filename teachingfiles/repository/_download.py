"""Download the instances of a series into the cache, nearest the slice on screen first.

:class:`SeriesDownload` runs a few threads, each asking the server for one
instance at a time (WADO-RS); which instance comes next is chosen when a thread
is free, by distance from the current :attr:`~SeriesDownload.focus`, so moving
the viewer moves the download. Each instance is written to the
:class:`~teachingfiles.repository.cache.InstanceCache` atomically; waiting on one
(:meth:`~SeriesDownload.wait_for`) returns its path as soon as it is there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from teachingfiles.errors import RepositoryError
from teachingfiles.repository.cache import InstanceCache

__all__ = ["SeriesDownload"]

Fetch = Callable[[str], bytes]


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
        Parallel requests.
    progress
        Show a tqdm progress bar (``tqdm.auto``: a widget in Jupyter).
    description
        The progress bar's label.
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
    ) -> None:
        self.sop_uids = tuple(sop_uids)
        self._fetch = fetch
        self._cache = cache
        n = len(self.sop_uids)
        self._focus = n // 2 if focus is None else min(max(focus, 0), max(n - 1, 0))
        self._cond = threading.Condition()
        self._paths: list[Path | None] = [cache.get(u) for u in self.sop_uids]
        self._errors: dict[int, BaseException] = {}
        self._pending = {k for k, p in enumerate(self._paths) if p is None}
        self._stopped = False
        self._callbacks: list[Callable[[int], None]] = []
        self._bar: Any = tqdm(
            total=n, initial=n - len(self._pending), unit="img", desc=description,
            disable=not progress, leave=False,
        )  # fmt: skip
        self._pool: ThreadPoolExecutor | None = None
        if self._pending:
            self._pool = ThreadPoolExecutor(
                min(workers, len(self._pending)), thread_name_prefix="tf-download"
            )
            for _ in range(min(workers, len(self._pending))):
                self._pool.submit(self._work)
        else:
            self._bar.close()

    # ------------------------------------------------------------------ control
    @property
    def focus(self) -> int:
        """The index fetched first among those still missing."""
        return self._focus

    @focus.setter
    def focus(self, k: int) -> None:
        with self._cond:
            self._focus = k

    def on_arrival(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(k)`` for every instance in the cache (now, and as they arrive).

        It is also called when fetching instance ``k`` failed (:meth:`wait_for` raises).
        """
        with self._cond:
            self._callbacks.append(callback)
            ready = [k for k, p in enumerate(self._paths) if p is not None]
        for k in ready:
            callback(k)

    def stop(self) -> None:
        """Stop fetching (requests under way finish; nothing more starts)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._bar.close()

    # ------------------------------------------------------------------ state
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
        with self._cond:
            if self._paths[k] is None and k not in self._errors:
                self._focus = k  # someone is waiting on this one: it comes next
            ok = self._cond.wait_for(
                lambda: self._paths[k] is not None or k in self._errors or self._stopped,
                timeout,
            )
            path = self._paths[k]
            if path is not None:
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
                lambda: not self._pending or self._stopped, timeout
            )  # the last ones may still be in flight: wait for them below
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
    def _next(self) -> int | None:
        with self._cond:
            if self._stopped or not self._pending:
                return None
            f = self._focus
            k = min(self._pending, key=lambda i: (abs(i - f), i))
            self._pending.discard(k)
            return k

    def _work(self) -> None:
        while (k := self._next()) is not None:
            uid = self.sop_uids[k]
            try:
                path = self._cache.put(uid, self._fetch(uid))
            except BaseException as exc:
                with self._cond:
                    self._errors[k] = exc
                    callbacks = list(self._callbacks)
                    self._cond.notify_all()
                for callback in callbacks:
                    callback(k)  # the waiter finds the error
                continue
            with self._cond:
                self._paths[k] = path
                callbacks = list(self._callbacks)
                self._cond.notify_all()
            self._bar.update(1)
            for callback in callbacks:
                callback(k)
