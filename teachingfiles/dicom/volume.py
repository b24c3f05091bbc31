"""A series as a volume of Hounsfield units (or stored values), with its geometry.

Slices are ordered along the slice normal (the cross product of the two Image
Orientation (Patient) vectors) by the projection of Image Position (Patient) on
it; Instance Number is the fallback when positions are missing. Spacing between
slices is measured from the positions, never taken from Slice Thickness.
Missing or duplicate slices, uneven spacing, gantry tilt and mixed sizes are
reported as :class:`~teachingfiles.errors.TeachingFilesWarning` and kept in
:attr:`Volume.warnings`.

Pixels load lazily and in parallel: :meth:`Volume.open` reads the headers, sorts,
allocates one array and returns; a thread pool decodes slices into it in the
background, and :meth:`Volume.slice` decodes a slice at once if it is not there
yet. Array axes are ``(slice, row, column)``.

Example
-------
>>> vol = Volume.open(sorted(Path("series").glob("*.dcm")))
>>> first = vol.slice(vol.shape[0] // 2)     # ready in milliseconds
>>> hu = vol.wait()                           # the whole volume, int16
"""

from __future__ import annotations

import os
import threading
import warnings
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from os import PathLike
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from teachingfiles.dicom._slices import SliceHeader, read_slice_headers
from teachingfiles.errors import DecodeError, NotFoundError, TeachingFilesWarning, UsageError

__all__ = ["SliceHeader", "Volume"]

Source = str | PathLike[str] | Dataset
_INT16 = np.iinfo(np.int16)


def _normal(orientation: tuple[float, ...]) -> npt.NDArray[np.float64]:
    row = np.asarray(orientation[:3], float)
    col = np.asarray(orientation[3:], float)
    n = np.cross(row, col)
    norm = float(np.linalg.norm(n))
    return n / norm if norm > 0 else np.array([0.0, 0.0, 1.0])


