"""The gradebook: attempts committed and read back, review state, concurrent writers
on SQLite (WAL) and on a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sqlite3
from collections import Counter

import pytest
from pg import postgres_server

from teachingfiles.errors import UsageError
from teachingfiles.quiz import AttemptRecord, Gradebook, next_review, review_queue
from teachingfiles.quiz.spaced import INTERVALS

T0 = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)


def _attempt(session_id: str, question: str, score: float, *, learner: str = "alice",
             at: dt.datetime = T0) -> AttemptRecord:  # fmt: skip
    return AttemptRecord(
        session_id=session_id,
        learner=learner,
        set_id="covid",
        set_version="1",
        question_id=question,
        kind="category",
        topic="typical",
        answer={"said": "typical", "n": [1, 2]},
        score=score,
        points=1.0,
        correct=score >= 1.0,
        submitted_at=at,
        shown_at=at - dt.timedelta(seconds=12),
        seconds=12.0,
    )


def _session(book: Gradebook, learner: str = "alice", ids=("q1", "q2", "q3")):
    return book.create_session(
        learner=learner, set_id="covid", set_version="1", mode="practice", question_ids=ids,
        started_at=T0, seed=7,
    )  # fmt: skip


def test_attempts_are_committed_and_read_back(tmp_path):
    path = tmp_path / "book" / "grades.sqlite"
    book = Gradebook(path)
    s = _session(book)
    saved = book.record_attempt(_attempt(s.id, "q1", 1.0))
    assert saved.id is not None
    book.close()
    # a fresh connection (another kernel) sees it: it was committed
    again = Gradebook(path)
    (got,) = again.attempts(session_id=s.id)
    assert got.answer == {"said": "typical", "n": [1, 2]}
    assert got.submitted_at == T0
    assert got.seconds == 12.0
    assert again.session(s.id).question_ids == ("q1", "q2", "q3")
    assert again.sessions(learner="alice", open_only=True)[0].id == s.id
    with sqlite3.connect(path) as raw:  # WAL is on
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_question_is_answered_once_per_session(tmp_path):
    book = Gradebook(tmp_path / "g.sqlite")
    s = _session(book)
    book.record_attempt(_attempt(s.id, "q1", 0.0))
    with pytest.raises(UsageError, match=r"question 'q1' is already answered in session .*"
                       r"an answer is final once submitted"):  # fmt: skip
        book.record_attempt(_attempt(s.id, "q1", 1.0))
    assert len(book.attempts(session_id=s.id)) == 1


def test_finish_session_keeps_the_first_time(tmp_path):
    book = Gradebook(tmp_path / "g.sqlite")
    s = _session(book)
    book.finish_session(s.id, T0 + dt.timedelta(minutes=5))
    book.finish_session(s.id, T0 + dt.timedelta(minutes=9))
    assert book.session(s.id).finished_at == T0 + dt.timedelta(minutes=5)
    assert book.sessions(learner="alice", open_only=True) == []


def test_password_is_masked_in_repr():
    from teachingfiles.quiz.gradebook import _safe_url

    assert _safe_url("postgresql+psycopg://bob:s3cret@db:5432/x") == (
        "postgresql+psycopg://bob:***@db:5432/x"
    )


# ------------------------------------------------------------------ spaced repetition


def test_leitner_boxes_missed_questions_come_back_sooner():
    right = next_review(None, "q", 1.0, T0)
    assert (right.box, right.due_at) == (1, T0 + dt.timedelta(days=INTERVALS[1]))
    right2 = next_review(right, "q", 1.0, T0)
    assert right2.box == 2
    half = next_review(right2, "q", 0.5, T0)
    assert half.box == 1
    wrong = next_review(right2, "q", 0.0, T0)
    assert (wrong.box, wrong.due_at, wrong.attempts) == (0, T0, 3)
    top = right
    for _ in range(10):
        top = next_review(top, "q", 1.0, T0)
    assert top.box == len(INTERVALS) - 1


def test_review_state_is_kept_in_the_gradebook(tmp_path):
    book = Gradebook(tmp_path / "g.sqlite")
    s = _session(book)
    book.record_attempt(_attempt(s.id, "q1", 1.0))
    book.record_attempt(_attempt(s.id, "q2", 0.0))
    s2 = _session(book)
    book.record_attempt(_attempt(s2.id, "q1", 1.0, at=T0 + dt.timedelta(days=1)))
    items = {i.question_id: i for i in book.review_items("alice", "covid")}
    assert items["q1"].box == 2
    assert items["q1"].attempts == 2
    assert items["q2"].box == 0
    queue = review_queue(items.values(), ["q1", "q2", "q3"], T0 + dt.timedelta(hours=1))
    assert queue == ["q2", "q3"]  # the missed one, then the unseen one
    later = T0 + dt.timedelta(days=30)
    assert review_queue(items.values(), ["q1", "q2", "q3"], later, include_new=False) == [
        "q2",
        "q1",
    ]


# ------------------------------------------------------------------ concurrent writers

WORKERS = 4
PER_WORKER = 25
QUESTIONS = [f"q{i}" for i in range(5)]


def _writer(url: str, worker: int, barrier) -> None:
    book = Gradebook(url)
    own = _session(book, learner="shared", ids=[f"w{worker}-{i}" for i in range(PER_WORKER)])
    barrier.wait()
    for i in range(PER_WORKER):
        book.record_attempt(_attempt(own.id, f"w{worker}-{i}", float(i % 2), learner="shared",
                                     at=T0 + dt.timedelta(seconds=i)))  # fmt: skip
        # and an attempt at one of five shared questions, each in its own session: every
        # worker updates the same five review rows at once (maximum contention)
        shared = QUESTIONS[i % len(QUESTIONS)]
        s = book.create_session(learner="shared", set_id="covid", set_version="1",
                                mode="practice", question_ids=[shared], started_at=T0)  # fmt: skip
        book.record_attempt(_attempt(s.id, shared, 1.0, learner="shared"))
    book.close()


def _run_concurrently(url: str) -> Gradebook:
    Gradebook(url).close()  # create the tables once, before the writers race
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(WORKERS)
    procs = [ctx.Process(target=_writer, args=(url, w, barrier)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * WORKERS
    return Gradebook(url)


def _check_nothing_lost(book: Gradebook) -> None:
    attempts = book.attempts(learner="shared")
    assert len(attempts) == WORKERS * PER_WORKER * 2
    per_question = Counter(a.question_id for a in attempts)
    items = {i.question_id: i for i in book.review_items("shared", "covid")}
    # each review row counted every attempt at its question: no update was lost
    for question, item in items.items():
        assert item.attempts == per_question[question], question
    assert sum(i.attempts for i in items.values()) == len(attempts)


def test_concurrent_writers_on_sqlite_lose_nothing(tmp_path):
    book = _run_concurrently(f"sqlite:///{tmp_path / 'race.sqlite'}")
    _check_nothing_lost(book)


@pytest.fixture(scope="module")
def pg_url():
    with postgres_server() as url:
        yield url


@pytest.mark.server
def test_gradebook_on_postgresql(pg_url):
    book = Gradebook(pg_url)
    s = _session(book, learner="pg-alice")
    book.record_attempt(_attempt(s.id, "q1", 1.0, learner="pg-alice"))
    with pytest.raises(UsageError, match="already answered"):
        book.record_attempt(_attempt(s.id, "q1", 1.0, learner="pg-alice"))
    (got,) = book.attempts(session_id=s.id)
    assert got.submitted_at == T0
    assert got.answer == {"said": "typical", "n": [1, 2]}
    assert book.review_items("pg-alice", "covid")[0].box == 1
    book.close()


@pytest.mark.server
def test_concurrent_writers_on_postgresql_lose_nothing(pg_url):
    book = _run_concurrently(pg_url)
    _check_nothing_lost(book)
