"""The educator's gradebook dashboard: who answered what, how well, how fast.

Tables by learner, by question and by category (the question's topic), the hardest
questions, time spent, bar charts, and every attempt as CSV (a download link built
in the page: nothing is fetched).
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from typing import Any

import ipywidgets  # type: ignore[import-untyped]

from teachingfiles.cases.teaching_set import TeachingSet
from teachingfiles.dashboards._env import ENV_REPOSITORY, gradebook_url, teaching_sets
from teachingfiles.dashboards._ui import chart_html, failure, html_table, message, style
from teachingfiles.dashboards.results import (
    ResultRow,
    attempts_csv,
    hardest,
    results_by,
    results_chart,
)
from teachingfiles.errors import TeachingFilesError
from teachingfiles.quiz.gradebook import AttemptRecord, Gradebook

__all__ = ["GradebookDashboard", "duration", "question_prompts"]

_HEADER = ["", "attempts", "correct", "points", "%", "learners", "mean time (s)"]


def _rows(rows: list[ResultRow]) -> list[list[Any]]:
    return [
        [r.key, r.attempts, r.correct, f"{r.earned:g}/{r.possible:g}", f"{r.percent:.0f}",
         r.learners, "" if r.mean_seconds is None else f"{r.mean_seconds:.0f}"]
        for r in rows
    ]  # fmt: skip


def duration(seconds: float) -> tuple[str, str]:
    """Return a time as a number and its unit for a summary tile: seconds, minutes or hours."""
    if seconds < 90:
        return f"{seconds:.0f}", "seconds answering"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f}", "minutes answering"
    return f"{seconds / 3600:.1f}", "hours answering"


def question_prompts(root: str | os.PathLike[str] | None) -> dict[str, dict[str, str]]:
    """Return each teaching set's question prompts, ``{set_id: {question_id: prompt}}``.

    The gradebook stores question ids; the prompts make its tables readable. A
    manifest that does not load is left out (its questions keep their bare ids).
    """
    if root is None:
        return {}
    out: dict[str, dict[str, str]] = {}
    for path in teaching_sets(root):
        try:
            ts = TeachingSet.from_yaml(path)
        except (OSError, ValueError):  # a broken manifest: its ids stay bare
            continue
        out[ts.set_id] = {q.id: q.prompt for q in ts.questions}
    return out


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _chart(rows: list[ResultRow], title: str, alt: str) -> str:
    light = results_chart(rows, title=title)
    return chart_html(light, results_chart(rows, title=title, dark=True), alt)


def _stat(value: str, label: str) -> str:
    return (
        f'<div class="tfd-stat"><b>{html.escape(value)}</b><span>{html.escape(label)}</span></div>'
    )


def _section(table: str, chart: str) -> str:
    """Return a table beside its chart (one above the other on a tablet)."""
    return f'<div class="tfd-section"><div>{table}</div><div>{chart}</div></div>'


class GradebookDashboard(ipywidgets.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Results from a gradebook, for one teaching set or all of them.

    Parameters
    ----------
    gradebook
        The gradebook URL or path (default: ``$TEACHINGFILES_GRADEBOOK``).
    root
        The repository whose teaching sets give the questions' prompts (default:
        ``$TEACHINGFILES_REPOSITORY``; without one, questions show their ids only).
    """

    def __init__(
        self,
        gradebook: str | os.PathLike[str] | Gradebook | None = None,
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        self.add_class("tfd")
        try:
            self._build(gradebook, root)
        except TeachingFilesError as exc:
            shown: tuple[Any, ...] = (style(), failure("The gradebook cannot open", exc))
            self.children = shown

    def _build(
        self,
        gradebook: str | os.PathLike[str] | Gradebook | None,
        root: str | os.PathLike[str] | None,
    ) -> None:
        """Open what the dashboard shows and lay it out (errors go to ``__init__``)."""
        given = root if root is not None else os.environ.get(ENV_REPOSITORY) or None
        self.prompts = question_prompts(Path(given) if given else None)
        if isinstance(gradebook, Gradebook):
            self.gradebook = gradebook
        else:
            self.gradebook = Gradebook(gradebook if gradebook is not None else gradebook_url())
        self.set_choice = ipywidgets.Dropdown(
            options=[("all sets", "")],
            description="Teaching set",
            style={"description_width": "initial"},
        )
        self.refresh_button = ipywidgets.Button(description="Refresh")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.set_choice.observe(lambda _c: self.show(), names="value")
        self.body = ipywidgets.HTML()
        bar = ipywidgets.Box([self.set_choice, self.refresh_button])
        bar.add_class("tfd-bar")
        bar.add_class("tfd-card")
        self.children = (style(), bar, self.body)
        self.attempts: list[AttemptRecord] = []
        self.refresh()

    def refresh(self) -> None:
        """Read the gradebook again (new answers appear) and redraw."""
        everything = self.gradebook.attempts()
        sets = sorted({a.set_id for a in everything})
        current = self.set_choice.value
        self.set_choice.options = [("all sets", ""), *((s, s) for s in sets)]
        self.set_choice.value = current if current in sets else ""
        self.show()

    def _labelled(self, rows: list[ResultRow]) -> list[list[Any]]:
        """Table rows of questions, each id followed by its prompt where it is known."""
        sets = {a.set_id for a in self.attempts}
        known: dict[str, set[str]] = {}
        for set_id in sets:
            for qid, prompt in self.prompts.get(set_id, {}).items():
                known.setdefault(qid, set()).add(prompt)
        out = _rows(rows)
        for row in out:
            prompts = known.get(str(row[0]), set())
            if len(prompts) == 1:  # the same id in two sets with two prompts: id only
                row[0] = f"{row[0]} · {_short(next(iter(prompts)))}"
        return out

    def show(self) -> None:
        """Draw the tables and charts for the chosen set."""
        chosen = self.set_choice.value or None
        self.attempts = self.gradebook.attempts(set_id=chosen)
        if not self.attempts:
            self.body.value = (
                '<div class="tfd-card">'
                + message(
                    "No answers yet. Results appear here as learners answer; "
                    "press Refresh to read the gradebook again."
                )
                + "</div>"
            )
            return
        learners = results_by(self.attempts, "learner")
        topics = results_by(self.attempts, "topic")
        total_s = sum(a.seconds or 0.0 for a in self.attempts)
        earned = sum(a.score * a.points for a in self.attempts)
        possible = sum(a.points for a in self.attempts)
        csv_b64 = base64.b64encode(attempts_csv(self.attempts).encode()).decode("ascii")
        n, k = len(self.attempts), len(learners)
        parts = [
            '<div class="tfd-card">',
            '<div class="tfd-summary">',
            _stat(f"{n}", "answer" if n == 1 else "answers"),
            _stat(f"{k}", "learner" if k == 1 else "learners"),
            _stat(f"{100 * earned / possible:.0f}%" if possible else "-", "of points earned"),
            _stat(*duration(total_s)),
            "</div>",
            (
                '<p class="tfd-muted">Time is from showing a question to submitting its '
                'answer. <a class="tfd-download" download="attempts.csv" '
                f'href="data:text/csv;base64,{csv_b64}">Download all answers (CSV)</a></p>'
            ),
            "<h3>By learner</h3>",
            _section(
                html_table(["learner", *_HEADER[1:]], _rows(learners)),
                _chart(learners, "By learner", "scores by learner"),
            ),
            "<h3>By category</h3>",
            _section(
                html_table(["category", *_HEADER[1:]], _rows(topics)),
                _chart(topics, "By category", "scores by category"),
            ),
            "<h3>Hardest questions</h3>",
            html_table(["question", *_HEADER[1:]], self._labelled(hardest(self.attempts))),
            "<h3>By question</h3>",
            html_table(
                ["question", *_HEADER[1:]], self._labelled(results_by(self.attempts, "question"))
            ),
            "</div>",
        ]
        self.body.value = "".join(parts)

    def close(self) -> None:
        """Close the gradebook's connections."""
        if hasattr(self, "gradebook"):
            self.gradebook.close()
        super().close()
