from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from teachingfiles.dicom.volume import SliceHeader
from teachingfiles.errors import RepositoryError, UsageError
from teachingfiles.repository._download import (
    SeriesDownload,
    iter_parts,
    multipart_boundary,
)
from teachingfiles.repository._remote_volume import header_from_record, header_to_record
from teachingfiles.repository.cache import CACHE_ENV, InstanceCache, default_cache_root

UIDS = [f"1.2.826.0.1.3680043.8.498.{k}" for k in range(1, 12)]


def test_put_then_get_returns_the_same_bytes(tmp_path: Path) -> None:
    cache = InstanceCache(tmp_path)
    path = cache.put(UIDS[0], b"DICM-bytes")
    assert cache.get(UIDS[0]) == path
    assert path.read_bytes() == b"DICM-bytes"
    assert UIDS[0] in cache
    assert UIDS[1] not in cache
    assert len(cache) == 1


def test_interrupted_write_leaves_no_instance_only_a_part_file_that_clean_removes(
    tmp_path: Path,
) -> None:
    cache = InstanceCache(tmp_path)

    def chunks():  # the server goes away after the first chunk
        yield b"first half"
        raise ConnectionError("server went away")

    with pytest.raises(ConnectionError):
        cache.put(UIDS[0], chunks())
    assert cache.get(UIDS[0]) is None
    # a crash (not an exception) could leave a .part file: clean() removes those
    stray = cache.path(UIDS[0]).with_name(f".{UIDS[0]}.x.part")
    stray.write_bytes(b"half")
    assert cache.clean() == 1
    assert not list(tmp_path.rglob("*.part"))


def test_path_rejects_what_is_not_a_uid(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"'\.\./etc/passwd' is not a DICOM UID"):
        InstanceCache(tmp_path).path("../etc/passwd")


def test_series_list_is_remembered_and_complete_only_when_every_instance_is_there(
    tmp_path: Path,
) -> None:
    cache = InstanceCache(tmp_path)
    assert cache.series_instances(UIDS[10]) is None
    cache.remember_series(UIDS[9], UIDS[10], UIDS[:3])
    assert cache.series_instances(UIDS[10]) == UIDS[:3]
    cache.put(UIDS[0], b"a")
    cache.put(UIDS[1], b"b")
    assert cache.complete_series(UIDS[10]) is None
    cache.put(UIDS[2], b"c")
    assert cache.complete_series(UIDS[10]) == [cache.path(u) for u in UIDS[:3]]


def test_default_cache_root_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "c"))
    assert default_cache_root() == tmp_path / "c"
    a = InstanceCache.default("http://127.0.0.1:8042/dicom-web")
    b = InstanceCache.default("http://127.0.0.1:8043/dicom-web")
    assert a.root != b.root
    assert a.root.parent == tmp_path / "c" / "dicomweb"


def test_download_fetches_nearest_the_focus_first(tmp_path: Path) -> None:
    order: list[str] = []
    uids = UIDS[:7]

    def fetch(uid: str) -> bytes:
        order.append(uid)
        return uid.encode()

    d = SeriesDownload(uids, fetch, InstanceCache(tmp_path), focus=2, workers=1)
    paths = d.wait(timeout=10)
    d.stop()
    assert [uids.index(u) for u in order] == [2, 1, 3, 0, 4, 5, 6]
    assert [p.read_bytes() for p in paths] == [u.encode() for u in uids]


