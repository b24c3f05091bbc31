"""The score summary of a quiz session, and its chart by topic (matplotlib).

:func:`summarize` totals the feedback of a session (unanswered questions count
zero); :func:`score_chart` draws the percentage per topic as horizontal bars on a
:class:`matplotlib.figure.Figure` (no pyplot state, so it is safe in a kernel,
in Voila and in tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from teachingfiles.quiz.questions import Feedback, ResolvedQuestion

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Summary", "TopicScore", "score_chart", "summarize"]


@dataclass(frozen=True)
class TopicScore:
    """Points earned and possible under one topic."""

    topic: str
    earned: float
    possible: float
    questions: int

    @property
    def percent(self) -> float:
        """Earned as a percentage of possible (0 when nothing was possible)."""
        return 100.0 * self.earned / self.possible if self.possible else 0.0


@dataclass(frozen=True)
class Summary:
    """A session's totals: overall, by topic, and which questions were missed."""

    earned: float
    possible: float
    answered: int
    total: int
    topics: tuple[TopicScore, ...]
    wrong: tuple[str, ...]
    unanswered: tuple[str, ...] = ()
    seconds: float | None = field(default=None)

    @property
    def percent(self) -> float:
        """Overall percentage."""
        return 100.0 * self.earned / self.possible if self.possible else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "earned": self.earned,
            "possible": self.possible,
            "percent": round(self.percent, 1),
            "answered": self.answered,
            "total": self.total,
            "topics": {
                t.topic: {"earned": t.earned, "possible": t.possible, "questions": t.questions}
                for t in self.topics
            },
            "wrong": list(self.wrong),
            "unanswered": list(self.unanswered),
            "seconds": self.seconds,
        }


def summarize(
    questions: Sequence[ResolvedQuestion],
    feedback: dict[str, Feedback],
    *,
    seconds: float | None = None,
) -> Summary:
    """Total the feedback over ``questions`` (those without feedback count zero)."""
    by_topic: dict[str, list[float]] = {}
    wrong, unanswered = [], []
    earned = possible = 0.0
    for q in questions:
        points = q.question.points
        got = feedback[q.id].score * points if q.id in feedback else 0.0
        if q.id not in feedback:
            unanswered.append(q.id)
        elif feedback[q.id].score < 1.0:
            wrong.append(q.id)
        cell = by_topic.setdefault(q.topic, [0.0, 0.0, 0])
        cell[0] += got
        cell[1] += points
        cell[2] += 1
        earned += got
        possible += points
    topics = tuple(TopicScore(t, e, p, int(n)) for t, (e, p, n) in sorted(by_topic.items()))
    return Summary(
        earned=earned,
        possible=possible,
        answered=len(questions) - len(unanswered),
        total=len(questions),
        topics=topics,
        wrong=tuple(wrong),
        unanswered=tuple(unanswered),
        seconds=seconds,
    )


def score_chart(summary: Summary, *, title: str | None = None) -> Figure:
    """Draw the score per topic as horizontal bars (percent, with n per topic).

    Example
    -------
    >>> fig = score_chart(summary)
    >>> fig.savefig("scores.png")
    """
    from matplotlib.figure import Figure

    topics = list(summary.topics)
    height = 1.2 + 0.45 * max(len(topics), 1)
    fig = Figure(figsize=(6.4, height), layout="constrained")
    ax = fig.add_subplot()
    names = [f"{t.topic} (n={t.questions})" for t in topics]
    values = [t.percent for t in topics]
    colors = ["#388e3c" if v >= 80 else "#f57c00" if v >= 50 else "#d32f2f" for v in values]
    bars = ax.barh(names, values, color=colors)
    ax.bar_label(bars, labels=[f"{v:.0f}%" for v in values], padding=3)
    ax.set_xlim(0, 110)
    ax.invert_yaxis()
    ax.set_xlabel("score (%)")
    ax.set_title(title or f"Score {summary.percent:.0f}% ({summary.earned:g}/{summary.possible:g})")
    ax.spines[["top", "right"]].set_visible(False)
    return fig
