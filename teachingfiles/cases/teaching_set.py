"""The teaching set: a YAML manifest of cases and questions a person can write and diff.

Example manifest::

    title: "COVID-19 chest imaging: the RSNA categories"
    author: Jane Doe
    audience: radiology residents
    licence: CC BY 4.0
    version: "1.0"
    cases:
      - id: ct-typical-1
        title: Typical appearance, ground-glass
        study: 1.2.826.0.1.3680043.8.498.1234
        history: 58-year-old woman, fever and cough for five days.
        category: typical
        key_images:
          - {slice: 40, preset: lung}
    questions:
      - id: q1
        kind: category
        case: ct-typical-1
        prompt: Which RSNA category?

:meth:`TeachingSet.from_yaml` validates everything and raises one
:class:`~teachingfiles.errors.ManifestError` listing every problem, each with the
file, line and field; :func:`check_manifest` returns the problems instead.
:meth:`TeachingSet.to_yaml` writes a manifest that reads back equal.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from teachingfiles.cases._yaml import Document, Fields, parse_yaml
from teachingfiles.cases._yaml import dotted as _dotted
from teachingfiles.cases.case import Difficulty, KeyImage, Reference, TeachingCase, View
from teachingfiles.errors import ManifestError
from teachingfiles.vocabulary import Appearance, Severity

if TYPE_CHECKING:
    # teachingfiles.quiz imports teachingfiles.cases; the parsers below import the
    # question model when they run, so importing either package first works.
    from teachingfiles.quiz.questions import Question

__all__ = ["ManifestCheck", "TeachingSet", "check_manifest"]

_SET_KEYS = (
    "title", "author", "audience", "licence", "version", "description", "id",
    "cases", "questions",
)  # fmt: skip
_CASE_KEYS = (
    "id", "title", "study", "collection", "patient", "series", "synthetic", "source",
    "history", "findings", "diagnosis", "category", "severity", "reasoning",
    "differential", "discussion", "teaching_points", "references", "difficulty", "tags",
    "key_images",
)  # fmt: skip
_IMAGE_KEYS = ("series", "slice", "view", "preset", "annotations", "caption")
_QUESTION_KEYS = (
    "id", "kind", "case", "prompt", "choices", "answer", "answers", "accepted", "labels",
    "slice_tolerance", "iou", "max_typos", "shuffle", "explanation", "teaching_points",
    "topic", "image", "points",
)  # fmt: skip


@dataclass(frozen=True)
class TeachingSet:
    """A titled, versioned collection of teaching cases and questions.

    ``id`` keys the set in the gradebook; it defaults to a slug of the title.
    """

    title: str
    version: str = "1"
    author: str = ""
    audience: str = ""
    licence: str = ""
    description: str = ""
    id: str = ""
    cases: tuple[TeachingCase, ...] = ()
    questions: tuple[Question, ...] = ()
    path: str | None = field(default=None, compare=False)
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def set_id(self) -> str:
        """The gradebook key: ``id`` if given, else a slug of the title."""
        return self.id or _slug(self.title)

    def case(self, case_id: str) -> TeachingCase:
        """Return the case with this id (``KeyError`` naming the ids when absent)."""
        for case in self.cases:
            if case.id == case_id:
                return case
        raise KeyError(f"no case {case_id!r}; cases: {', '.join(c.id for c in self.cases)}")

    def error(self, where: tuple[str | int, ...], message: str) -> ManifestError:
        """Make an error about the field at ``where``, naming this manifest's file and line."""
        line = None
        probe = where
        while probe and line is None:
            line = self.lines.get(probe)
            probe = probe[:-1]
        name = _dotted(where)
        return ManifestError(f"{name}: {message}", path=self.path, line=line, field=name)

    def kinds(self) -> dict[str, int]:
        """How many questions of each kind."""
        return dict(Counter(q.kind.value for q in self.questions))

    # ------------------------------------------------------------ reading

    @classmethod
    def from_yaml(cls, source: str | PathLike[str], *, text: str | None = None) -> TeachingSet:
        """Read and validate a manifest file (or ``text``, named ``source`` in errors).

        Raises
        ------
        ManifestError
            Listing every problem with its line and field.
        """
        check = check_manifest(source, text=text)
        if check.errors:
            raise _combined(check.errors)
        assert check.teaching_set is not None
        return check.teaching_set

    # ------------------------------------------------------------ writing

    def to_dict(self) -> dict[str, Any]:
        """Return the manifest as plain data, keys in reading order."""
        out: dict[str, Any] = {"title": self.title}
        for key in ("id", "author", "audience", "licence", "version", "description"):
            value = getattr(self, key)
            if value:
                out[key] = value
        out["cases"] = [c.to_dict() for c in self.cases]
        out["questions"] = [q.to_dict() for q in self.questions]
        return out

    def to_yaml(self) -> str:
        """Return the manifest as YAML: block style, long texts as ``|`` blocks, stable order."""
        return yaml.dump(
            self.to_dict(),
            Dumper=_Dumper,
            sort_keys=False,
            allow_unicode=True,
            width=88,
            default_flow_style=False,
        )

    def save(self, path: str | PathLike[str]) -> Path:
        """Write the manifest to ``path`` (UTF-8) and return the path."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(self.to_yaml(), encoding="utf-8")
        return out


class _Dumper(yaml.SafeDumper):
    """Safe dumper writing multi-line text as literal blocks."""


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "teaching-set"


def _combined(errors: list[ManifestError]) -> ManifestError:
    if len(errors) == 1:
        return errors[0]
    first = errors[0]
    lines = "\n".join(f"  {e}" for e in errors)
    return ManifestError(
        f"{len(errors)} problems in the manifest:\n{lines}",
        path=first.path,
        line=first.line,
        field=first.field,
    )


@dataclass(frozen=True)
class ManifestCheck:
    """The outcome of checking a manifest: the set (when valid) and every problem."""

    path: str
    teaching_set: TeachingSet | None
    errors: list[ManifestError]

    @property
    def valid(self) -> bool:
        """No problems."""
        return not self.errors


def check_manifest(source: str | PathLike[str], *, text: str | None = None) -> ManifestCheck:
    """Parse and validate a manifest, collecting every problem instead of raising."""
    path = str(source)
    if text is None:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except FileNotFoundError:
            err = ManifestError("no such file; check the path", path=path)
            return ManifestCheck(path, None, [err])
        except (OSError, UnicodeDecodeError) as exc:
            return ManifestCheck(path, None, [ManifestError(f"cannot read: {exc}", path=path)])
    doc = parse_yaml(text, path)
    if doc.errors:
        return ManifestCheck(path, None, doc.errors)
    if doc.data is None:
        doc.error((), "the manifest is empty; it needs at least a title, cases and questions")
        return ManifestCheck(path, None, doc.errors)
    teaching_set = _parse_set(doc)
    return ManifestCheck(path, None if doc.errors else teaching_set, doc.errors)


# ------------------------------------------------------------------ parsing


def _parse_set(doc: Document) -> TeachingSet:
    top = doc.fields()
    top.allow(*_SET_KEYS)
    cases = tuple(_parse_case(f) for f in top.mappings("cases", required=True))
    questions = tuple(
        q for q in (_parse_question(f) for f in top.mappings("questions")) if q is not None
    )
    _check_unique(top, "cases", [c.id for c in cases])
    _check_unique(top, "questions", [q.id for q in questions])
    case_ids = {c.id for c in cases}
    for index, question in enumerate(questions):
        if question.case and question.case not in case_ids:
            doc.error(
                ("questions", index, "case"),
                f"names case {question.case!r}, which the manifest does not define "
                f"(cases: {', '.join(sorted(case_ids)) or 'none'})",
            )
    return TeachingSet(
        title=top.text("title", required=True),
        version=top.text("version", default="1"),
        author=top.text("author"),
        audience=top.text("audience"),
        licence=top.text("licence"),
        description=top.text("description"),
        id=top.text("id"),
        cases=cases,
        questions=questions,
        path=doc.path,
        lines=dict(doc.lines),
    )


def _check_unique(top: Fields, key: str, ids: list[str]) -> None:
    seen: dict[str, int] = {}
    for index, item_id in enumerate(ids):
        if item_id in seen:
            top.doc.error(
                (key, index, "id"),
                f"{item_id!r} is already used by {key}[{seen[item_id]}]; ids must be unique",
            )
        seen.setdefault(item_id, index)


def _parse_references(f: Fields) -> tuple[Reference, ...]:
    raw = f.data.get("references")
    if isinstance(raw, list) and all(isinstance(r, str) for r in raw):
        return tuple(Reference(str(r)) for r in raw)
    refs = []
    for r in f.mappings("references"):
        r.allow("citation", "doi", "url")
        refs.append(Reference(r.text("citation", required=True), r.optional_text("doi"),
                              r.optional_text("url")))  # fmt: skip
    return tuple(refs)


def _parse_image(f: Fields) -> KeyImage:
    f.allow(*_IMAGE_KEYS)
    return KeyImage(
        series_uid=f.optional_text("series"),
        slice=f.integer("slice"),
        view=f.choice("view", View.parse) or View.AXIAL,
        preset=f.optional_text("preset"),
        annotations=f.text_list("annotations"),
        caption=f.text("caption"),
    )


def _parse_case(f: Fields) -> TeachingCase:
    f.allow(*_CASE_KEYS)
    return TeachingCase(
        id=f.text("id", required=True),
        title=f.text("title", required=True),
        study_uid=f.text("study", required=True),
        collection=f.optional_text("collection"),
        patient_id=f.optional_text("patient"),
        series_uid=f.optional_text("series"),
        synthetic=f.flag("synthetic"),
        source=f.text("source"),
        history=f.text("history"),
        findings=f.text("findings"),
        diagnosis=f.text("diagnosis"),
        category=f.choice("category", Appearance.parse),
        severity=f.choice("severity", Severity.parse),
        reasoning=f.text("reasoning"),
        differential=f.text_list("differential"),
        discussion=f.text("discussion"),
        teaching_points=f.text_list("teaching_points"),
        references=_parse_references(f),
        difficulty=f.choice("difficulty", Difficulty.parse) or Difficulty.INTERMEDIATE,
        tags=f.text_list("tags"),
        key_images=tuple(_parse_image(k) for k in f.mappings("key_images")),
    )


def _parse_question(f: Fields) -> Question | None:
    from teachingfiles.quiz.questions import Question, QuestionKind

    f.allow(*_QUESTION_KEYS)
    kind = f.choice("kind", QuestionKind.parse, required=True)
    if kind is None:
        return None
    if "answer" in f and "answers" in f:
        f.error("answer", "give either 'answer' or 'answers', not both")
    answers = f.text_list("answers") or f.text_list("answer") or f.text_list("accepted")
    image = None
    if f.data.get("image") is not None:
        raw = f.data["image"]
        if isinstance(raw, dict):
            image = _parse_image(Fields(f.doc, (*f.path, "image"), raw))
        else:
            f.error("image", "expected a mapping with series, slice, view, preset")
    question = Question(
        id=f.text("id", required=True),
        kind=kind,
        prompt=f.text("prompt", required=True),
        case=f.optional_text("case"),
        choices=f.text_list("choices"),
        answers=answers,
        labels=f.text_list("labels"),
        slice_tolerance=f.integer("slice_tolerance", default=0) or 0,
        iou=f.number("iou", default=0.5, minimum=0.01, maximum=1.0),
        max_typos=f.integer("max_typos"),
        shuffle=f.flag("shuffle", default=True),
        explanation=f.text("explanation"),
        teaching_points=f.text_list("teaching_points"),
        topic=f.optional_text("topic"),
        image=image,
        points=f.number("points", default=1.0, minimum=0.0),
    )
    _check_question(f, question)
    return question


def _check_question(f: Fields, q: Question) -> None:
    from teachingfiles.quiz.questions import QuestionKind

    kind = q.kind
    if kind.needs_case and not q.case:
        f.error("case", f"a {kind.value} question needs the id of the case it asks about")
    if kind in (QuestionKind.SINGLE_BEST, QuestionKind.MULTIPLE):
        _check_choices(f, q)
    elif kind is QuestionKind.FREE_TEXT:
        if not q.answers:
            f.error("accepted", "a free_text question needs its accepted answers (a list)")
    elif kind in (QuestionKind.CATEGORY, QuestionKind.SEVERITY) and q.answers:
        parse = Appearance.parse if kind is QuestionKind.CATEGORY else Severity.parse
        try:
            parse(q.answers[0])
        except ValueError as exc:
            f.error("answer", str(exc))
    for key, applies in (
        ("choices", kind in (QuestionKind.SINGLE_BEST, QuestionKind.MULTIPLE)),
        ("labels", kind in (QuestionKind.CLICK, QuestionKind.BOX)),
        ("iou", kind is QuestionKind.BOX),
        ("max_typos", kind is QuestionKind.FREE_TEXT),
        ("accepted", kind is QuestionKind.FREE_TEXT),
    ):
        if key in f and not applies:
            f.error(key, f"does not apply to a {kind.value} question; remove it")


def _check_choices(f: Fields, q: Question) -> None:
    from teachingfiles.quiz.questions import QuestionKind

    if len(q.choices) < 2:
        f.error("choices", f"a {q.kind.value} question needs at least two choices")
        return
    dupes = [c for c, n in Counter(q.choices).items() if n > 1]
    if dupes:
        f.error("choices", f"{dupes[0]!r} is listed twice")
    key = "answer" if "answer" in f else "answers"
    if not q.answers:
        f.error(key, "is required: the right choice, written exactly as in 'choices'")
        return
    for answer in q.answers:
        if answer not in q.choices:
            f.error(key, f"{answer!r} is not one of the choices; copy it exactly from 'choices'")
    if q.kind is QuestionKind.SINGLE_BEST and len(q.answers) != 1:
        f.error(key, "a single_best question has exactly one right choice; use kind: multiple")