def test_failed_download_keeps_complete_instances_and_a_rerun_fetches_only_the_rest(
    tmp_path: Path,
) -> None:
    cache = InstanceCache(tmp_path)
    calls: list[str] = []
    lock = threading.Lock()

    def flaky(uid: str) -> bytes:
        with lock:
            calls.append(uid)
        if uid in (UIDS[3], UIDS[5]):
            raise RepositoryError("http://x: cannot connect (refused)")
        return b"ok"

    d = SeriesDownload(UIDS, flaky, cache, workers=2)
    with pytest.raises(RepositoryError, match=r"2 of 11 instance\(s\) could not be downloaded"):
        d.wait(timeout=10)
    d.stop()
    assert {u for u in UIDS if u in cache} == set(UIDS) - {UIDS[3], UIDS[5]}
    with pytest.raises(RepositoryError, match="cannot connect"):
        d.wait_for(3)
    calls.clear()
    again = SeriesDownload(UIDS, lambda uid: calls.append(uid) or b"ok", cache, workers=2)
    assert len(again.wait(timeout=10)) == len(UIDS)
    again.stop()
    assert sorted(calls) == sorted([UIDS[3], UIDS[5]])


def _multipart(parts: list[bytes], boundary: bytes) -> bytes:
    body = b"".join(
        b"--" + boundary + b"\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n"
        for p in parts
    )
    return body + b"--" + boundary + b"--\r\n"


def test_iter_parts_splits_a_multipart_body_fed_in_pieces_of_any_size() -> None:
    boundary = b"a1b2c3"
    parts = [b"DICM" + bytes(range(256)) * 3, b"", b"\r\n--a1b2c\r\nnot a boundary", b"x"]
    body = _multipart(parts, boundary)
    assert (
        multipart_boundary(
            f'multipart/related; type="application/dicom"; boundary="{boundary.decode()}"'
        )
        == boundary
    )
    assert multipart_boundary("application/dicom") is None
    for size in (1, 2, 7, 64, len(body)):
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        assert list(iter_parts(chunks, boundary, "http://x")) == parts, size


def test_iter_parts_says_when_the_answer_was_cut() -> None:
    body = _multipart([b"first", b"second"], b"bb")
    cut = body[: body.index(b"second") + 3]
    got: list[bytes] = []
    with pytest.raises(RepositoryError, match=r"http://x: the multipart answer ended before"):
        got.extend(iter_parts([cut], b"bb", "http://x"))
    assert got == [b"first"]  # what arrived whole is handed out


def test_stream_brings_the_series_after_the_slice_on_screen_which_comes_alone(
    tmp_path: Path,
) -> None:
    uids = UIDS[:7]
    events: list[str] = []

    def fetch(uid: str) -> bytes:
        events.append(f"fetch {uids.index(uid)}")
        return uid.encode()

    def stream() -> Iterator[tuple[str, bytes]]:
        events.append("stream")
        for uid in reversed(uids):
            yield uid, uid.encode()

    d = SeriesDownload(uids, fetch, InstanceCache(tmp_path), focus=4, workers=2, stream=stream)
    paths = d.wait(timeout=10)
    d.stop()
    assert events == ["fetch 4", "stream"]
    assert [p.read_bytes() for p in paths] == [u.encode() for u in uids]
    assert d.stream_error is None


def test_instances_the_stream_left_out_or_lost_are_fetched_one_by_one(tmp_path: Path) -> None:
    fetched: list[int] = []

    def fetch(uid: str) -> bytes:
        fetched.append(UIDS.index(uid))
        return uid.encode()

    def broken() -> Iterator[tuple[str, bytes]]:
        yield UIDS[0], UIDS[0].encode()
        yield "1.2.3.999", b"not one of ours"
        raise RepositoryError("http://x: the multipart answer ended before its closing boundary")

    d = SeriesDownload(UIDS, fetch, InstanceCache(tmp_path), focus=5, workers=1, stream=broken)
    paths = d.wait(timeout=10)
    d.stop()
    assert [p.read_bytes() for p in paths] == [u.encode() for u in UIDS]
    assert isinstance(d.stream_error, RepositoryError)
    assert sorted(fetched) == list(range(1, len(UIDS)))  # everything but what streamed
    assert fetched[0] == 5  # the slice on screen first


