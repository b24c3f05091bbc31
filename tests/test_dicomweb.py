from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
import requests
from orthanc import Orthanc, _running, orthanc_server
from pydicom.uid import generate_uid

from teachingfiles.dicom.synthetic import write_ct_series
from teachingfiles.dicom.volume import Volume
from teachingfiles.errors import NotFoundError, RepositoryError, UsageError
from teachingfiles.repository import Repository
from teachingfiles.repository.cache import InstanceCache
from teachingfiles.repository.dicomweb import DicomwebSource


def demo_files(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("manifest-*/**/*.dcm"))


@pytest.fixture(scope="module")
def server(demo_root: Path) -> Iterator[Orthanc]:
    with orthanc_server() as orthanc:
        orthanc.upload(demo_files(demo_root))
        yield orthanc


@pytest.fixture(scope="module")
def folder(demo_root: Path) -> Iterator[Repository]:
    with Repository.open(demo_root) as repo:
        yield repo


def source(server: Orthanc, tmp_path: Path, **kw: object) -> DicomwebSource:
    return DicomwebSource(server.dicomweb, cache=tmp_path / "cache", backoff=0.01, **kw)  # type: ignore[arg-type]


pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_search_studies_finds_every_study_of_the_folder(
    server: Orthanc, folder: Repository, tmp_path: Path
) -> None:
    remote = source(server, tmp_path).search_studies()
    assert {s.study_uid for s in remote} == {s.study_uid for s in folder.studies()}


def test_search_filters_collection_modality_date_and_description(
    server: Orthanc, folder: Repository, tmp_path: Path
) -> None:
    src = source(server, tmp_path)
    one_a = src.search_studies(collection="DEMO-RICORD-1A")
    assert {s.study_uid for s in one_a} == {
        s.study_uid for s in folder.studies(collection="DEMO-RICORD-1A")
    }
    radiographs = src.search_studies(modality="CR")
    assert radiographs
    assert all("CR" in s.modalities for s in radiographs)
    first = one_a[0]
    assert first.study_date
    dated = src.search_studies(date=f"{first.study_date}-{first.study_date}")
    assert first.study_uid in {s.study_uid for s in dated}
    assert all(s.study_date == first.study_date for s in dated)
    series = src.search_series(first.study_uid)
    text = (series[0].description or "").lower()[-4:]
    assert text
    assert series[0] in src.search_series(first.study_uid, description=text.upper())
    assert src.search_series(first.study_uid, description="no such description") == []


@pytest.mark.parametrize(
    "collection",
    ["DEMO-RICORD-1A", "DEMO-RICORD-1B"],  # RLE Lossless (decoded directly), Deflated (pydicom)
)
def test_open_series_streams_a_volume_equal_to_the_folders(
    server: Orthanc, folder: Repository, tmp_path: Path, collection: str
) -> None:
    study = folder.studies(collection=collection)[0]
    series = folder.series(study.study_uid)[0]
    files = [i.path for i in folder.instances(series.series_uid)]
    src = source(server, tmp_path)
    vol = src.open_series(study.study_uid, series.series_uid, near=5, progress=False)
    try:
        assert vol.shape[0] == len(files)
        first = vol.slice(5).copy()
        with Volume.open(files) as local:
            assert np.array_equal(first, local.slice(5))
            assert np.array_equal(vol.wait(timeout=60), local.wait())
            assert vol.sop_uids == local.sop_uids
    finally:
        vol.close()
    # the second open needs no server: the same cache behind a dead URL, and reads
    # the slice headers kept with the series instead of every file's header
    assert src.cache.series_headers(series.series_uid) is not None
    offline = DicomwebSource("http://127.0.0.1:9/dicom-web", cache=src.cache)
    with offline.open_series(study.study_uid, series.series_uid) as again:
        assert np.array_equal(again.wait(), vol.wait())
        assert again.sop_uids == vol.sop_uids
        assert np.array_equal(again.affine, vol.affine)


def test_series_streams_in_one_request_with_the_servers_bytes(
    server: Orthanc, folder: Repository, tmp_path: Path
) -> None:
    study = folder.studies(collection="DEMO-RICORD-1A")[0]
    series = folder.series(study.study_uid)[0]
    by_uid = {i.sop_instance_uid: i.path for i in folder.instances(series.series_uid)}
    got = dict(source(server, tmp_path)._stream_series(study.study_uid, series.series_uid))
    assert got.keys() == by_uid.keys()
    assert all(data == by_uid[uid].read_bytes() for uid, data in got.items())


def test_a_slice_far_from_the_focus_is_fetched_alone_when_asked_for(
    server: Orthanc, folder: Repository, tmp_path: Path
) -> None:
    study = folder.studies(collection="DEMO-RICORD-1A")[0]
    series = folder.series(study.study_uid)[0]
    files = [i.path for i in folder.instances(series.series_uid)]
    vol = source(server, tmp_path).open_series(
        study.study_uid, series.series_uid, near=0, progress=False
    )
    try:
        with Volume.open(files) as local:
            last = vol.shape[0] - 1
            vol.focus(last)
            assert np.array_equal(vol.slice(last), local.slice(last))
            assert np.array_equal(vol.wait(timeout=60), local.wait())
        assert not vol.downloading
    finally:
        vol.close()


