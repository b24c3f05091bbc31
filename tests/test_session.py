"""The quiz session state machine: practice and exam, order, time limit, resume after
a restart, retrying the wrong ones, the spaced-repetition queue, the summary chart."""

from __future__ import annotations

import datetime as dt

import pytest
from _quiz_fakes import fake_repository, manifest_set

from teachingfiles.errors import UsageError
from teachingfiles.quiz import Gradebook, QuizSession, resolve, score_chart

T0 = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)


class Clock:
    """A clock the test moves by hand (no wall-clock time in assertions)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def quiz():
    return resolve(manifest_set(), fake_repository())


@pytest.fixture
def book(tmp_path):
    return Gradebook(tmp_path / "grades.sqlite")


def _right_answer(session: QuizSession, question) -> object:
    """The answer a well-read resident would give (from the key, test-side only)."""
    q = question.question
    kind = q.kind.value
    if kind in ("single_best", "multiple"):
        view = question.public_view(session.record.seed)
        letters = [c["id"] for c in view["choices"] if c["text"] in q.answers]
        return letters[0] if kind == "single_best" else letters
    if kind == "category":
        return question.key.appearance.value
    if kind == "severity":
        return question.key.severity.value
    if kind == "free_text":
        return q.answers[0]
    x, y, w, h = question.key.regions[0].bounds
    z = question.key.regions[0].slice
    if kind == "click":
        return {"x": x + w / 2, "y": y + h / 2, "slice": z}
    return {"x": x, "y": y, "width": w, "height": h, "slice": z}


def test_practice_mode_gives_feedback_after_each_answer(quiz, book):
    clock = Clock()
    s = QuizSession.start(quiz, book, "alice", clock=clock)
    assert s.state == "in_progress"
    view = s.current_view()
    assert view["id"] == "q-sba"
    assert view["progress"] == {"answered": 0, "total": 9, "index": 0, "state": "in_progress",
                                "remaining_seconds": None, "score": 0}  # fmt: skip
    clock.advance(20)
    sub = s.submit(_right_answer(s, s.current()))
    assert sub.recorded and sub.feedback is not None and sub.feedback.correct
    (attempt,) = book.attempts(session_id=s.id)  # committed before the feedback came back
    assert attempt.seconds == 20.0
    assert s.current().id == "q-multi"
    assert s.progress()["answered"] == 1


def test_exam_mode_holds_feedback_until_the_end(quiz, book):
    s = QuizSession.start(quiz, book, "bob", mode="exam", clock=Clock())
    sub = s.submit(_right_answer(s, s.current()))
    assert sub.feedback is None
    assert "score" not in s.progress()
    with pytest.raises(UsageError, match="exam feedback is shown at the end; call finish"):
        s.feedback()
    s.submit("atypical", question_id="q-cat")
    summary = s.finish()
    assert summary.answered == 2
    assert summary.total == 9
    assert summary.earned == 1.0
    assert set(summary.unanswered) == {q.id for q in quiz.questions} - {"q-sba", "q-cat"}
    assert s.feedback()["q-cat"].message.startswith("You said atypical")
    with pytest.raises(UsageError, match="the session is finished; start a new one"):
        s.submit("typical")


def test_exam_time_limit(quiz, book):
    clock = Clock()
    s = QuizSession.start(quiz, book, "carol", mode="exam", time_limit=60, clock=clock)
    clock.advance(45)
    assert s.remaining_seconds() == 15.0
    s.submit(_right_answer(s, s.current()))
    clock.advance(16)
    assert s.finished
    with pytest.raises(UsageError, match=r"the session is finished \(time is up\)"):
        s.submit("A")
    assert s.summary().answered == 1
    assert book.session(s.id).finished_at == T0 + dt.timedelta(seconds=60)
    with pytest.raises(UsageError, match="a time limit applies to exam mode only"):
        QuizSession.start(quiz, book, "carol", time_limit=60)


def test_shuffled_order_is_seeded(quiz, book):
    a = QuizSession.start(quiz, book, "dan", order="shuffled", seed=11, resume=False)
    b = QuizSession.start(quiz, book, "erin", order="shuffled", seed=11, resume=False)
    c = QuizSession.start(quiz, book, "fay", order="shuffled", seed=12, resume=False)
    ids = [q.id for q in a.questions]
    assert ids == [q.id for q in b.questions]
    assert ids != [q.id for q in c.questions]
    assert sorted(ids) == sorted(q.id for q in quiz.questions)


def test_resume_after_a_kernel_restart(quiz, tmp_path):
    path = tmp_path / "grades.sqlite"
    clock = Clock()
    book = Gradebook(path)
    s = QuizSession.start(quiz, book, "gus", order="shuffled", seed=5, clock=clock)
    first_three = [q.id for q in s.questions[:3]]
    for _ in range(3):
        s.submit(_right_answer(s, s.current()))
    wrong_id = s.current().id
    s.submit(_wrong(s))
    book.close()
    del s  # the kernel dies

    book2 = Gradebook(path)
    again = QuizSession.start(quiz, book2, "gus", order="shuffled", seed=99, clock=clock)
    assert [q.id for q in again.questions[:3]] == first_three  # the same session
    assert again.progress()["answered"] == 4
    assert again.index == 4
    assert not again.feedback()[wrong_id].correct
    assert all(again.feedback()[q].correct for q in first_three)


def _wrong(s: QuizSession):
    q = s.current()
    kind = q.kind.value
    if kind == "single_best":
        return "A" if _right_answer(s, q) != "A" else "B"
    if kind == "category":
        return "negative" if q.key.appearance.value != "negative" else "typical"
    fixed = {
        "multiple": ["A", "B", "C", "D"],
        "severity": "mild",
        "click": {"x": -10, "y": -10, "slice": 0},
        "box": {"x": -5, "y": -5, "width": 1, "height": 1, "slice": 0},
        "free_text": "zzz-wrong",
    }
    return fixed[kind]


def test_retry_only_the_wrong_ones_and_review_queue(quiz, book):
    clock = Clock()
    s = QuizSession.start(quiz, book, "hal", clock=clock)
    right_ids = []
    while s.current() is not None:
        q = s.current()
        if q.id in ("q-sev", "q-click"):
            s.submit("mild" if q.id == "q-sev" else {"x": 0, "y": 0, "slice": 0})
        else:
            s.submit(_right_answer(s, q))
            right_ids.append(q.id)
    summary = s.finish()
    assert summary.wrong == ("q-sev", "q-click")
    assert [f.question_id for f in s.review_wrong()] == ["q-sev", "q-click"]

    retry = QuizSession.retry_wrong(s)
    assert [q.id for q in retry.questions] == ["q-sev", "q-click"]
    assert retry.record.purpose == "retry"

    clock.advance(3600)  # an hour later: the missed ones are due, the right ones are not
    review = QuizSession.review(quiz, book, "hal", clock=clock, include_new=False)
    assert sorted(q.id for q in review.questions) == ["q-click", "q-sev"]
    clock.advance(2 * 86400)  # two days later: the right ones (box 1, one day) are due too
    later = QuizSession.review(quiz, book, "hal", clock=clock, include_new=False, limit=20)
    assert {q.id for q in later.questions} == {"q-sev", "q-click", *right_ids}


def test_summary_by_topic_and_chart(quiz, book):
    s = QuizSession.start(quiz, book, "ida", clock=Clock())
    while s.current() is not None:
        s.submit(_right_answer(s, s.current()))
    summary = s.finish()
    assert summary.percent == 100.0
    topics = {t.topic: t.questions for t in summary.topics}
    assert topics == {"typical": 6, "multiple": 1, "single best": 1, "free text": 1}
    fig = score_chart(summary)
    ax = fig.axes[0]
    assert len(ax.patches) == 2 * len(summary.topics)  # a grey 100% track under each bar
    assert ax.get_title() == "Score 100% (9/9)"
    assert all(t.answered == t.questions for t in summary.topics)
    assert "typical (n=6)" in [t.get_text() for t in ax.get_yticklabels()]
    fig.savefig(s.gradebook.url.split("///")[1] + ".png")


def test_chart_says_how_many_were_answered_when_some_were_not(quiz, book):
    s = QuizSession.start(quiz, book, "jo", clock=Clock())
    s.submit(_right_answer(s, s.current()))  # q-sba only
    summary = s.finish()
    single = next(t for t in summary.topics if t.topic == "single best")
    typical = next(t for t in summary.topics if t.topic == "typical")
    assert (single.answered, typical.answered, typical.questions) == (1, 0, 6)
    labels = [t.get_text() for t in score_chart(summary).axes[0].get_yticklabels()]
    assert "typical (0 of 6 answered)" in labels and "single best (n=1)" in labels


def test_submitting_twice_or_out_of_turn(quiz, book):
    s = QuizSession.start(quiz, book, "jo", clock=Clock())
    s.submit(_right_answer(s, s.current()))
    with pytest.raises(UsageError, match="question 'q-sba' is already answered"):
        s.submit("A", question_id="q-sba")
    with pytest.raises(UsageError, match="question 'nope' is not in this session"):
        s.submit("A", question_id="nope")
    with pytest.raises(UsageError, match="no question 99; this session has 9"):
        s.goto(99)


def test_time_up_ends_at_the_deadline_and_the_summary_says_so(quiz, book):
    clock = Clock()
    s = QuizSession.start(quiz, book, "gil", mode="exam", time_limit=60, clock=clock)
    assert s.deadline() == T0 + dt.timedelta(seconds=60)
    s.submit(_right_answer(s, s.current()))
    assert not s.timed_out
    clock.advance(600)  # the learner came back long after: finish() still ends at the deadline
    summary = s.finish()
    assert book.session(s.id).finished_at == T0 + dt.timedelta(seconds=60)
    assert s.timed_out and summary.timed_out and summary.seconds == 60.0
    assert summary.as_dict()["timed_out"] is True and summary.as_dict()["time_limit"] == 60
    assert summary.answered == 1 and len(summary.unanswered) == 8


def test_finishing_before_the_deadline_is_not_a_time_out(quiz, book):
    clock = Clock()
    s = QuizSession.start(quiz, book, "hal", mode="exam", time_limit=60, clock=clock)
    clock.advance(20)
    summary = s.finish()
    assert not summary.timed_out and summary.seconds == 20.0
    assert book.session(s.id).finished_at == T0 + dt.timedelta(seconds=20)
