"""Resolving a teaching set against a repository: the answer keys come from its labels.

:func:`resolve` looks up every case's study, its readers' labels and its
annotations through a narrow interface (:class:`CaseSource`, which
:class:`teachingfiles.repository.Repository` satisfies), and returns a
:class:`Quiz`: the questions with their :class:`~.questions.AnswerKey`. Every
missing study, series, slice or annotation is reported as a
:class:`~teachingfiles.errors.ManifestError` naming the manifest's file, line and
field; ``strict=True`` (the default) raises them together.

Where the truth comes from
--------------------------
* category / severity: the question's own ``answer`` if given, else the readers'
  consensus (the adjudicator's label, else a strict majority), else the case's
  ``category`` / ``severity`` as the educator wrote it;
* click / box: the study's instance-level annotations (polygons, freeform
  outlines, boxes) whose label is one of the question's ``labels`` (any label when
  none are given), each placed on its slice by its SOPInstanceUID.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from teachingfiles.cases.case import ReaderCall, TeachingCase
from teachingfiles.errors import ManifestError, NotFoundError
from teachingfiles.quiz.questions import AnswerKey, Question, QuestionKind, ResolvedQuestion
from teachingfiles.quiz.scoring import Region
from teachingfiles.vocabulary import Appearance, Severity

if TYPE_CHECKING:  # teaching_set imports quiz.questions: import it for types only
    from teachingfiles.cases.teaching_set import TeachingSet

__all__ = ["CaseSource", "Quiz", "resolve"]


class _Study(Protocol):
    @property
    def study_uid(self) -> str: ...
    @property
    def patient_id(self) -> str | None: ...
    @property
    def collection(self) -> str | None: ...


class _Series(Protocol):
    @property
    def series_uid(self) -> str: ...


class _Instance(Protocol):
    @property
    def sop_instance_uid(self) -> str | None: ...


class _Annotation(Protocol):
    @property
    def series_uid(self) -> str | None: ...
    @property
    def sop_uid(self) -> str | None: ...
    @property
    def frame_number(self) -> int | None: ...
    @property
    def label_name(self) -> str: ...
    @property
    def color(self) -> str | None: ...
    @property
    def data(self) -> dict[str, Any] | None: ...


class _ReaderLabel(Protocol):
    @property
    def reader(self) -> str: ...
    @property
    def appearance(self) -> Appearance | None: ...
    @property
    def severity(self) -> Severity | None: ...
    @property
    def is_adjudication(self) -> bool: ...


class CaseSource(Protocol):
    """What resolving needs of a repository (``Repository`` provides all of it)."""

    def study(self, uid: str) -> _Study:
        """Return the study (``NotFoundError`` if absent)."""
        ...

    def series(self, study_uid: str) -> Sequence[_Series]:
        """List the study's series."""
        ...

    def instances(self, series_uid: str) -> Sequence[_Instance]:
        """List a series' images sorted along the slice normal."""
        ...

    def annotations(self, study_uid: str) -> Sequence[_Annotation]:
        """List the study's MD.ai annotations."""
        ...

    def reader_labels(self, study_uid: str) -> Sequence[_ReaderLabel]:
        """List the study-level labels, one per reader and label."""
        ...


@dataclass(frozen=True)
class Quiz:
    """A teaching set resolved for use: cases with their reads, questions with keys."""

    teaching_set: TeachingSet
    cases: Mapping[str, TeachingCase]
    questions: tuple[ResolvedQuestion, ...]
    problems: tuple[ManifestError, ...] = ()

    @property
    def set_id(self) -> str:
        """The gradebook key of the set."""
        return self.teaching_set.set_id

    @property
    def version(self) -> str:
        """The set's version."""
        return self.teaching_set.version

    def question(self, question_id: str) -> ResolvedQuestion:
        """Return the question with this id."""
        for q in self.questions:
            if q.id == question_id:
                return q
        raise NotFoundError(f"no question {question_id!r} in {self.teaching_set.title!r}")


def resolve(
    teaching_set: TeachingSet, source: CaseSource | None = None, *, strict: bool = True
) -> Quiz:
    """Resolve every case and question of ``teaching_set`` against ``source``.

    Parameters
    ----------
    teaching_set
        A validated manifest.
    source
        The repository; ``None`` resolves from the manifest alone (questions whose
        truth lives in the images are then reported as problems).
    strict
        Raise one :class:`ManifestError` listing every problem (default); else keep
        the problems in :attr:`Quiz.problems` and leave unresolvable questions out.
    """
    problems: list[ManifestError] = []
    cases: dict[str, TeachingCase] = {}
    for index, case in enumerate(teaching_set.cases):
        cases[case.id] = _resolve_case(teaching_set, index, case, source, problems)
    questions = []
    for index, question in enumerate(teaching_set.questions):
        qcase = cases.get(question.case) if question.case else None
        key = _resolve_key(teaching_set, index, question, qcase, source, problems)
        if key is not None:
            questions.append(ResolvedQuestion(question, qcase, key))
    if strict and problems:
        if len(problems) == 1:
            raise problems[0]
        listing = "\n".join(f"  {p}" for p in problems)
        raise ManifestError(
            f"{len(problems)} problems resolving the teaching set against the repository:\n"
            f"{listing}",
            path=problems[0].path,
            line=problems[0].line,
            field=problems[0].field,
        )
    return Quiz(teaching_set, cases, tuple(questions), tuple(problems))


