"""Questions, scoring, quiz sessions and the gradebook: everything scored in the kernel.

Data flow: a :class:`~teachingfiles.cases.TeachingSet` is resolved against a
repository (:func:`resolve`) into a :class:`Quiz`; a :class:`QuizSession` asks its
questions and commits each answer to the :class:`Gradebook` before returning the
:class:`Feedback`. The browser only ever sees :meth:`ResolvedQuestion.public_view`.
"""

from __future__ import annotations

from teachingfiles.quiz.gradebook import AttemptRecord, Gradebook, SessionRecord
from teachingfiles.quiz.questions import (
    AnswerKey,
    Feedback,
    Question,
    QuestionKind,
    ResolvedQuestion,
    choice_order,
)
from teachingfiles.quiz.resolve import CaseSource, Quiz, resolve
from teachingfiles.quiz.scoring import Region, Score
from teachingfiles.quiz.session import Mode, Order, QuizSession, Submission
from teachingfiles.quiz.spaced import ReviewItem, next_review, review_queue
from teachingfiles.quiz.summary import Summary, TopicScore, score_chart, summarize

__all__ = [
    "AnswerKey",
    "AttemptRecord",
    "CaseSource",
    "Feedback",
    "Gradebook",
    "Mode",
    "Order",
    "Question",
    "QuestionKind",
    "Quiz",
    "QuizSession",
    "Region",
    "ResolvedQuestion",
    "ReviewItem",
    "Score",
    "SessionRecord",
    "Submission",
    "Summary",
    "TopicScore",
    "choice_order",
    "next_review",
    "resolve",
    "review_queue",
    "score_chart",
    "summarize",
]
