"""Question kinds, what the browser may see of them, and scoring in the kernel.

A :class:`Question` is what the educator wrote in the manifest. Resolved against
a repository it becomes a :class:`ResolvedQuestion`, which holds the answer key
(:class:`AnswerKey`: the readers' labels, the reference regions) beside it.

The answer key stays in the kernel: :meth:`ResolvedQuestion.public_view` builds
what a widget sends to the browser from an allow-list (prompt, choices under
opaque letters in a seeded order, the image to show, the case's history) and
never includes the right answer, the explanation, the teaching points or the
reference annotations. :meth:`ResolvedQuestion.score` takes the learner's answer
as the browser sends it (JSON values) and returns the :class:`Feedback`.

Answers by kind
---------------
=================  =================================================================
``single_best``    a choice letter, ``"B"``
``multiple``       a list of letters, ``["A", "C"]``
``category``       ``"typical"``, ``"indeterminate"``, ``"atypical"`` or ``"negative"``
``severity``       ``"mild"``, ``"moderate"`` or ``"severe"``
``click``          ``{"x": col, "y": row, "slice": i}`` or, on a reformat,
                   ``{"view": "coronal", "u": .., "v": .., "index": ..}``
``box``            ``{"x": .., "y": .., "width": .., "height": .., "slice": i}``
``free_text``      text
=================  =================================================================
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from teachingfiles.cases.case import KeyImage, ReadSummary, TeachingCase
from teachingfiles.errors import UsageError
from teachingfiles.quiz import scoring
from teachingfiles.quiz.scoring import Region, Score
from teachingfiles.vocabulary import Appearance, QuestionKind, Severity

__all__ = [
    "AnswerKey",
    "Feedback",
    "Question",
    "QuestionKind",
    "ResolvedQuestion",
    "choice_order",
]

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Question:
    """One question as the educator wrote it.

    Parameters
    ----------
    id
        Unique in the teaching set; the gradebook keys attempts on it.
    kind
        The kind; decides which of the fields below apply.
    prompt
        The question text.
    case
        The id of the case it asks about (required for category, severity, click, box).
    choices, answers
        ``single_best``/``multiple``: the choices and the right ones (by text).
        ``free_text``: ``answers`` are the accepted answers and synonyms.
        ``category``/``severity``: an optional ``answers[0]`` overriding the
        repository's consensus (for cases without reader labels).
    labels
        ``click``/``box``: the annotation label names that count (empty: any).
    slice_tolerance
        ``click``/``box``: regions this many slices away still count.
    iou
        ``box``: the overlap needed.
    max_typos
        ``free_text``: typos tolerated (``None``: by answer length).
    shuffle
        Whether choices are shown in a seeded random order.
    explanation, teaching_points
        Shown with the feedback, never before.
    topic
        The heading the score summary groups this question under.
    image
        The image to show with the question (default: the case's first key image).
    points
        The question's weight in the total.
    """

    id: str
    kind: QuestionKind
    prompt: str
    case: str | None = None
    choices: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    slice_tolerance: int = 0
    iou: float = 0.5
    max_typos: int | None = None
    shuffle: bool = True
    explanation: str = ""
    teaching_points: tuple[str, ...] = ()
    topic: str | None = None
    image: KeyImage | None = None
    points: float = 1.0

    @property
    def correct_indices(self) -> frozenset[int]:
        """For choice questions: the indices of the right choices."""
        return frozenset(i for i, c in enumerate(self.choices) if c in self.answers)

    def to_dict(self) -> dict[str, Any]:
        """Return the manifest form (defaults left out)."""
        single = (QuestionKind.SINGLE_BEST, QuestionKind.CATEGORY, QuestionKind.SEVERITY)
        answer_key = "accepted" if self.kind is QuestionKind.FREE_TEXT else "answers"
        items: list[tuple[str, Any, bool]] = [
            ("id", self.id, True),
            ("kind", self.kind.value, True),
            ("case", self.case, bool(self.case)),
            ("prompt", self.prompt, True),
            ("choices", list(self.choices), bool(self.choices)),
            ("answer", self.answers[0] if self.answers else None,
             bool(self.answers) and self.kind in single),
            (answer_key, list(self.answers), bool(self.answers) and self.kind not in single),
            ("labels", list(self.labels), bool(self.labels)),
            ("slice_tolerance", self.slice_tolerance, bool(self.slice_tolerance)),
            ("iou", self.iou, self.kind is QuestionKind.BOX and self.iou != 0.5),
            ("max_typos", self.max_typos, self.max_typos is not None),
            ("shuffle", False, not self.shuffle),
            ("topic", self.topic, bool(self.topic)),
            ("image", None if self.image is None else self.image.to_dict(),
             self.image is not None),
            ("points", self.points, self.points != 1.0),
            ("explanation", self.explanation, bool(self.explanation)),
            ("teaching_points", list(self.teaching_points), bool(self.teaching_points)),
        ]  # fmt: skip
        return {key: value for key, value, keep in items if keep}


def choice_order(question_id: str, n: int, seed: int | None) -> list[int]:
    """Return the order choices are shown in: seeded by the session seed and the question."""
    order = list(range(n))
    if seed is not None:
        random.Random(f"{seed}/{question_id}").shuffle(order)
    return order


@dataclass(frozen=True)
class AnswerKey:
    """The truth a question is scored against, resolved from the repository."""

    appearance: Appearance | None = None
    severity: Severity | None = None
    reads: ReadSummary | None = None
    regions: tuple[Region, ...] = ()
    n_slices: int | None = None


@dataclass(frozen=True)
class Feedback:
    """What the learner is told after answering (JSON-ready with :meth:`as_dict`).

    ``reference`` holds the reference annotations and ``mark`` the learner's own
    click or box, as data for the widget to draw.
    """

    question_id: str
    kind: QuestionKind
    score: float
    message: str
    answer: Any
    correct_answer: str
    explanation: str = ""
    teaching_points: tuple[str, ...] = ()
    reads: str | None = None
    reference: tuple[dict[str, Any], ...] = ()
    mark: dict[str, Any] | None = None
    points: float = 1.0

    @property
    def correct(self) -> bool:
        """Full credit."""
        return self.score >= 1.0

    @property
    def partial(self) -> bool:
        """Some credit, not full."""
        return 0.0 < self.score < 1.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the widget."""
        return {
            "question_id": self.question_id,
            "kind": self.kind.value,
            "score": self.score,
            "correct": self.correct,
            "partial": self.partial,
            "message": self.message,
            "answer": self.answer,
            "correct_answer": self.correct_answer,
            "explanation": self.explanation,
            "teaching_points": list(self.teaching_points),
            "reads": self.reads,
            "reference": list(self.reference),
            "mark": self.mark,
        }


@dataclass(frozen=True)
class ResolvedQuestion:
    """A question with its case and answer key, ready to be shown and scored."""

    question: Question
    case: TeachingCase | None = None
    key: AnswerKey = field(default_factory=AnswerKey)

    @property
    def id(self) -> str:
        """The question's id."""
        return self.question.id

    @property
    def kind(self) -> QuestionKind:
        """The question's kind."""
        return self.question.kind

    @property
    def topic(self) -> str:
        """The summary heading: the question's topic, else the case's category, else kind."""
        if self.question.topic:
            return self.question.topic
        if self.case is not None:
            reads = self.case.reads
            category = self.case.category or (reads.appearance if reads else None)
            if category is not None:
                return category.value
        return self.kind.value.replace("_", " ")

    def image(self) -> KeyImage | None:
        """Return the image shown with the question."""
        if self.question.image is not None:
            return self.question.image
        if self.case is not None and self.case.key_images:
            return self.case.key_images[0]
        return None

    def public_view(self, seed: int | None = None) -> dict[str, Any]:
        """Return what the browser may see before the answer: never the key.

        Built from an allow-list; choices carry letters in the seeded order.
        """
        q = self.question
        view: dict[str, Any] = {"id": q.id, "kind": q.kind.value, "prompt": q.prompt}
        if q.kind in (QuestionKind.SINGLE_BEST, QuestionKind.MULTIPLE):
            order = choice_order(q.id, len(q.choices), seed if q.shuffle else None)
            view["choices"] = [
                {"id": _LETTERS[pos], "text": q.choices[i]} for pos, i in enumerate(order)
            ]
        elif q.kind is QuestionKind.CATEGORY:
            view["choices"] = [{"id": a.value, "text": a.value} for a in Appearance]
        elif q.kind is QuestionKind.SEVERITY:
            view["choices"] = [{"id": s.value, "text": s.value} for s in Severity]
        image = self.image()
        view["image"] = None if image is None else image.public_view()
        view["case"] = None if self.case is None else self.case.unknown_view()
        return view

    def score(self, answer: Any, *, seed: int | None = None) -> Feedback:
        """Score the learner's answer (as the browser sends it) and build the feedback.

        Raises
        ------
        UsageError
            If the answer does not have the shape this kind expects.
        """
        q = self.question
        mark: dict[str, Any] | None = None
        reference: tuple[dict[str, Any], ...] = ()
        if q.kind in (QuestionKind.SINGLE_BEST, QuestionKind.MULTIPLE):
            result, normal, right = self._score_choices(answer, seed)
        elif q.kind is QuestionKind.CATEGORY:
            result, normal, right = self._score_category(answer)
        elif q.kind is QuestionKind.SEVERITY:
            result, normal, right = self._score_severity(answer)
        elif q.kind is QuestionKind.FREE_TEXT:
            if not isinstance(answer, str):
                raise self._shape_error(answer, "text")
            result = scoring.score_free_text(answer, q.answers, max_typos=q.max_typos)
            normal, right = answer, q.answers[0]
        else:
            result, mark = self._score_geometry(answer)
            normal = mark
            right = "the outlined finding (" + ", ".join(q.labels or ("any label",)) + ")"
            reference = tuple(r.as_dict() for r in self.key.regions)
        has_reads = self.key.reads is not None and bool(self.key.reads.calls)
        reads = self.key.reads.describe() if has_reads and self.key.reads else None
        return Feedback(
            question_id=q.id,
            kind=q.kind,
            score=result.value,
            message=result.message,
            answer=normal,
            correct_answer=right,
            explanation=q.explanation,
            teaching_points=q.teaching_points,
            reads=reads,
            reference=reference,
            mark=mark,
            points=q.points,
        )

    # -------------------------------------------------------------- per kind

    def _shape_error(self, answer: Any, expected: str) -> UsageError:
        return UsageError(
            f"question {self.id!r} ({self.kind.value}): answer {answer!r} is not {expected}"
        )

    def _score_choices(self, answer: Any, seed: int | None) -> tuple[Score, Any, str]:
        q = self.question
        picked = [answer] if isinstance(answer, str) else answer
        if not isinstance(picked, list | tuple) or not all(isinstance(a, str) for a in picked):
            raise self._shape_error(answer, "a choice letter or a list of letters")
        order = choice_order(q.id, len(q.choices), seed if q.shuffle else None)
        letters = {_LETTERS[pos]: i for pos, i in enumerate(order)}
        unknown = [a for a in picked if a.upper() not in letters]
        if unknown:
            raise self._shape_error(answer, f"one of the letters {', '.join(letters)}")
        if q.kind is QuestionKind.SINGLE_BEST and len(picked) != 1:
            raise self._shape_error(answer, "exactly one choice letter")
        indices = [letters[a.upper()] for a in picked]
        result = scoring.score_choices(indices, q.correct_indices, len(q.choices))
        right = "; ".join(q.choices[i] for i in sorted(q.correct_indices))
        return result, [q.choices[i] for i in indices], right

    def _score_category(self, answer: Any) -> tuple[Score, Any, str]:
        truth = self.key.appearance
        if truth is None:
            raise UsageError(f"question {self.id!r} has no reference category; resolve it first")
        try:
            said = Appearance.parse(str(answer))
        except ValueError as exc:
            raise self._shape_error(answer, "an RSNA category") from exc
        return scoring.score_category(said, truth), said.value, truth.value

    def _score_severity(self, answer: Any) -> tuple[Score, Any, str]:
        truth = self.key.severity
        if truth is None:
            raise UsageError(f"question {self.id!r} has no reference grade; resolve it first")
        try:
            said = Severity.parse(str(answer))
        except ValueError as exc:
            raise self._shape_error(answer, "a severity grade") from exc
        return scoring.score_severity(said, truth), said.value, truth.value

    def _score_geometry(self, answer: Any) -> tuple[Score, dict[str, Any]]:
        q = self.question
        if not isinstance(answer, Mapping):
            raise self._shape_error(answer, "a mapping with x, y and slice")
        try:
            if q.kind is QuestionKind.CLICK:
                x, y, z = self._click_voxel(answer)
                mark = {"x": x, "y": y, "slice": z, "view": str(answer.get("view", "axial"))}
                result = scoring.score_click(
                    (x, y), z, self.key.regions, slice_tolerance=q.slice_tolerance
                )
            else:
                box = tuple(float(answer[k]) for k in ("x", "y", "width", "height"))
                z = float(answer.get("slice", 0))
                mark = {"x": box[0], "y": box[1], "width": box[2], "height": box[3], "slice": z}
                result = scoring.score_box(
                    box,  # type: ignore[arg-type]
                    z,
                    self.key.regions,
                    threshold=q.iou,
                    slice_tolerance=q.slice_tolerance,
                )
        except (KeyError, TypeError) as exc:
            want = "x, y, slice" if q.kind is QuestionKind.CLICK else "x, y, width, height, slice"
            raise self._shape_error(answer, f"a mapping with {want}") from exc
        except ValueError as exc:
            raise UsageError(f"question {self.id!r}: {exc}") from exc
        return result, mark

    def _click_voxel(self, answer: Mapping[str, Any]) -> tuple[float, float, float]:
        view = str(answer.get("view", "axial"))
        if "u" in answer:
            n = self.key.n_slices or 1
            return scoring.voxel_from_view(
                view,
                float(answer["u"]),
                float(answer["v"]),
                float(answer["index"]),
                n,
                slice_scale=float(answer.get("slice_scale", 1.0)),
            )
        return (float(answer["x"]), float(answer["y"]), float(answer.get("slice", 0)))


def questions_by_id(questions: Sequence[ResolvedQuestion]) -> dict[str, ResolvedQuestion]:
    """Index questions by id."""
    return {q.id: q for q in questions}