def _resolve_case(
    ts: TeachingSet,
    index: int,
    case: TeachingCase,
    source: CaseSource | None,
    problems: list[ManifestError],
) -> TeachingCase:
    if source is None:
        return case
    where = ("cases", index)
    try:
        study = source.study(case.study_uid)
    except NotFoundError:
        problems.append(
            ts.error(
                (*where, "study"),
                f"case {case.id!r}: study {case.study_uid} is not in the repository; "
                "check the StudyInstanceUID or index the folder that holds it",
            )
        )
        return case
    # The StudyInstanceUID is what identifies the study; the collection is where it
    # was published and is lost when the same study comes from a PACS over DICOMweb
    # (DICOM has no collection attribute), so only a different patient is a problem.
    if case.patient_id and study.patient_id and case.patient_id != study.patient_id:
        problems.append(
            ts.error(
                (*where, "patient"),
                f"case {case.id!r}: the study's patient is {study.patient_id!r}, "
                f"not {case.patient_id!r}",
            )
        )
    series_ids = {s.series_uid for s in source.series(case.study_uid)}
    _check_key_images(ts, index, case, source, series_ids, problems)
    return case.with_reads(_reader_calls(source.reader_labels(case.study_uid)))


def _check_key_images(
    ts: TeachingSet,
    index: int,
    case: TeachingCase,
    source: CaseSource,
    series_ids: set[str],
    problems: list[ManifestError],
) -> None:
    if case.series_uid and case.series_uid not in series_ids:
        problems.append(
            ts.error(
                ("cases", index, "series"),
                f"case {case.id!r}: series {case.series_uid} is not in study {case.study_uid}",
            )
        )
    labels = {a.label_name.lower() for a in source.annotations(case.study_uid)}
    for k, image in enumerate(case.key_images):
        where = ("cases", index, "key_images", k)
        series = image.series_uid or case.series_uid or min(series_ids, default=None)
        if image.series_uid and image.series_uid not in series_ids:
            problems.append(
                ts.error(
                    (*where, "series"),
                    f"case {case.id!r}: series {image.series_uid} is not in the study",
                )
            )
        elif series and image.slice is not None:
            n = len(source.instances(series))
            if image.slice >= n:
                problems.append(
                    ts.error(
                        (*where, "slice"),
                        f"case {case.id!r}: slice "
                        f"{image.slice} is past the series' {n} images "
                        f"(0 to {n - 1})",
                    )
                )
        problems.extend(
            ts.error(
                (*where, "annotations"),
                f"case {case.id!r}: the study has no annotation labelled {name!r}",
            )
            for name in image.annotations
            if name.lower() not in labels
        )


_READER_NAME = re.compile(r"^\s*reader\s*(\d+)\s*$", re.IGNORECASE)


def _reader_calls(labels: Iterable[_ReaderLabel]) -> list[ReaderCall]:
    """Merge the study's labels into one call per reader, named "Reader 1", "Reader 2" ...

    RICORD 1c names its readers by label group ("Reader 1".."Reader 3"); 1a/1b
    labels carry only the annotator's MD.ai user id (``U_Lmvflo``), which means
    nothing to a learner. Those readers are numbered after the named ones in
    the order of their ids (stable for a study whatever order the labels come
    in); the id stays on the call as ``reader_id`` for an educator.
    """
    merged: dict[str, ReaderCall] = {}
    for label in labels:
        name = "Adjudication" if label.is_adjudication else label.reader
        call = merged.get(name, ReaderCall(name, reader_id=getattr(label, "created_by", None)))
        if label.appearance is not None:
            call = replace(call, appearance=label.appearance)
        if label.severity is not None:
            call = replace(call, severity=label.severity)
        merged[name] = call
    calls = [c for c in merged.values() if c.appearance or c.severity]
    taken = {int(m.group(1)) for c in calls if (m := _READER_NAME.match(c.reader))}
    numbers = (n for n in range(1, len(calls) + len(taken) + 2) if n not in taken)
    unnamed = sorted(
        (c for c in calls if c.reader != "Adjudication" and not _READER_NAME.match(c.reader)),
        key=lambda c: c.reader,
    )
    renamed = {
        c.reader: replace(c, reader=f"Reader {next(numbers)}", reader_id=c.reader_id or c.reader)
        for c in unnamed
    }
    calls = [renamed.get(c.reader, c) for c in calls]
    order = {"Adjudication": 10**6}
    return sorted(calls, key=lambda c: (order.get(c.reader, 0), _reader_number(c.reader)))


