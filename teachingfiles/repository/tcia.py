"""A client for TCIA's NBIA REST API (v4), the service behind the NBIA Data Retriever.

Each method is one documented endpoint and returns its JSON as plain dicts (keys
as TCIA spells them), except the downloads: :meth:`NbiaClient.get_image` streams
a series' zip to disk and unpacks it, :meth:`NbiaClient.get_single_image` returns
one DICOM file's bytes. Requests retry connection errors and 429/5xx answers with
backoff; failures say what to fix (see :mod:`teachingfiles.repository._http`).

Example
-------
>>> tcia = NbiaClient()                                   # public collections
>>> [c["Collection"] for c in tcia.get_collection_values()][:2]
>>> series = tcia.get_series(collection="MIDRC-RICORD-1A")
>>> files = tcia.get_image(series[0]["SeriesInstanceUID"], "download/series-1")
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from teachingfiles.errors import FormatError, NotFoundError, RepositoryError
from teachingfiles.repository._http import check_url, http_errors, make_session

__all__ = ["NBIA_API", "NbiaClient"]

#: The public NBIA REST API, version 4.
NBIA_API = "https://services.cancerimagingarchive.net/nbia-api/services/v4"


class NbiaClient:
    """TCIA's NBIA REST API (v4).

    Parameters
    ----------
    url
        The API root (default :data:`NBIA_API`).
    token
        An OAuth access token for restricted collections (``Authorization: Bearer``).
    timeout, retries, backoff, verify
        As for :class:`~teachingfiles.repository.dicomweb.DicomwebSource`.
    """

    def __init__(
        self,
        url: str = NBIA_API,
        *,
        token: str | None = None,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.5,
        verify: bool | str = True,
    ) -> None:
        self.url = check_url(url, "NBIA API")
        self.timeout = timeout
        self.retries = retries
        self._session = make_session(token=token, retries=retries, backoff=backoff, verify=verify)

    def __repr__(self) -> str:
        return f"NbiaClient({self.url!r})"

    def _get(self, endpoint: str, params: Mapping[str, str | None], stream: bool = False) -> Any:
        query = {k: v for k, v in params.items() if v}
        url = f"{self.url}/{endpoint}"
        with http_errors(url, timeout=self.timeout, retries=self.retries):
            response = self._session.get(url, params=query, timeout=self.timeout, stream=stream)
            response.raise_for_status()
        return response

    def _json(self, endpoint: str, **params: str | None) -> list[dict[str, Any]]:
        response = self._get(endpoint, {**params, "format": "json"})
        if not response.content.strip():
            return []  # NBIA answers an empty body, not [], when nothing matches
        try:
            data = response.json()
        except ValueError as exc:
            raise FormatError(
                f"{response.url}: expected JSON from {endpoint}, got "
                f"{response.headers.get('Content-Type', 'no content type')}; is the URL the "
                "NBIA API root (.../nbia-api/services/v4)?"
            ) from exc
        if not isinstance(data, list):
            raise FormatError(f"{response.url}: expected a JSON list from {endpoint}")
        return data

    # ------------------------------------------------------------------ queries
    def get_collection_values(self) -> list[dict[str, Any]]:
        """Every collection: ``[{"Collection": name}, ...]``."""
        return self._json("getCollectionValues")

    def get_patient(self, collection: str | None = None) -> list[dict[str, Any]]:
        """Patients (``PatientId``, ``PatientName``, ``PatientSex``, ``Collection``)."""
        return self._json("getPatient", Collection=collection)

    def get_patient_study(
        self,
        collection: str | None = None,
        patient_id: str | None = None,
        study_uid: str | None = None,
    ) -> list[dict[str, Any]]:
        """Studies (``StudyInstanceUID``, ``StudyDate``, ``StudyDescription``, ``PatientID``)."""
        return self._json(
            "getPatientStudy",
            Collection=collection,
            PatientID=patient_id,
            StudyInstanceUID=study_uid,
        )

    def get_series(
        self,
        collection: str | None = None,
        patient_id: str | None = None,
        study_uid: str | None = None,
        modality: str | None = None,
    ) -> list[dict[str, Any]]:
        """Series (``SeriesInstanceUID``, ``Modality``, ``SeriesDescription``, ``ImageCount``)."""
        return self._json(
            "getSeries",
            Collection=collection,
            PatientID=patient_id,
            StudyInstanceUID=study_uid,
            Modality=modality,
        )

    def get_series_metadata(self, series_uid: str) -> dict[str, Any]:
        """One series described with ``metadata.csv``'s column names.

        Raises
        ------
        NotFoundError
            If TCIA has no such series (or it is restricted and no token was given).
        """
        rows = self._json("getSeriesMetaData", SeriesInstanceUID=series_uid)
        if not rows:
            raise NotFoundError(
                f"{self.url}: no series {series_uid}; check the UID, or pass a token if "
                "the collection is restricted"
            )
        return rows[0]

    def get_sop_instance_uids(self, series_uid: str) -> list[str]:
        """Return the SOP Instance UIDs of a series."""
        rows = self._json("getSOPInstanceUIDs", SeriesInstanceUID=series_uid)
        return [str(r["SOPInstanceUID"]) for r in rows]

    # ------------------------------------------------------------------ downloads
    def get_single_image(self, series_uid: str, sop_uid: str) -> bytes:
        """One instance's DICOM file."""
        response = self._get(
            "getSingleImage", {"SeriesInstanceUID": series_uid, "SOPInstanceUID": sop_uid}
        )
        data: bytes = response.content
        return data

    def get_image(
        self, series_uid: str, dest: str | PathLike[str], *, progress: bool = True
    ) -> list[Path]:
        """Download a series (one zip) and unpack its files into ``dest``; their paths.

        The zip is streamed to a temporary file and unpacked into a temporary folder
        that is renamed to ``dest`` only when complete, so ``dest`` either holds the
        whole series or does not exist.

        Raises
        ------
        RepositoryError
            If the download is cut short or the zip is broken (run again).
        """
        target = Path(dest)
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".part-", dir=target.parent))
        try:
            archive = work / "series.zip"
            self._stream_to(series_uid, archive, progress)
            unpacked = work / "files"
            try:
                with zipfile.ZipFile(archive) as zf:
                    names = [n for n in zf.namelist() if not n.endswith("/")]
                    zf.extractall(unpacked)
            except zipfile.BadZipFile as exc:
                raise RepositoryError(
                    f"{self.url}/getImage: the zip of series {series_uid} is broken "
                    "(download cut short?); run again"
                ) from exc
            if target.exists():
                shutil.rmtree(target)
            unpacked.replace(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return sorted(target / n for n in names)

    def _stream_to(self, series_uid: str, archive: Path, progress: bool) -> None:
        response = self._get("getImage", {"SeriesInstanceUID": series_uid}, stream=True)
        total = int(response.headers.get("Content-Length") or 0) or None
        url = f"{self.url}/getImage"
        bar: Any = tqdm(
            total=total, unit="B", unit_scale=True, desc=f"series …{series_uid[-8:]}",
            disable=not progress, leave=False,
        )  # fmt: skip
        with bar, archive.open("wb") as fh, http_errors(url, timeout=self.timeout):
            for chunk in response.iter_content(1 << 16):
                fh.write(chunk)
                bar.update(len(chunk))
        if total is not None and archive.stat().st_size != total:
            raise RepositoryError(
                f"{url}: series {series_uid} stopped after {archive.stat().st_size} of "
                f"{total} bytes; run again"
            )
