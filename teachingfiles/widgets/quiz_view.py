"""The quiz app: one learner answering a teaching set, question by question.

:class:`QuizView` composes a question panel (``widgets/quiz_view.js``: progress,
history, prompt, answer controls, feedback, the summary) with the
:class:`~teachingfiles.widgets.viewer.StackViewer` on the question's key image. It
is a thin layer over :class:`~teachingfiles.quiz.session.QuizSession`: the session
decides what comes next and scores; this module only shows it.

The answer key stays in the kernel. Before an answer is submitted the panel's
state holds :meth:`QuizSession.current_view` (prompt, choices, history) and
nothing else, and the viewer carries no annotations. An answer goes through
:meth:`QuizSession.submit`, which commits it to the gradebook; only then does the
feedback (right or wrong, explanation, teaching points, the reference outlines and
the learner's own mark) reach the page. In exam mode the feedback waits for the
end of the session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from os import PathLike
from typing import Any

import anywidget
import ipywidgets  # type: ignore[import-untyped]
import traitlets

from teachingfiles.errors import TeachingFilesError, UsageError
from teachingfiles.quiz.gradebook import Gradebook
from teachingfiles.quiz.questions import QuestionKind, ResolvedQuestion
from teachingfiles.quiz.session import Mode, QuizSession, Submission
from teachingfiles.quiz.summary import Summary, score_chart
from teachingfiles.widgets._quiz_media import (
    ImageRepository,
    Shot,
    VolumeCache,
    aim,
    case_shapes,
    figure_data_url,
    mark_shapes,
    nearest_slice_with,
    pick_image,
    reference_shapes,
    review_image,
    viewer_for,
)
from teachingfiles.widgets._resync import resync_on_hello
from teachingfiles.widgets._static import static_module, static_text
from teachingfiles.widgets.viewer import StackViewer

__all__ = ["QuizPanel", "QuizView"]

_log = logging.getLogger(__name__)

_GEOMETRY = (QuestionKind.CLICK, QuestionKind.BOX)


class QuizPanel(anywidget.AnyWidget):
    """The question card: what the browser shows beside the viewer.

    Every trait here is sent to the page; none carries the answer key before the
    answer is committed (``feedback``, ``review`` and ``summary`` stay empty until
    then).
    """

    _esm = traitlets.Unicode(static_module("quiz_view.js")).tag(sync=True)
    _css = traitlets.Unicode(static_text("quiz.css")).tag(sync=True)

    title = traitlets.Unicode("", help="The teaching set's title").tag(sync=True)
    mode = traitlets.Unicode("practice", help="practice or exam").tag(sync=True)
    stage = traitlets.Unicode(
        "question", help="question, feedback or summary: what the card shows"
    ).tag(sync=True)
    question = traitlets.Dict(help="The public view of the current question").tag(sync=True)
    progress = traitlets.Dict(help="answered, total, index, score so far (practice)").tag(sync=True)
    has_image = traitlets.Bool(False, help="Whether the viewer shows an image").tag(sync=True)
    mark = traitlets.Dict(help="The learner's click or box, before submitting").tag(sync=True)
    feedback = traitlets.Dict(help="The feedback on the last answer (after submit)").tag(sync=True)
    notice = traitlets.Unicode("", help="A short status line (exam: answer recorded)").tag(
        sync=True
    )
    summary = traitlets.Dict(help="The session's totals, once finished").tag(sync=True)
    chart = traitlets.Unicode("", help="The score chart by topic, a PNG data URL").tag(sync=True)
    review = traitlets.List(traitlets.Dict(), help="Feedback on the answers missed").tag(sync=True)
    can_retry = traitlets.Bool(False, help="Whether some answers can be retried").tag(sync=True)
    review_open = traitlets.Unicode(
        "", help="The reviewed question whose image the viewer shows (summary)"
    ).tag(sync=True)
    time_limit = traitlets.Float(
        None, allow_none=True, help="Exam: the seconds allowed (None without a limit)"
    ).tag(sync=True)
    time_left = traitlets.Float(
        None,
        allow_none=True,
        help="Exam: seconds left when the kernel last said; the page counts down from it",
    ).tag(sync=True)
    error = traitlets.Unicode("", help="An error to show in the card").tag(sync=True)


class QuizView(ipywidgets.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Answer a quiz in a notebook or a Voila dashboard.

    Parameters
    ----------
    session
        The learner's session (:meth:`QuizSession.start`); a resumed session opens
        at its first unanswered question.
    repository
        Where the images are (``Repository``); without one, questions are shown
        without images.
    cache_size
        How many series to keep open between questions.

    Example
    -------
    >>> view = QuizView.start("teaching-sets/covid19-rsna-categories.yaml",
    ...                       "demo", "gradebook.sqlite", "alice")
    >>> view  # doctest: +SKIP
    """

    def __init__(
        self,
        session: QuizSession,
        repository: ImageRepository | None = None,
        *,
        cache_size: int = 3,
    ) -> None:
        super().__init__()
        self.add_class("tfq-app")
        self.session = session
        self.repository = repository
        self.panel = QuizPanel(title=session.quiz.teaching_set.title, mode=session.mode.value)
        self.viewer: StackViewer | None = None
        self.last_submission: Submission | None = None
        """The receipt of the last answer (feedback in practice mode)."""
        self._volumes = None if repository is None else VolumeCache(repository, cache_size)
        self._shot: Shot | None = None
        self._mark: dict[str, Any] | None = None
        self._question: ResolvedQuestion | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._review_shots: dict[str, tuple[Shot, list[dict[str, Any]], int]] = {}
        self._image_box = ipywidgets.Box(layout=ipywidgets.Layout(flex="3 1 460px", min_width="0"))
        self._panel_box = ipywidgets.Box(
            [self.panel], layout=ipywidgets.Layout(flex="2 1 340px", min_width="0")
        )
        self.children = (
            ipywidgets.HBox(
                [self._image_box, self._panel_box],
                layout=ipywidgets.Layout(flex_flow="row wrap", align_items="flex-start",
                                         grid_gap="12px", width="100%"),
            ),
        )  # fmt: skip
        self.panel.on_msg(self._on_message)
        resync_on_hello(self.panel)
        self._show_current()

    @classmethod
    def start(
        cls,
        teaching_set: Any,
        repository: Any,
        gradebook: Gradebook | str | PathLike[str],
        learner: str,
        *,
        mode: Mode | str = Mode.PRACTICE,
        **session_options: Any,
    ) -> QuizView:
        """Open the set and the repository, resolve, start (or resume) a session.

        Parameters
        ----------
        teaching_set
            A ``TeachingSet`` or the path of its YAML manifest.
        repository
            A ``Repository`` or the path of its folder.
        gradebook
            A :class:`Gradebook`, or its SQLAlchemy URL or SQLite path.
        learner
            Who answers (the gradebook's key).
        mode
            ``"practice"`` (feedback after each answer) or ``"exam"``.
        **session_options
            Passed to :meth:`QuizSession.start` (``order``, ``seed``, ``time_limit``, ...).
        """
        from teachingfiles.cases.teaching_set import TeachingSet
        from teachingfiles.quiz.resolve import resolve
        from teachingfiles.repository.repository import Repository

        if isinstance(teaching_set, str | PathLike):
            teaching_set = TeachingSet.from_yaml(teaching_set)
        if isinstance(repository, str | PathLike):
            repository = Repository.open(repository)
        if not isinstance(gradebook, Gradebook):
            gradebook = Gradebook(gradebook)
        quiz = resolve(teaching_set, repository)
        session = QuizSession.start(quiz, gradebook, learner, mode=mode, **session_options)
        return cls(session, repository)

    # ------------------------------------------------------------------ state

    @property
    def question(self) -> ResolvedQuestion | None:
        """The question on screen (``None`` on the summary)."""
        return None if self.panel.stage == "summary" else self._question

    @property
    def mark(self) -> dict[str, Any] | None:
        """The learner's pending click or box on the image (voxel coordinates)."""
        return None if self._mark is None else dict(self._mark)

    # ------------------------------------------------------------------ actions

    def set_mark(self, mark: Mapping[str, Any]) -> None:
        """Place the learner's click or box on the image, as clicking or drawing does.

        A click is ``{x, y, slice}``, a box ``{x, y, width, height, slice}``, in
        axial voxels (x the column).

        Raises
        ------
        UsageError
            If the current question is not a click or box question, or is answered.
        """
        q = self._question
        if self.panel.stage != "question" or q is None or q.kind not in _GEOMETRY:
            raise UsageError("only an unanswered click or box question takes a mark on the image")
        want = ("x", "y", "slice") + (("width", "height") if q.kind is QuestionKind.BOX else ())
        missing = [k for k in want if k not in mark]
        if missing:
            raise UsageError(f"a {q.kind.value} mark needs {', '.join(want)}; missing {missing}")
        self._mark = {k: round(float(mark[k]), 2) for k in want}
        self._mark["slice"] = round(self._mark["slice"])
        self.panel.mark = dict(self._mark)
        if self.viewer is not None:
            self.viewer.annotations = mark_shapes(self._mark)

    def submit(self, answer: Any = None) -> Submission:
        """Submit an answer to the current question (click/box: the mark if ``None``).

        The session commits the attempt to the gradebook first; then, in practice
        mode, the feedback is shown and the viewer draws the reference outlines and
        the learner's mark.

        Raises
        ------
        UsageError
            If there is no question to answer, or the answer does not fit its kind.
        """
        q = self._question
        if self.panel.stage != "question" or q is None:
            raise UsageError("there is no question waiting for an answer; call next()")
        if answer is None and q.kind in _GEOMETRY:
            if self._mark is None:
                what = "click the finding" if q.kind is QuestionKind.CLICK else "draw a box"
                raise UsageError(f"question {q.id!r}: {what} on the image before submitting")
            answer = dict(self._mark)
        if answer is None or answer == "" or answer == []:
            raise UsageError(f"question {q.id!r}: choose or type an answer before submitting")
        if self.check_time():  # the kernel's clock says the time ran out: not recorded
            return Submission(q.id, False, None)
        submission = self.session.submit(answer, question_id=q.id)  # committed here
        self.last_submission = submission
        self.panel.error = ""
        if submission.feedback is None:  # exam: feedback at the end
            self._show_current(notice=f"Answer to question {self._number(q)} recorded.")
            return submission
        feedback = self._with_readers(submission.feedback.as_dict(), q)
        # what the viewer draws: the legend names only what is on the image
        feedback["outlines"], feedback["outline_held"] = self._draw_feedback(q, feedback)
        with self.panel.hold_sync():
            self.panel.feedback = feedback
            self.panel.progress = {**self._progress(), "number": self._number(q)}
            self.panel.stage = "feedback"
        return submission

    def next(self) -> None:
        """Show the next unanswered question, or the summary when none is left."""
        if self.check_time():
            return
        if self.panel.stage == "question" and self._question is not None:
            self.session.next()  # skip: come back to it after the others
        self._show_current()

    def finish(self, *, notice: str = "") -> Summary:
        """End the session and show the summary, the chart and the answers missed.

        Each answer missed comes with its image: the key image, the reference
        outlines and the learner's own mark, drawn by matplotlib as a thumbnail
        the learner can open in the viewer (:meth:`show_review`).
        """
        self._cancel_timer()
        summary = self.session.finish()
        review = self._review(summary)
        figure = score_chart(summary, title="Score by category")
        with self.panel.hold_sync():
            self.panel.summary = summary.as_dict()
            self.panel.chart = figure_data_url(figure)
            self.panel.review = review
            self.panel.review_open = ""
            self.panel.can_retry = bool(self.session.wrong_ids())
            self.panel.progress = self._progress()
            self.panel.feedback = {}
            self.panel.question = {}
            self.panel.mark = {}
            self.panel.notice = notice
            self.panel.time_left = None
            self.panel.stage = "summary"
        self._question = None
        self._set_viewer(None)
        return summary

    def _review(self, summary: Summary) -> list[dict[str, Any]]:
        """List the answers missed, each with its image, then the questions unanswered."""
        feedback = self.session.feedback()
        by_id = {q.id: q for q in self.session.questions}
        self._review_shots = {}
        review = []
        for qid in self.session.wrong_ids():
            if qid not in feedback:
                continue
            q = by_id[qid]
            item = self._with_readers(feedback[qid].as_dict(), q)
            item["prompt"] = q.question.prompt
            item["number"] = self._number(q)
            item.update(self._review_image(q, item))
            review.append(item)
        review += [
            {"question_id": qid, "prompt": by_id[qid].question.prompt, "unanswered": True,
             "number": self._number(by_id[qid])}
            for qid in summary.unanswered
        ]  # fmt: skip
        return review

    def _review_image(self, q: ResolvedQuestion, item: Mapping[str, Any]) -> dict[str, Any]:
        """Draw the thumbnail of a missed answer; ``{}`` when it has no image."""
        if self.repository is None or self._volumes is None:
            return {}
        public = q.public_view(self.session.record.seed).get("image")
        try:
            found = review_image(self.repository, self._volumes, q, public, item)
        except (TeachingFilesError, OSError, ValueError) as exc:
            _log.warning("no review image for question %s: %s", q.id, exc)
            return {}
        if found is None:
            return {}
        url, shot, shapes, index = found
        self._review_shots[q.id] = (shot, shapes, index)
        return {"image": url, "image_slice": index}

    def show_review(self, question_id: str) -> None:
        """Open a missed answer's image in the viewer, with the outlines and your mark.

        Raises
        ------
        UsageError
            If the summary is not shown or the question has no review image.
        """
        if self.panel.stage != "summary" or question_id not in self._review_shots:
            raise UsageError(f"question {question_id!r} has no image to review")
        shot, shapes, index = self._review_shots[question_id]
        self._show_image(Shot(shot.series_uid, index, shot.preset, "axial"), "inspect")
        if self.viewer is not None:
            with self.viewer.hold_sync():
                self.viewer.show_overlay = True
                self.viewer.annotations = shapes
                self.viewer.index = min(max(index, 0), self.viewer.shape[0] - 1)
        self.panel.review_open = question_id

    def _with_readers(self, feedback: dict[str, Any], q: ResolvedQuestion) -> dict[str, Any]:
        """Add the readers' calls (named "Reader 1" ..., ids for hover) to feedback."""
        reads = q.key.reads or (q.case.reads if q.case is not None else None)
        if reads is not None and reads.calls:
            feedback["readers"] = reads.as_dict()
        return feedback

    # ------------------------------------------------------------------ the clock

    def check_time(self) -> bool:
        """End the session if its time limit has run out by the kernel's clock.

        The page's countdown is only a display: when it reaches zero it asks the
        kernel, which decides here. The answers already given are kept and scored;
        the questions not answered count as unanswered. Returns whether the
        session ended (now or before).
        """
        if self.panel.stage == "summary" or self.session.record.time_limit_s is None:
            return False
        if not self.session.finished:
            self._sync_time()
            return False
        self.finish()  # the summary says the time ran out (summary["timed_out"])
        return True

    def _sync_time(self) -> None:
        """Send the time left to the page and wake the kernel when it runs out."""
        remaining = self.session.remaining_seconds()
        limit = self.session.record.time_limit_s
        with self.panel.hold_sync():
            self.panel.time_limit = limit
            self.panel.time_left = remaining
        self._cancel_timer()
        if remaining is None:
            return
        try:
            loop = asyncio.get_running_loop()  # the kernel's; none in a plain script
        except RuntimeError:
            return
        self._timer = loop.call_later(remaining + 0.2, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        try:
            self.check_time()
        except Exception:  # a timer callback has no caller to tell
            _log.exception("ending the timed session failed")

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def retry_wrong(self) -> None:
        """Start "again, only the ones I got wrong" as a new practice session."""
        self.session = QuizSession.retry_wrong(self.session)
        self.last_submission = None
        with self.panel.hold_sync():
            self.panel.mode = self.session.mode.value
            self.panel.summary = {}
            self.panel.chart = ""
            self.panel.review = []
            self.panel.review_open = ""
            self.panel.can_retry = False
            self.panel.time_limit = None
            self.panel.time_left = None
        self._review_shots = {}
        self._show_current(notice="Again, only the questions you missed.")

    # ------------------------------------------------------------------ showing

    def _number(self, q: ResolvedQuestion) -> int:
        """Return the 1-based position of ``q`` in the session ("Question 3 of 20")."""
        return [x.id for x in self.session.questions].index(q.id) + 1

    def _progress(self) -> dict[str, Any]:
        progress = self.session.progress()
        progress.pop("state", None)
        return progress

    def _show_current(self, notice: str = "") -> None:
        if self.check_time():
            return
        view = self.session.current_view()
        if view is None:  # every question answered
            self.finish()
            return
        q = self.session.current()
        self._question = q
        self._mark = None
        shot = None
        if q is not None and self.repository is not None and view is not None:
            shot = pick_image(view.get("image"), q.case, self.repository)
        with self.panel.hold_sync():
            self.panel.question = dict(view or {})
            self.panel.progress = self._progress()
            self.panel.feedback = {}
            self.panel.mark = {}
            self.panel.notice = notice
            self.panel.error = ""
            self.panel.stage = "question"
        mode = "inspect"
        if q is not None and q.kind is QuestionKind.CLICK:
            mode = "point"
        elif q is not None and q.kind is QuestionKind.BOX:
            mode = "box"
        self._show_image(shot, mode)

    def _show_image(self, shot: Shot | None, mode: str) -> None:
        if shot is None or self._volumes is None:
            self._set_viewer(None)
            return
        try:
            volume = self._volumes.get(shot.series_uid)
        except (TeachingFilesError, OSError) as exc:
            self._set_viewer(None)
            self.panel.error = f"cannot show the image of this question: {exc}"
            return
        same = self._shot is not None and self._shot.series_uid == shot.series_uid
        if same and self.viewer is not None:
            viewer = self.viewer
            aim(viewer, shot, mode=mode)
        else:
            viewer = viewer_for(volume, shot, mode=mode)
            viewer.on_click(self._on_click)
            viewer.on_shape(self._on_shape)
        self._shot = shot
        self._set_viewer(viewer)

    def _set_viewer(self, viewer: StackViewer | None) -> None:
        if viewer is None:
            self._shot = None
        if self.viewer is not None and self.viewer is not viewer:
            self.viewer.close()  # its slices leave the browser with it
        self.viewer = viewer
        if viewer is not None:
            viewer.layout.width = "100%"
        self.panel.has_image = viewer is not None
        self._image_box.children = () if viewer is None else (viewer,)
        self._image_box.layout.display = "none" if viewer is None else None

    def _draw_feedback(self, q: ResolvedQuestion, feedback: Mapping[str, Any]) -> tuple[int, bool]:
        """Draw the reference outlines and the learner's mark on the viewer.

        Returns how many reference shapes are drawn, and whether the case's
        outlines are held back (a later question on this image asks for them).
        """
        viewer = self.viewer
        if viewer is None or self._volumes is None or self._shot is None:
            return 0, False
        shapes = reference_shapes(feedback.get("reference") or ())
        if not shapes and q.case is not None and self.repository is not None:
            if self._outline_still_asked(q):
                return 0, True  # a later "click the finding" on this case: keep it back
            key = q.case.key_images[0] if q.case.key_images else None
            volume = self._volumes.get(self._shot.series_uid)
            shapes = case_shapes(self.repository, q.case, key, volume)
        mark = mark_shapes(feedback.get("mark"))
        with viewer.hold_sync():
            viewer.mode = "inspect"
            viewer.show_overlay = True
            viewer.annotations = shapes + mark
            if viewer.view == "axial" and not any(s["slice"] == viewer.index for s in shapes):
                nearest = nearest_slice_with(shapes + mark, viewer.index)
                if nearest is not None:
                    viewer.index = nearest
        return len(shapes), False

    def _outline_still_asked(self, q: ResolvedQuestion) -> bool:
        """Whether a click or box question on ``q``'s case is still unanswered here."""
        answered = self.session.progress()["answered"]
        if self.session.mode is Mode.EXAM or answered >= len(self.session.questions):
            return False
        done = set(self.session.feedback())
        return any(
            other.kind in _GEOMETRY
            and other.id not in done
            and other.case is not None
            and q.case is not None
            and other.case.study_uid == q.case.study_uid
            for other in self.session.questions
        )

    # ------------------------------------------------------------------ events

    def _on_click(self, event: dict[str, Any]) -> None:
        q = self._question
        if q is None or q.kind is not QuestionKind.CLICK or self.panel.stage != "question":
            return
        x, y, z = self._axial_voxel(event)
        self.set_mark({"x": x, "y": y, "slice": z})

    def _on_shape(self, event: dict[str, Any]) -> None:
        q = self._question
        if q is None or q.kind is not QuestionKind.BOX or self.panel.stage != "question":
            return
        if event.get("view", "axial") != "axial" or event.get("kind") != "box":
            self.panel.error = "draw the box on the axial view"
            return
        (x0, y0), (x1, y1) = event["points"][0], event["points"][-1]
        self.set_mark(
            {"x": min(x0, x1), "y": min(y0, y1), "width": abs(x1 - x0),
             "height": abs(y1 - y0), "slice": event["slice"]}
        )  # fmt: skip
        self.panel.error = ""

    def _axial_voxel(self, event: Mapping[str, Any]) -> tuple[float, float, float]:
        """Map a click on any view to axial ``(x, y, slice)`` through patient mm."""
        if event.get("view", "axial") == "axial" or self._volumes is None or self._shot is None:
            x, y = event["pixel"]
            return float(x), float(y), float(event["slice"])
        volume = self._volumes.get(self._shot.series_uid)
        k, row, col = (float(v) for v in volume.patient_to_index(event["patient"]))
        return col, row, k

    def _on_message(self, _widget: object, content: Any, _buffers: object) -> None:
        if not isinstance(content, dict):
            return
        actions: dict[str, Callable[[], Any]] = {
            "submit": lambda: self.submit(content.get("answer")),
            "next": self.next,
            "finish": self.finish,
            "retry": self.retry_wrong,
            "clear_mark": self._clear_mark,
            "time_up": self.check_time,
            "review_image": lambda: self.show_review(str(content.get("question_id", ""))),
        }
        action = actions.get(str(content.get("type")))
        if action is None:
            return
        try:
            action()
        except TeachingFilesError as exc:  # the learner can fix it: say how
            self._show_error(str(exc))
        except Exception as exc:  # shown in the card, not only in the log
            _log.exception("quiz action %r failed", content.get("type"))
            self._show_error(f"{type(exc).__name__}: {exc}")

    def _show_error(self, text: str) -> None:
        self.panel.error = ""  # the same message again still redraws the card
        self.panel.error = text

    def _clear_mark(self) -> None:
        if self.panel.stage != "question":
            return
        self._mark = None
        self.panel.mark = {}
        if self.viewer is not None:
            self.viewer.annotations = []

    def close(self) -> None:
        """Close the widgets and the series kept open."""
        self._cancel_timer()
        if self._volumes is not None:
            self._volumes.close()
        if self.viewer is not None:
            self.viewer.close()
        self.panel.close()
        super().close()
