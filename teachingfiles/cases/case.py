"""The teaching case: one study of a repository, curated for teaching.

A :class:`TeachingCase` names the study (and its main series) in a repository and
carries what an educator writes about it: the history, findings, the diagnosis or
RSNA category with its reasoning, the differential, discussion, teaching points,
references, difficulty, tags and the key images to show.

Two faces of one case
---------------------
*Unknown mode* shows the images and the history first; the title, findings and
answer come only on reveal. :meth:`TeachingCase.unknown_view` returns what may be
shown before the reveal, :meth:`TeachingCase.revealed_view` the whole case.

Several readers
---------------
Where the repository holds several readers' labels (RICORD 1c has three per
radiograph) the case shows each reader's call and their agreement rather than a
single "truth": see :class:`ReaderCall` and :class:`ReadSummary`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from teachingfiles.vocabulary import Appearance, ParsedEnum, Severity, View

__all__ = [
    "Difficulty",
    "KeyImage",
    "ReadSummary",
    "ReaderCall",
    "Reference",
    "TeachingCase",
    "View",
]


_T = TypeVar("_T")


class Difficulty(ParsedEnum):
    """How much a learner should know before meeting the case."""

    INTRODUCTORY = "introductory"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


@dataclass(frozen=True)
class Reference:
    """A citation, with its DOI or address where there is one."""

    citation: str
    doi: str | None = None
    url: str | None = None

    def to_dict(self) -> dict[str, str]:
        """Return the manifest form (keys with ``None`` values left out)."""
        out = {"citation": self.citation}
        if self.doi:
            out["doi"] = self.doi
        if self.url:
            out["url"] = self.url
        return out


@dataclass(frozen=True)
class KeyImage:
    """One image to show: a series, a slice, a plane, a window preset, a caption.

    Parameters
    ----------
    series_uid
        SeriesInstanceUID; ``None`` means the case's main series.
    slice
        0-based index in the series sorted along the slice normal (inferior first
        for axial CT); ``None`` means the middle slice (or the only image).
    view
        The plane to show.
    preset
        A window preset name (``"lung"``, ``"mediastinum"`` ...); ``None`` uses the
        file's own window.
    annotations
        Label names of the repository's annotations to draw on reveal (never before).
    caption
        What the image shows, in the educator's words (shown on reveal).
    """

    series_uid: str | None = None
    slice: int | None = None
    view: View = View.AXIAL
    preset: str | None = None
    annotations: tuple[str, ...] = ()
    caption: str = ""

    def public_view(self) -> dict[str, Any]:
        """Return what the browser may see before the reveal: no annotations, no caption."""
        return {
            "series_uid": self.series_uid,
            "slice": self.slice,
            "view": self.view.value,
            "preset": self.preset,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the manifest form (defaults left out)."""
        out: dict[str, Any] = {}
        if self.series_uid:
            out["series"] = self.series_uid
        if self.slice is not None:
            out["slice"] = self.slice
        if self.view is not View.AXIAL:
            out["view"] = self.view.value
        if self.preset:
            out["preset"] = self.preset
        if self.annotations:
            out["annotations"] = list(self.annotations)
        if self.caption:
            out["caption"] = self.caption
        return out


@dataclass(frozen=True)
class ReaderCall:
    """One reader's labels on a study: a category and (radiographs) a grade.

    ``reader`` is the name shown to learners ("Reader 2", "Adjudication");
    ``reader_id`` the annotator's MD.ai user id (``"U_Lmvflo"``), kept for an
    educator (shown on hover), never as the reader's name.
    """

    reader: str
    appearance: Appearance | None = None
    severity: Severity | None = None
    reader_id: str | None = None

    def describe(self) -> str:
        """E.g. ``"Reader 2: typical, severe"``."""
        parts = [p.value for p in (self.appearance, self.severity) if p is not None]
        return f"{self.reader}: {', '.join(parts) or 'no call'}"