class CountingSource(DicomwebSource):
    """A real DICOMweb source that counts its series streams and single-instance requests."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.streams = 0
        self.singles = 0

    def _stream_series(self, study_uid: str, series_uid: str) -> Iterator[tuple[str, bytes]]:
        self.streams += 1
        return super()._stream_series(study_uid, series_uid)

    def fetch_instance(self, study_uid: str, series_uid: str, sop_uid: str) -> bytes:
        self.singles += 1
        return super().fetch_instance(study_uid, series_uid, sop_uid)


def test_retrieve_series_caches_the_servers_bytes_in_one_stream_then_resumes_one_by_one(
    server: Orthanc, folder: Repository, tmp_path: Path
) -> None:
    study = folder.studies(collection="DEMO-RICORD-1B")[0]
    series = folder.series(study.study_uid)[0]
    by_uid = {i.sop_instance_uid: i.path for i in folder.instances(series.series_uid)}
    src = CountingSource(server.dicomweb, cache=tmp_path / "cache", backoff=0.01)
    paths = src.retrieve_series(study.study_uid, series.series_uid, progress=False)
    assert len(paths) == len(by_uid)
    for path in paths:
        assert path.read_bytes() == by_uid[path.stem].read_bytes()
    assert src.streams == 1  # the whole series in one request
    assert src.singles <= 1  # (the slice a viewer would show first comes alone)
    # a pull that stopped with three instances missing asks for those three alone
    for path in paths[:3]:
        path.unlink()
    again = CountingSource(server.dicomweb, cache=src.cache, backoff=0.01)
    assert again.retrieve_series(study.study_uid, series.series_uid, progress=False) == paths
    assert (again.streams, again.singles) == (0, 3)


def test_metadata_and_single_frames(server: Orthanc, folder: Repository, tmp_path: Path) -> None:
    study = folder.studies(collection="DEMO-RICORD-1A")[0]
    series = folder.series(study.study_uid)[0]
    src = source(server, tmp_path)
    meta = src.series_metadata(study.study_uid, series.series_uid)
    assert len(meta) == series.n_instances
    assert "PixelData" not in meta[0]
    sop = str(meta[0].SOPInstanceUID)
    frames = src.retrieve_frames(study.study_uid, series.series_uid, sop, [1])
    assert len(frames) == 1
    assert len(frames[0]) > 1000
    raw = src.retrieve_frames(
        study.study_uid, series.series_uid, sop, [1], transfer_syntax="1.2.840.10008.1.2.1"
    )
    assert len(raw[0]) == int(meta[0].Rows) * int(meta[0].Columns) * 2
    with pytest.raises(NotFoundError, match="404 Not Found"):
        src.series_metadata(study.study_uid, "1.2.3.4.5")


def test_store_uploads_with_stow_rs(server: Orthanc, demo_root: Path, tmp_path: Path) -> None:
    ds = pydicom.dcmread(demo_files(demo_root)[0])
    ds.PatientID = "STOW-TEST-000001"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    src = source(server, tmp_path)
    report = src.store([ds], progress=False)
    assert report.stored == 1
    assert report.failed == ()
    found = src.search_studies(patient="STOW-TEST-000001")
    assert [s.study_uid for s in found] == [ds.StudyInstanceUID]
    server.delete_patient("STOW-TEST-000001")
    assert src.search_studies(patient="STOW-TEST-000001") == []


class _Answer(BaseHTTPRequestHandler):
    status = 500
    hits = 0
    delay = 0.0
    retry_after: str | None = None
    body = b""
    seen: list[dict[str, str]]

    def do_GET(self) -> None:
        type(self).hits += 1
        type(self).seen.append(dict(self.headers))
        time.sleep(self.delay)
        self.send_response(self.status)
        if self.retry_after is not None:
            self.send_header("Retry-After", self.retry_after)
        self.send_header("Content-Type", "application/dicom+json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def answering() -> Iterator[tuple[str, type[_Answer]]]:
    handler = type("Handler", (_Answer,), {"hits": 0, "seen": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/dicom-web", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, "401 Unauthorized: .* wants credentials; pass a token"),
        (403, "403 Forbidden: .* refused this request; the token lacks permission"),
        (
            429,
            (
                r"429 Too Many Requests after 2 retries: the server's quota is used up \(it asks "
                r"to wait 0 s\); wait and run again"
            ),
        ),
        (503, "503 Service Unavailable after 2 retries: the server is failing"),
    ],
)
def test_refusals_say_what_to_fix_and_retry_only_what_is_worth_it(
    answering: tuple[str, type[_Answer]], tmp_path: Path, status: int, message: str
) -> None:
    url, handler = answering
    handler.status = status
    handler.retry_after = "0" if status == 429 else None
    src = DicomwebSource(url, cache=tmp_path, retries=2, backoff=0.001, token="t0k3n")
    with pytest.raises(RepositoryError, match=message):
        src.search_studies()
    assert handler.hits == (3 if status in (429, 503) else 1)


def test_token_and_headers_go_with_every_request(
    answering: tuple[str, type[_Answer]], tmp_path: Path
) -> None:
    url, handler = answering
    handler.status, handler.body = 200, b"[]"
    src = DicomwebSource(url, cache=tmp_path, token="t0k3n", headers={"X-Api-Key": "k3y"})
    assert src.search_studies() == []
    assert src.search_series() == []
    assert len(handler.seen) == 2
    for headers in handler.seen:
        assert headers["Authorization"] == "Bearer t0k3n"
        assert headers["X-Api-Key"] == "k3y"


def test_a_server_that_does_not_answer_in_time_says_so(
    answering: tuple[str, type[_Answer]], tmp_path: Path
) -> None:
    url, handler = answering
    handler.status, handler.body, handler.delay = 200, b"[]", 1.0
    src = DicomwebSource(url, cache=tmp_path, timeout=0.2, retries=1, backoff=0.001)
    with pytest.raises(RepositoryError, match=r"no answer within 0.2 s \(after 1 retries\)"):
        src.search_studies()
    assert handler.hits == 2  # asked again once


def test_bad_urls_and_dead_servers_say_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a DICOMweb URL; expected http"):
        DicomwebSource("orthanc:8042/dicom-web", cache=tmp_path)
    dead = DicomwebSource("http://127.0.0.1:9/dicom-web", cache=tmp_path, retries=1, backoff=0.001)
    with pytest.raises(RepositoryError, match=r"cannot connect .*is the server running"):
        dead.search_studies()


def test_tls_failure_names_the_fix(answering: tuple[str, type[_Answer]], tmp_path: Path) -> None:
    url, _ = answering  # a plain-HTTP server spoken to over TLS
    src = DicomwebSource(url.replace("http://", "https://"), cache=tmp_path, retries=0)
    with pytest.raises(RepositoryError, match=r"TLS error .*verify="):
        src.search_studies()


def test_cache_keyed_by_sop_uid_is_shared_between_sources(
    server: Orthanc, folder: Repository, tmp_path: Path
) -> None:
    cache = InstanceCache(tmp_path / "shared")
    study = folder.studies(collection="DEMO-RICORD-1C")[0]
    series = folder.series(study.study_uid)[0]
    DicomwebSource(server.dicomweb, cache=cache).retrieve_series(
        study.study_uid, series.series_uid, progress=False
    )
    assert len(cache) == series.n_instances
    assert all(i.sop_instance_uid in cache for i in folder.instances(series.series_uid))
    requests.get(f"{server.url}/system", timeout=5).raise_for_status()


class PacedStream(DicomwebSource):
    """A real DICOMweb source whose series stream waits 30 ms a part (so the stop lands)."""

    def _stream_series(self, study_uid: str, series_uid: str) -> Iterator[tuple[str, bytes]]:
        for part in super()._stream_series(study_uid, series_uid):
            time.sleep(0.03)
            yield part


def test_server_going_away_mid_stream_leaves_whole_instances_and_a_reopen_completes(
    tmp_path: Path,
) -> None:
    # 60 uncompressed 512x512 slices (31 MB): more than the socket buffers hold, so
    # the stream cannot have arrived whole before the server stops
    files = write_ct_series(tmp_path / "series", n=60, rows=512, cols=512)
    head = pydicom.dcmread(files[0], stop_before_pixels=True)
    study, series = str(head.StudyInstanceUID), str(head.SeriesInstanceUID)
    storage = tmp_path / "orthanc"
    storage.mkdir()
    cache = InstanceCache(tmp_path / "cache")
    with _running(storage) as first:
        first.upload(files)
        src = PacedStream(first.dicomweb, cache=cache, retries=1, backoff=0.01, workers=1)
        vol = src.open_series(study, series, near=0, progress=False)
        deadline = time.monotonic() + 60
        while len(cache) < 5 and time.monotonic() < deadline:
            time.sleep(0.005)
    # the server is gone (stopped by its pid) while the series streams
    try:
        with pytest.raises(
            RepositoryError,
            match=r"slice\(s\) could not be downloaded \(first: .*cannot connect.* open the "
            "series again when the server answers",
        ):
            vol.wait(timeout=120)
    finally:
        vol.close()
    partial = list(cache.root.glob("instances/*/*.dcm"))
    assert 5 <= len(partial) < len(files)
    for path in partial:  # every file under its final name is a whole instance
        assert pydicom.dcmread(path).pixel_array.shape == (512, 512)
    assert not list(cache.root.rglob("*.part"))
    # the server comes back (same storage, a new port): the series opens whole
    with _running(storage) as second:
        again = DicomwebSource(second.dicomweb, cache=cache).open_series(
            study, series, progress=False
        )
        with again, Volume.open(files) as local:
            assert np.array_equal(again.wait(timeout=60), local.wait())
    assert len(cache) == len(files)
