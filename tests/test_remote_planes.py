"""Coronal and sagittal views of a series still downloading: shown at once, refreshed as it lands.

The series comes from the real Orthanc fixture. To catch it half-way, the source's
series stream hands over its first instances and then holds the rest until the test
opens a gate (the server, the HTTP stream, the decoding and the viewer are the real
ones; only the pace is the test's).
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simplejpeg
from orthanc import Orthanc, orthanc_server

from teachingfiles.dicom.reformat import plan_view
from teachingfiles.dicom.volume import Volume
from teachingfiles.repository import Repository
from teachingfiles.repository._remote_volume import RemoteVolume
from teachingfiles.repository.dicomweb import DicomwebSource
from teachingfiles.widgets import ArraySource, StackViewer
from teachingfiles.widgets._source import blank_value, reformat
from teachingfiles.widgets._stream import PartialPlanes

GUARD_S = 60.0
"""A guard against a hang (a test that would otherwise wait forever), not a timing."""


# ---------------------------------------------------------------------- without a server
def test_partial_planes_send_the_image_on_screen_again_once_slices_land() -> None:
    planes = PartialPlanes(every=0.25)
    planes.sent(3, [0, 1, 2], loaded=10)
    assert planes.due(3, 1, loaded=10, now=100.0) == []  # nothing landed since its cut
    assert planes.due(3, 1, loaded=12, now=100.0) == [1]
    assert planes.due(3, 1, loaded=14, now=100.1) == []  # too soon after the last send
    assert planes.due(3, 1, loaded=14, now=100.4) == [1]
    assert planes.due(3, 1, loaded=14, now=101.0) == []  # sent with these 14 already
    assert planes.due(3, 7, loaded=20, now=102.0) == []  # never sent partial: the page asks
    assert planes.due(4, 1, loaded=20, now=103.0) == []  # another stack: forgotten
    assert planes.progress(4, 20) and not planes.progress(4, 20) and planes.progress(4, 21)
    assert planes.finish(4) and not planes.finish(4)
    assert planes.due(4, 1, loaded=30, now=104.0) == []  # final: nothing more to send


def test_partial_planes_chunks_are_unasked_previews_still_missing() -> None:
    image = np.full((1, 16, 24), -1000, np.int16)
    image[0, 8:] = blank_value(np.int16)
    source = ArraySource(image)
    (chunk,) = PartialPlanes().chunks(source, [0], 5, center=-600.0, width=1500.0)
    header = chunk.header
    assert header["type"] == "chunk" and header["kind"] == "preview" and header["last"]
    assert header["generation"] == 5 and header["missing"] == [0] and header["slices"] == [0]
    assert str(header["id"]).startswith("refresh-")
    grey = simplejpeg.decode_jpeg(chunk.payload, colorspace="GRAY")[..., 0].astype(float)
    assert grey[:6].mean() > 40 and grey[10:].mean() < 3  # the blank rows are black


def test_a_stack_that_is_final_is_said_ready_once_with_every_image() -> None:
    planes = PartialPlanes()
    source = ArraySource(np.zeros((4, 3, 5), np.int16))  # whole: nothing partial
    first = list(planes.messages(source, 2, index=1, loaded=9, total=9))
    assert first == [
        ({"type": "ready", "generation": 2, "total": 9, "loaded": 9, "slices": [0, 1, 2, 3]}, [])
    ]
    assert list(planes.messages(source, 2, index=1, loaded=9, total=9)) == []
    assert len(list(planes.messages(source, 3, index=1, loaded=9, total=9))) == 1  # a new stack


def test_blank_is_the_lowest_value_so_every_window_shows_it_black() -> None:
    assert blank_value(np.int16) == -32768
    assert blank_value(np.uint16) == 0
    assert blank_value(np.float32) < -1e38


def test_a_local_volume_is_never_shown_partial(demo_root: Path) -> None:
    with Repository.open(demo_root) as repo:
        study = repo.studies(collection="DEMO-RICORD-1A")[0]
        series = repo.series(study.study_uid)[0]
        files = [i.path for i in repo.instances(series.series_uid)]
    with Volume.open(files) as local:
        coronal = reformat(local, "coronal")  # type: ignore[arg-type]
        assert coronal.partial is False  # type: ignore[attr-defined]
        k = coronal.shape[0] // 2
        expected = plan_view(local, "coronal").image(local.wait(), k)
        np.testing.assert_array_equal(coronal.slice(k), expected)


# ---------------------------------------------------------------------- Orthanc
class GatedSource(DicomwebSource):
    """A real DICOMweb source whose series stream pauses at set points until told to go on.

    The stream hands over instances until ``holds[j]`` of them have come, then waits
    for ``gates[j]``. An instance fetched alone waits for the last gate unless it is
    in ``allow`` (the slice on screen, fetched ahead of the stream).
    """

    def __init__(self, *args: Any, holds: list[int], allow: set[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.holds = holds
        self.gates = [threading.Event() for _ in holds]
        self.allow = allow
        self.streamed: list[str] = []
        self.alone: list[str] = []

    def _stream_series(self, study_uid: str, series_uid: str) -> Iterator[tuple[str, bytes]]:
        for uid, data in super()._stream_series(study_uid, series_uid):
            for hold, gate in zip(self.holds, self.gates, strict=True):
                if len(self.streamed) >= hold:
                    gate.wait()
            self.streamed.append(uid)
            yield uid, data

    def fetch_instance(self, study_uid: str, series_uid: str, sop_uid: str) -> bytes:
        if sop_uid not in self.allow:
            self.gates[-1].wait()
        data = super().fetch_instance(study_uid, series_uid, sop_uid)
        self.alone.append(sop_uid)
        return data

    def open_all(self) -> None:
        for gate in self.gates:
            gate.set()


@pytest.fixture(scope="module")
def ct_series(demo_root: Path) -> tuple[str, str, list[Path]]:
    with Repository.open(demo_root) as repo:
        study = repo.studies(collection="DEMO-RICORD-1A")[0]
        series = repo.series(study.study_uid)[0]
        files = [i.path for i in repo.instances(series.series_uid)]
    return study.study_uid, series.series_uid, files


@pytest.fixture(scope="module")
def server(ct_series: tuple[str, str, list[Path]]) -> Iterator[Orthanc]:
    with orthanc_server() as orthanc:
        orthanc.upload(ct_series[2])
        yield orthanc


@pytest.fixture(scope="module")
def local(ct_series: tuple[str, str, list[Path]]) -> Iterator[Volume]:
    with Volume.open(ct_series[2]) as vol:
        vol.wait()
        yield vol


def _open_gated(
    server: Orthanc, ct_series: tuple[str, str, list[Path]], local: Volume, tmp_path: Path
) -> tuple[GatedSource, RemoteVolume]:
    study_uid, series_uid, _ = ct_series
    n = local.shape[0]
    middle = local.sop_uids[n // 2]
    src = GatedSource(
        server.dicomweb,
        cache=tmp_path / "cache",
        backoff=0.01,
        holds=[n // 4, n // 2],
        allow={middle},
    )
    vol = src.open_series(study_uid, series_uid, progress=False)
    return src, vol


def _released(src: GatedSource, vol: RemoteVolume, count: int) -> np.ndarray:
    """Wait until the stream holds at ``count`` and what it let through is decoded; which are."""
    deadline = time.monotonic() + GUARD_S
    while time.monotonic() < deadline:
        done = set(src.streamed[:count]) | set(src.alone)
        if len(src.streamed) >= count and vol.loaded == len(done):
            break
        time.sleep(0.01)
    ready = np.array([vol.is_ready(k) for k in range(vol.shape[0])])
    expected = np.array([uid in done for uid in vol.sop_uids])
    np.testing.assert_array_equal(ready, expected)
    assert 0 < ready.sum() < len(ready), "the test needs a series half-way"
    return ready


def _at_once(func: Any, *args: Any) -> Any:
    """Call ``func`` on a thread; fail (instead of hanging) if it waits on the held download."""
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(func(*args)), daemon=True)
    thread.start()
    thread.join(GUARD_S)
    assert out, f"{func} was still waiting for the download after {GUARD_S} s"
    return out[0]


def _partial_expected(local: Volume, ready: np.ndarray, view: str, k: int) -> np.ndarray:
    """The local image with every slice not yet in replaced by the blank value."""
    data = local.wait().copy()
    data[~ready] = blank_value(data.dtype)
    return plan_view(local, view).image(data, k)


@pytest.mark.server
@pytest.mark.slow
def test_a_coronal_image_of_a_series_downloading_comes_at_once_then_equals_the_local_one(
    server: Orthanc, ct_series: tuple[str, str, list[Path]], local: Volume, tmp_path: Path
) -> None:
    src, vol = _open_gated(server, ct_series, local, tmp_path)
    try:
        ready = _released(src, vol, src.holds[0])
        assert vol.settled is False and vol.downloading
        viewer = StackViewer(vol, view="coronal")
        assert viewer.source.partial  # type: ignore[attr-defined]
        n_cor = viewer.source.shape[0]
        for view in ("coronal", "sagittal"):
            viewer.view = view
            for k in (0, n_cor // 3, viewer.source.shape[0] - 1):
                image = _at_once(viewer.source.slice, k)
                expected = _partial_expected(local, ready, view, k)
                np.testing.assert_array_equal(image, expected)
                final = plan_view(local, view).image(local.wait(), k)
                there = image != blank_value(image.dtype)
                assert there.any() and (~there).any()
                np.testing.assert_array_equal(image[there], final[there])
        src.open_all()
        vol.wait(timeout=GUARD_S)
        assert vol.settled
        assert not viewer.source.partial  # type: ignore[attr-defined]
        for view in ("coronal", "sagittal"):
            viewer.view = view
            plan = plan_view(local, view)
            for k in range(viewer.source.shape[0]):
                np.testing.assert_array_equal(viewer.source.slice(k), plan.image(local.wait(), k))
        viewer.close()
    finally:
        src.open_all()
        vol.close()


class Sent:
    """Collects what the widget sends to the browser (from any thread)."""

    def __init__(self, viewer: StackViewer) -> None:
        self.messages: list[tuple[dict[str, Any], list[bytes]]] = []
        self._lock = threading.Lock()

        def send(content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
            with self._lock:
                self.messages.append((content, list(buffers or [])))

        viewer.send = send  # type: ignore[method-assign]

    def since(self, start: int) -> list[tuple[dict[str, Any], list[bytes]]]:
        with self._lock:
            return self.messages[start:]

    def wait_for(self, start: int, match: Any) -> tuple[dict[str, Any], list[bytes]]:
        deadline = time.monotonic() + GUARD_S
        while time.monotonic() < deadline:
            for header, buffers in self.since(start):
                if match(header):
                    return header, buffers
            time.sleep(0.02)
        raise AssertionError(f"no such message after {GUARD_S} s: {self.since(start)}")


def _want(viewer: StackViewer, request: int, kind: str, slices: list[int]) -> None:
    """Ask as the page does; fail, instead of hanging, if the kernel waits on the download."""
    content = {"type": "want", "id": request, "generation": viewer.generation, "kind": kind}
    window = [viewer.window_center, viewer.window_width]
    message = {**content, "slices": slices, "encoding": "planes", "window": window}
    _at_once(lambda: viewer._on_message(viewer, message, []) or True)


def _grey(header: dict[str, Any], payload: bytes, index: int) -> np.ndarray:
    at = header["slices"].index(index)
    start = sum(header["lengths"][:at])
    jpeg = payload[start : start + header["lengths"][at]]
    grey: np.ndarray = simplejpeg.decode_jpeg(jpeg, colorspace="GRAY")[..., 0]
    return grey.astype(float)


def _rows_filled(grey: np.ndarray, ready: np.ndarray, plan_flip: bool) -> tuple[float, float]:
    """Mean grey of the rows of slices in, and of those still to come (coronal: a row a slice)."""
    rows = ready[::-1] if plan_flip else ready
    return float(grey[rows].mean()), float(grey[~rows].mean())


@pytest.mark.server
@pytest.mark.slow
def test_a_coronal_image_first_sent_partial_is_sent_again_as_slices_land_and_when_complete(
    server: Orthanc, ct_series: tuple[str, str, list[Path]], local: Volume, tmp_path: Path
) -> None:
    src, vol = _open_gated(server, ct_series, local, tmp_path)
    try:
        ready = _released(src, vol, src.holds[0])
        viewer = StackViewer(vol, view="coronal", preset="lung")
        sent = Sent(viewer)
        n_cor = viewer.source.shape[0]
        plan = plan_view(local, "coronal")
        assert plan.axes[1] == 0  # an axial series: each slice is a row of the coronal image
        here = viewer.index
        # the page asks for previews: every image comes at once, partial, listed missing
        _want(viewer, 1, "preview", list(range(n_cor)))
        answers = [(h, b) for h, b in sent.since(0) if h.get("id") == 1]
        assert sorted(i for h, _ in answers for i in h["slices"]) == list(range(n_cor))
        assert answers[-1][0]["last"] and sorted(answers[-1][0]["missing"]) == list(range(n_cor))
        header, payload = next((h, b[0]) for h, b in answers if here in h["slices"])
        filled, blank = _rows_filled(_grey(header, payload, here), ready, plan.flips[1])
        assert blank < 3 < filled  # the slices still to come are black rows
        # full quality is not sent while the image is partial
        _want(viewer, 2, "full", [here])
        (full,) = [(h, b) for h, b in sent.since(0) if h.get("id") == 2]
        assert full[0]["slices"] == [] and full[0]["missing"] == [here] and not full[1]
        # more slices land: the image on screen is sent again, unasked, with more rows
        start = len(sent.since(0))
        src.gates[0].set()
        more = _released(src, vol, src.holds[1])
        assert more.sum() > ready.sum()
        again, buffers = sent.wait_for(
            start,
            lambda h: str(h.get("id", "")).startswith("refresh-") and h["slices"] == [here],
        )
        assert again["generation"] == viewer.generation and again["missing"] == [here]
        told, _ = sent.wait_for(start, lambda h: h["type"] == "ready" and h["slices"] == [])
        assert told["total"] == vol.shape[0] and told["loaded"] > ready.sum()  # the progress mark
        grey = _grey(again, buffers[0], here)
        newer = grey[(more & ~ready)[::-1] if plan.flips[1] else (more & ~ready)]
        assert newer.mean() > 3  # rows that were black are filled now
        _, blank = _rows_filled(grey, more, plan.flips[1])
        assert blank < 3
        # the series completes: one "ready" names every image, and the page's next ask
        # for full quality gets the final image, equal to the local reformat
        start = len(sent.since(0))
        src.open_all()
        vol.wait(timeout=GUARD_S)
        final, _ = sent.wait_for(start, lambda h: h["type"] == "ready" and h["slices"])
        assert final["slices"] == list(range(n_cor))
        assert final["generation"] == viewer.generation
        assert final["loaded"] == final["total"] == vol.shape[0]
        _want(viewer, 3, "full", [here, 0])
        chunks = [(h, b) for h, b in sent.since(start) if h.get("id") == 3]
        assert not chunks[-1][0].get("missing")
        got = {}
        for h, b in chunks:
            values = _decode_planes(h, b[0], viewer.source.shape[1:])
            got.update(zip(h["slices"], values, strict=True))
        for k in (here, 0):
            np.testing.assert_array_equal(got[k], plan.image(local.wait(), k))
        viewer.close()
    finally:
        src.open_all()
        vol.close()


def _decode_planes(header: dict[str, Any], payload: bytes, shape: tuple[int, int]) -> np.ndarray:
    """Undo a ``planes`` full-quality chunk as the browser does."""
    assert header["encoding"] == "planes"
    half = header["raw_bytes"] // 2
    low = np.frombuffer(payload[:half], np.uint8).astype(np.uint16)
    high = np.frombuffer(zlib.decompress(payload[half:]), np.uint8).astype(np.uint16)
    return (low | (high << 8)).view("<i2").reshape(-1, *shape)


@pytest.mark.server
@pytest.mark.slow
def test_scrolling_an_axial_series_still_focuses_the_download_after_a_coronal_visit(
    server: Orthanc, ct_series: tuple[str, str, list[Path]], local: Volume, tmp_path: Path
) -> None:
    src, vol = _open_gated(server, ct_series, local, tmp_path)
    focused: list[int] = []
    real_focus = vol.focus

    def focus(k: int) -> None:  # records the call, then tells the real download
        focused.append(k)
        real_focus(k)

    vol.focus = focus  # type: ignore[method-assign]
    try:
        _released(src, vol, src.holds[0])
        viewer = StackViewer(vol)
        viewer.view = "coronal"
        viewer.index = 3
        assert 3 not in focused  # a coronal index is no axial slice
        viewer.view = "axial"
        viewer.index = vol.shape[0] - 1
        assert focused[-1] == vol.shape[0] - 1
        viewer.close()
    finally:
        src.open_all()
        vol.close()
