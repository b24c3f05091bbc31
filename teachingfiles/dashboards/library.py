"""The case library: browse and filter the catalog with thumbnails, open a case.

Filters map one to one onto :meth:`Repository.studies` (collection, modality, RSNA
category, severity, finding, text). A study that is a case of a teaching set opens
as an unknown in :class:`~teachingfiles.widgets.CaseView` (Reveal shows the answer);
any other study opens in the :class:`~teachingfiles.widgets.StackViewer`.

Answers are hidden by default, as on a teaching-file site's "unknown" list: the
card of a teaching case shows its presentation (history), modality and collection,
not its title, category or severity, which would give the unknown away. "Show
answers" shows them. Filtering by category, severity or finding is browsing by
answer (as searching a diagnosis on Radiopaedia lists cases under their
diagnoses), so while such a filter is set the answers are shown and the page
says so.
"""

from __future__ import annotations

import hashlib
import html
import os
from pathlib import Path
from typing import Any

import ipywidgets  # type: ignore[import-untyped]

from teachingfiles.cases.case import TeachingCase
from teachingfiles.cases.figures import thumbnail_jpeg, view_pixels
from teachingfiles.cases.teaching_set import TeachingSet
from teachingfiles.dashboards._env import repository_root, teaching_sets
from teachingfiles.dashboards._ui import failure, message, style
from teachingfiles.dicom.pixels import DicomImage
from teachingfiles.dicom.presets import WindowPreset
from teachingfiles.errors import TeachingFilesError
from teachingfiles.quiz.resolve import resolve
from teachingfiles.repository.records import Study
from teachingfiles.repository.repository import CATALOG_DIR, Repository
from teachingfiles.vocabulary import Appearance, Finding, Severity
from teachingfiles.widgets._quiz_media import Shot, VolumeCache, viewer_for
from teachingfiles.widgets.case_view import CaseView

__all__ = ["ANSWER_FILTERS", "CaseLibrary", "card_lines", "study_thumbnail"]

_ANY = "any"
#: Filters that select by the answer: setting one shows the answers on the cards.
ANSWER_FILTERS = ("category", "severity", "finding")


