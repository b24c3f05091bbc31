"""Reader agreement on study labels: who said which category, and what they agree on.

RICORD 1c has three readers per radiograph (label groups "Reader 1..3") and an
"Adjudication" group on the studies where they disagreed; 1a has one study label
per study. The rules used throughout:

- a reader's *vote* is the RSNA category (or severity) label they gave; the
  adjudicator does not vote;
- the *consensus* is the adjudicator's label when there is one, else the label of a
  strict majority of the readers who voted, else none;
- ``reader_agreement="any"`` matches a study where any reader or the adjudicator
  gave the label, ``"majority"`` one whose consensus is the label, ``"unanimous"``
  one where every reader who voted gave it (and no adjudicator said otherwise).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TypeVar

from teachingfiles.errors import UsageError
from teachingfiles.repository.records import ReaderLabel
from teachingfiles.vocabulary import Appearance, Severity

__all__ = [
    "AGREEMENTS",
    "appearance_of",
    "check_agreement",
    "consensus",
    "make_reader_label",
    "matches",
    "severity_of",
    "votes",
]

#: The accepted values of ``reader_agreement``.
AGREEMENTS = ("any", "majority", "unanimous")

_READER_GROUP = re.compile(r"^\s*(reader|adjudicat)", re.IGNORECASE)
E = TypeVar("E", Appearance, Severity)


def appearance_of(label_name: str) -> Appearance | None:
    """Return the RSNA category a label names (``"Typical Appearance"``), else None."""
    try:
        return Appearance.parse(label_name)
    except ValueError:
        return None


def severity_of(label_name: str) -> Severity | None:
    """Return the airspace disease grade a label names (``"Moderate"``), else None."""
    try:
        return Severity.parse(label_name)
    except ValueError:
        return None


def make_reader_label(
    *, created_by: str | None, group_name: str | None, label_name: str, label_id: str
) -> ReaderLabel:
    """Build a :class:`ReaderLabel`, naming the reader by group if it is a reader's."""
    if group_name and _READER_GROUP.match(group_name):
        reader = group_name
    else:
        reader = created_by or group_name or "(unknown reader)"
    return ReaderLabel(
        reader=reader,
        created_by=created_by,
        group_name=group_name,
        label_name=label_name,
        label_id=label_id,
        appearance=appearance_of(label_name),
        severity=severity_of(label_name),
    )


def _value(label: ReaderLabel, kind: type[E]) -> E | None:
    value = label.appearance if kind is Appearance else label.severity
    return value if isinstance(value, kind) else None


def votes(labels: Iterable[ReaderLabel], kind: type[E]) -> Counter[E]:
    """How many readers (not the adjudicator) gave each value; one vote per reader."""
    seen: dict[str, E] = {}
    for label in labels:
        value = _value(label, kind)
        if value is not None and not label.is_adjudication:
            seen.setdefault(label.reader, value)
    return Counter(seen.values())


def consensus(labels: Sequence[ReaderLabel], kind: type[E]) -> E | None:
    """Return the adjudicated value, else a strict majority of readers' votes, else None."""
    for label in labels:
        value = _value(label, kind)
        if value is not None and label.is_adjudication:
            return value
    counts = votes(labels, kind)
    total = sum(counts.values())
    for value, n in counts.items():
        if 2 * n > total:
            return value
    return None


def check_agreement(reader_agreement: str) -> str:
    """Validate ``reader_agreement``; raises :class:`UsageError` naming the choices."""
    if reader_agreement not in AGREEMENTS:
        raise UsageError(
            f"reader_agreement={reader_agreement!r}; expected one of "
            + ", ".join(repr(a) for a in AGREEMENTS)
        )
    return reader_agreement


def matches(labels: Sequence[ReaderLabel], wanted: E, reader_agreement: str) -> bool:
    """Whether the study's labels give ``wanted`` under the agreement rule."""
    kind = type(wanted)
    if reader_agreement == "any":
        return any(_value(label, kind) is wanted for label in labels)
    if reader_agreement == "majority":
        return consensus(labels, kind) is wanted
    counts = votes(labels, kind)
    adjudicated = [v for v in (_value(lab, kind) for lab in labels if lab.is_adjudication) if v]
    return bool(counts) and set(counts) == {wanted} and all(v is wanted for v in adjudicated)
