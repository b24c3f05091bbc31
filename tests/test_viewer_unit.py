"""The stack viewer's Python side, without a browser: sources, encoding, traits, events."""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simplejpeg
from orthanc import Orthanc, orthanc_server

from teachingfiles.errors import UsageError
from teachingfiles.widgets import ArraySource, StackViewer, as_source
from teachingfiles.widgets import _stream as stream
from teachingfiles.widgets._overlay import normalize_annotations
from teachingfiles.widgets._source import reformat
from teachingfiles.widgets._static import static_module, static_path, static_text


def ct(nz: int = 6, ny: int = 10, nx: int = 12) -> np.ndarray:
    z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    return (z * 300 + y * 20 + x - 1000).astype(np.int16)


class Sent:
    """Collects what the widget sends to the browser."""

    def __init__(self, viewer: StackViewer) -> None:
        self.messages: list[tuple[dict[str, Any], list[bytes]]] = []
        viewer.send = lambda content, buffers=None: self.messages.append(  # type: ignore[method-assign]
            (content, list(buffers or []))
        )


def test_public_api_is_pinned() -> None:
    import teachingfiles.widgets as widgets

    assert widgets.__all__ == [
        "ArraySource",
        "AuthoringView",
        "CaseView",
        "QuizView",
        "SliceSource",
        "StackViewer",
        "as_source",
    ]


def test_static_files_resolve_from_the_checkout() -> None:
    assert static_path("viewer.js").name == "viewer.js"
    assert "export default" in static_text("viewer.js")
    assert ".tfv" in static_text("viewer.css")
    with pytest.raises(OSError, match=r"widget file 'nope.js' is missing"):
        static_path("nope.js")


def test_viewer_js_loads_nothing_from_the_network() -> None:
    text = static_module("viewer.js") + static_text("viewer.css")
    assert static_module("viewer.js").startswith(static_text("_resync.js"))
    assert "http://" not in text and "https://" not in text and "import " not in text


def test_array_source_validates_shape_and_spacing() -> None:
    src = ArraySource(np.zeros((4, 5), np.int16))
    assert src.shape == (1, 4, 5)
    with pytest.raises(UsageError, match=r"2-D or 3-D array"):
        ArraySource(np.zeros((2, 2, 2, 2)))
    with pytest.raises(UsageError, match=r"spacing must be three positive"):
        ArraySource(np.zeros((2, 2, 2)), spacing=(1.0, 0.0, 1.0))
    with pytest.raises(UsageError, match=r"cannot show a dict"):
        as_source({"a": 1})


def test_reformat_puts_the_head_at_the_top_and_swaps_spacing() -> None:
    vol = ct()
    src = ArraySource(vol, spacing=(2.5, 0.7, 0.8))
    cor = reformat(src, "coronal")
    assert cor.shape == (10, 6, 12)
    assert cor.spacing == (0.7, 2.5, 0.8)
    np.testing.assert_array_equal(cor.slice(3), vol[::-1, 3, :])
    sag = reformat(src, "sagittal")
    assert sag.shape == (12, 6, 10)
    np.testing.assert_array_equal(sag.slice(5), vol[::-1, :, 5])
    with pytest.raises(UsageError, match=r"view must be one of axial, coronal, sagittal"):
        reformat(src, "oblique")
    with pytest.raises(UsageError, match=r"single image has no coronal view"):
        reformat(ArraySource(vol[:1]), "coronal")


def test_wire_conversion_keeps_int16_and_clips_floats() -> None:
    assert stream.wire_dtype(ArraySource(ct())) == "int16"
    assert stream.wire_dtype(ArraySource(np.zeros((1, 2, 2), np.uint16))) == "uint16"
    out = stream.to_wire(np.array([[1.6, -40000.0]]), "int16")
    assert out.dtype == np.dtype("<i2")
    assert out.tolist() == [[2, -32768]]


