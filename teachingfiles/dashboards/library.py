"""The case library: browse and filter the catalog with thumbnails, open a case.

Filters map one to one onto :meth:`Repository.studies` (collection, modality, RSNA
category, severity, finding, text). A study that is a case of a teaching set opens
as an unknown in :class:`~teachingfiles.widgets.CaseView` (Reveal shows the answer);
any other study opens in the :class:`~teachingfiles.widgets.StackViewer`.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import ipywidgets  # type: ignore[import-untyped]

from teachingfiles.cases.case import TeachingCase
from teachingfiles.cases.figures import thumbnail_jpeg, view_pixels
from teachingfiles.cases.teaching_set import TeachingSet
from teachingfiles.dashboards._env import repository_root, teaching_sets
from teachingfiles.dashboards._ui import message, style
from teachingfiles.dicom.pixels import DicomImage
from teachingfiles.errors import TeachingFilesError
from teachingfiles.quiz.resolve import resolve
from teachingfiles.repository.records import Study
from teachingfiles.repository.repository import Repository
from teachingfiles.vocabulary import Appearance, Finding, Severity
from teachingfiles.widgets._quiz_media import Shot, VolumeCache, viewer_for
from teachingfiles.widgets.case_view import CaseView

__all__ = ["CaseLibrary", "study_thumbnail"]

_ANY = "any"


def study_thumbnail(repository: Repository, study: Study, size: int = 192) -> bytes | None:
    """Return a JPEG of the middle image of the study's first series (None if it has none)."""
    for series in repository.series(study.study_uid):
        items = repository.instances(series.series_uid)
        if items:
            image = DicomImage.from_file(items[len(items) // 2].path)
            pixels = view_pixels(image, index=image.number_of_frames // 2)[0]
            return thumbnail_jpeg(pixels, size=size)
    return None


def _choices(values: list[str]) -> list[tuple[str, str]]:
    return [("any", _ANY), *((v, v) for v in values)]


class CaseLibrary(ipywidgets.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Filter the repository's studies and open one.

    Parameters
    ----------
    root
        The repository folder (default: ``$TEACHINGFILES_REPOSITORY`` or the demo).
    limit
        Most tiles shown at once (thumbnails are decoded on demand).
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *, limit: int = 24) -> None:
        super().__init__()
        self.add_class("tfd")
        self.root = Path(root) if root is not None else repository_root()
        self.repository = Repository.open(self.root)
        self.limit = limit
        self.cases: dict[str, TeachingCase] = {}
        for path in teaching_sets(self.root):
            quiz = resolve(TeachingSet.from_yaml(path), self.repository, strict=False)
            for case in quiz.cases.values():
                self.cases.setdefault(case.study_uid, case)
        collections = self.repository.collections()
        modalities = sorted({str(m) for c in collections for m in c.modalities})
        self.collection = ipywidgets.Dropdown(
            options=_choices([c.name for c in collections]), description="Collection"
        )
        self.modality = ipywidgets.Dropdown(options=_choices(modalities), description="Modality")
        self.category = ipywidgets.Dropdown(
            options=_choices([a.value for a in Appearance]), description="Category"
        )
        self.severity = ipywidgets.Dropdown(
            options=_choices([s.value for s in Severity]), description="Severity"
        )
        self.finding = ipywidgets.Dropdown(
            options=_choices([f.value for f in Finding]), description="Finding"
        )
        self.text = ipywidgets.Text(placeholder="words in descriptions", description="Text")
        self.count = ipywidgets.HTML()
        self.grid = ipywidgets.Box()
        self.grid.add_class("tfd-grid")
        self.detail = ipywidgets.Box()
        self._thumbs: dict[str, bytes | None] = {}
        self._volumes = VolumeCache(self.repository, size=2)
        self.opened: Any = None
        filters = [self.collection, self.modality, self.category, self.severity, self.finding,
                   self.text]  # fmt: skip
        bar = ipywidgets.Box(filters)
        bar.add_class("tfd-bar")
        bar.add_class("tfd-card")
        for w in filters:
            w.observe(lambda _change: self.refresh(), names="value")
        self.children = (style(), bar, self.count,
                         self.grid, self.detail)  # fmt: skip
        self.refresh()

    def filters(self) -> dict[str, str]:
        """Return the filters set (not ``any``), as :meth:`Repository.studies` keywords."""
        given = {
            "collection": self.collection.value,
            "modality": self.modality.value,
            "appearance": self.category.value,
            "severity": self.severity.value,
            "finding": self.finding.value,
        }
        out = {k: v for k, v in given.items() if v != _ANY}
        if self.text.value.strip():
            out["text"] = self.text.value.strip()
        return out

    def refresh(self) -> list[Study]:
        """Run the filters and show the matching studies as tiles; return them."""
        studies = self.repository.studies(**self.filters())
        shown = studies[: self.limit]
        more = f" (first {len(shown)} shown)" if len(studies) > len(shown) else ""
        self.count.value = message(f"{len(studies)} studies{more}")
        self.grid.children = tuple(self._tile(s) for s in shown)
        return studies

    def _tile(self, study: Study) -> Any:
        if study.study_uid not in self._thumbs:
            try:
                self._thumbs[study.study_uid] = study_thumbnail(self.repository, study)
            except TeachingFilesError:
                self._thumbs[study.study_uid] = None
        jpeg = self._thumbs[study.study_uid]
        case = self.cases.get(study.study_uid)
        lines = [
            f"<b>{html.escape(case.title if case else study.description or study.study_uid)}</b>",
            html.escape(f"{study.collection} · {', '.join(str(m) for m in study.modalities)}"),
        ]
        if study.appearance is not None:
            grade = f" · {study.severity.value}" if study.severity is not None else ""
            lines.append(html.escape(f"{study.appearance.value}{grade}"))
        parts: list[Any] = []
        if jpeg is not None:
            parts.append(ipywidgets.Image(value=jpeg, format="jpeg"))
        parts.append(ipywidgets.HTML(f'<div class="tfd-caption">{"<br>".join(lines)}</div>'))
        button = ipywidgets.Button(description="Open as unknown" if case else "Open images")
        button.on_click(lambda _b, s=study: self.open_study(s))
        parts.append(button)
        tile = ipywidgets.VBox(parts)
        tile.add_class("tfd-tile")
        return tile

    def open_study(self, study: Study | str) -> Any:
        """Open a study below the tiles: a case as an unknown, else its first series."""
        uid = study if isinstance(study, str) else study.study_uid
        if self.opened is not None:
            self.opened.close()
        case = self.cases.get(uid)
        if case is not None:
            self.opened = CaseView(case, self.repository)
        else:
            series = self.repository.series(uid)
            if not series:
                self.detail.children = (ipywidgets.HTML(message("No images in this study", "bad")),)
                return None
            shot = Shot(series[0].series_uid)
            self.opened = viewer_for(self._volumes.get(shot.series_uid), shot)
        self.detail.children = (self.opened,)
        return self.opened

    def close(self) -> None:
        """Close what is open and the repository."""
        current = getattr(self, "opened", None)
        if current is not None:
            current.close()
        if hasattr(self, "repository"):
            self.repository.close()
        super().close()
