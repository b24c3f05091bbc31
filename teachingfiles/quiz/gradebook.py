"""The gradebook: every attempt, committed before its feedback is shown.

A SQLAlchemy store of quiz sessions, attempts (learner, set and version, question,
answer, score, timestamps, time spent) and the spaced-repetition state of each
learner's questions. By default a SQLite file in WAL mode; any SQLAlchemy URL
(``postgresql+psycopg://...``) serves many learners at once with the same code.

Concurrency
-----------
Each write is one short transaction. On SQLite every transaction begins with
``BEGIN IMMEDIATE`` (SQLAlchemy's documented pysqlite recipe) so two writers queue
on the busy timeout instead of failing when a reader upgrades to a writer; on
PostgreSQL the review row is locked with ``SELECT ... FOR UPDATE``.

Example
-------
>>> book = Gradebook("gradebook.sqlite")
>>> book.sessions(learner="alice")
[]
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

from teachingfiles.errors import NotFoundError, RepositoryError, UsageError
from teachingfiles.quiz.spaced import ReviewItem, next_review

__all__ = ["AttemptRecord", "Gradebook", "SessionRecord"]

_meta = MetaData()

sessions = Table(
    "quiz_sessions",
    _meta,
    Column("id", String(36), primary_key=True),
    Column("learner", String(200), nullable=False, index=True),
    Column("set_id", String(200), nullable=False, index=True),
    Column("set_version", String(50), nullable=False),
    Column("mode", String(20), nullable=False),
    Column("purpose", String(20), nullable=False, default="full"),
    Column("seed", Integer),
    Column("question_ids", Text, nullable=False),
    Column("time_limit_s", Float),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
)

attempts = Table(
    "quiz_attempts",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(36), ForeignKey("quiz_sessions.id"), nullable=False, index=True),
    Column("learner", String(200), nullable=False, index=True),
    Column("set_id", String(200), nullable=False),
    Column("set_version", String(50), nullable=False),
    Column("question_id", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("topic", String(200)),
    Column("answer", Text, nullable=False),
    Column("score", Float, nullable=False),
    Column("points", Float, nullable=False, default=1.0),
    Column("correct", Boolean, nullable=False),
    Column("shown_at", DateTime),
    Column("submitted_at", DateTime, nullable=False),
    Column("seconds", Float),
    UniqueConstraint("session_id", "question_id", name="one_attempt_per_question"),
)

reviews = Table(
    "quiz_reviews",
    _meta,
    Column("learner", String(200), primary_key=True),
    Column("set_id", String(200), primary_key=True),
    Column("question_id", String(200), primary_key=True),
    Column("box", Integer, nullable=False, default=0),
    Column("due_at", DateTime, nullable=False),
    Column("last_score", Float),
    Column("attempts", Integer, nullable=False, default=0),
    Column("updated_at", DateTime),
)


def _naive_utc(when: dt.datetime) -> dt.datetime:
    if when.tzinfo is None:
        return when
    return when.astimezone(dt.UTC).replace(tzinfo=None)


def _aware(when: dt.datetime | None) -> dt.datetime | None:
    if when is None:
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when


@dataclass(frozen=True)
class SessionRecord:
    """A quiz session as stored: who, which set, which questions in which order."""

    id: str
    learner: str
    set_id: str
    set_version: str
    mode: str
    purpose: str
    seed: int | None
    question_ids: tuple[str, ...]
    time_limit_s: float | None
    started_at: dt.datetime
    finished_at: dt.datetime | None = None


@dataclass(frozen=True)
class AttemptRecord:
    """One submitted answer and its score."""

    session_id: str
    learner: str
    set_id: str
    set_version: str
    question_id: str
    kind: str
    topic: str | None
    answer: Any
    score: float
    points: float
    correct: bool
    submitted_at: dt.datetime
    shown_at: dt.datetime | None = None
    seconds: float | None = None
    id: int | None = None


class Gradebook:
    """The store of sessions, attempts and review state.

    Parameters
    ----------
    url
        A SQLAlchemy URL (``postgresql+psycopg://user@host:port/db``) or a path
        to a SQLite file (created with its folder if absent).
    echo
        Log every SQL statement (debugging).
    """

    def __init__(self, url: str | PathLike[str], *, echo: bool = False) -> None:
        text = str(url)
        if "://" not in text:
            path = Path(text).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            text = f"sqlite:///{path}"
        self.url = text
        try:
            self._engine: Engine = _make_engine(text, echo)
            _meta.create_all(self._engine)
        except SQLAlchemyError as exc:
            raise RepositoryError(f"gradebook {_safe_url(text)}: cannot open: {exc}") from exc

    def close(self) -> None:
        """Release the connections."""
        self._engine.dispose()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Gradebook({_safe_url(self.url)!r})"

    # -------------------------------------------------------------- sessions

    def create_session(
        self,
        *,
        learner: str,
        set_id: str,
        set_version: str,
        mode: str,
        question_ids: Sequence[str],
        started_at: dt.datetime,
        purpose: str = "full",
        seed: int | None = None,
        time_limit_s: float | None = None,
    ) -> SessionRecord:
        """Store a new session and return it."""
        if not learner.strip():
            raise UsageError("a learner name is required to keep their progress")
        record = SessionRecord(
            id=str(uuid.uuid4()),
            learner=learner,
            set_id=set_id,
            set_version=set_version,
            mode=mode,
            purpose=purpose,
            seed=seed,
            question_ids=tuple(question_ids),
            time_limit_s=time_limit_s,
            started_at=started_at,
        )
        row = {**record.__dict__, "question_ids": json.dumps(list(record.question_ids))}
        row["started_at"] = _naive_utc(started_at)
        with self._engine.begin() as conn:
            conn.execute(insert(sessions).values(**row))
        return record

    def session(self, session_id: str) -> SessionRecord:
        """Return the session with this id (``NotFoundError`` if none)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(sessions).where(sessions.c.id == session_id)).first()
        if row is None:
            raise NotFoundError(f"no quiz session {session_id!r} in {self!r}")
        return _session(row)

    def sessions(
        self,
        *,
        learner: str | None = None,
        set_id: str | None = None,
        set_version: str | None = None,
        mode: str | None = None,
        purpose: str | None = None,
        open_only: bool = False,
    ) -> list[SessionRecord]:
        """List sessions, newest first, filtered by the arguments given."""
        query = select(sessions).order_by(sessions.c.started_at.desc(), sessions.c.id)
        for column, value in (
            (sessions.c.learner, learner),
            (sessions.c.set_id, set_id),
            (sessions.c.set_version, set_version),
            (sessions.c.mode, mode),
            (sessions.c.purpose, purpose),
        ):
            if value is not None:
                query = query.where(column == value)
        if open_only:
            query = query.where(sessions.c.finished_at.is_(None))
        with self._engine.connect() as conn:
            return [_session(r) for r in conn.execute(query)]

    def finish_session(self, session_id: str, at: dt.datetime) -> None:
        """Mark a session finished (a second call keeps the first time)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(sessions)
                .where(sessions.c.id == session_id, sessions.c.finished_at.is_(None))
                .values(finished_at=_naive_utc(at))
            )

    # -------------------------------------------------------------- attempts

    def record_attempt(self, attempt: AttemptRecord) -> AttemptRecord:
        """Commit one attempt and update its review state, in one transaction.

        Raises
        ------
        UsageError
            If this session already holds an answer to this question.
        """
        row = {k: v for k, v in attempt.__dict__.items() if k != "id"}
        row["answer"] = json.dumps(attempt.answer)
        row["submitted_at"] = _naive_utc(attempt.submitted_at)
        row["shown_at"] = None if attempt.shown_at is None else _naive_utc(attempt.shown_at)
        try:
            with self._engine.begin() as conn:
                new_id = conn.execute(insert(attempts).values(**row)).inserted_primary_key
                self._update_review(conn, attempt)
        except IntegrityError as exc:
            raise UsageError(
                f"question {attempt.question_id!r} is already answered in session "
                f"{attempt.session_id}; an answer is final once submitted"
            ) from exc
        return AttemptRecord(**{**attempt.__dict__, "id": int(new_id[0]) if new_id else None})

    def attempts(
        self,
        *,
        session_id: str | None = None,
        learner: str | None = None,
        set_id: str | None = None,
    ) -> list[AttemptRecord]:
        """List attempts in the order they were submitted."""
        query = select(attempts).order_by(attempts.c.submitted_at, attempts.c.id)
        for column, value in (
            (attempts.c.session_id, session_id),
            (attempts.c.learner, learner),
            (attempts.c.set_id, set_id),
        ):
            if value is not None:
                query = query.where(column == value)
        with self._engine.connect() as conn:
            return [_attempt(r) for r in conn.execute(query)]

    # -------------------------------------------------------------- reviews

    def _update_review(self, conn: Any, attempt: AttemptRecord) -> None:
        key = (
            (reviews.c.learner == attempt.learner)
            & (reviews.c.set_id == attempt.set_id)
            & (reviews.c.question_id == attempt.question_id)
        )
        row = conn.execute(select(reviews).where(key).with_for_update()).first()
        previous = None if row is None else _review(row)
        when = attempt.submitted_at
        when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when
        item = next_review(previous, attempt.question_id, attempt.score, when)
        values = {
            "box": item.box,
            "due_at": _naive_utc(item.due_at),
            "last_score": item.last_score,
            "attempts": item.attempts,
            "updated_at": _naive_utc(attempt.submitted_at),
        }
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(reviews).values(
                            learner=attempt.learner,
                            set_id=attempt.set_id,
                            question_id=attempt.question_id,
                            **values,
                        )
                    )
            except IntegrityError:  # another writer inserted it first: lock and redo
                self._update_review(conn, attempt)
            return
        conn.execute(update(reviews).where(key).values(**values))

    def review_items(self, learner: str, set_id: str) -> list[ReviewItem]:
        """List the learner's review state for every question of the set seen so far."""
        query = (
            select(reviews)
            .where(reviews.c.learner == learner, reviews.c.set_id == set_id)
            .order_by(reviews.c.due_at, reviews.c.box, reviews.c.question_id)
        )
        with self._engine.connect() as conn:
            return [_review(r) for r in conn.execute(query)]