def test_full_chunks_round_trip_raw_and_shuffled_deflate() -> None:
    vol = ct()
    src = ArraySource(vol)
    raw = list(stream.encode_full(src, [4, 1], kind="int16", encoding="raw"))
    assert len(raw) == 1 and raw[0].header["slices"] == [4, 1]
    got = np.frombuffer(raw[0].payload, "<i2").reshape(2, 10, 12)
    np.testing.assert_array_equal(got, vol[[4, 1]])
    (packed,) = stream.encode_full(src, [2], kind="int16", encoding="deflate")
    shuffled = np.frombuffer(zlib.decompress(packed.payload), np.uint8)
    half = shuffled.size // 2
    restored = np.empty(shuffled.size, np.uint8)
    restored[0::2], restored[1::2] = shuffled[:half], shuffled[half:]
    np.testing.assert_array_equal(restored.view("<i2").reshape(10, 12), vol[2])
    assert packed.header["raw_bytes"] == vol[2].nbytes


def test_messages_respect_the_size_limit_with_row_bands_for_big_images() -> None:
    big = ArraySource(np.arange(3 * 64 * 64, dtype=np.int16).reshape(3, 64, 64))
    chunks = list(stream.encode_full(big, [0, 1, 2], kind="int16", limit=3000))
    assert all(len(c.payload) <= 3000 for c in chunks)
    rows = {}
    for c in chunks:
        (index,) = c.header["slices"]
        rows.setdefault(index, []).append((c.header["row0"], c.header["rows"]))
    assert sorted(rows) == [0, 1, 2]
    assert sum(n for _, n in rows[1]) == 64 and rows[1][0] == (0, 23)


def test_preview_is_a_jpeg_per_slice_windowed_as_asked() -> None:
    vol = ct()
    (chunk,) = stream.encode_preview(ArraySource(vol), [3, 0], center=-500.0, width=1000.0)
    assert chunk.header["slices"] == [3, 0] and chunk.header["window"] == [-500.0, 1000.0]
    first = chunk.payload[: chunk.header["lengths"][0]]
    grey = simplejpeg.decode_jpeg(first, colorspace="GRAY")[..., 0]
    want = np.clip((vol[3].astype(float) + 1000) / 1000 * 255, 0, 255)
    assert np.abs(grey.astype(float) - want).mean() < 4


def test_viewer_traits_start_small_and_sensible() -> None:
    viewer = StackViewer(ct(), spacing=(2.5, 0.7, 0.8), preset="mediastinum")
    assert viewer.shape == [6, 10, 12]
    assert viewer.index == 3
    assert (viewer.window_center, viewer.window_width, viewer.preset) == (
        40.0,
        400.0,
        "mediastinum",
    )
    assert [p["name"] for p in viewer.presets][:2] == ["lung", "mediastinum"]
    assert viewer.presets[-1]["name"] == "auto"
    assert viewer.geometry["locations"] == [0.0, 2.5, 5.0, 7.5, 10.0, 12.5]
    state = viewer.get_state()
    assert sum(len(str(v)) for k, v in state.items() if not k.startswith("_")) < 20_000


def test_custom_window_clears_the_preset_name() -> None:
    viewer = StackViewer(ct(), preset="lung")
    viewer.window_width = 1234.0
    assert viewer.preset == ""
    viewer.apply_preset("Soft tissue")
    assert viewer.preset == "soft_tissue"
    with pytest.raises(UsageError, match=r"no window preset 'liver'; this viewer offers lung"):
        viewer.apply_preset("liver")


def test_unknown_keyword_and_bad_values_are_refused() -> None:
    with pytest.raises(TypeError, match=r"unknown keyword argument\(s\) colour"):
        StackViewer(ct(), colour="red")
    viewer = StackViewer(ct())
    with pytest.raises(UsageError, match=r"mode must be one of inspect, point, box, polygon"):
        viewer.mode = "lasso"
    with pytest.raises(UsageError, match=r"chunk_mb must be between 0.01 and 8"):
        viewer.chunk_mb = 64


