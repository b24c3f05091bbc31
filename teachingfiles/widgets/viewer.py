"""The scrolling stack viewer: a radiology workstation in a notebook cell.

The Python side holds small synced traits (slice, window, view, zoom) and answers the
browser's requests for pixel data; the browser (``widgets/viewer.js``) keeps the
slices, windows and draws them, so scrolling and window/level never wait on the
kernel. Data arrives in two passes, nearest slices first: an 8-bit JPEG preview of
the whole series, then the lossless 16-bit values (see :mod:`._stream`).

A series still arriving (a :class:`~teachingfiles.repository.RemoteVolume`, or any
source with ``is_ready(k)``) is answered with the slices it has; the others are
listed as missing, and a watcher thread tells the browser as they land. Scrolling
calls the source's ``focus(k)``, so the download fetches the slices near the one on
screen next. Its coronal and sagittal images come at once, blank where slices are
still to come, and are sent again as they land (:class:`~._stream.PartialPlanes`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import anywidget
import numpy as np
import numpy.typing as npt
import traitlets
from ipywidgets import CallbackDispatcher  # type: ignore[import-untyped]

from teachingfiles.errors import UsageError
from teachingfiles.widgets._overlay import normalize_annotations
from teachingfiles.widgets._resync import HELLO, resync_on_hello
from teachingfiles.widgets._source import VIEWS, SliceSource, as_source, reformat
from teachingfiles.widgets._static import static_module, static_text
from teachingfiles.widgets._stream import (
    MAX_MESSAGE_BYTES,
    Chunk,
    PartialPlanes,
    encode_full,
    encode_preview,
    wire_dtype,
)

__all__ = ["MODES", "StackViewer"]

_log = logging.getLogger(__name__)

MODES = ("inspect", "point", "box", "polygon", "freehand")
"""What a plain click or drag does: inspect (drag = window/level), or draw
(freehand: press, drag and release gives a closed outline of the path)."""

_CT_PRESETS: tuple[tuple[str, float, float], ...] = (
    ("lung", -600.0, 1500.0),
    ("mediastinum", 40.0, 400.0),
    ("bone", 400.0, 1800.0),
    ("soft_tissue", 50.0, 350.0),
    ("brain", 40.0, 80.0),
)


def _ct_presets() -> list[dict[str, Any]]:
    try:
        from teachingfiles.dicom.presets import WindowPreset
    except ImportError:  # pragma: no cover - the imaging core ships with the package
        return [{"name": n, "center": c, "width": w} for n, c, w in _CT_PRESETS]
    return [
        {"name": p.value, "center": p.window.center, "width": p.window.width} for p in WindowPreset
    ]


_WATCH_S = 0.05
"""How often a downloading series is checked for arrived slices, seconds."""
_SETTLE_S = 2.0
"""A download that ended this long ago with slices still missing has failed on them."""


def _ready(source: SliceSource, index: int) -> bool:
    """Whether slice ``index`` can be read without waiting (sources without ``is_ready``: yes)."""
    is_ready = getattr(source, "is_ready", None)
    return True if not callable(is_ready) else bool(is_ready(index))


def _all_ready(source: SliceSource) -> bool:
    loaded = getattr(source, "loaded", None)
    if isinstance(loaded, int):
        return loaded >= source.shape[0]
    return all(_ready(source, k) for k in range(source.shape[0]))


class StackViewer(anywidget.AnyWidget):
    """Scroll, window, zoom and click through a stack of slices.

    Parameters
    ----------
    data
        A numpy array ``(z, y, x)`` or ``(y, x)``, a Volume of the imaging core, or
        a list of pydicom datasets or DICOM paths.
    spacing
        ``(z, y, x)`` millimetres for a plain array.
    annotations
        Shapes to overlay: dicts ``{"slice", "label", "points", "kind", "color"}`` or
        MD.ai annotations (see :func:`~._overlay.normalize_annotations`).
    labels
        MD.ai labels by id, giving annotation names and colours.
    preset
        Initial window preset name (``"lung"``, ``"mediastinum"``, ...); by default
        the data's own first window, else one fitted to the middle slice.
    **traits
        Any trait below (``index``, ``view``, ``mode``, ``memory_budget_mb``, ...).

    Example
    -------
    >>> import numpy as np
    >>> viewer = StackViewer(np.full((3, 8, 8), -1000, np.int16), preset="lung")
    >>> viewer.index, viewer.window_center
    (1, -600.0)
    """

    _esm = traitlets.Unicode(static_module("viewer.js")).tag(sync=True)
    _css = traitlets.Unicode(static_text("viewer.css")).tag(sync=True)

    generation = traitlets.Int(0, help="Bumped when the stack changes (view switch)").tag(sync=True)
    shape = traitlets.List(traitlets.Int(), help="(slices, rows, columns) of the view").tag(
        sync=True
    )
    spacing = traitlets.List(traitlets.Float(), help="(slice, row, column) spacing, mm").tag(
        sync=True
    )
    wire = traitlets.Unicode("int16", help="How values travel: int16 or uint16").tag(sync=True)
    geometry = traitlets.Dict(help="positions, orientation and slice locations (mm)").tag(sync=True)
    index = traitlets.Int(0, help="The slice on screen (0-based)").tag(sync=True)
    window_center = traitlets.Float(0.0, help="Window centre (level), in stored units").tag(
        sync=True
    )
    window_width = traitlets.Float(1.0, help="Window width, in stored units").tag(sync=True)
    preset = traitlets.Unicode("", help="Name of the preset in use ('' when custom)").tag(sync=True)
    presets = traitlets.List(traitlets.Dict(), help="Named windows: name, center, width").tag(
        sync=True
    )
    view = traitlets.Unicode("axial", help="axial, coronal or sagittal").tag(sync=True)
    views = traitlets.List(traitlets.Unicode(), help="The views this data offers").tag(sync=True)
    invert = traitlets.Bool(False, help="Show the window inverted (white low)").tag(sync=True)
    zoom = traitlets.Float(1.0, help="Magnification over fit-to-widget").tag(sync=True)
    pan = traitlets.List(traitlets.Float(), [0.0, 0.0], help="Pan offset in image pixels").tag(
        sync=True
    )
    playing = traitlets.Bool(False, help="Cine running").tag(sync=True)
    fps = traitlets.Float(10.0, help="Cine frame rate").tag(sync=True)
    show_overlay = traitlets.Bool(True, help="Draw the annotations").tag(sync=True)
    annotations = traitlets.List(traitlets.Dict(), help="Axial shapes to overlay").tag(sync=True)
    mode = traitlets.Unicode("inspect", help="inspect, point, box, polygon or freehand").tag(
        sync=True
    )
    last_event = traitlets.Dict(help="The last click or drawn shape (see on_click)").tag(sync=False)
    memory_budget_mb = traitlets.Int(
        1024, help="Browser memory for slices; beyond it only nearby slices are kept"
    ).tag(sync=True)
    chunk_mb = traitlets.Float(4.0, help="Largest binary message, MB (at most 8)").tag(sync=True)
    transfer = traitlets.Unicode(
        "auto",
        help="Full-quality encoding: auto (planes), planes, raw or deflate (fewer bytes, more CPU)",
    ).tag(sync=True)
    preview_quality = traitlets.Int(
        70, help="JPEG quality of the preview (70: a third fewer bytes than 85, shown briefly)"
    ).tag(sync=True)
    preview_step = traitlets.Int(
        0, help="Preview reduction (block mean); 0: 2 for images of 384 px or more, else 1"
    ).tag(sync=True)
    error = traitlets.Unicode("", help="An error to show inside the widget").tag(sync=True)
    title = traitlets.Unicode("", help="A caption above the image").tag(sync=True)

    def __init__(
        self,
        data: object,
        *,
        spacing: Sequence[float] | None = None,
        annotations: Iterable[Any] | None = None,
        labels: Mapping[str, Any] | None = None,
        preset: str | None = None,
        **traits: Any,
    ) -> None:
        unknown = sorted(set(traits) - set(self.class_trait_names(sync=True)) - {"layout"})
        if unknown:
            raise UsageError(
                f"StackViewer got unknown keyword argument(s) {', '.join(unknown)}; "
                f"accepted: spacing, annotations, labels, preset, and the traits "
                f"{', '.join(sorted(n for n in self.class_trait_names(sync=True) if n[0] != '_'))}"
            )
        view = traits.pop("view", "axial")
        self._stop_watching = threading.Event()
        self._unwaited: set[int] = set()  # slices of a failed download, no longer waited for
        self._planes = PartialPlanes()  # reformats of a series still arriving
        super().__init__(**traits)
        self._axial = as_source(data, spacing)
        self._views: dict[str, SliceSource] = {"axial": self._axial}
        self._click_handlers = CallbackDispatcher()
        self._shape_handlers = CallbackDispatcher()
        self.client_errors: list[str] = []
        """Errors the browser reported (also shown inside the widget)."""
        self.presets = self._make_presets()
        self.views = list(VIEWS) if self._axial.shape[0] > 1 else ["axial"]
        self.annotations = normalize_annotations(
            annotations,
            n_slices=self._axial.shape[0],
            sop_uids=getattr(self._axial, "sop_uids", None),
            labels=labels,
        )
        self._set_source(self._axial, "index" in traits)
        if preset is not None:
            self.apply_preset(preset)
        elif not self.presets:
            raise UsageError("no window could be fitted")  # pragma: no cover
        else:
            first = self.presets[0]
            self.window_center, self.window_width = first["center"], first["width"]
            self.preset = first["name"]
        if view != "axial":
            self.view = view
        self.on_msg(self._on_message)
        resync_on_hello(self)
        self._greeted = False  # a view greeted: tell it again which slices have landed
        self._watcher: threading.Thread | None = None
        self._focus(self.index)
        if not _all_ready(self._axial):
            self._watcher = threading.Thread(
                target=self._watch_arrivals, name="tf-viewer-arrivals", daemon=True
            )
            self._watcher.start()

    # ------------------------------------------------------------------ data
    @property
    def source(self) -> SliceSource:
        """The stack on screen (the axial source, or its reformat)."""
        return self._views[self.view]

    def _make_presets(self) -> list[dict[str, Any]]:
        own = [
            {"name": str(name), "center": float(c), "width": float(w)}
            for name, (c, w) in dict(getattr(self._axial, "windows", {}) or {}).items()
        ]
        nz = self._axial.shape[0]
        middle = np.asarray(self._axial.slice(nz // 2))  # read once: slices may decode
        lo, hi = (float(v) for v in np.percentile(middle, [1, 99]))
        auto = {"name": "auto", "center": (lo + hi) / 2.0, "width": max(hi - lo, 1.0)}
        # a series still downloading: read only the ends already there (the middle
        # is the slice shown first; waiting for the ends would delay it)
        ends = [self._axial.slice(i) for i in {0, nz - 1} - {nz // 2} if _ready(self._axial, i)]
        lowest = min(float(np.min(image)) for image in [middle, *ends])
        modality = str(getattr(self._axial, "modality", ""))
        air = lowest < -500 or modality == "CT"  # air in HU
        looks_ct = wire_dtype(self._axial) == "int16" and air
        presets = own + (_ct_presets() if looks_ct else []) + [auto]
        for position, item in enumerate(presets[:9]):
            item["key"] = str(position + 1)
        return presets

    def _set_source(self, source: SliceSource, keep_index: bool) -> None:
        nz, ny, nx = source.shape
        positions = getattr(source, "positions", None)
        if positions is None:
            positions = np.stack(
                [np.zeros(nz), np.zeros(nz), np.arange(nz) * source.spacing[0]], axis=1
            )
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        orientation = [float(v) for v in getattr(source, "orientation", (1, 0, 0, 0, 1, 0))]
        normal = np.cross(orientation[:3], orientation[3:])
        with self.hold_sync():
            self.shape = [nz, ny, nx]
            self.spacing = [float(s) for s in source.spacing]
            self.wire = wire_dtype(source)
            self.geometry = {
                "positions": np.round(positions, 3).tolist(),
                "orientation": orientation,
                "locations": np.round(positions @ normal, 3).tolist(),
            }
            if not keep_index or not 0 <= self.index < nz:
                self.index = nz // 2
            self.generation += 1

    @traitlets.validate("view")
    def _check_view(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"]).lower()
        if value not in VIEWS:
            raise UsageError(f"view must be one of {', '.join(VIEWS)}, got {value!r}")
        return value

    @traitlets.validate("mode")
    def _check_mode(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"]).lower()
        if value not in MODES:
            raise UsageError(f"mode must be one of {', '.join(MODES)}, got {value!r}")
        return value

    @traitlets.validate("chunk_mb")
    def _check_chunk(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if not 0.01 <= value <= MAX_MESSAGE_BYTES / 2**20:
            raise UsageError(f"chunk_mb must be between 0.01 and 8, got {value:g}")
        return value

    @traitlets.observe("window_center", "window_width")
    def _on_window(self, _change: dict[str, Any]) -> None:
        center, width = self.window_center, self.window_width
        match = [p["name"] for p in self.presets if (p["center"], p["width"]) == (center, width)]
        if self.preset not in match:
            self.preset = match[0] if match else ""

    @traitlets.observe("index")
    def _on_index(self, change: dict[str, Any]) -> None:
        self._focus(int(change["new"]))

    def _focus(self, index: int) -> None:
        """Tell a downloading series (``focus(k)``) which slices to fetch next."""
        focus = getattr(getattr(self, "_axial", None), "focus", None)
        if self.view == "axial" and callable(focus):
            focus(index)

    def _has(self, index: int) -> bool:
        """Whether slice ``index`` of the stack on screen can be answered without waiting."""
        if self.view == "axial" and index in self._unwaited:
            return True
        return _ready(self.source, index)

    def _watch_arrivals(self) -> None:
        """Tell the browser which slices of a downloading series have arrived.

        Runs on its own thread until every slice is there or the widget is closed;
        the browser asks for the arrived slices it still needs.
        """
        source = self._axial
        n = source.shape[0]
        reported: set[int] = set()
        generation = -1
        idle = 0.0
        while not self._stop_watching.is_set() and len(reported) < n:
            if self.generation != generation or self._greeted:  # a new stack, or a new
                generation, reported = self.generation, set()  # view: tell it all
                self._greeted = False
            arrived = [
                k
                for k in range(n)
                if k not in reported and (k in self._unwaited or _ready(source, k))
            ]
            idle = 0.0 if arrived else idle + _WATCH_S
            if self.view != "axial":
                try:
                    self._refresh_planes(generation)
                except Exception:  # the watcher goes on: the axial view still needs it
                    _log.exception("refreshing the %s view failed", self.view)
            elif arrived:
                reported.update(arrived)
                loaded = sum(1 for k in range(n) if _ready(source, k))
                self.send(
                    {
                        "type": "ready",
                        "generation": generation,
                        "slices": arrived,
                        "loaded": loaded,
                        "total": n,
                    }
                )
            if idle >= _SETTLE_S and not getattr(source, "downloading", False):
                # the download is over but these never decoded: stop holding them back,
                # so asking for one reads it and its error shows inside the widget
                self._unwaited.update(k for k in range(n) if not _ready(source, k))
                reported = set()
                generation = -1
            self._stop_watching.wait(_WATCH_S)

    def _refresh_planes(self, generation: int) -> None:
        """Keep a coronal or sagittal stack of a series still arriving fresh in the page."""
        source = self._views.get(self.view)  # None while a view switch makes it
        if source is None or self.generation != generation:
            return
        axial, window = self._axial, (self.window_center, max(self.window_width, 1.0))
        messages = self._planes.messages(
            source, generation, self.index, int(getattr(axial, "loaded", 0)), axial.shape[0],
            center=window[0], width=window[1], quality=self.preview_quality,
            step=self._preview_step(), limit=int(self.chunk_mb * 2**20),
        )  # fmt: skip
        for content, buffers in messages:
            if self.generation == generation:  # not a stack left meanwhile
                self.send(content, buffers=buffers)

    @traitlets.observe("view")
    def _on_view(self, change: dict[str, Any]) -> None:
        view = change["new"]
        try:
            if view not in self._views:
                self._views[view] = reformat(self._axial, view)
            self._set_source(self._views[view], keep_index=False)
            self.error = ""
        except Exception as exc:  # shown in the widget, not only in the log
            self.error = f"cannot show the {view} view: {exc}"
            raise

    # ------------------------------------------------------------------ API
    def apply_preset(self, name: str) -> None:
        """Set the window to the preset called ``name``.

        Raises
        ------
        UsageError
            Naming the presets this viewer offers.
        """
        key = name.strip().lower().replace("-", "_").replace(" ", "_")
        for item in self.presets:
            if item["name"].lower() == key:
                with self.hold_sync():
                    self.window_center, self.window_width = item["center"], item["width"]
                    self.preset = item["name"]
                return
        names = ", ".join(p["name"] for p in self.presets)
        raise UsageError(f"no window preset {name!r}; this viewer offers {names}")

    def on_click(self, callback: Callable[[dict[str, Any]], Any], remove: bool = False) -> None:
        """Call ``callback(event)`` on each click in the image.

        The event holds ``view``, ``slice``, ``pixel`` ``[x, y]`` (column, row, float),
        ``patient`` ``[x, y, z]`` mm, ``value`` (stored units, HU for CT) and
        ``sop_uid`` when known.
        """
        self._click_handlers.register_callback(callback, remove=remove)

    def on_shape(self, callback: Callable[[dict[str, Any]], Any], remove: bool = False) -> None:
        """Call ``callback(event)`` when a box, polygon or freehand outline is drawn (``mode``).

        The event has ``kind`` (``"box"``: two corners; ``"polygon"``; ``"freehand"``:
        the dragged path, simplified, as a closed outline), ``slice``, ``points``
        (pixels) and ``patient_points``.
        """
        self._shape_handlers.register_callback(callback, remove=remove)

    def patient_position(self, index: int, x: float, y: float) -> list[float]:
        """Return the patient coordinates (mm) of pixel ``(x, y)`` on slice ``index``."""
        geometry = self.geometry
        origin = np.asarray(geometry["positions"][index], dtype=np.float64)
        o = np.asarray(geometry["orientation"], dtype=np.float64)
        _, dy, dx = self.spacing
        point = origin + x * dx * o[:3] + y * dy * o[3:]
        return [round(float(v), 3) for v in point]

    def value_at(self, index: int, x: float, y: float) -> float | None:
        """Return the stored value at the pixel nearest ``(x, y)`` (None outside)."""
        col, row = round(x), round(y)
        _, ny, nx = self.source.shape
        if not (0 <= col < nx and 0 <= row < ny):
            return None
        image: npt.NDArray[Any] = np.asarray(self.source.slice(index))
        return float(image[row, col])

    # ------------------------------------------------------------------ messages
    def _on_message(self, _widget: object, content: Any, _buffers: Sequence[bytes]) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        try:
            if kind == "want":
                self._answer(content)
            elif kind == "click":
                self._click(content)
            elif kind == "shape":
                self._shape(content)
            elif kind == HELLO:  # answered by _resync; the landed slices are told again
                self._greeted = True
            elif kind == "error":
                message = str(content.get("message", ""))
                self.client_errors.append(message)
                _log.warning("viewer error in the browser: %s", message)
        except Exception as exc:  # reported inside the widget
            _log.exception("viewer message %r failed", kind)
            self.error = f"{type(exc).__name__}: {exc}"

    def _answer(self, content: dict[str, Any]) -> None:
        """Answer a ``want`` message with the slices the source has now.

        The request names ``kind`` (preview or full), ``slices``, ``window``,
        ``encoding`` and optionally ``chunk_bytes`` (smaller chunks, to measure the link).
        """
        if int(content.get("generation", -1)) != self.generation:
            return  # a request for a stack no longer on screen
        nz = self.source.shape[0]
        asked = [int(i) for i in content.get("slices", []) if 0 <= int(i) < nz]
        # never wait for a slice still downloading: the kernel would stop answering
        has = [self._has(i) for i in asked]  # asked once: a slice may land meanwhile
        indices = [i for i, ok in zip(asked, has, strict=True) if ok]
        missing = [i for i, ok in zip(asked, has, strict=True) if not ok]
        if content.get("kind") == "preview" and getattr(self.source, "partial", False):
            # a reformat of a series still arriving: every image now, blank rows for the
            # slices to come, still missing (sent again as they land: _refresh_planes)
            loaded = int(getattr(self._axial, "loaded", 0))
            self._planes.sent(self.generation, asked, loaded)
            indices = asked
        limit = int(self.chunk_mb * 2**20)
        if content.get("chunk_bytes"):  # smaller chunks asked for (to measure the link)
            limit = max(1, min(limit, int(content["chunk_bytes"])))
        chunks: Iterable[Chunk]
        if content.get("kind") == "preview":
            center, width = (float(v) for v in content.get("window", [0.0, 1.0]))
            chunks = encode_preview(
                self.source,
                indices,
                center=center,
                width=max(width, 1.0),
                quality=self.preview_quality,
                step=self._preview_step(),
                limit=limit,
            )
        else:
            encoding = str(content.get("encoding", "raw"))
            encoding = encoding if encoding in ("deflate", "planes") else "raw"
            chunks = encode_full(
                self.source, indices, kind=self.wire, encoding=encoding, limit=limit
            )
        pending: Chunk | None = None
        for chunk in chunks:
            if pending is not None:
                self._send_chunk(pending, content, last=False)
            pending = chunk
        if pending is None:
            self.send(
                {
                    "type": "chunk",
                    "id": content.get("id"),
                    "generation": self.generation,
                    "last": True,
                    "slices": [],
                    "missing": missing,
                }
            )
        else:
            self._send_chunk(pending, content, last=True, missing=missing)

    def _preview_step(self) -> int:
        if self.preview_step > 0:
            return int(self.preview_step)
        _, ny, nx = self.source.shape
        return 2 if min(ny, nx) >= 384 else 1

    def _send_chunk(
        self, chunk: Chunk, request: dict[str, Any], *, last: bool, missing: list[int] | None = None
    ) -> None:
        header = dict(chunk.header)
        header.update(type="chunk", id=request.get("id"), generation=self.generation, last=last)
        if missing:
            header["missing"] = missing
        self.send(header, buffers=[chunk.payload])

    def close(self) -> None:
        """Close the widget (and stop watching a downloading series)."""
        stop = getattr(self, "_stop_watching", None)  # absent if __init__ refused its arguments
        if stop is not None:
            stop.set()
        super().close()

    def _event(self, content: dict[str, Any]) -> dict[str, Any]:
        index = int(content["index"])
        if not 0 <= index < self.source.shape[0]:
            raise UsageError(f"click on slice {index}, outside the stack")
        x, y = float(content["x"]), float(content["y"])
        event: dict[str, Any] = {
            "kind": "click",
            "view": self.view,
            "slice": index,
            "pixel": [round(x, 2), round(y, 2)],
            "patient": self.patient_position(index, x, y),
            "value": self.value_at(index, x, y),
        }
        uids = getattr(self.source, "sop_uids", None)
        if uids is not None and self.view == "axial":
            event["sop_uid"] = str(uids[index])
        return event

    def _click(self, content: dict[str, Any]) -> None:
        event = self._event(content)
        self.last_event = event
        self._click_handlers(event)

    def _shape(self, content: dict[str, Any]) -> None:
        index = int(content["index"])
        points = [[round(float(x), 2), round(float(y), 2)] for x, y in content["points"]]
        if not points:
            return
        kind = str(content.get("kind", "polygon"))
        event = {
            "kind": kind,
            "view": self.view,
            "slice": index,
            "points": points,
            "patient_points": [self.patient_position(index, x, y) for x, y in points],
        }
        self.last_event = event
        self._shape_handlers(event)