def _make_engine(url: str, echo: bool) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, echo=echo, pool_pre_ping=True)
    engine = create_engine(url, echo=echo, connect_args={"timeout": 60})

    # SQLAlchemy's recipe for pysqlite: let SQLAlchemy emit BEGIN itself, and make it
    # BEGIN IMMEDIATE so concurrent writers wait on the busy timeout, never deadlock.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        if ":memory:" not in url and url != "sqlite://":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _safe_url(url: str) -> str:
    """Return the URL with any password masked (SQLAlchemy's own rendering)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL: a SQLite path
        return url


def _session(r: Any) -> SessionRecord:
    started = _aware(r.started_at)
    assert started is not None
    return SessionRecord(
        id=r.id,
        learner=r.learner,
        set_id=r.set_id,
        set_version=r.set_version,
        mode=r.mode,
        purpose=r.purpose,
        seed=r.seed,
        question_ids=tuple(json.loads(r.question_ids)),
        time_limit_s=r.time_limit_s,
        started_at=started,
        finished_at=_aware(r.finished_at),
    )


def _attempt(r: Any) -> AttemptRecord:
    submitted = _aware(r.submitted_at)
    assert submitted is not None
    return AttemptRecord(
        id=r.id,
        session_id=r.session_id,
        learner=r.learner,
        set_id=r.set_id,
        set_version=r.set_version,
        question_id=r.question_id,
        kind=r.kind,
        topic=r.topic,
        answer=json.loads(r.answer),
        score=r.score,
        points=r.points,
        correct=bool(r.correct),
        submitted_at=submitted,
        shown_at=_aware(r.shown_at),
        seconds=r.seconds,
    )


def _review(r: Any) -> ReviewItem:
    due = _aware(r.due_at)
    assert due is not None
    return ReviewItem(
        question_id=r.question_id,
        box=r.box,
        due_at=due,
        last_score=r.last_score,
        attempts=r.attempts,
    )