def test_want_messages_are_answered_in_chunks_for_the_current_generation() -> None:
    viewer = StackViewer(ct(6, 64, 64), chunk_mb=0.01)  # 10,485 bytes: one 8 KB slice each
    sent = Sent(viewer)
    gen = viewer.generation
    viewer._on_message(
        viewer,
        {"type": "want", "id": 7, "generation": gen, "kind": "full", "slices": [0, 5, 9]},
        [],
    )
    headers = [m for m, _ in sent.messages]
    assert [h["slices"] for h in headers] == [[0], [5]]  # slice 9 does not exist
    assert [h["last"] for h in headers] == [False, True]
    assert {h["id"] for h in headers} == {7}
    assert all(len(b[0]) == 64 * 64 * 2 for _, b in sent.messages)
    sent.messages.clear()
    viewer._on_message(
        viewer, {"type": "want", "id": 8, "generation": gen - 1, "kind": "full", "slices": [0]}, []
    )
    assert sent.messages == []


def test_a_probe_asks_for_smaller_chunks_but_never_larger_than_chunk_mb() -> None:
    viewer = StackViewer(ct(8, 64, 64), chunk_mb=0.02)  # 20,971 bytes: 2 slices of 8 KB
    sent = Sent(viewer)
    want = {"type": "want", "id": 1, "generation": viewer.generation, "kind": "full"}
    viewer._on_message(viewer, {**want, "slices": [0, 1, 2, 3], "encoding": "planes"}, [])
    assert [h["slices"] for h, _ in sent.messages] == [[0, 1], [2, 3]]
    assert {h["encoding"] for h, _ in sent.messages} == {"planes"}
    sent.messages.clear()
    probe = {**want, "slices": [4, 5, 6], "chunk_bytes": 64 * 64 * 2}
    viewer._on_message(viewer, probe, [])
    assert [h["slices"] for h, _ in sent.messages] == [[4], [5], [6]]
    sent.messages.clear()
    viewer._on_message(viewer, {**probe, "chunk_bytes": 10**9}, [])
    assert [h["slices"] for h, _ in sent.messages] == [[4, 5], [6]]


def test_click_event_carries_slice_pixel_patient_position_and_value() -> None:
    vol = ct()
    viewer = StackViewer(vol, spacing=(2.5, 0.7, 0.8))
    seen: list[dict[str, Any]] = []
    viewer.on_click(seen.append)
    viewer._on_message(viewer, {"type": "click", "index": 2, "x": 5.2, "y": 3.9}, [])
    (event,) = seen
    assert event["slice"] == 2 and event["pixel"] == [5.2, 3.9]
    assert event["value"] == float(vol[2, 4, 5])
    assert event["patient"] == pytest.approx([5.2 * 0.8, 3.9 * 0.7, 5.0])
    assert viewer.last_event == event


def test_view_switch_reformats_and_bumps_the_generation() -> None:
    viewer = StackViewer(ct(), spacing=(2.5, 0.7, 0.8))
    gen = viewer.generation
    viewer.view = "sagittal"
    assert viewer.shape == [12, 6, 10] and viewer.generation == gen + 1
    assert viewer.index == 6
    with pytest.raises(UsageError, match=r"view must be one of"):
        viewer.view = "oblique"


def test_annotations_from_dicts_and_mdai_objects() -> None:
    from teachingfiles.repository.mdai import Annotation

    mdai = Annotation(
        id="A_1", label_id="L_1", study_uid="1.2", sop_uid="9.9.2",
        data={"vertices": [[1, 1], [4, 1], [4, 4]]},
    )  # fmt: skip
    other = Annotation(
        id="A_2", label_id="L_1", study_uid="1.2", sop_uid="elsewhere", data={"x": 1, "y": 2}
    )

    class Label:
        name, color = "Infectious opacity", "#123456"

    shapes = normalize_annotations(
        [{"slice": 1, "label": "Box", "kind": "box", "points": [[0, 0], [2, 2]]}, mdai, other],
        n_slices=4,
        sop_uids=["9.9.0", "9.9.1", "9.9.2", "9.9.3"],
        labels={"L_1": Label()},
    )
    assert shapes == [
        {"slice": 1, "label": "Box", "color": "#ff8c00", "kind": "box",
         "points": [[0.0, 0.0], [2.0, 2.0]]},
        {"slice": 2, "label": "Infectious opacity", "color": "#123456", "kind": "polygon",
         "points": [[1.0, 1.0], [4.0, 1.0], [4.0, 4.0]]},
    ]  # fmt: skip
    with pytest.raises(UsageError, match=r"annotation 0 is on slice 9; the stack has 4"):
        normalize_annotations([{"slice": 9, "points": [[0, 0]]}], n_slices=4)


