"""The quiz session: one learner working through a resolved teaching set.

A small state machine, ``in_progress -> finished``:

* **practice** mode shows the feedback after each answer;
* **exam** mode records each answer and keeps the feedback until
  :meth:`QuizSession.finish` (or until the optional time limit runs out);
* questions in the set's order or shuffled with a seed;
* every answer is committed to the :class:`~.gradebook.Gradebook` *before* its
  feedback is returned, so a kernel restart or a page reload resumes where the
  learner was (:meth:`QuizSession.start` finds the open session);
* :meth:`QuizSession.retry_wrong` starts "again, only the ones I got wrong";
  :meth:`QuizSession.review` starts a session from the spaced-repetition queue.

Example
-------
>>> session = QuizSession.start(quiz, gradebook, "alice", mode="practice")
>>> view = session.current_view()          # send this to the browser
>>> feedback = session.submit("typical")   # committed, then scored feedback
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from teachingfiles.errors import UsageError
from teachingfiles.quiz.gradebook import AttemptRecord, Gradebook, SessionRecord
from teachingfiles.quiz.questions import Feedback, ResolvedQuestion
from teachingfiles.quiz.resolve import Quiz
from teachingfiles.quiz.spaced import review_queue
from teachingfiles.quiz.summary import Summary, summarize

__all__ = ["Mode", "Order", "QuizSession", "Submission"]

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Mode(StrEnum):
    """Practice (feedback after each question) or exam (feedback at the end)."""

    PRACTICE = "practice"
    EXAM = "exam"


class Order(StrEnum):
    """Questions in the manifest's order, or shuffled with the session's seed."""

    FIXED = "fixed"
    SHUFFLED = "shuffled"


@dataclass(frozen=True)
class Submission:
    """The outcome of submitting an answer: recorded, with feedback in practice mode."""

    question_id: str
    recorded: bool
    feedback: Feedback | None


class QuizSession:
    """One learner's session; build with :meth:`start`, :meth:`retry_wrong`, :meth:`review`."""

    def __init__(
        self,
        quiz: Quiz,
        gradebook: Gradebook,
        record: SessionRecord,
        *,
        clock: Clock = _utcnow,
    ) -> None:
        self.quiz = quiz
        self.gradebook = gradebook
        self.record = record
        self._clock = clock
        known = {q.id for q in quiz.questions}
        missing = [q for q in record.question_ids if q not in known]
        if missing:
            raise UsageError(
                f"session {record.id} asks questions {missing} that teaching set "
                f"{quiz.set_id!r} version {quiz.version} no longer has"
            )
        self._questions = [quiz.question(q) for q in record.question_ids]
        self._feedback: dict[str, Feedback] = {}
        for attempt in gradebook.attempts(session_id=record.id):
            question = quiz.question(attempt.question_id)
            self._feedback[attempt.question_id] = question.score(attempt.answer, seed=record.seed)
        self._index = self._first_unanswered()
        self._shown_at: dict[str, dt.datetime] = {}

    # -------------------------------------------------------------- starting

    @classmethod
    def start(
        cls,
        quiz: Quiz,
        gradebook: Gradebook,
        learner: str,
        *,
        mode: Mode | str = Mode.PRACTICE,
        order: Order | str = Order.FIXED,
        seed: int | None = None,
        time_limit: float | None = None,
        questions: Sequence[str] | None = None,
        resume: bool = True,
        purpose: str = "full",
        clock: Clock = _utcnow,
    ) -> QuizSession:
        """Resume the learner's open session of this set and mode, or start a new one.

        Parameters
        ----------
        mode, order
            Practice or exam; fixed or shuffled order.
        seed
            Seeds the question order and choice order (default: a fresh random one).
        time_limit
            Exam mode: seconds allowed from the start.
        questions
            A subset of question ids (default: all of them).
        resume
            Look for an open session first (default); ``False`` always starts anew.
        """
        mode, order = Mode(mode), Order(order)
        if time_limit is not None and mode is not Mode.EXAM:
            raise UsageError("a time limit applies to exam mode only; pass mode='exam'")
        if resume:
            for record in gradebook.sessions(
                learner=learner,
                set_id=quiz.set_id,
                set_version=quiz.version,
                mode=mode.value,
                purpose=purpose,
                open_only=True,
            ):
                return cls(quiz, gradebook, record, clock=clock)
        seed = random.SystemRandom().randrange(2**31) if seed is None else seed
        ids = list(questions) if questions is not None else [q.id for q in quiz.questions]
        if not ids:
            raise UsageError(f"no questions to ask from {quiz.teaching_set.title!r}")
        if order is Order.SHUFFLED:
            random.Random(seed).shuffle(ids)
        record = gradebook.create_session(
            learner=learner,
            set_id=quiz.set_id,
            set_version=quiz.version,
            mode=mode.value,
            question_ids=ids,
            started_at=clock(),
            purpose=purpose,
            seed=seed,
            time_limit_s=time_limit,
        )
        return cls(quiz, gradebook, record, clock=clock)

    @classmethod
    def retry_wrong(cls, previous: QuizSession, **kwargs: Any) -> QuizSession:
        """Start a practice session with only the questions missed in ``previous``."""
        if previous.mode is Mode.EXAM and not previous.finished:
            raise UsageError("finish the exam before retrying the questions you missed")
        wrong = previous.wrong_ids()
        if not wrong:
            raise UsageError("nothing to retry: every question was answered right")
        kwargs.setdefault("clock", previous._clock)
        return cls.start(
            previous.quiz,
            previous.gradebook,
            previous.learner,
            questions=wrong,
            resume=False,
            purpose="retry",
            **kwargs,
        )

    @classmethod
    def review(
        cls,
        quiz: Quiz,
        gradebook: Gradebook,
        learner: str,
        *,
        limit: int = 10,
        include_new: bool = True,
        clock: Clock = _utcnow,
        **kwargs: Any,
    ) -> QuizSession:
        """Start a practice session from the spaced-repetition queue (due questions first)."""
        items = gradebook.review_items(learner, quiz.set_id)
        ids = review_queue(
            items, [q.id for q in quiz.questions], clock(), limit=limit, include_new=include_new
        )
        if not ids:
            raise UsageError("no question is due for review yet; come back later")
        return cls.start(
            quiz, gradebook, learner, questions=ids, resume=False, purpose="review",
            clock=clock, **kwargs,
        )  # fmt: skip

    # -------------------------------------------------------------- state

    @property
    def id(self) -> str:
        """The session id (the gradebook's key)."""
        return self.record.id

    @property
    def learner(self) -> str:
        """Who is answering."""
        return self.record.learner

    @property
    def mode(self) -> Mode:
        """Practice or exam."""
        return Mode(self.record.mode)

    @property
    def finished(self) -> bool:
        """Whether the session is over (finished, or its time ran out)."""
        if self.record.finished_at is not None:
            return True
        remaining = self.remaining_seconds()
        if remaining is not None and remaining <= 0:
            self._finish_record(self._deadline())
            return True
        return False

    @property
    def state(self) -> str:
        """``"in_progress"`` or ``"finished"``."""
        return "finished" if self.finished else "in_progress"

    @property
    def questions(self) -> list[ResolvedQuestion]:
        """The session's questions in the order asked."""
        return list(self._questions)

    @property
    def index(self) -> int:
        """The 0-based position of the current question."""
        return self._index

    def progress(self) -> dict[str, Any]:
        """Answered and total, and (practice, or after the exam) the score so far."""
        out: dict[str, Any] = {
            "answered": len(self._feedback),
            "total": len(self._questions),
            "index": self._index,
            "state": self.state,
            "remaining_seconds": self.remaining_seconds(),
        }
        if self.mode is Mode.PRACTICE or self.finished:
            out["score"] = sum(f.score * f.points for f in self._feedback.values())
        return out

    def remaining_seconds(self) -> float | None:
        """Seconds left before the time limit (``None`` without one)."""
        deadline = self._deadline()
        if deadline is None or self.record.finished_at is not None:
            return None
        return max(0.0, (deadline - self._clock()).total_seconds())

    def _deadline(self) -> dt.datetime | None:
        if self.record.time_limit_s is None:
            return None
        return self.record.started_at + dt.timedelta(seconds=self.record.time_limit_s)

    def _first_unanswered(self) -> int:
        for i, q in enumerate(self._questions):
            if q.id not in self._feedback:
                return i
        return len(self._questions)

    # -------------------------------------------------------------- navigation

    def current(self) -> ResolvedQuestion | None:
        """Return the question being asked (``None`` when every question is answered)."""
        if self._index >= len(self._questions):
            return None
        return self._questions[self._index]

    def current_view(self) -> dict[str, Any] | None:
        """Return the public view of the current question, with progress: safe for the browser."""
        q = self.current()
        if q is None or self.finished:
            return None
        self._shown_at.setdefault(q.id, self._clock())
        view = q.public_view(self.record.seed)
        view["answered"] = q.id in self._feedback
        view["progress"] = self.progress()
        return view

    def goto(self, index: int) -> None:
        """Move to question ``index`` (0-based)."""
        if not 0 <= index < len(self._questions):
            raise UsageError(f"no question {index}; this session has {len(self._questions)}")
        self._index = index

    def next(self) -> ResolvedQuestion | None:
        """Move to the next unanswered question (wrapping round) and return it."""
        n = len(self._questions)
        for step in range(1, n + 1):
            i = (self._index + step) % n
            if self._questions[i].id not in self._feedback:
                self._index = i
                return self._questions[i]
        self._index = n
        return None

    # -------------------------------------------------------------- answering

    def submit(self, answer: Any, *, question_id: str | None = None) -> Submission:
        """Score and commit an answer to the current (or the named) question.

        The attempt is committed to the gradebook before anything is returned; in
        practice mode the :class:`Submission` carries the feedback, in exam mode
        only the receipt.

        Raises
        ------
        UsageError
            If the session is finished or its time is up, the question is already
            answered, or the answer has the wrong shape for the question's kind.
        """
        if self.finished:
            raise UsageError(
                "the session is finished"
                + (" (time is up)" if self.record.time_limit_s else "")
                + "; start a new one to answer again"
            )
        q = self.current() if question_id is None else self._by_id(question_id)
        if q is None:
            raise UsageError("every question is answered; call finish() for the summary")
        if q.id in self._feedback:
            raise UsageError(f"question {q.id!r} is already answered in this session")
        feedback = q.score(answer, seed=self.record.seed)
        now = self._clock()
        shown = self._shown_at.get(q.id)
        self.gradebook.record_attempt(
            AttemptRecord(
                session_id=self.id,
                learner=self.learner,
                set_id=self.record.set_id,
                set_version=self.record.set_version,
                question_id=q.id,
                kind=q.kind.value,
                topic=q.topic,
                answer=feedback.answer if q.kind.value in ("click", "box") else answer,
                score=feedback.score,
                points=q.question.points,
                correct=feedback.correct,
                submitted_at=now,
                shown_at=shown,
                seconds=None if shown is None else (now - shown).total_seconds(),
            )
        )
        self._feedback[q.id] = feedback
        if self._questions[self._index].id == q.id:
            self.next()
        shown_feedback = feedback if self.mode is Mode.PRACTICE else None
        return Submission(q.id, True, shown_feedback)

    def _by_id(self, question_id: str) -> ResolvedQuestion:
        for i, q in enumerate(self._questions):
            if q.id == question_id:
                self._index = i
                return q
        raise UsageError(f"question {question_id!r} is not in this session")

    def finish(self) -> Summary:
        """End the session and return the summary (unanswered questions score zero).

        A session whose time ran out ends at its deadline, however late this is called.
        """
        if not self.finished:  # past the deadline, ``finished`` has closed it there
            self._finish_record(self._clock())
        return self.summary()

    @property
    def timed_out(self) -> bool:
        """Whether the session ended because its time limit ran out."""
        deadline = self._deadline()
        finished_at = self.record.finished_at
        return deadline is not None and finished_at is not None and finished_at >= deadline

    def deadline(self) -> dt.datetime | None:
        """When the time limit runs out (``None`` without one), by the kernel's clock."""
        return self._deadline()

    def _finish_record(self, at: dt.datetime | None) -> None:
        if self.record.finished_at is None:
            when = at or self._clock()
            self.gradebook.finish_session(self.id, when)
            self.record = self.gradebook.session(self.id)

    # -------------------------------------------------------------- results

    def feedback(self) -> dict[str, Feedback]:
        """Feedback so far by question id (exam mode: only once finished)."""
        if self.mode is Mode.EXAM and not self.finished:
            raise UsageError("exam feedback is shown at the end; call finish() first")
        return dict(self._feedback)

    def summary(self) -> Summary:
        """Return the score summary (exam mode: only once finished)."""
        feedback = self.feedback()
        seconds = None
        if self.record.finished_at is not None:
            seconds = (self.record.finished_at - self.record.started_at).total_seconds()
        return summarize(
            self._questions,
            feedback,
            seconds=seconds,
            time_limit=self.record.time_limit_s,
            timed_out=self.timed_out,
        )

    def wrong_ids(self) -> list[str]:
        """Ids of questions answered without full credit, or not answered, in order."""
        feedback = self.feedback()
        return [q.id for q in self._questions if q.id not in feedback or not feedback[q.id].correct]

    def review_wrong(self) -> list[Feedback]:
        """Return the feedback of every question answered without full credit, in order."""
        feedback = self.feedback()
        return [feedback[q] for q in self.wrong_ids() if q in feedback]
