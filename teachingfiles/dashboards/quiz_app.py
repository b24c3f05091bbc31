"""The quiz dashboard: choose a teaching set, say who you are, practice or exam.

A learner's open session is resumed (the gradebook keeps every answer), so closing
the page and coming back later goes on from the first unanswered question.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ipywidgets  # type: ignore[import-untyped]

from teachingfiles.cases.teaching_set import TeachingSet
from teachingfiles.dashboards._env import gradebook_url, hub_learner, repository_root, teaching_sets
from teachingfiles.dashboards._ui import failure, message, style
from teachingfiles.errors import TeachingFilesError
from teachingfiles.quiz.gradebook import Gradebook
from teachingfiles.repository.repository import Repository
from teachingfiles.widgets.quiz_view import QuizView

__all__ = ["QuizDashboard"]


class QuizDashboard(ipywidgets.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Pick a set, a name and a mode, then answer in a :class:`QuizView`.

    Parameters
    ----------
    root
        The repository folder (default: ``$TEACHINGFILES_REPOSITORY`` or the demo).
    gradebook
        The gradebook URL or path (default: ``$TEACHINGFILES_GRADEBOOK``).
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        gradebook: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        self.add_class("tfd")
        try:
            self._build(root, gradebook)
        except TeachingFilesError as exc:
            shown: tuple[Any, ...] = (style(), failure("The quiz cannot open", exc))
            self.children = shown

    def _build(
        self, root: str | os.PathLike[str] | None, gradebook: str | os.PathLike[str] | None
    ) -> None:
        """Open what the dashboard shows and lay it out (errors go to ``__init__``)."""
        self.root = Path(root) if root is not None else repository_root()
        self.repository = Repository.open(self.root)
        self.gradebook = Gradebook(gradebook if gradebook is not None else gradebook_url())
        self.view: QuizView | None = None
        sets: dict[str, Path] = {}
        self.problems: list[str] = []  # manifests that do not load: listed, not fatal
        for path in teaching_sets(self.root):
            try:
                sets[TeachingSet.from_yaml(path).title] = path
            except TeachingFilesError as exc:
                self.problems.append(str(exc))
        wide = {
            "style": {"description_width": "96px"},  # the two labels line up
            "layout": ipywidgets.Layout(width="min(640px, 100%)"),
        }
        self.sets = ipywidgets.Dropdown(
            options=list(sets.items()), description="Teaching set", **wide
        )
        hub = hub_learner()
        self.learner = ipywidgets.Text(
            value=hub or "",
            placeholder="your name",
            description="Your name",
            disabled=bool(hub),
            **wide,
        )
        self.mode = ipywidgets.ToggleButtons(
            options=[("Practice: feedback after each answer", "practice"),
                     ("Exam: feedback at the end", "exam")],
            value="practice",
            style={"button_width": "auto"},
        )  # fmt: skip
        self.start_button = ipywidgets.Button(description="Start", button_style="primary")
        self.start_button.on_click(lambda _b: self.start())
        self.status = ipywidgets.HTML(
            message(
                "Signed in through JupyterHub." if hub else "Your name keeps your progress.",
            )
        )
        self.area = ipywidgets.Box()
        self.form = ipywidgets.VBox([self.sets, self.learner, self.mode, self.start_button])
        self.form.add_class("tfd-card")
        self.form.add_class("tfd-form")
        # once started, the form folds away so the question and its images fill the
        # screen; this button brings it back (another set, another name, exam mode)
        self.change_button = ipywidgets.Button(description="Change set or name")
        self.change_button.add_class("tfd-hidden")
        self.change_button.on_click(lambda _b: self.show_form())
        line = ipywidgets.HBox([self.status, self.change_button])
        line.add_class("tfd-status")
        self.children = (style(), self.form, line, self.area)
        if self.problems:
            self.status.value = message(
                f"{len(self.problems)} teaching set(s) could not be read and are not listed: "
                + " | ".join(self.problems),
                "warn",
            )
        if not sets:
            self.status.value = message(
                f"No teaching sets in {self.root / 'teaching-sets'}: put a teaching set's "
                "YAML file there ('teachingfiles demo build' writes the demo's), or serve "
                "another repository with 'teachingfiles serve --repository PATH'.",
                "bad",
            )
            self.start_button.disabled = True

    def show_form(self) -> None:
        """Show the set, name and mode form again (the quiz below stays until restarted)."""
        self.form.remove_class("tfd-hidden")
        self.change_button.add_class("tfd-hidden")

    def start(self) -> QuizView | None:
        """Start (or resume) the chosen set for the named learner; None if not possible."""
        learner = self.learner.value.strip()
        if not learner:
            self.status.value = message("Please type your name first.", "warn")
            return None
        path = self.sets.value
        try:
            teaching_set = TeachingSet.from_yaml(path)
            open_ = self.gradebook.sessions(
                learner=learner, set_id=teaching_set.set_id, mode=self.mode.value, open_only=True
            )
            answered = len(self.gradebook.attempts(session_id=open_[0].id)) if open_ else 0
            if self.view is not None:
                self.view.close()
            self.view = QuizView.start(
                teaching_set, self.repository, self.gradebook, learner, mode=self.mode.value
            )
        except TeachingFilesError as exc:
            self.status.value = message(str(exc), "bad")
            return None
        total = len(self.view.session.questions)
        self.status.value = message(
            f"Welcome back, {learner}: resuming with {answered} of {total} answered."
            if open_
            else f"{learner}: {total} questions, {self.mode.value} mode.",
            "good",
        )
        self.area.children = (self.view,)
        self.form.add_class("tfd-hidden")
        self.change_button.remove_class("tfd-hidden")
        return self.view

    def close(self) -> None:
        """Close the quiz, the repository and the gradebook."""
        current = getattr(self, "view", None)
        if current is not None:
            current.close()
        if hasattr(self, "repository"):
            self.repository.close()
        if hasattr(self, "gradebook"):
            self.gradebook.close()
        super().close()