def test_viewer_shows_a_list_of_datasets_through_the_imaging_core() -> None:
    from teachingfiles.dicom.synthetic import ct_dataset, phantom_slice

    n = 8
    slices = [phantom_slice(32, 40, k, n) for k in range(n)]
    datasets = [
        ct_dataset(
            img, position=(-10.0, -20.0, 100.0 - 2.5 * k), instance=k + 1, spacing=(0.7, 0.8)
        )
        for k, img in enumerate(slices)
    ]
    viewer = StackViewer(datasets[::-1], preset="lung")  # any order: the core sorts them
    assert viewer.shape == [8, 32, 40]
    assert viewer.spacing == pytest.approx([2.5, 0.7, 0.8])
    uids = viewer.source.sop_uids  # type: ignore[attr-defined]
    k = uids.index(datasets[3].SOPInstanceUID)
    event = viewer._event({"index": k, "x": 5, "y": 6})
    assert event["sop_uid"] == datasets[3].SOPInstanceUID
    assert event["value"] == float(slices[3][6, 5])
    assert event["patient"] == pytest.approx([-10.0 + 5 * 0.8, -20.0 + 6 * 0.7, 92.5])
    viewer.view = "coronal"
    assert viewer.shape[0] == 32 and viewer.spacing[1] == pytest.approx(2.5)
    top = viewer.geometry["positions"][0]
    assert top[2] == pytest.approx(100.0)  # the head at the top row


def test_reduced_preview_is_the_block_mean_of_the_windowed_slice() -> None:
    vol = np.random.default_rng(1).integers(-1000, 1000, (3, 33, 40)).astype(np.int16)
    (chunk,) = stream.encode_preview(
        ArraySource(vol), [1], center=0.0, width=2000.0, quality=100, step=2
    )
    assert chunk.header["step"] == 2 and chunk.header["ms"] >= 0
    grey = simplejpeg.decode_jpeg(chunk.payload, colorspace="GRAY")[..., 0].astype(float)
    assert grey.shape == (16, 20)  # the odd last row is dropped
    windowed = np.clip((vol[1, :32].astype(float) + 1000) / 2000 * 255 + 0.5, 0, 255)
    windowed = np.floor(windowed)
    want = windowed.reshape(16, 2, 20, 2).mean(axis=(1, 3))
    assert np.abs(grey - want).mean() < 2.5


def test_table_windowing_matches_arithmetic_windowing() -> None:
    image = np.arange(-32768, 32768, 7, dtype=np.int16).reshape(1, -1)
    lut = stream._window_lut(-600.0, 1500.0)
    np.testing.assert_array_equal(
        stream._window_to_uint8(image, -600.0, 1500.0, lut),
        stream._window_to_uint8(image.astype(np.float32), -600.0, 1500.0),
    )


def test_deflated_chunks_come_back_in_request_order_from_the_thread_pool() -> None:
    vol = np.random.default_rng(2).integers(-1000, 1000, (12, 16, 16)).astype(np.int16)
    order = [5, 0, 11, 3, 7, 1, 9]
    chunks = list(
        stream.encode_full(ArraySource(vol), order, kind="int16", encoding="deflate", limit=512)
    )
    assert [c.header["slices"] for c in chunks] == [[i] for i in order]
    for chunk, index in zip(chunks, order, strict=True):
        shuffled = np.frombuffer(zlib.decompress(chunk.payload), np.uint8)
        half = shuffled.size // 2
        restored = np.empty(shuffled.size, np.uint8)
        restored[0::2], restored[1::2] = shuffled[:half], shuffled[half:]
        np.testing.assert_array_equal(restored.view("<i2").reshape(16, 16), vol[index])
        assert chunk.header["ms"] >= 0