def study_thumbnail(
    repository: Repository,
    study: Study,
    size: int = 192,
    *,
    window: WindowPreset | str | None = None,
) -> bytes | None:
    """Return a JPEG of the middle image of the study's first series (None if it has none).

    Thumbnails are kept beside the catalog (``.teachingfiles/thumbnails``), keyed by
    the image file's path, size and modification time, the window and the size: the
    library of every later visitor opens without decoding an image.

    Parameters
    ----------
    window
        A window preset (``"lung"``): a teaching case's thumbnail uses its key image's
        preset, so a chest CT shows its lungs; None uses the file's own window.
    """
    for series in repository.series(study.study_uid):
        items = repository.instances(series.series_uid)
        if items:
            path = Path(items[len(items) // 2].path)
            preset = window if str(series.modality) == "CT" else None  # presets are CT's
            stored = _thumbnail_file(repository, path, preset, size)
            if stored is not None and stored.is_file():
                return stored.read_bytes()
            image = DicomImage.from_file(path)
            index = image.number_of_frames // 2
            pixels = view_pixels(image, index=index, window=preset)[0]
            jpeg = thumbnail_jpeg(pixels, size=size)
            if stored is not None:
                _store(stored, jpeg)
            return jpeg
    return None


def _thumbnail_file(
    repository: Repository, path: Path, window: WindowPreset | str | None, size: int
) -> Path | None:
    try:
        st = path.stat()
    except OSError:
        return None
    name = getattr(window, "name", window)
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}|{name}|{size}|1"
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return repository.root / CATALOG_DIR / "thumbnails" / f"{digest}.jpg"


def _store(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically; a read-only repository just goes without."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(data)
        partial.replace(target)
    except OSError:
        pass  # a cache: the thumbnail is drawn again next time


def _choices(values: list[str]) -> list[tuple[str, str]]:
    return [("any", _ANY), *((v, v) for v in values)]


def _first_sentence(text: str, limit: int = 90) -> str:
    """Return the history's first sentence (age, sex, complaint), cut to ``limit`` characters."""
    first = text.strip().split(". ", 1)[0].rstrip(".")
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def card_lines(study: Study, case: TeachingCase | None, *, answers: bool) -> list[str]:
    """Return the plain-text lines of a study's card (title first).

    A teaching case with ``answers=False`` is shown as an unknown: its id and the
    start of its history, never its title, category or severity (nor the study
    description, which may name the diagnosis).

    Parameters
    ----------
    study
        The catalog's study.
    case
        The teaching case on this study, if a teaching set has one.
    answers
        Whether the answers may be shown.
    """
    where = f"{study.collection} · {', '.join(str(m) for m in study.modalities)}"
    if case is not None and not answers:
        lines = [f"Unknown case {case.id}", where]
        if case.history:
            lines.append(_first_sentence(case.history))
        return lines
    lines = [case.title if case else study.description or study.study_uid, where]
    if study.appearance is not None:
        grade = f" · {study.severity.value}" if study.severity is not None else ""
        lines.append(f"{study.appearance.value}{grade}")
    return lines


class CaseLibrary(ipywidgets.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Filter the repository's studies and open one.

    Parameters
    ----------
    root
        The repository folder (default: ``$TEACHINGFILES_REPOSITORY`` or the demo).
    limit
        Most cards shown at once (thumbnails are decoded on demand).
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *, limit: int = 24) -> None:
        super().__init__()
        self.add_class("tfd")
        try:
            self._build(root, limit)
        except TeachingFilesError as exc:
            shown: tuple[Any, ...] = (style(), failure("The case library cannot open", exc))
            self.children = shown

    def _build(self, root: str | os.PathLike[str] | None, limit: int) -> None:
        """Open what the dashboard shows and lay it out (errors go to ``__init__``)."""
        self.root = Path(root) if root is not None else repository_root()
        self.repository = Repository.open(self.root)
        self.limit = limit
        self.cases: dict[str, TeachingCase] = {}
        self.problems: list[str] = []  # teaching sets that do not load: listed, not fatal
        for path in teaching_sets(self.root):
            try:
                quiz = resolve(TeachingSet.from_yaml(path), self.repository, strict=False)
            except TeachingFilesError as exc:
                self.problems.append(str(exc))
                continue
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
        self.show_answers = ipywidgets.Checkbox(
            value=False, description="Show answers", indent=False
        )
        self.show_answers.add_class("tfd-answers")
        self.count = ipywidgets.HTML()
        self.warning = ipywidgets.HTML(  # teaching sets that do not load, if any
            message(
                f"{len(self.problems)} teaching set(s) could not be read, so their cases "
                "show as plain studies: " + " | ".join(self.problems),
                "warn",
            )
            if self.problems
            else ""
        )
        self.count.add_class("tfd-count")
        self.grid = ipywidgets.Box()
        self.grid.add_class("tfd-grid")
        self.back_button = ipywidgets.Button(description="← All cases")
        self.back_button.add_class("tfd-back")
        self.back_button.on_click(lambda _b: self.close_study())
        self.detail = ipywidgets.VBox()
        self.detail.add_class("tfd-detail")
        self._thumbs: dict[str, bytes | None] = {}
        self._volumes = VolumeCache(self.repository, size=2)
        self.opened: Any = None
        filters = [self.collection, self.modality, self.category, self.severity, self.finding,
                   self.text]  # fmt: skip
        bar = ipywidgets.Box([*filters, self.show_answers])
        bar.add_class("tfd-bar")
        bar.add_class("tfd-card")
        self.shown = limit
        self._more = False
        self.more_button = ipywidgets.Button(description=f"Show {limit} more")
        self.more_button.add_class("tfd-more")
        self.more_button.on_click(lambda _b: self.show_more())
        for w in filters:  # a new filter goes back to the cards, from the first ones
            w.observe(lambda _change: self._filter_changed(), names="value")
        self.show_answers.observe(lambda _change: self.refresh(), names="value")
        self.children = (
            style(),
            bar,
            self.warning,
            self.count,
            self.grid,
            self.more_button,
            self.detail,
        )
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

    def answer_filters(self) -> list[str]:
        """Return the names of the filters set that select by the answer (category, ...)."""
        return [name for name in ANSWER_FILTERS if getattr(self, name).value != _ANY]

    @property
    def answers_shown(self) -> bool:
        """Whether cards show titles, categories and severities (toggle, or an answer filter)."""
        return bool(self.show_answers.value) or bool(self.answer_filters())

    def refresh(self, *, reset: bool = False) -> list[Study]:
        """Run the filters and show the matching studies as cards; return them.

        Parameters
        ----------
        reset
            Show only the first ``limit`` cards again (a filter changed).
        """
        if reset:
            self.shown = self.limit
        studies = self.repository.studies(**self.filters())
        shown = studies[: self.shown]
        noun = "study" if len(studies) == 1 else "studies"
        text = f"{len(studies)} {noun}"
        self._more = len(studies) > len(shown)
        if self._more:
            text += f" ({len(shown)} shown)"
        self._show_more_button(self.opened is None)
        by_answer = self.answer_filters()
        if by_answer and not self.show_answers.value:
            text += f". Filtered by {' and '.join(by_answer)}: answers shown."
        elif not self.answers_shown and any(s.study_uid in self.cases for s in shown):
            text += ". Teaching cases are shown as unknowns."
        for old in self.grid.children:  # the old cards' widgets, not left in the kernel
            old.close()
        if not studies:
            self.grid.children = (
                ipywidgets.HTML(
                    message("No study matches these filters. Set one of them back to “any”.")
                ),
            )
        else:
            self.grid.children = tuple(self._tile(s) for s in shown)
        self.count.value = message(text)  # after the cards: it tells they are drawn
        return studies

    def _filter_changed(self) -> None:
        if self.detail.children:
            self.close_study()
        self.refresh(reset=True)

    def _show_more_button(self, cards_visible: bool) -> None:
        if cards_visible and self._more:
            self.more_button.remove_class("tfd-hidden")
        else:
            self.more_button.add_class("tfd-hidden")

    def show_more(self) -> None:
        """Show ``limit`` more cards."""
        self.shown += self.limit
        self.refresh()

    def _tile(self, study: Study) -> Any:
        case = self.cases.get(study.study_uid)
        if study.study_uid not in self._thumbs:
            try:
                key = case.key_images[0] if case is not None and case.key_images else None
                preset = key.preset if key is not None else None
                self._thumbs[study.study_uid] = study_thumbnail(
                    self.repository, study, window=preset
                )
            except TeachingFilesError:
                self._thumbs[study.study_uid] = None
        jpeg = self._thumbs[study.study_uid]
        title, *rest = card_lines(study, case, answers=self.answers_shown)
        caption = "<br>".join([f"<b>{html.escape(title)}</b>", *map(html.escape, rest)])
        parts: list[Any] = []
        if jpeg is not None:
            parts.append(ipywidgets.Image(value=jpeg, format="jpeg"))
        else:
            parts.append(ipywidgets.HTML('<div class="tfd-noimage">no preview</div>'))
        parts.append(ipywidgets.HTML(f'<div class="tfd-caption">{caption}</div>'))
        button = ipywidgets.Button(description="Open as unknown" if case else "Open images")
        button.on_click(lambda _b, s=study: self.open_study(s))
        parts.append(button)
        tile = ipywidgets.VBox(parts)
        tile.add_class("tfd-tile")
        if case is not None:
            tile.add_class("tfd-case")
        return tile

    def open_study(self, study: Study | str) -> Any:
        """Open a study in place of the cards: a case as an unknown, else its first series."""
        uid = study if isinstance(study, str) else study.study_uid
        if self.opened is not None:
            self.opened.close()
            self.opened = None
        case = self.cases.get(uid)
        if case is not None:
            self.opened = CaseView(case, self.repository)
        else:
            series = self.repository.series(uid)
            if not series:
                self.detail.children = (
                    self.back_button,
                    ipywidgets.HTML(message("This study has no images to show.", "bad")),
                )
                self.grid.add_class("tfd-hidden")
                self._show_more_button(False)
                return None
            shot = Shot(series[0].series_uid)
            self.opened = viewer_for(self._volumes.get(shot.series_uid), shot)
        self.detail.children = (self.back_button, self.opened)
        self.grid.add_class("tfd-hidden")
        self._show_more_button(False)
        return self.opened

    def close_study(self) -> None:
        """Close the open study and show the cards again."""
        if self.opened is not None:
            self.opened.close()
            self.opened = None
        self.detail.children = ()
        self.grid.remove_class("tfd-hidden")
        self._show_more_button(True)

    def close(self) -> None:
        """Close what is open and the repository."""
        current = getattr(self, "opened", None)
        if current is not None:
            current.close()
        if hasattr(self, "repository"):
            self.repository.close()
        super().close()
