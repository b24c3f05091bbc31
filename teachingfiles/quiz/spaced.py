"""Spaced repetition: questions missed come back sooner (a Leitner scheme).

Each learner's question sits in a box. A right answer moves it up a box and
pushes its next review further out (:data:`INTERVALS`); a wrong answer sends it
back to box 0, due at once; half credit moves it down one box. The queue offers
due questions first (earliest due, lowest box), then questions never seen.

Example
-------
>>> import datetime as dt
>>> now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
>>> item = next_review(None, "q1", 1.0, now)
>>> item.box, item.due_at - now
(1, datetime.timedelta(days=1))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["INTERVALS", "ReviewItem", "next_review", "review_queue"]

#: Days until the next review for each box (box 0: due again at once).
INTERVALS: tuple[float, ...] = (0.0, 1.0, 3.0, 7.0, 16.0, 35.0)


@dataclass(frozen=True)
class ReviewItem:
    """Where one question stands for one learner."""

    question_id: str
    box: int
    due_at: dt.datetime
    last_score: float | None = None
    attempts: int = 0

    def is_due(self, now: dt.datetime) -> bool:
        """Whether the question should come back by ``now``."""
        return self.due_at <= now


def next_review(
    previous: ReviewItem | None, question_id: str, score: float, now: dt.datetime
) -> ReviewItem:
    """Return the review state after an answer scored ``score`` at ``now``."""
    box = 0 if previous is None else previous.box
    if score >= 1.0:
        box = min(box + 1, len(INTERVALS) - 1)
    elif score > 0.0:
        box = max(box - 1, 0)
    else:
        box = 0
    due = now + dt.timedelta(days=INTERVALS[box])
    count = 1 if previous is None else previous.attempts + 1
    return ReviewItem(question_id, box, due, score, count)


def review_queue(
    items: Iterable[ReviewItem],
    question_ids: Sequence[str],
    now: dt.datetime,
    *,
    limit: int | None = None,
    include_new: bool = True,
) -> list[str]:
    """Order the questions for a review session: due ones first, then unseen ones.

    Questions no longer in the set (``question_ids``) are left out.
    """
    known = set(question_ids)
    seen = {i.question_id: i for i in items if i.question_id in known}
    due = sorted(
        (i for i in seen.values() if i.is_due(now)),
        key=lambda i: (i.due_at, i.box, i.question_id),
    )
    queue = [i.question_id for i in due]
    if include_new:
        queue += [q for q in question_ids if q not in seen]
    return queue if limit is None else queue[:limit]