@dataclass(frozen=True)
class ReadSummary:
    """Every reader's call on one study, their agreement and any adjudication.

    The consensus is the adjudicator's call where there is one, else the strict
    majority, else ``None`` (a split with no majority is shown as such).
    """

    calls: tuple[ReaderCall, ...] = ()
    adjudication: ReaderCall | None = None

    @property
    def appearance_votes(self) -> dict[Appearance, int]:
        """How many readers gave each category (categories nobody gave left out)."""
        return dict(Counter(c.appearance for c in self.calls if c.appearance is not None))

    @property
    def severity_votes(self) -> dict[Severity, int]:
        """How many readers gave each grade."""
        return dict(Counter(c.severity for c in self.calls if c.severity is not None))

    @property
    def appearance(self) -> Appearance | None:
        """The consensus category (adjudication, else strict majority)."""
        if self.adjudication is not None and self.adjudication.appearance is not None:
            return self.adjudication.appearance
        return _majority(self.appearance_votes)

    @property
    def severity(self) -> Severity | None:
        """The consensus grade (adjudication, else strict majority)."""
        if self.adjudication is not None and self.adjudication.severity is not None:
            return self.adjudication.severity
        return _majority(self.severity_votes)

    @property
    def unanimous(self) -> bool:
        """Whether every reader gave the same category and grade."""
        return len({(c.appearance, c.severity) for c in self.calls}) <= 1

    def describe(self) -> str:
        """Describe the readers' spread in one line, for feedback.

        Example
        -------
        >>> ReadSummary((ReaderCall("Reader 1", Appearance.TYPICAL),
        ...              ReaderCall("Reader 2", Appearance.INDETERMINATE),
        ...              ReaderCall("Reader 3", Appearance.TYPICAL))).describe()
        'Reader 1: typical; Reader 2: indeterminate; Reader 3: typical (2 of 3 typical)'
        """
        if not self.calls:
            return "no reader labels"
        text = "; ".join(c.describe() for c in self.calls)
        votes = self.appearance_votes
        if votes:
            top, count = max(votes.items(), key=lambda kv: kv[1])
            text += (
                f" (all {count} {top.value})"
                if count == len(self.calls) and count > 1
                else f" ({count} of {len(self.calls)} {top.value})"
            )
        if self.adjudication is not None:
            text += f"; adjudicated {self.adjudication.describe().split(': ', 1)[1]}"
        return text

    def agreement(self) -> str:
        """Say how far the readers agree, in words a learner reads at a glance.

        Example
        -------
        >>> ReadSummary((ReaderCall("Reader 1", Appearance.TYPICAL),
        ...              ReaderCall("Reader 2", Appearance.INDETERMINATE),
        ...              ReaderCall("Reader 3", Appearance.TYPICAL))).agreement()
        '2 of 3 readers said typical'
        """
        parts = [_agreement(v) for v in (self.appearance_votes, self.severity_votes) if v]
        text = "; ".join(parts)
        if self.adjudication is not None:
            said = self.adjudication.describe().split(": ", 1)[1]
            text += f"{'; ' if text else ''}the adjudicator said {said}"
        return text or "no reader labels"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: calls, votes, consensus, adjudication, agreement in words."""
        return {
            "agreement": self.agreement(),
            "calls": [_call_dict(c) for c in self.calls],
            "appearance_votes": {k.value: v for k, v in self.appearance_votes.items()},
            "severity_votes": {k.value: v for k, v in self.severity_votes.items()},
            "appearance": None if self.appearance is None else self.appearance.value,
            "severity": None if self.severity is None else self.severity.value,
            "unanimous": self.unanimous,
            "adjudication": None if self.adjudication is None else _call_dict(self.adjudication),
        }


def _agreement(votes: Mapping[Any, int]) -> str:
    """``{typical: 2, indeterminate: 1}`` -> ``"2 of 3 readers said typical"``."""
    total = sum(votes.values())
    ranked = sorted(votes.items(), key=lambda kv: -kv[1])
    (top, count), rest = ranked[0], ranked[1:]
    if total == 1:
        return f"1 reader said {top.value}"
    if count == total:
        return f"all {total} readers said {top.value}"
    if count * 2 > total:
        return f"{count} of {total} readers said {top.value}"
    return "the readers split: " + ", ".join(f"{n} {k.value}" for k, n in [(top, count), *rest])


def _call_dict(call: ReaderCall) -> dict[str, str | None]:
    return {
        "reader": call.reader,
        "reader_id": call.reader_id,
        "appearance": None if call.appearance is None else call.appearance.value,
        "severity": None if call.severity is None else call.severity.value,
    }


def _majority(votes: Mapping[_T, int]) -> _T | None:
    total = sum(votes.values())
    for key, count in votes.items():
        if count * 2 > total:
            return key
    return None


@dataclass(frozen=True)
class TeachingCase:
    """One teaching case: a study in a repository and what an educator says about it.

    Parameters
    ----------
    id
        Short identifier unique in its teaching set (``"ct-typical-1"``).
    title
        The title shown on reveal (it often names the answer).
    study_uid
        StudyInstanceUID in the repository.
    collection, patient_id
        Where the study is, for people reading the manifest (checked on resolve).
    series_uid
        The main series; ``None`` lets the viewer pick the study's first image series.
    synthetic
        Whether the images are synthetic; shown plainly to the learner.
    source
        Provenance in a sentence (e.g. which package a real image comes from).
    history
        Clinical presentation, shown in unknown mode.
    findings, diagnosis, category, severity, reasoning
        The answer, shown on reveal; ``category`` is the RSNA appearance.
    differential, discussion, teaching_points, references
        Teaching content.
    difficulty, tags
        For filtering a case library.
    key_images
        The images to show, in order.
    reads
        The readers' calls (filled in from the repository on resolve).
    """

    id: str
    title: str
    study_uid: str
    collection: str | None = None
    patient_id: str | None = None
    series_uid: str | None = None
    synthetic: bool = False
    source: str = ""
    history: str = ""
    findings: str = ""
    diagnosis: str = ""
    category: Appearance | None = None
    severity: Severity | None = None
    reasoning: str = ""
    differential: tuple[str, ...] = ()
    discussion: str = ""
    teaching_points: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    difficulty: Difficulty = Difficulty.INTERMEDIATE
    tags: tuple[str, ...] = ()
    key_images: tuple[KeyImage, ...] = ()
    reads: ReadSummary | None = field(default=None, compare=False)

    def unknown_view(self) -> dict[str, Any]:
        """Return what unknown mode shows before the reveal: images and history only.

        The case id is left out too: educators often name cases after their answer.
        """
        return {
            "synthetic": self.synthetic,
            "source": self.source,
            "history": self.history,
            "study_uid": self.study_uid,
            "series_uid": self.series_uid,
            "key_images": [k.public_view() for k in self.key_images],
        }

    def revealed_view(self) -> dict[str, Any]:
        """Return the whole case as shown after the reveal, JSON-ready."""
        out = self.to_dict()
        out["key_images"] = [
            {**k.public_view(), "annotations": list(k.annotations), "caption": k.caption}
            for k in self.key_images
        ]
        out["reads"] = None if self.reads is None else self.reads.as_dict()
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return the manifest form: keys in reading order, empty values left out."""
        out: dict[str, Any] = {"id": self.id, "title": self.title, "study": self.study_uid}
        optional: Sequence[tuple[str, Any]] = (
            ("collection", self.collection),
            ("patient", self.patient_id),
            ("series", self.series_uid),
            ("synthetic", self.synthetic),
            ("source", self.source),
            ("history", self.history),
            ("findings", self.findings),
            ("diagnosis", self.diagnosis),
            ("category", None if self.category is None else self.category.value),
            ("severity", None if self.severity is None else self.severity.value),
            ("reasoning", self.reasoning),
            ("differential", list(self.differential)),
            ("discussion", self.discussion),
            ("teaching_points", list(self.teaching_points)),
            ("references", [r.to_dict() for r in self.references]),
            ("difficulty", self.difficulty.value),
            ("tags", list(self.tags)),
            ("key_images", [k.to_dict() for k in self.key_images]),
        )
        out.update({k: v for k, v in optional if v or k == "synthetic"})
        return out

    def with_reads(self, calls: Iterable[ReaderCall]) -> TeachingCase:
        """Return a copy carrying these reader calls (adjudication picked out by name)."""
        plain: list[ReaderCall] = []
        adjudication = None
        for call in calls:
            if call.reader.lower().startswith("adjudicat"):
                adjudication = call
            else:
                plain.append(call)
        return replace(self, reads=ReadSummary(tuple(plain), adjudication))
