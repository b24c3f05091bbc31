"""The educator's gradebook dashboard: who answered what, how well, how fast.

Tables by learner, by question and by category (the question's topic), the hardest
questions, time spent, bar charts, and every attempt as CSV (a download link built
in the page: nothing is fetched).
"""

from __future__ import annotations

import base64
import html
import os
from typing import Any

import ipywidgets  # type: ignore[import-untyped]

from teachingfiles.dashboards._env import gradebook_url
from teachingfiles.dashboards._ui import figure_html, html_table, message, style
from teachingfiles.dashboards.results import (
    ResultRow,
    attempts_csv,
    hardest,
    results_by,
    results_chart,
)
from teachingfiles.quiz.gradebook import AttemptRecord, Gradebook

__all__ = ["GradebookDashboard"]

_HEADER = ["", "attempts", "correct", "points", "%", "learners", "mean time (s)"]


def _rows(rows: list[ResultRow]) -> list[list[Any]]:
    return [
        [r.key, r.attempts, r.correct, f"{r.earned:g}/{r.possible:g}", f"{r.percent:.0f}",
         r.learners, "" if r.mean_seconds is None else f"{r.mean_seconds:.0f}"]
        for r in rows
    ]  # fmt: skip


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
    """

    def __init__(self, gradebook: str | os.PathLike[str] | Gradebook | None = None) -> None:
        super().__init__()
        self.add_class("tfd")
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
            _stat(f"{total_s / 60:.1f}", "minutes answering"),
            "</div>",
            (
                '<p class="tfd-muted">Time is from showing a question to submitting its '
                'answer. <a class="tfd-download" download="attempts.csv" '
                f'href="data:text/csv;base64,{csv_b64}">Download all answers (CSV)</a></p>'
            ),
            "<h3>By learner</h3>",
            _section(
                html_table(["learner", *_HEADER[1:]], _rows(learners)),
                figure_html(results_chart(learners, title="By learner"), "scores by learner"),
            ),
            "<h3>By category</h3>",
            _section(
                html_table(["category", *_HEADER[1:]], _rows(topics)),
                figure_html(results_chart(topics, title="By category"), "scores by category"),
            ),
            "<h3>Hardest questions</h3>",
            html_table(["question", *_HEADER[1:]], _rows(hardest(self.attempts))),
            "<h3>By question</h3>",
            html_table(["question", *_HEADER[1:]], _rows(results_by(self.attempts, "question"))),
            "</div>",
        ]
        self.body.value = "".join(parts)

    def close(self) -> None:
        """Close the gradebook's connections."""
        self.gradebook.close()
        super().close()