def test_previews_of_large_images_are_halved_unless_asked_otherwise() -> None:
    viewer = StackViewer(np.zeros((2, 400, 400), np.int16))
    sent = Sent(viewer)
    want = {"type": "want", "id": 1, "generation": viewer.generation, "kind": "preview"}
    viewer._on_message(viewer, {**want, "slices": [0], "window": [0, 100]}, [])
    assert sent.messages[-1][0]["step"] == 2
    viewer.preview_step = 1
    viewer._on_message(viewer, {**want, "slices": [1], "window": [0, 100]}, [])
    assert sent.messages[-1][0]["step"] == 1
    small = StackViewer(ct())
    sent = Sent(small)
    want["generation"] = small.generation
    small._on_message(small, {**want, "slices": [0], "window": [0, 100]}, [])
    assert sent.messages[-1][0]["step"] == 1


def _decode_full(header: dict[str, Any], payload: bytes, shape: tuple[int, int]) -> np.ndarray:
    """Undo a full-quality chunk as the browser does (raw or planes)."""
    if header["encoding"] == "planes":
        half = header["raw_bytes"] // 2
        low = np.frombuffer(payload[:half], np.uint8).astype(np.uint16)
        high = np.frombuffer(zlib.decompress(payload[half:]), np.uint8).astype(np.uint16)
        return (low | (high << 8)).view("<i2").reshape(-1, *shape)
    return np.frombuffer(payload, "<i2").reshape(-1, *shape)


def test_planes_chunks_are_low_bytes_then_deflated_high_bytes_and_round_trip() -> None:
    signed = np.array([[[-32768, -1024, 0, 3071, 32767, 5]]], np.int16)
    (chunk,) = stream.encode_full(ArraySource(signed), [0], kind="int16", encoding="planes")
    assert chunk.header["encoding"] == "planes" and chunk.header["raw_bytes"] == 12
    assert chunk.payload[:6] == signed.view(np.uint8)[..., 0::2].tobytes()
    np.testing.assert_array_equal(_decode_full(chunk.header, chunk.payload, (1, 6)), signed)
    ct_like = ct(4, 64, 64)
    (chunk,) = stream.encode_full(ArraySource(ct_like), [2, 0], kind="int16", encoding="planes")
    assert len(chunk.payload) < 0.6 * chunk.header["raw_bytes"]  # the high plane shrinks
    np.testing.assert_array_equal(
        _decode_full(chunk.header, chunk.payload, (64, 64)), ct_like[[2, 0]]
    )


def test_planes_and_deflate_chunks_stay_under_the_hard_limit_when_incompressible() -> None:
    noise = np.random.default_rng(3).integers(0, 65536, (20, 512, 512)).astype(np.uint16)
    src = ArraySource(noise)
    for encoding in ("planes", "deflate"):
        chunks = list(
            stream.encode_full(
                src, list(range(20)), kind="uint16", encoding=encoding, limit=8 << 20
            )
        )
        assert all(len(c.payload) <= stream.MAX_MESSAGE_BYTES for c in chunks)
        assert sum(len(c.header["slices"]) for c in chunks) == 20


@pytest.fixture(scope="module")
def orthanc_demo(demo_root: Path) -> Iterator[Orthanc]:
    with orthanc_server() as server:
        server.upload(sorted(demo_root.glob("manifest-*/**/*.dcm")))
        yield server