class Volume:
    """A 3-D image of one series: pixels ``(slice, row, column)`` and geometry.

    Build with :meth:`open`. Geometry attributes:

    ``positions``
        ``(n, 3)`` Image Position (Patient) of each slice's first pixel, mm.
    ``row_direction`` / ``column_direction``
        Unit vectors along which the column index and row index increase.
    ``normal``
        Unit vector along which the slice index increases.
    ``spacing``
        ``(slice, row, column)`` spacing in mm (slice spacing measured).
    ``sop_uids``
        SOP Instance UID of every slice, so annotations find their slice.
    """

    def __init__(
        self,
        headers: Sequence[SliceHeader],
        *,
        workers: int | None = None,
        background: bool = True,
    ) -> None:
        self.warnings: list[str] = []
        kept = self._drop_mixed(list(headers))
        self.headers: tuple[SliceHeader, ...] = tuple(self._sort(kept))
        first = self.headers[0]
        self.modality = first.modality
        self.shape: tuple[int, int, int] = (len(self.headers), first.rows, first.columns)
        self.sop_uids: tuple[str, ...] = tuple(h.sop_uid for h in self.headers)
        self._index = {(h.sop_uid, h.frame): i for i, h in enumerate(self.headers)}
        self._geometry()
        self.dtype = self._choose_dtype()
        self._data = np.empty(self.shape, self.dtype)
        self._ready = np.zeros(self.shape[0], bool)
        self._errors: dict[int, BaseException] = {}
        self._locks = [threading.Lock() for _ in self.headers]
        self._count_lock = threading.Lock()
        self._done = 0
        self._complete = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list[Future[None]] = []
        if background:
            n = workers or min(4, os.cpu_count() or 1)
            self._pool = ThreadPoolExecutor(n, thread_name_prefix="tf-volume")
            self._futures = [self._pool.submit(self._load, k) for k in self._priority()]

    # ------------------------------------------------------------------ building
    @classmethod
    def open(
        cls,
        sources: Sequence[Source],
        *,
        headers: Sequence[SliceHeader] | None = None,
        workers: int | None = None,
        background: bool = True,
    ) -> Volume:
        """Open a series: read headers, sort slices, start loading pixels.

        Parameters
        ----------
        sources
            File paths (any order) or pydicom datasets of one series; a single
            enhanced multi-frame file gives one slice per frame.
        headers
            Slice headers already read (by the catalog); ``sources`` is then ignored.
        workers
            Threads decoding in the background (default: CPUs, at most 4).
        background
            Start loading at once; if false, slices decode when first asked for.

        Raises
        ------
        UsageError
            If there is nothing to open.
        InvalidDicomError, MissingPixelDataError, DecodeError
            For the first file that is not a usable image (named in the message).
        """
        if headers is None:
            collected: list[SliceHeader] = []
            for source in sources:
                collected.extend(read_slice_headers(source))
            headers = collected
        if not headers:
            raise UsageError("Volume.open got no files: pass the paths of one series")
        return cls(headers, workers=workers, background=background)

    @classmethod
    def from_files(
        cls, paths: Sequence[str | PathLike[str]], *, workers: int | None = None
    ) -> Volume:
        """Open a series from its files (same as :meth:`open`)."""
        return cls.open(paths, workers=workers)

    @classmethod
    def from_datasets(cls, datasets: Sequence[Dataset], *, workers: int | None = None) -> Volume:
        """Open a series from pydicom datasets in memory (same as :meth:`open`)."""
        return cls.open(datasets, workers=workers)

    @property
    def orientation(self) -> tuple[float, ...]:
        """Image Orientation (Patient) of the slices: row then column direction cosines."""
        return (*map(float, self.row_direction), *map(float, self.column_direction))

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        warnings.warn(message, TeachingFilesWarning, stacklevel=4)

    def _drop_mixed(self, headers: list[SliceHeader]) -> list[SliceHeader]:
        if any(h.photometric not in ("MONOCHROME1", "MONOCHROME2") for h in headers):
            bad = next(h for h in headers if h.photometric not in ("MONOCHROME1", "MONOCHROME2"))
            raise DecodeError(
                f"a volume needs grey images, but this one is {bad.photometric}; show "
                "colour images one by one with DicomImage",
                path=bad.path,
                tag="PhotometricInterpretation",
            )
        sizes = Counter((h.rows, h.columns) for h in headers)
        if len(sizes) > 1:
            size, _ = sizes.most_common(1)[0]
            dropped = [h for h in headers if (h.rows, h.columns) != size]
            self._warn(
                f"mixed image sizes {dict(sizes)}: kept the {sizes[size]} slices of "
                f"{size[0]}x{size[1]}, left out {len(dropped)} (e.g. {dropped[0].path})"
            )
            headers = [h for h in headers if (h.rows, h.columns) == size]
        return headers

    def _sort(self, headers: list[SliceHeader]) -> list[SliceHeader]:
        if all(h.position is not None and h.orientation is not None for h in headers):
            normal = _normal(headers[0].orientation)  # type: ignore[arg-type]
            dist = [float(np.dot(h.position, normal)) for h in headers]  # type: ignore[arg-type]
            order = sorted(range(len(headers)), key=lambda i: (dist[i], i))
            out: list[SliceHeader] = []
            last: float | None = None
            dupes = 0
            for i in order:
                if last is not None and abs(dist[i] - last) < 1e-3:
                    dupes += 1
                    continue
                out.append(headers[i])
                last = dist[i]
            if dupes:
                self._warn(
                    f"{dupes} duplicate slice(s) at the same position: kept the first "
                    "of each (a series exported twice, or two echoes/phases mixed?)"
                )
            return out
        if len(headers) > 1:
            self._warn(
                "Image Position/Orientation (Patient) missing: slices ordered by "
                "Instance Number, spacing unknown (assumed 1 mm)"
            )
        return sorted(headers, key=lambda h: h.instance_number or 0)

    def _geometry(self) -> None:
        first = self.headers[0]
        ori = first.orientation or (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
        self.row_direction = np.asarray(ori[:3], float)
        self.column_direction = np.asarray(ori[3:], float)
        self.normal = _normal(ori)
        row_sp, col_sp = first.pixel_spacing or (1.0, 1.0)
        if all(h.position is not None for h in self.headers):
            self.positions = np.array([h.position for h in self.headers], float)
        else:
            origin = np.asarray(first.position or (0.0, 0.0, 0.0), float)
            self.positions = origin + np.arange(len(self.headers))[:, None] * self.normal
        slice_sp = self._measure_spacing()
        self.spacing: tuple[float, float, float] = (slice_sp, float(row_sp), float(col_sp))

    def _measure_spacing(self) -> float:
        if len(self.headers) < 2:
            return 1.0
        steps = np.diff(self.positions, axis=0)
        along = steps @ self.normal
        gaps = np.abs(along)
        step = float(np.median(gaps))
        if step <= 0:
            return 1.0
        if gaps.max() - gaps.min() > max(0.01 * step, 1e-3):
            missing = int(np.sum(np.rint(gaps / step) - 1))
            if missing > 0:
                self._warn(
                    f"{missing} slice(s) missing: gaps of up to {gaps.max():.2f} mm "
                    f"where the spacing is {step:.2f} mm"
                )
            else:
                self._warn(
                    f"uneven slice spacing from {gaps.min():.3f} to {gaps.max():.3f} mm "
                    f"(median {step:.3f} mm used for reformats)"
                )
        lengths = np.linalg.norm(steps, axis=1)
        cos = np.clip(gaps / np.where(lengths > 0, lengths, 1), -1, 1)
        tilt = float(np.degrees(np.arccos(cos.min())))
        if tilt > 0.5:
            self._warn(
                f"gantry tilt of {tilt:.1f} degrees: slices are sheared, so coronal "
                "and sagittal reformats are skewed (positions stay exact per slice)"
            )
        return step

    def _choose_dtype(self) -> np.dtype[Any]:
        integral = all(
            h.slope == int(h.slope) and h.intercept == int(h.intercept) for h in self.headers
        )
        if integral and self.modality == "CT":
            return np.dtype(np.int16)  # HU beyond +-32k carry no meaning: clipped
        if integral:
            lo, hi = self._stored_range()
            ends = [v * h.slope + h.intercept for h in self.headers for v in (lo, hi)]
            if _INT16.min <= min(ends) and max(ends) <= _INT16.max:
                return np.dtype(np.int16)
        return np.dtype(np.float32)

    def _stored_range(self) -> tuple[int, int]:
        bits = max(h.bits_stored for h in self.headers)
        signed = any((h.pixel_dtype or "").lstrip("<").startswith("i") for h in self.headers)
        return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)

    # ------------------------------------------------------------------ loading
    def _priority(self) -> list[int]:
        """Load order: the middle slice first (what a viewer opens on), then outwards."""
        n = self.shape[0]
        mid = n // 2
        order = [mid]
        for d in range(1, n):
            order.extend(k for k in (mid + d, mid - d) if 0 <= k < n)
        return order

    def _load(self, k: int) -> None:
        with self._locks[k]:
            if self._ready[k] or k in self._errors:
                return
            header = self.headers[k]
            try:
                stored = header.read_stored()
                if stored.shape != self.shape[1:]:
                    raise DecodeError(
                        f"slice has {stored.shape} pixels where the series has "
                        f"{self.shape[1:]}; check Rows/Columns",
                        path=header.path,
                        tag="Rows",
                    )
                self._store(k, stored, header)
            except BaseException as exc:
                self._errors[k] = exc
            else:
                self._ready[k] = True
            with self._count_lock:
                self._done += 1
                if self._done == self.shape[0]:
                    self._complete.set()

    def _store(self, k: int, stored: npt.NDArray[Any], header: SliceHeader) -> None:
        out = self._data[k]
        if self.dtype == np.float32:
            np.multiply(stored, np.float32(header.slope), out=out, casting="unsafe")
            out += np.float32(header.intercept)
            return
        slope, intercept = int(header.slope), int(header.intercept)
        if slope == 1 and stored.dtype.itemsize <= 2 and header.bits_stored <= 15:
            # stored values fit int16 as they are; add in place without a temporary
            hi = (1 << header.bits_stored) - 1 + intercept
            lo = -(1 << header.bits_stored) + intercept
            if _INT16.min <= lo and hi <= _INT16.max:
                np.add(stored, np.int16(intercept), out=out, casting="unsafe")
                return
        tmp = stored.astype(np.int32)
        if slope != 1:
            tmp *= slope
        tmp += intercept
        np.clip(tmp, _INT16.min, _INT16.max, out=tmp)
        out[...] = tmp

    def slice(self, k: int) -> npt.NDArray[Any]:
        """Slice ``k`` (2-D, modality values), decoding it now if not loaded yet.

        The array is a view into the volume: copy it before changing it.
        """
        n = self.shape[0]
        if not -n <= k < n:
            raise NotFoundError(f"slice {k} does not exist: the volume has {n} slices (0-{n - 1})")
        k %= n
        if not self._ready[k]:
            self._load(k)
        if k in self._errors:
            raise self._errors[k]
        image: npt.NDArray[Any] = self._data[k]
        return image

    def is_ready(self, k: int) -> bool:
        """Whether slice ``k`` is decoded."""
        return bool(self._ready[k])

    @property
    def loaded(self) -> int:
        """How many slices are decoded so far."""
        return int(self._ready.sum())

    def wait(self, timeout: float | None = None) -> npt.NDArray[Any]:
        """Wait until every slice is loaded; the whole array.

        Raises
        ------
        DecodeError
            The first slice that could not be decoded.
        TimeoutError
            If ``timeout`` seconds pass first.
        """
        if self._pool is None:
            for k in range(self.shape[0]):
                self._load(k)
        elif not self._complete.wait(timeout):
            raise TimeoutError(f"volume not loaded after {timeout} s ({self.loaded} slices)")
        if self._errors:
            raise self._errors[min(self._errors)]
        return self._data

    @property
    def array(self) -> npt.NDArray[Any]:
        """The whole volume (waits for loading to finish)."""
        return self.wait()

    def close(self) -> None:
        """Stop background loading (slices already loaded stay usable)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Volume:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        n, r, c = self.shape
        s = ", ".join(f"{v:.3g}" for v in self.spacing)
        return f"<Volume {self.modality} {n}x{r}x{c} {self.dtype} spacing ({s}) mm>"

    # ------------------------------------------------------------------ geometry
    def index_of(self, sop_uid: str, frame: int | None = None) -> int:
        """Find the slice index of an instance (and frame, for multi-frame objects).

        ``frame`` is 0-based; MD.ai's ``frameNumber`` counts the same way.

        Raises
        ------
        NotFoundError
            If no slice of this volume has that SOP Instance UID.
        """
        for key in ((sop_uid, frame), (sop_uid, None)):
            if key in self._index:
                return self._index[key]
        raise NotFoundError(
            f"SOP Instance UID {sop_uid} (frame {frame}) is not a slice of this volume; "
            "is the annotation for another series?"
        )

    @property
    def affine(self) -> npt.NDArray[np.float64]:
        """4x4 matrix from ``(slice, row, column, 1)`` indices to patient mm (LPS).

        Exact for evenly spaced slices; :meth:`index_to_patient` uses each
        slice's own position.
        """
        ds, dr, dc = self.spacing
        a = np.eye(4)
        a[:3, 0] = self.normal * ds
        a[:3, 1] = self.column_direction * dr
        a[:3, 2] = self.row_direction * dc
        a[:3, 3] = self.positions[0]
        return a

    def index_to_patient(self, index: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Patient coordinates (mm, LPS) of ``(slice, row, column)`` indices (``(..., 3)``)."""
        idx = np.asarray(index, float)
        k = idx[..., 0]
        n = self.shape[0]
        base = np.stack(
            [np.interp(k, np.arange(n), self.positions[:, d]) for d in range(3)], axis=-1
        )
        if n > 1:  # extrapolate linearly beyond the ends
            step = (self.positions[-1] - self.positions[0]) / (n - 1)
            below = np.minimum(k, 0)[..., None]
            above = np.maximum(k - (n - 1), 0)[..., None]
            base = base + (below + above) * step
        _, dr, dc = self.spacing
        result: npt.NDArray[np.float64] = (
            base
            + idx[..., 1:2] * dr * self.column_direction
            + idx[..., 2:3] * dc * self.row_direction
        )
        return result

    def patient_to_index(self, point: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """``(slice, row, column)`` float indices of patient points (mm), ``(..., 3)``."""
        p = np.asarray(point, float)
        dist = self.positions @ self.normal
        d = p @ self.normal
        n = self.shape[0]
        if n > 1 and dist[-1] != dist[0]:
            k = np.interp(d, dist, np.arange(n), left=np.nan, right=np.nan)
            step = (dist[-1] - dist[0]) / (n - 1)
            k = np.where(d < dist[0], (d - dist[0]) / step, k)
            k = np.where(d > dist[-1], n - 1 + (d - dist[-1]) / step, k)
        else:
            k = (d - dist[0]) / self.spacing[0]
        origin = self.index_to_patient(np.stack([k, np.zeros_like(k), np.zeros_like(k)], -1))
        rel = p - origin
        _, dr, dc = self.spacing
        row = rel @ self.column_direction / dr
        col = rel @ self.row_direction / dc
        return np.stack([k, row, col], axis=-1)
