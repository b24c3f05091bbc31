"""A DICOMweb server (Orthanc, dcm4chee, IDC, a cloud PACS) as a source of cases.

Built on ``dicomweb-client``: QIDO-RS searches studies, series and instances,
WADO-RS retrieves metadata, instances and single frames, STOW-RS stores
(publishing a teaching set's de-identified images). Requests go through one
:mod:`requests` session per thread that sends the auth header and retries
connection errors and 429/5xx answers with exponential backoff; failures become
:class:`~teachingfiles.errors.RepositoryError` messages that say what to fix.

Pulled instances land in an :class:`~teachingfiles.repository.cache.InstanceCache`
keyed by SOP Instance UID, so opening a series a second time needs no network.
:meth:`DicomwebSource.open_series` returns a
:class:`~teachingfiles.dicom.volume.Volume` as soon as the series' metadata is in;
the whole series then arrives as one streamed multipart answer, each instance
written to the cache and decoded as it lands, while the slice on screen (and any
slice the viewer jumps to before the stream brings it) is fetched on its own.

Example
-------
>>> src = DicomwebSource("http://127.0.0.1:8042/dicom-web")
>>> studies = src.search_studies(collection="MIDRC-RICORD-1A", modality="CT")
>>> series = src.search_series(studies[0].study_uid)
>>> vol = src.open_series(series[0].study_uid, series[0].series_uid)
>>> first = vol.slice(vol.shape[0] // 2)   # as soon as that slice has arrived
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import pydicom
from dicomweb_client import DICOMwebClient
from pydicom.dataset import Dataset
from tqdm.auto import tqdm

from teachingfiles.errors import DicomError, NotFoundError, RepositoryError
from teachingfiles.repository._download import (
    SeriesDownload,
    Stream,
    iter_parts,
    multipart_boundary,
    single_part,
    sop_uid_of,
)
from teachingfiles.repository._http import check_url, http_errors, make_session
from teachingfiles.repository._remote_volume import (
    RemoteVolume,
    header_from_json,
    header_from_record,
    header_to_record,
)
from teachingfiles.repository.cache import InstanceCache

__all__ = ["DicomwebSource", "RemoteSeries", "RemoteStudy", "StoreReport"]

_STUDY_FIELDS = ["StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
                 "NumberOfStudyRelatedInstances"]  # fmt: skip
_SERIES_FIELDS = ["SeriesDescription", "SeriesNumber", "NumberOfSeriesRelatedInstances"]
_PAGE = 1000  # QIDO-RS results per request (servers often cap at 1000)
_DICOM_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'
_CHUNK = 1 << 18  # bytes read at a time from a streamed answer


def _value(attrs: Mapping[str, Any], tag: str) -> Any:
    """First value of a DICOM JSON attribute (``None`` if absent or empty)."""
    values = attrs.get(tag, {}).get("Value")
    if not values:
        return None
    first = values[0]
    if isinstance(first, dict) and "Alphabetic" in first:  # a Person Name
        return first["Alphabetic"]
    return first


def _int(value: Any) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RemoteStudy:
    """A study as a QIDO-RS search describes it."""

    study_uid: str
    patient_id: str | None
    patient_name: str | None
    study_date: str | None
    description: str | None
    accession_number: str | None
    modalities: tuple[str, ...]
    n_series: int | None
    n_instances: int | None

    @classmethod
    def from_json(cls, attrs: Mapping[str, Any]) -> RemoteStudy:
        """Build from one DICOM JSON result of ``/studies``."""
        mods = attrs.get("00080061", {}).get("Value") or ()
        return cls(
            study_uid=str(_value(attrs, "0020000D")),
            patient_id=_value(attrs, "00100020"),
            patient_name=_value(attrs, "00100010"),
            study_date=_value(attrs, "00080020"),
            description=_value(attrs, "00081030"),
            accession_number=_value(attrs, "00080050"),
            modalities=tuple(str(m) for m in mods),
            n_series=_int(_value(attrs, "00201206")),
            n_instances=_int(_value(attrs, "00201208")),
        )


@dataclass(frozen=True)
class RemoteSeries:
    """A series as a QIDO-RS search describes it."""

    study_uid: str
    series_uid: str
    modality: str | None
    description: str | None
    series_number: int | None
    n_instances: int | None

    @classmethod
    def from_json(cls, attrs: Mapping[str, Any], study_uid: str | None = None) -> RemoteSeries:
        """Build from one DICOM JSON result of ``/series``."""
        return cls(
            study_uid=str(_value(attrs, "0020000D") or study_uid),
            series_uid=str(_value(attrs, "0020000E")),
            modality=_value(attrs, "00080060"),
            description=_value(attrs, "0008103E"),
            series_number=_int(_value(attrs, "00200011")),
            n_instances=_int(_value(attrs, "00201209")),
        )


@dataclass(frozen=True)
class StoreReport:
    """What a STOW-RS upload did: instances stored, and those refused with the reason."""

    stored: int
    failed: tuple[tuple[str, str], ...] = ()


def _contains(value: str | None, text: str | None) -> bool:
    """Case-insensitive substring match, done here: servers differ on case in QIDO."""
    return not text or text.lower() in (value or "").lower()


def _study_filters(
    collection: str | None, patient: str | None, modality: str | None, date: str | None
) -> dict[str, str]:
    filters: dict[str, str] = {}
    if collection:
        # No DICOM attribute names a collection; TCIA and IDC prefix PatientID with it
        # (MIDRC-RICORD-1A-419639-000082), as the catalog also assumes.
        filters["PatientID"] = f"{collection}-*"
    if patient:
        filters["PatientID"] = patient
    if modality:
        filters["ModalitiesInStudy"] = modality
    if date:
        filters["StudyDate"] = date.replace("-", "") if len(date) == 10 else date
    return filters


class DicomwebSource:
    """A DICOMweb server: search, retrieve (into a cache), stream, store.

    Parameters
    ----------
    url
        The DICOMweb root, e.g. ``http://127.0.0.1:8042/dicom-web``.
    token
        A bearer token sent with every request (``Authorization: Bearer ...``).
    headers
        More headers for every request (an API key, a cookie).
    timeout
        Seconds to wait for the server to start answering a request.
    retries
        Retries after a connection error or a 429/5xx answer (exponential backoff).
    backoff
        The first wait between retries, in seconds; it doubles each time.
    cache
        Where pulled instances go: an :class:`InstanceCache`, a folder, or ``None``
        for the default per-server folder (see :func:`~.cache.default_cache_root`).
    verify
        TLS verification: ``True``, ``False``, or the path of a CA bundle.
    workers
        Parallel requests when downloading a series.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
        cache: InstanceCache | str | PathLike[str] | None = None,
        verify: bool | str = True,
        workers: int = 4,
    ) -> None:
        self.url = check_url(url, "DICOMweb")
        self.timeout = timeout
        self.retries = retries
        self.workers = workers
        self._session_args: dict[str, Any] = {
            "token": token, "headers": dict(headers or {}), "retries": retries,
            "backoff": backoff, "verify": verify, "pool": max(workers, 2),
        }  # fmt: skip
        if cache is None:
            self.cache = InstanceCache.default(self.url)
        elif isinstance(cache, InstanceCache):
            self.cache = cache
        else:
            self.cache = InstanceCache(cache)
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"DicomwebSource({self.url!r}, cache={str(self.cache.root)!r})"

    # ------------------------------------------------------------------ plumbing
    def _client(self) -> DICOMwebClient:
        """Return this thread's client (sessions are not shared between threads)."""
        client: DICOMwebClient | None = getattr(self._local, "client", None)
        if client is None:
            session = make_session(**self._session_args)
            client = DICOMwebClient(self.url, session=session, timeout=self.timeout)
            client.set_http_retry_params(retry=False)  # the session's adapter retries
            self._local.client = client
        return client

    def _errors(self) -> Any:
        return http_errors(self.url, timeout=self.timeout, retries=self.retries)

    # ------------------------------------------------------------------ QIDO-RS
    def _paged(self, method: str, **kwargs: Any) -> list[dict[str, Any]]:
        """Run a QIDO-RS search page by page until a short (or repeated) page.

        dicomweb-client's ``get_remaining`` loops until an empty page, which never
        comes from a server that ignores ``offset`` (Orthanc 1.10 answers every
        offset with the first page); a repeated first result stops this loop too.
        """
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        search = getattr(self._client(), method)
        while True:
            with self._errors():
                page = search(limit=_PAGE, offset=len(out), **kwargs)
            fresh = [a for a in page if json.dumps(a, sort_keys=True) not in seen]
            seen.update(json.dumps(a, sort_keys=True) for a in fresh)
            out.extend(fresh)
            if len(page) < _PAGE or len(fresh) < len(page):
                return out

    def search_studies(
        self,
        *,
        collection: str | None = None,
        patient: str | None = None,
        modality: str | None = None,
        date: str | None = None,
        description: str | None = None,
        limit: int | None = None,
    ) -> list[RemoteStudy]:
        """Search studies (QIDO-RS); every filter given must match.

        Parameters
        ----------
        collection
            Studies whose PatientID starts with ``<collection>-`` (how TCIA and IDC
            name RICORD's patients; no DICOM attribute names a collection).
        patient
            PatientID (``*`` and ``?`` are wildcards).
        modality
            A modality of any series of the study (``CT``, ``CR``, ``DX``).
        date
            StudyDate ``YYYYMMDD`` or a range ``YYYYMMDD-YYYYMMDD``.
        description
            Text in StudyDescription (case-insensitive substring).
        limit
            At most this many results.
        """
        filters = _study_filters(collection, patient, modality, date)
        found = self._paged("search_for_studies", search_filters=filters, fields=_STUDY_FIELDS)
        studies = [RemoteStudy.from_json(a) for a in found]
        studies = [s for s in studies if _contains(s.description, description)][:limit]
        return sorted(studies, key=lambda s: (s.patient_id or "", s.study_date or "", s.study_uid))

    def search_series(
        self,
        study_uid: str | None = None,
        *,
        modality: str | None = None,
        description: str | None = None,
        collection: str | None = None,
        patient: str | None = None,
    ) -> list[RemoteSeries]:
        """Search series (QIDO-RS), in one study or across the server.

        Parameters
        ----------
        study_uid
            Only this study's series.
        modality, description
            Series Modality; text in SeriesDescription (case-insensitive).
        collection, patient
            As in :meth:`search_studies`.
        """
        filters: dict[str, str] = {}
        if modality:
            filters["Modality"] = modality
        if collection:
            filters["PatientID"] = f"{collection}-*"
        if patient:
            filters["PatientID"] = patient
        found = self._paged(
            "search_for_series",
            study_instance_uid=study_uid,
            search_filters=filters,
            fields=_SERIES_FIELDS,
        )
        series = [RemoteSeries.from_json(a, study_uid) for a in found]
        series = [s for s in series if _contains(s.description, description)]
        return sorted(series, key=lambda s: (s.study_uid, s.series_number or 0, s.series_uid))

    def instance_uids(self, study_uid: str, series_uid: str) -> list[str]:
        """SOP Instance UIDs of a series (QIDO-RS), by Instance Number.

        Raises
        ------
        NotFoundError
            If the server knows no such series.
        """
        found = self._paged(
            "search_for_instances", study_instance_uid=study_uid, series_instance_uid=series_uid
        )
        if not found:
            raise NotFoundError(
                f"{self.url}: no instances in series {series_uid} of study {study_uid}; "
                "check the UIDs with search_series()"
            )
        found.sort(key=lambda a: (_int(_value(a, "00200013")) or 0, str(_value(a, "00080018"))))
        return [str(_value(a, "00080018")) for a in found]

    # ------------------------------------------------------------------ WADO-RS
    def series_metadata(self, study_uid: str, series_uid: str) -> list[Dataset]:
        """Retrieve the metadata of every instance of a series (WADO-RS, no pixel data).

        Raises
        ------
        NotFoundError
            If the server knows no such series.
        """
        return [_dataset_from_json(a) for a in self._metadata_json(study_uid, series_uid)]

    def _metadata_json(self, study_uid: str, series_uid: str) -> list[dict[str, Any]]:
        with self._errors():
            found: list[dict[str, Any]] = self._client().retrieve_series_metadata(
                study_uid, series_uid
            )
        if not found:
            raise NotFoundError(f"{self.url}: series {series_uid} has no instances")
        return found

    def fetch_instance(self, study_uid: str, series_uid: str, sop_uid: str) -> bytes:
        """Retrieve the bytes of one instance as the server stores it (WADO-RS, no transcoding).

        Raises
        ------
        RepositoryError, NotFoundError
            If the server fails, refuses or has no such instance.
        """
        url = f"{self.url}/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}"
        session = self._client()._session
        with self._errors():
            response = session.get(url, headers={"Accept": _DICOM_ACCEPT}, timeout=self.timeout)
            response.raise_for_status()
            return single_part(response)

    def _stream_series(self, study_uid: str, series_uid: str) -> Iterator[tuple[str, bytes]]:
        """Retrieve a whole series in one request; yield ``(SOP UID, bytes)`` as each lands.

        The multipart answer is read as it arrives (``iter_content``), so the first
        instances are in the cache while the server is still sending the others.
        """
        url = f"{self.url}/studies/{study_uid}/series/{series_uid}"
        session = self._client()._session
        with self._errors():
            response = session.get(
                url, headers={"Accept": _DICOM_ACCEPT}, timeout=self.timeout, stream=True
            )
            with response:
                response.raise_for_status()
                boundary = multipart_boundary(response.headers.get("Content-Type", ""))
                chunks = response.iter_content(_CHUNK)
                parts = iter_parts(chunks, boundary, url) if boundary else chunks
                for part in parts:
                    yield sop_uid_of(part, url), part

    def retrieve_frames(
        self,
        study_uid: str,
        series_uid: str,
        sop_uid: str,
        frames: Sequence[int],
        *,
        transfer_syntax: str = "*",
    ) -> list[bytes]:
        """Pixel data of single frames (1-based numbers).

        ``transfer_syntax="*"`` takes them as the server stores them (no work for
        it); ``"1.2.840.10008.1.2.1"`` asks for uncompressed pixels.
        """
        media = (("application/octet-stream", transfer_syntax),)
        with self._errors():
            return list(
                self._client().retrieve_instance_frames(
                    study_uid, series_uid, sop_uid, frame_numbers=list(frames), media_types=media
                )
            )

    def retrieve_series(
        self,
        study_uid: str,
        series_uid: str,
        *,
        progress: bool = True,
        sop_uids: Sequence[str] | None = None,
    ) -> list[Path]:
        """Bring every instance of a series into the cache; their paths.

        Instances already cached are not fetched; the list of the series'
        instances is remembered so the next call works offline. When more than
        half of the series is missing it comes as one streamed request (what is
        cached is skipped as it passes); otherwise, as when resuming a pull,
        each missing instance is asked for alone.

        Raises
        ------
        RepositoryError
            If some instances could not be fetched (those that arrived are kept).
        """
        cached = self.cache.complete_series(series_uid)
        if cached is not None:
            return cached
        uids = list(sop_uids) if sop_uids is not None else self.instance_uids(study_uid, series_uid)
        self.cache.remember_series(study_uid, series_uid, uids)
        missing = sum(self.cache.get(uid) is None for uid in uids)
        stream: Stream | None = None
        if missing > max(1, len(uids) // 2):
            stream = functools.partial(self._stream_series, study_uid, series_uid)
        download = self._download(study_uid, series_uid, uids, progress=progress, stream=stream)
        try:
            return download.wait()
        finally:
            download.stop()

    def _download(
        self,
        study_uid: str,
        series_uid: str,
        uids: Sequence[str],
        *,
        focus: int | None = None,
        progress: bool,
        stream: Stream | None = None,
    ) -> SeriesDownload:
        return SeriesDownload(
            uids,
            lambda uid: self.fetch_instance(study_uid, series_uid, uid),
            self.cache,
            focus=focus,
            workers=self.workers,
            progress=progress,
            description=f"series …{series_uid[-8:]}",
            stream=stream,
        )

    def open_series(
        self,
        study_uid: str,
        series_uid: str,
        *,
        near: int | None = None,
        progress: bool = True,
        workers: int | None = None,
    ) -> RemoteVolume:
        """Open a remote series as a :class:`~teachingfiles.dicom.volume.Volume`.

        Returns once the series' metadata is in (or at once when the series is
        cached, asking the server nothing): the slice ``near`` (the middle by
        default) is fetched on its own while the whole series streams in one
        request; each instance decodes as it lands. ``vol.slice(k)`` waits for
        slice ``k`` only (fetching it alone if the stream has not brought it);
        ``vol.focus(k)`` does the same for where the viewer is; ``vol.wait()``
        waits for all.

        Parameters
        ----------
        near
            The slice the viewer opens on.
        progress
            Show a progress bar while the series downloads.
        workers
            Decoding threads (default: CPUs, at most 4).
        """
        cached = self._open_cached(series_uid, workers)
        if cached is not None:  # offline, no request at all
            return cached
        # Not streamed together with the metadata: measured, that saved ~30 ms of the
        # series but slowed the metadata, so the slice on screen came 40-60 ms later.
        metadata = self._metadata_json(study_uid, series_uid)
        headers = [header_from_json(attrs, self.cache) for attrs in metadata]
        vol = RemoteVolume.from_headers(headers, workers=workers)
        focus = vol.shape[0] // 2 if near is None else near % vol.shape[0]
        records = [header_to_record(h) for h in vol.headers]

        def stream() -> Iterator[tuple[str, bytes]]:
            # The series' record is written here, on the stream's thread once the
            # slice on screen has come: a busy disk delays neither. Without it the
            # next open asks the server again (an unwritable cache fails loudly on
            # the instances themselves).
            with contextlib.suppress(RepositoryError):
                self.cache.remember_series(study_uid, series_uid, list(vol.sop_uids), records)
            yield from self._stream_series(study_uid, series_uid)

        download = self._download(
            study_uid, series_uid, vol.sop_uids, focus=focus, progress=progress, stream=stream
        )
        vol.attach(download)
        return vol

    def _open_cached(self, series_uid: str, workers: int | None) -> RemoteVolume | None:
        """Open a fully cached series from its recorded headers (no file header read)."""
        paths = self.cache.complete_series(series_uid)
        if paths is None:
            return None
        records = self.cache.series_headers(series_uid)
        if records is None or len(records) != len(paths):  # cached by retrieve_series
            return RemoteVolume.from_files(paths, workers=workers)
        headers = [header_from_record(r, self.cache) for r in records]
        vol = RemoteVolume.open([], headers=headers, workers=workers)
        assert isinstance(vol, RemoteVolume)
        return vol

    # ------------------------------------------------------------------ STOW-RS
    def store(
        self,
        sources: Iterable[str | PathLike[str] | Dataset],
        *,
        batch: int = 16,
        progress: bool = True,
    ) -> StoreReport:
        """Upload instances (STOW-RS), ``batch`` to a request.

        Parameters
        ----------
        sources
            DICOM files or datasets (de-identify them first: see
            :mod:`teachingfiles.dicom`).

        Raises
        ------
        DicomError
            If a file is not DICOM (named in the message).
        RepositoryError
            If the server refuses the upload as a whole.
        """
        items = list(sources)
        stored, failed = 0, []
        bar: Any = tqdm(total=len(items), unit="img", desc="upload", disable=not progress)
        with bar:
            for start in range(0, len(items), batch):
                datasets = [_as_dataset(s) for s in items[start : start + batch]]
                with self._errors():
                    answer = self._client().store_instances(datasets)
                refused = _refused(answer)
                failed.extend(refused)
                stored += len(datasets) - len(refused)
                bar.update(len(datasets))
        return StoreReport(stored=stored, failed=tuple(failed))


def _as_dataset(source: str | PathLike[str] | Dataset) -> Dataset:
    if isinstance(source, Dataset):
        return source
    try:
        return pydicom.dcmread(source)
    except Exception as exc:  # pydicom raises several kinds for a non-DICOM file
        raise DicomError(
            f"not a DICOM file ({exc}); leave it out of the upload", path=source
        ) from exc


def _refused(answer: Dataset | None) -> list[tuple[str, str]]:
    out = []
    for item in (answer or Dataset()).get("FailedSOPSequence", []):
        reason = item.get("FailureReason", "")
        out.append((str(item.get("ReferencedSOPInstanceUID", "?")), f"failure reason {reason}"))
    return out


def _dataset_from_json(attrs: dict[str, Any]) -> Dataset:
    """Build a dataset from DICOM JSON, leaving out bulk data (pixel data stays on the server)."""
    kept = {k: v for k, v in attrs.items() if "BulkDataURI" not in v and "InlineBinary" not in v}
    return Dataset.from_json(kept)