@pytest.mark.server
@pytest.mark.slow
def test_remote_series_streams_into_the_viewer_and_scrolling_focuses_the_download(
    orthanc_demo: Orthanc, demo_root: Path, tmp_path: Path
) -> None:
    from teachingfiles.dicom.volume import Volume
    from teachingfiles.repository import Repository
    from teachingfiles.repository.dicomweb import DicomwebSource

    with Repository.open(demo_root) as repo:
        study = repo.studies(collection="DEMO-RICORD-1A")[0]
        series = repo.series(study.study_uid)[0]
        files = [i.path for i in repo.instances(series.series_uid)]
    src = DicomwebSource(orthanc_demo.dicomweb, cache=tmp_path / "cache", backoff=0.01)
    vol = src.open_series(study.study_uid, series.series_uid, near=1, progress=False)
    focused: list[int] = []
    real_focus = vol.focus

    def focus(k: int) -> None:  # records the call, then asks the real download
        focused.append(k)
        real_focus(k)

    vol.focus = focus  # type: ignore[method-assign]
    try:
        viewer = StackViewer(vol, index=1)
        sent = Sent(viewer)
        n, ny, nx = vol.shape
        viewer.index = n - 1  # the learner scrolls: the download hears where to go
        assert focused[-1] == n - 1
        # play the browser: ask for what it lacks, hold back what the kernel says is
        # missing until a "ready" message names it, until every slice is in
        have: dict[int, np.ndarray] = {}
        missing: set[int] = set()
        arrived: set[int] = set()  # said ready: never missing again (messages may cross)
        seen = 0
        request = 0
        deadline = time.monotonic() + 120  # a guard against a hang, not a timing
        while len(have) < n and time.monotonic() < deadline:
            todo = [i for i in range(n) if i not in have and i not in missing]
            if todo:
                request += 1
                want = {"type": "want", "id": request, "generation": viewer.generation}
                viewer._on_message(viewer, {**want, "kind": "full", "slices": todo}, [])
            else:
                time.sleep(0.02)
            while seen < len(sent.messages):
                header, buffers = sent.messages[seen]
                seen += 1
                if header["type"] == "ready":
                    assert header["total"] == n and header["loaded"] <= n
                    arrived |= set(header["slices"])
                    missing -= arrived
                    continue
                missing |= set(header.get("missing", [])) - arrived - set(have)
                if buffers:
                    block = _decode_full(header, buffers[0], (ny, nx))
                    have.update(zip(header["slices"], block, strict=True))
        lacking = sorted(set(range(n)) - set(have))
        assert not lacking, (
            f"slices {lacking} never came; the kernel called {sorted(missing)} missing, "
            f"{len(arrived)} arrived, volume loaded {vol.loaded}, downloading {vol.downloading}"
        )
        with Volume.open(files) as local:
            np.testing.assert_array_equal(np.stack([have[i] for i in range(n)]), local.wait())
        viewer.close()
    finally:
        vol.close()


def test_a_viewer_greets_is_welcomed_and_is_opened_again_when_it_cannot_hear(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    import ipywidgets

    from teachingfiles.widgets import _resync

    now = [1000.0]
    monkeypatch.setattr(_resync, "time", SimpleNamespace(monotonic=lambda: now[0]))

    viewer = StackViewer(ct(), spacing=(2.0, 0.7, 0.7))
    box = ipywidgets.VBox([viewer])
    said: list[dict[str, Any]] = []
    viewer.send = lambda content, buffers=None: said.append(content)  # type: ignore[method-assign]
    told: list[list[str]] = []
    box.send_state = lambda key=None: told.append([c.model_id for c in box.children])  # type: ignore[method-assign]
    first = viewer.model_id
    viewer._handle_custom_msg({"type": "hello", "seq": 1}, [])
    assert said == [{"type": "welcome"}] and viewer.model_id == first
    now[0] += _resync.QUEUED_S
    viewer._handle_custom_msg({"type": "hello", "seq": 3}, [])
    assert viewer.model_id != first and told == [[viewer.model_id]]
    assert not viewer._stop_watching.is_set()  # only the model was closed, not the viewer
    want = {"type": "want", "id": "a", "generation": viewer.generation, "kind": "preview",
            "slices": [0], "window": [40, 400]}  # fmt: skip
    viewer._handle_custom_msg(want, [])
    assert said[-1]["type"] != "welcome"  # the same Python viewer still answers its page
    box.close()
    viewer.close()