def _reader_number(name: str) -> int:
    m = _READER_NAME.match(name)
    return int(m.group(1)) if m else 0


def _no_truth(
    ts: TeachingSet, where: tuple[str, int], q: Question, noun: str, field: str
) -> ManifestError:
    return ts.error(
        where,
        f"question {q.id!r}: no reference {noun}; the study has no readers' consensus "
        f"and the case gives no '{field}' (add 'answer: <{noun}>')",
    )


def _resolve_key(
    ts: TeachingSet,
    index: int,
    q: Question,
    case: TeachingCase | None,
    source: CaseSource | None,
    problems: list[ManifestError],
) -> AnswerKey | None:
    where = ("questions", index)
    reads = None if case is None else case.reads
    if q.kind is QuestionKind.CATEGORY:
        # The truth: the question's own answer, else the readers' consensus, else the
        # case's category (the same order for severity below).
        truth_a = (
            Appearance.parse(q.answers[0])
            if q.answers
            else (reads.appearance if reads else None) or (case.category if case else None)
        )
        if truth_a is None:
            problems.append(_no_truth(ts, where, q, "category", "category"))
            return None
        return AnswerKey(appearance=truth_a, reads=reads)
    if q.kind is QuestionKind.SEVERITY:
        truth_s = (
            Severity.parse(q.answers[0])
            if q.answers
            else (reads.severity if reads else None) or (case.severity if case else None)
        )
        if truth_s is None:
            problems.append(_no_truth(ts, where, q, "grade", "severity"))
            return None
        return AnswerKey(severity=truth_s, reads=reads)
    if q.kind in (QuestionKind.CLICK, QuestionKind.BOX):
        return _regions_key(ts, index, q, case, source, problems)
    return AnswerKey(reads=reads)


def _regions_key(
    ts: TeachingSet,
    index: int,
    q: Question,
    case: TeachingCase | None,
    source: CaseSource | None,
    problems: list[ManifestError],
) -> AnswerKey | None:
    where = ("questions", index)
    if case is None or source is None:
        problems.append(
            ts.error(
                where,
                f"question {q.id!r}: a {q.kind.value} question is "
                "scored against the repository's annotations; give "
                "--repository",
            )
        )
        return None
    wanted = {name.lower() for name in q.labels}
    try:
        found = [
            a
            for a in source.annotations(case.study_uid)
            if a.sop_uid and a.data and (not wanted or a.label_name.lower() in wanted)
        ]
    except NotFoundError:
        found = []
    series = (q.image.series_uid if q.image else None) or case.series_uid
    if series is None and found:
        series = found[0].series_uid
    regions: list[Region] = []
    n_slices = 0
    if series is not None:
        try:
            instances = source.instances(series)
        except NotFoundError:
            instances = []
        n_slices = len(instances)
        slice_of = {inst.sop_instance_uid: i for i, inst in enumerate(instances)}
        regions = [r for a in found if (r := _region(a, slice_of, n_slices)) is not None]
    if not regions:
        named = ", ".join(sorted(q.labels)) or "any label"
        problems.append(
            ts.error(
                (*where, "labels" if q.labels else "case"),
                f"question {q.id!r}: study {case.study_uid} has no outlined "
                f"finding ({named}) to score against",
            )
        )
        return None
    return AnswerKey(regions=tuple(regions), n_slices=n_slices, reads=case.reads)


def _region(a: _Annotation, slice_of: Mapping[str | None, int], n: int) -> Region | None:
    if a.sop_uid not in slice_of or a.data is None:
        return None
    index = slice_of[a.sop_uid]
    if n == 1 and a.frame_number:  # one multi-frame instance: frames are the slices
        index = int(a.frame_number)
    color = a.color or "#ff5722"
    data = a.data
    if "vertices" in data and len(data["vertices"]) >= 3:
        vertices = tuple((float(x), float(y)) for x, y in data["vertices"])
        return Region(a.label_name, index, vertices, "polygon", color, a.sop_uid)
    if all(k in data for k in ("x", "y", "width", "height")):
        box = (float(data["x"]), float(data["y"]), float(data["width"]), float(data["height"]))
        return Region.from_box(a.label_name, index, box, color=color, sop_uid=a.sop_uid)
    return None
