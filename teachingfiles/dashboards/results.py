"""Gradebook summaries for educators: by learner, question and topic, hardest questions.

Plain functions over :class:`~teachingfiles.quiz.AttemptRecord` lists, so the
gradebook dashboard, notebook 07 and a script all compute the same figures.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from teachingfiles.quiz.gradebook import AttemptRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DARK_CHART", "ResultRow", "attempts_csv", "hardest", "results_by", "results_chart"]

_KEYS: dict[str, Callable[[AttemptRecord], str]] = {
    "learner": lambda a: a.learner,
    "question": lambda a: a.question_id,
    "topic": lambda a: a.topic or "(no topic)",
    "set": lambda a: a.set_id,
}


@dataclass(frozen=True)
class ResultRow:
    """The attempts sharing one key (a learner, a question, a topic)."""

    key: str
    attempts: int
    correct: int
    earned: float
    possible: float
    seconds: float
    learners: int

    @property
    def percent(self) -> float:
        """Points earned as a percentage of points possible."""
        return 100.0 * self.earned / self.possible if self.possible else 0.0

    @property
    def mean_seconds(self) -> float | None:
        """Mean time per timed answer (``None`` when no answer was timed)."""
        return self.seconds / self.attempts if self.attempts and self.seconds else None


def results_by(attempts: Iterable[AttemptRecord], by: str = "learner") -> list[ResultRow]:
    """Total the attempts by ``"learner"``, ``"question"``, ``"topic"`` or ``"set"``.

    Rows come sorted by key. ``earned`` sums score x points; time sums the answers'
    ``seconds`` (time from showing the question to submitting).

    Raises
    ------
    ValueError
        If ``by`` is not one of the four.
    """
    if by not in _KEYS:
        raise ValueError(f"results_by(by={by!r}): expected one of {sorted(_KEYS)}")
    key_of = _KEYS[by]
    groups: dict[str, list[AttemptRecord]] = {}
    for a in attempts:
        groups.setdefault(key_of(a), []).append(a)
    return [
        ResultRow(
            key=key,
            attempts=len(items),
            correct=sum(a.correct for a in items),
            earned=sum(a.score * a.points for a in items),
            possible=sum(a.points for a in items),
            seconds=sum(a.seconds or 0.0 for a in items),
            learners=len({a.learner for a in items}),
        )
        for key, items in sorted(groups.items())
    ]


def hardest(attempts: Iterable[AttemptRecord], n: int = 5) -> list[ResultRow]:
    """Return the ``n`` questions with the lowest percentage (ties: more attempts first)."""
    rows = results_by(attempts, "question")
    return sorted(rows, key=lambda r: (r.percent, -r.attempts, r.key))[:n]


def attempts_csv(attempts: Sequence[AttemptRecord]) -> str:
    """Every attempt as CSV (one row each; the answer as JSON), for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["learner", "set_id", "set_version", "session_id", "question_id", "kind", "topic",
         "correct", "score", "points", "seconds", "submitted_at", "answer"]
    )  # fmt: skip
    for a in attempts:
        writer.writerow(
            [a.learner, a.set_id, a.set_version, a.session_id, a.question_id, a.kind,
             a.topic or "", int(a.correct), f"{a.score:g}", f"{a.points:g}",
             "" if a.seconds is None else f"{a.seconds:.1f}", a.submitted_at.isoformat(),
             json.dumps(a.answer)]
        )  # fmt: skip
    return out.getvalue()


#: Card, text and axis colours of a chart for the dashboards' dark scheme (style.css).
DARK_CHART = {"card": "#1d232c", "text": "#e6e9ee", "axis": "#a3adbb"}


def results_chart(rows: Sequence[ResultRow], *, title: str, dark: bool = False) -> Figure:
    """Horizontal bars of percent per row, coloured as the quiz summary colours them.

    Parameters
    ----------
    rows
        The rows to draw, top to bottom.
    title
        The chart's title.
    dark
        Draw on the dark scheme's card colour with light text (:data:`DARK_CHART`).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 1.2 + 0.4 * max(len(rows), 1)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    values = [r.percent for r in rows]
    colors = ["#388e3c" if v >= 80 else "#f57c00" if v >= 50 else "#d32f2f" for v in values]
    bars = ax.barh([f"{r.key} (n={r.attempts})" for r in rows], values, color=colors)
    labels = ax.bar_label(bars, labels=[f"{v:.0f}%" for v in values], padding=3)
    ax.set_xlim(0, 110)
    ax.invert_yaxis()
    ax.set_xlabel("points earned (%)")
    ax.set_title(title)
    if dark:
        text, axis = DARK_CHART["text"], DARK_CHART["axis"]
        fig.set_facecolor(DARK_CHART["card"])
        ax.set_facecolor(DARK_CHART["card"])
        ax.tick_params(colors=axis, labelcolor=text)
        for spine in ax.spines.values():
            spine.set_color(axis)
        for item in (ax.title, ax.xaxis.label, *labels):
            item.set_color(text)
    return fig
