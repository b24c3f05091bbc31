"""One teaching case as an unknown: images and history first, the answer on reveal.

:class:`CaseView` composes a case card (``widgets/case_view.js``) with the
:class:`~teachingfiles.widgets.viewer.StackViewer` on the case's key image, at its
slice and window preset. Before the reveal the card's state holds
:meth:`TeachingCase.unknown_view` only (history, whether the images are
synthetic, where they come from) and the viewer carries no annotations; the
reveal sends the whole case (findings, category and reasoning, the readers' calls
and their agreement, teaching points, references) and draws the annotations the
key image names.
"""

from __future__ import annotations

import logging
from typing import Any

import anywidget
import ipywidgets  # type: ignore[import-untyped]
import traitlets

from teachingfiles.cases.case import TeachingCase
from teachingfiles.errors import TeachingFilesError, UsageError
from teachingfiles.widgets._quiz_media import (
    ImageRepository,
    VolumeCache,
    case_shapes,
    pick_image,
    viewer_for,
)
from teachingfiles.widgets._resync import resync_on_hello
from teachingfiles.widgets._static import static_module, static_text
from teachingfiles.widgets.viewer import StackViewer

__all__ = ["CasePanel", "CaseView"]

_log = logging.getLogger(__name__)


class CasePanel(anywidget.AnyWidget):
    """The case card beside the viewer; ``case`` is the unknown view until revealed."""

    _esm = traitlets.Unicode(static_module("case_view.js")).tag(sync=True)
    _css = traitlets.Unicode(static_text("quiz.css")).tag(sync=True)

    case = traitlets.Dict(help="unknown_view() before the reveal, revealed_view() after").tag(
        sync=True
    )
    revealed = traitlets.Bool(False, help="Whether the answer is shown").tag(sync=True)
    key_count = traitlets.Int(0, help="How many key images the case has").tag(sync=True)
    key_index = traitlets.Int(0, help="The key image on screen").tag(sync=True)
    error = traitlets.Unicode("", help="An error to show in the card").tag(sync=True)


class CaseView(ipywidgets.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Show a teaching case as an unknown, with a Reveal button.

    Parameters
    ----------
    case
        The case (resolved, so that it carries the readers' calls).
    repository
        Where its images are (``Repository``).
    reveal
        Open already revealed (a case library rather than an unknown).

    Raises
    ------
    UsageError
        If the case has no image the repository can show.
    """

    def __init__(
        self, case: TeachingCase, repository: ImageRepository, *, reveal: bool = False
    ) -> None:
        super().__init__()
        self.add_class("tfq-app")
        self.case = case
        self.repository = repository
        self._volumes = VolumeCache(repository, size=2)
        self.panel = CasePanel(case=case.unknown_view(), key_count=len(case.key_images))
        self.viewer: StackViewer = self._make_viewer(0)
        self._image_box = ipywidgets.Box(
            [self.viewer], layout=ipywidgets.Layout(flex="3 1 460px", min_width="0")
        )
        panel_box = ipywidgets.Box(
            [self.panel], layout=ipywidgets.Layout(flex="2 1 340px", min_width="0")
        )
        self.children = (
            ipywidgets.HBox(
                [self._image_box, panel_box],
                layout=ipywidgets.Layout(flex_flow="row wrap", align_items="flex-start",
                                         grid_gap="12px", width="100%"),
            ),
        )  # fmt: skip
        self.panel.on_msg(self._on_message)
        resync_on_hello(self.panel)
        if reveal:
            self.reveal()

    @property
    def revealed(self) -> bool:
        """Whether the answer is shown."""
        return bool(self.panel.revealed)

    def _make_viewer(self, key_index: int) -> StackViewer:
        key = self.case.key_images[key_index] if self.case.key_images else None
        shot = pick_image(None if key is None else key.public_view(), self.case, self.repository)
        if shot is None:
            raise UsageError(
                f"case {self.case.id!r} has no image to show: its study {self.case.study_uid} "
                "has no series in the repository; check the study UID or index the folder"
            )
        viewer = viewer_for(self._volumes.get(shot.series_uid), shot)
        viewer.layout.width = "100%"
        if self.revealed:
            viewer.annotations = self._shapes(key_index, viewer)
        return viewer

    def _shapes(self, key_index: int, viewer: StackViewer) -> list[dict[str, Any]]:
        key = self.case.key_images[key_index] if self.case.key_images else None
        series = (key.series_uid if key else None) or self.case.series_uid
        if series is None:
            found = self.repository.series(self.case.study_uid)
            series = found[0].series_uid if found else None
        if series is None or viewer.view != "axial":
            return []
        return case_shapes(self.repository, self.case, key, self._volumes.get(series))

    def reveal(self) -> None:
        """Show the whole case and draw its annotations on the image."""
        with self.panel.hold_sync():
            self.panel.case = self._revealed_view()
            self.panel.revealed = True
        self.viewer.annotations = self._shapes(self.panel.key_index, self.viewer)
        self.viewer.show_overlay = True

    def _revealed_view(self) -> dict[str, Any]:
        view = self.case.revealed_view()
        reads = self.case.reads
        # view["reads"] has each call ("Reader 1" ..., the MD.ai id for hover) and the agreement
        view["reads_text"] = reads.describe() if reads is not None and reads.calls else ""
        return view

    def show_key_image(self, index: int) -> None:
        """Switch the viewer to key image ``index`` (0-based).

        Raises
        ------
        UsageError
            If the case has no such key image.
        """
        if not 0 <= index < max(len(self.case.key_images), 1):
            raise UsageError(
                f"case {self.case.id!r} has {len(self.case.key_images)} key images; "
                f"no key image {index}"
            )
        old = self.viewer
        self.panel.key_index = index
        self.viewer = self._make_viewer(index)
        self._image_box.children = (self.viewer,)
        old.close()

    def _on_message(self, _widget: object, content: Any, _buffers: object) -> None:
        if not isinstance(content, dict):
            return
        try:
            if content.get("type") == "reveal":
                self.reveal()
            elif content.get("type") == "key":
                self.show_key_image(int(content.get("index", 0)))
        except TeachingFilesError as exc:
            self.panel.error = str(exc)
        except Exception as exc:  # shown in the card, not only in the log
            _log.exception("case action %r failed", content.get("type"))
            self.panel.error = f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        """Close the widgets and the series kept open."""
        self._volumes.close()
        self.viewer.close()
        self.panel.close()
        super().close()
