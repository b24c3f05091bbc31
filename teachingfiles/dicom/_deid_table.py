"""The PS3.15 Annex E attribute table, read from the data file shipped in the package.

The table itself is data: ``teachingfiles/dicom/data/ps3.15_annex_e.csv`` holds every
row of Table E.1-1 ("Application Level Confidentiality Profile Attributes") with its
tag, keyword, Basic Profile action and option columns, and names the edition it
follows. It was transcribed, not downloaded (its header says how). This module reads
it once and resolves, for a set of options, the single action each tag gets.

Compound codes are resolved the way that keeps the object valid whatever the
attribute's type in its IOD: anything allowing ``D`` becomes ``D`` (a dummy is valid
even for Type 1), else anything allowing ``Z`` becomes ``Z`` (valid for Type 2), else
``U`` (``X/Z/U*``: UIDs are replaced, a sequence holding them is walked); plain ``X``
stays ``X``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

__all__ = [
    "OPTION_COLUMNS",
    "Action",
    "AnnexERow",
    "AnnexETable",
    "annex_e",
]

#: The option columns of the data file, in the standard's order.
OPTION_COLUMNS: tuple[str, ...] = (
    "rtn_safe_priv",
    "rtn_uids",
    "rtn_dev_id",
    "rtn_inst_id",
    "rtn_pat_chars",
    "rtn_long_full_dates",
    "rtn_long_modif_dates",
    "clean_desc",
    "clean_struct_cont",
    "clean_graph",
)

_CODES = frozenset({"D", "Z", "X", "K", "C", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"})


class Action(StrEnum):
    """What happens to one attribute (after compound codes are resolved)."""

    DUMMY = "D"
    ZERO = "Z"
    REMOVE = "X"
    KEEP = "K"
    CLEAN = "C"
    UID = "U"

    @classmethod
    def resolve(cls, code: str) -> Action:
        """Resolve a table code (``"X/Z/D"`` ...) to one action (see the module notes)."""
        if code not in _CODES:
            raise ValueError(f"{code!r} is not an Annex E action code; expected one of {_CODES}")
        if code == "X/Z/U*":  # UIDs replaced; anything else (a sequence) walked or emptied
            return cls.UID
        parts = code.split("/")
        for choice in ("D", "Z", "U", "K", "C", "X"):  # the first allowed wins
            if choice in parts:
                return cls(choice)
        raise AssertionError(code)  # pragma: no cover - every code holds one of them


@dataclass(frozen=True)
class AnnexERow:
    """One row of Table E.1-1.

    Parameters
    ----------
    tag
        The tag as the standard writes it, ``"(0010,0010)"``; ``xx`` marks the
        repeating-group digits (``"(60xx,3000)"``).
    keyword, name, vr
        pydicom's keyword and VR, and the standard's name.
    basic
        The Basic Profile code, as written (``"X/Z/D"``).
    options
        Option column -> code, for the columns that are not empty.
    """

    tag: str
    keyword: str
    name: str
    vr: str
    basic: str
    options: dict[str, str]

    @property
    def value(self) -> int:
        """The tag as an integer (repeating-group digits and ``xxxx`` as zero)."""
        return int(self.tag.strip("()").replace(",", "").replace("x", "0"), 16)

    @property
    def mask(self) -> int:
        """The bits of :attr:`value` that a tag must match (``xx`` digits are free)."""
        text = self.tag.strip("()").replace(",", "")
        return int("".join("0" if c == "x" else "F" for c in text), 16)

    def action(self, options: frozenset[str] = frozenset()) -> Action:
        """Return the action under these option columns.

        An option that keeps (``K``) wins over one that cleans (``C``), which wins
        over the Basic Profile.
        """
        codes = [self.options[c] for c in options if c in self.options]
        if "K" in codes:
            return Action.KEEP
        if "C" in codes:
            return Action.CLEAN
        return Action.resolve(self.basic)


@dataclass(frozen=True)
class AnnexETable:
    """Table E.1-1 as data: its edition and rows."""

    edition: str
    rows: tuple[AnnexERow, ...]

    def actions(self, options: frozenset[str] = frozenset()) -> dict[int, Action]:
        """Return tag -> action for the rows with fixed tags under these options."""
        return {r.value: r.action(options) for r in self.rows if "x" not in r.tag}

    def repeating(self, options: frozenset[str] = frozenset()) -> list[tuple[int, int, Action]]:
        """Return ``(mask, value, action)`` for the repeating-group rows (50xx, 60xx)."""
        return [(r.mask, r.value, r.action(options)) for r in self.rows if "x" in r.tag]

    def row(self, keyword: str) -> AnnexERow:
        """Return the row of this keyword (``KeyError`` if the table has none)."""
        for r in self.rows:
            if r.keyword == keyword:
                return r
        raise KeyError(f"{keyword!r} is not in PS3.15 Table E.1-1 ({self.edition})")


@cache
def annex_e() -> AnnexETable:
    """Read the shipped table (once per process).

    Example
    -------
    >>> annex_e().row("PatientName").basic
    'Z'
    """
    text = (
        resources.files("teachingfiles.dicom")
        .joinpath("data", "ps3.15_annex_e.csv")
        .read_text(encoding="utf-8")
    )
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    edition_line, body = lines[0], lines[1:]
    key, _, edition = edition_line.partition(",")
    if key != "edition" or not edition:
        raise ValueError("ps3.15_annex_e.csv: the first data line must be 'edition,<edition>'")
    rows = []
    for rec in csv.DictReader(body):
        code = rec["basic"]
        if code not in _CODES:
            raise ValueError(f"ps3.15_annex_e.csv: {rec['tag']}: unknown action code {code!r}")
        opts = {c: rec[c] for c in OPTION_COLUMNS if rec.get(c)}
        rows.append(AnnexERow(rec["tag"], rec["keyword"], rec["name"], rec["vr"], code, opts))
    return AnnexETable(edition, tuple(rows))
