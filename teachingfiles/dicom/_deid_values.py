"""The values de-identification writes: keyed UIDs, pseudonyms, shifted dates, dummies.

Everything derived from an identifier goes through one keyed hash (HMAC-SHA-256 with
the project secret), so the same input gives the same output in every file and in
every run that uses the same secret, and nobody without the secret can go back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Iterable

__all__ = [
    "DUMMIES",
    "Keys",
    "clean_text",
    "identifier_pattern",
    "shift_date",
    "shift_datetime",
]

#: Dummy values by VR for the ``D`` action (valid for the VR, identifying nothing).
DUMMIES: dict[str, str] = {
    "PN": "ANONYMIZED^",
    "LO": "REMOVED",
    "SH": "REMOVED",
    "ST": "REMOVED",
    "LT": "REMOVED",
    "UT": "REMOVED",
    "UC": "REMOVED",
    "CS": "REMOVED",
    "AE": "REMOVED",
    "DA": "19000101",
    "TM": "000000.00",
    "DT": "19000101000000.000000",
    "AS": "000D",
    "IS": "0",
    "DS": "0",
}


class Keys:
    """The keyed hash and what is derived from it.

    Parameters
    ----------
    secret
        The project secret (at least 16 bytes); keep it out of the output and out of
        version control: whoever holds it can confirm a guess of an original UID.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the de-identification secret must be at least 16 bytes")
        self._secret = secret
        self._uids: dict[str, str] = {}

    def digest(self, purpose: str, value: str) -> bytes:
        """HMAC-SHA-256 of ``purpose:value`` under the secret."""
        return hmac.new(self._secret, f"{purpose}:{value}".encode(), hashlib.sha256).digest()

    def uid(self, old: str) -> str:
        """Return the replacement of a UID: ``2.25.<128-bit integer>`` (at most 44 characters)."""
        old = old.strip("\0 ")
        new = self._uids.get(old)
        if new is None:
            new = "2.25." + str(int.from_bytes(self.digest("uid", old)[:16], "big"))
            self._uids[old] = new
        return new

    def pseudonym(self, patient_id: str) -> str:
        """Return the replacement PatientID: ``ANON-`` and 12 characters of the keyed hash."""
        return "ANON-" + self.digest("patient", patient_id.strip()).hex()[:12].upper()

    def shift_days(self, patient_id: str) -> int:
        """Return the one date shift of this patient: 365 to 3,651 days into the past."""
        n = int.from_bytes(self.digest("dates", patient_id.strip())[:4], "big")
        return -(365 + n % 3287)


def shift_date(value: str, days: int) -> str:
    """Shift a DA value (``YYYYMMDD``, or a range ``A-B``) by whole days.

    Returns the dummy date for values that are not dates.
    """
    if "-" in value:
        return "-".join(shift_date(part, days) if part else "" for part in value.split("-"))
    text = value.strip()
    if len(text) == 8 and text.isdigit():
        try:
            day = dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            return DUMMIES["DA"]
        return (day + dt.timedelta(days=days)).strftime("%Y%m%d")
    if len(text) == 10 and text[4] == "." and text[7] == ".":  # ACR-NEMA 'YYYY.MM.DD'
        return shift_date(text.replace(".", ""), days)
    return DUMMIES["DA"]


def shift_datetime(value: str, days: int) -> str:
    """Shift a DT value by whole days, keeping its precision, time and offset."""
    text = value.strip()
    digits = len(text) - len(text.lstrip("0123456789"))
    if digits < 4:
        return DUMMIES["DT"]
    date_part = text[: min(digits, 8)]
    padded = date_part + "0101"[len(date_part) - 4 :] if len(date_part) < 8 else date_part
    shifted = shift_date(padded, days)
    if shifted == DUMMIES["DA"] and padded != DUMMIES["DA"]:
        return DUMMIES["DT"]
    return shifted[: len(date_part)] + text[len(date_part) :]


_DATES = re.compile(r"\b(?:19|20)\d{2}[-./]?\d{2}[-./]?\d{2}\b")
_LONG_NUMBERS = re.compile(r"\b\d{5,}\b")


def identifier_pattern(identifiers: Iterable[str]) -> re.Pattern[str] | None:
    """One case-blind pattern matching any of these identifying values (longest first)."""
    words = sorted({i for i in identifiers if len(i) >= 3}, key=len, reverse=True)
    if not words:
        return None
    return re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)


def clean_text(value: str, identifiers: re.Pattern[str] | None) -> str:
    """Clean a descriptor: drop the file's identifying values, dates and long numbers.

    This is the Clean Descriptors option as far as it can be done automatically:
    every identifying value found in the same file (names and their parts, IDs,
    institution, addresses; see :func:`identifier_pattern`) is replaced by ``***``;
    so are dates and runs of five or more digits (record numbers). Free text can
    still name someone the file does not: review descriptors of your own data
    before publishing.
    """
    out = value if identifiers is None else identifiers.sub("***", value)
    out = _DATES.sub("***", out)
    return _LONG_NUMBERS.sub("***", out)