def test_series_headers_are_kept_with_the_series_list(tmp_path: Path) -> None:
    cache = InstanceCache(tmp_path)
    header = SliceHeader(UIDS[0], 512, 512, position=(0.0, 0.0, 1.5), slope=1.0, intercept=-1024.0)
    cache.remember_series(UIDS[9], UIDS[10], UIDS[:1], [header_to_record(header)])
    records = cache.series_headers(UIDS[10])
    assert records is not None
    back = header_from_record(records[0], cache)
    assert back == SliceHeader(**{**header.__dict__, "path": str(cache.path(UIDS[0]))})
    cache.remember_series(UIDS[9], UIDS[10], UIDS[:1])
    assert cache.series_headers(UIDS[10]) is None


def test_sop_uid_of_reads_explicit_and_implicit_vr_alike(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    from teachingfiles.repository._download import sop_uid_of

    def encoded(syntax: str) -> bytes:
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = syntax
        ds.file_meta.MediaStorageSOPInstanceUID = UIDS[3]
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        ds.SOPInstanceUID = UIDS[2]  # not the meta's: the dataset's own is read
        path = tmp_path / f"{syntax}.dcm"
        ds.save_as(path, enforce_file_format=True)
        return path.read_bytes()

    assert sop_uid_of(encoded(ExplicitVRLittleEndian), "http://x") == UIDS[2]  # fast path
    assert sop_uid_of(encoded(ImplicitVRLittleEndian), "http://x") == UIDS[2]  # pydicom
    with pytest.raises(RepositoryError, match="http://x: a part of the answer is not a DICOM"):
        sop_uid_of(b"\0" * 128 + b"DICM" + b"junk", "http://x")


def test_on_data_hands_over_each_instance_before_its_file(tmp_path: Path) -> None:
    uids = UIDS[:5]
    registered = threading.Event()
    got: dict[int, bytes] = {}
    cache = InstanceCache(tmp_path)

    def fetch(uid: str) -> bytes:
        registered.wait(10)  # the stream starts after this, the slice on screen
        return uid.encode()

    def stream() -> Iterator[tuple[str, bytes]]:
        for uid in uids:
            yield uid, uid.encode()

    def on_data(k: int, data: bytes) -> None:
        got[k] = data
        assert cache.get(uids[k]) is None  # handed over before the file is written

    d = SeriesDownload(uids, fetch, cache, focus=2, workers=1, stream=stream)
    d.on_data(on_data)
    registered.set()
    d.wait(timeout=10)
    d.stop()
    assert got == {k: uids[k].encode() for k in range(5)}  # 2 (alone) as well as the stream's


class SlowDiskCache(InstanceCache):
    """A real cache whose writes wait until ``disk`` is set (a disk busy with others' writes)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.disk = threading.Event()

    def put(self, sop_uid: str, data: bytes | Iterator[bytes]) -> Path:
        self.disk.wait(10)
        return super().put(sop_uid, data)


def test_what_came_is_usable_and_the_stream_starts_before_the_disk_has_written_it(
    tmp_path: Path,
) -> None:
    uids = UIDS[:4]
    cache = SlowDiskCache(tmp_path)
    got: dict[int, bytes] = {}
    streamed = threading.Event()

    def stream() -> Iterator[tuple[str, bytes]]:
        streamed.set()
        for uid in uids:
            yield uid, uid.encode()

    registered = threading.Event()

    def fetch(uid: str) -> bytes:
        registered.wait(10)  # the stream starts after this, the slice on screen
        return uid.encode()

    d = SeriesDownload(uids, fetch, cache, focus=2, workers=1, stream=stream)
    d.on_data(lambda k, data: got.setdefault(k, data))
    registered.set()
    d.wait_for_data(2, timeout=10)  # the slice on screen came, its file is not written
    assert streamed.wait(1)  # nor does the stream wait for that file
    with pytest.raises(TimeoutError, match=r"not downloaded after 0\.2 s"):
        d.wait_for(2, timeout=0.2)
    assert cache.get(uids[2]) is None
    cache.disk.set()
    assert d.wait_for(2, timeout=10) == cache.path(uids[2])
    assert len(d.wait(timeout=10)) == len(uids)
    d.stop()
    assert got == {k: uids[k].encode() for k in range(len(uids))}
