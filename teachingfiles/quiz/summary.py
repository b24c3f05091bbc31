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
    answered: int | None = None
    """How many of the questions were answered (``None``: not counted)."""

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
    time_limit: float | None = None
    timed_out: bool = False

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
            "time_limit": self.time_limit,
            "timed_out": self.timed_out,
        }


def summarize(
    questions: Sequence[ResolvedQuestion],
    feedback: dict[str, Feedback],
    *,
    seconds: float | None = None,
    time_limit: float | None = None,
    timed_out: bool = False,
) -> Summary:
    """Total the feedback over ``questions`` (those without feedback count zero).

    ``time_limit`` (seconds) and ``timed_out`` (the session ended when it ran out)
    are carried into the summary as they are.
    """
    by_topic: dict[str, list[float]] = {}  # earned, possible, questions, answered
    wrong, unanswered = [], []
    earned = possible = 0.0
    for q in questions:
        points = q.question.points
        got = feedback[q.id].score * points if q.id in feedback else 0.0
        if q.id not in feedback:
            unanswered.append(q.id)
        elif feedback[q.id].score < 1.0:
            wrong.append(q.id)
        cell = by_topic.setdefault(q.topic, [0.0, 0.0, 0, 0])
        cell[0] += got
        cell[1] += points
        cell[2] += 1
        cell[3] += q.id in feedback
        earned += got
        possible += points
    topics = tuple(
        TopicScore(t, e, p, int(n), int(a)) for t, (e, p, n, a) in sorted(by_topic.items())
    )
    return Summary(
        earned=earned,
        possible=possible,
        answered=len(questions) - len(unanswered),
        total=len(questions),
        topics=topics,
        wrong=tuple(wrong),
        unanswered=tuple(unanswered),
        seconds=seconds,
        time_limit=time_limit,
        timed_out=timed_out,
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
    # unanswered questions score zero: say how many were answered, or a resident who
    # got both answers right reads a red 22% as a failure
    names = [
        f"{t.topic} (n={t.questions})"
        if t.answered is None or t.answered == t.questions
        else f"{t.topic} ({t.answered} of {t.questions} answered)"
        for t in topics
    ]
    values = [t.percent for t in topics]
    colors = ["#388e3c" if v >= 80 else "#f57c00" if v >= 50 else "#d32f2f" for v in values]
    ax.barh(names, [100.0] * len(names), color="#eceff1")  # the track: 0% still shows a row
    bars = ax.barh(names, values, color=colors)
    ax.bar_label(bars, labels=[f"{v:.0f}%" for v in values], padding=3)
    ax.set_xlim(0, 110)
    ax.invert_yaxis()
    ax.set_xlabel("score (%)")
    ax.set_title(title or f"Score {summary.percent:.0f}% ({summary.earned:g}/{summary.possible:g})")
    ax.spines[["top", "right"]].set_visible(False)
    return fig
