"""RICORD's clinical spreadsheets (``.xlsx``): one row per study.

Columns in all three collections: ``Anon MRN`` (PatientID without the collection
prefix), ``Anon Age``, ``Anon Exam Description``, ``Anon Sex``, ``Anon Study UID``,
``Anon Image Count``, ``Modality``, ``Result``, ``Specimen Source``. The date column
is spelled differently per collection (see :data:`DATE_COLUMNS`); 1b adds
``Symptomatic``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from teachingfiles.errors import FormatError

__all__ = [
    "BASE_COLUMNS",
    "DATE_COLUMNS",
    "ClinicalRow",
    "read_clinical_xlsx",
    "write_clinical_xlsx",
]

BASE_COLUMNS: tuple[str, ...] = (
    "Anon MRN",
    "Anon Age",
    "Anon Exam Description",
    "Anon Sex",
    "Anon Study UID",
    "Anon Image Count",
    "Modality",
    "Result",
    "Specimen Source",
)

#: The study date column as each RICORD collection spells it.
DATE_COLUMNS: dict[str, str] = {
    "1a": "AnonTCIA Study Date",
    "1b": "Anon Study Date",
    "1c": "Anon TCIA Study Date",
}
_ANY_DATE = tuple(dict.fromkeys(DATE_COLUMNS.values()))


@dataclass(frozen=True)
class ClinicalRow:
    """One study's clinical row, with the values as a teaching tool uses them."""

    mrn: str
    age: int | None
    exam_description: str
    sex: str
    study_uid: str
    image_count: int | None
    modality: str
    result: str  # "DETECTED" / "NOT DETECTED"
    specimen_source: str
    study_date: str  # as written, e.g. "8/2/2002"
    symptomatic: str | None = None
    row: int | None = None  # 1-based spreadsheet row it came from
    sheet: str | None = None

    @property
    def covid_positive(self) -> bool | None:
        """``True`` for DETECTED, ``False`` for NOT DETECTED, else ``None``."""
        text = self.result.strip().upper()
        if text == "DETECTED":
            return True
        if text in ("NOT DETECTED", "NOTDETECTED"):
            return False
        return None


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(float(str(value).strip().rstrip("Yy")))
    except ValueError:
        return None


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value).strip()


def _date_text(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return f"{value.month}/{value.day}/{value.year}"
    return "" if value is None else str(value).strip()


def write_clinical_xlsx(
    rows: Iterable[ClinicalRow],
    path: str | PathLike[str],
    *,
    collection: str,
    sheet: str = "Sheet1",
) -> Path:
    """Write a clinical sheet with RICORD's columns for ``collection`` (1a, 1b or 1c)."""
    from openpyxl import Workbook  # heavy import, only when writing

    key = collection.lower()[-2:]
    if key not in DATE_COLUMNS:
        raise ValueError(f"collection {collection!r}: expected one ending in 1a, 1b or 1c")
    header = [*BASE_COLUMNS[:5], DATE_COLUMNS[key], *BASE_COLUMNS[5:]]
    if key == "1b":
        header.append("Symptomatic")
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(header)
    for r in rows:
        values: list[Any] = [
            r.mrn, r.age, r.exam_description, r.sex, r.study_uid, r.study_date,
            r.image_count, r.modality, r.result, r.specimen_source,
        ]  # fmt: skip
        if key == "1b":
            values.append(r.symptomatic)
        ws.append(values)
    p = Path(path)
    wb.save(p)
    return p


def read_clinical_xlsx(path: str | PathLike[str]) -> list[ClinicalRow]:
    """Read every sheet of a clinical workbook whose header has RICORD's columns.

    Raises
    ------
    FormatError
        If no sheet has the ``Anon Study UID`` and ``Anon MRN`` columns, or the file
        is not a readable workbook.
    """
    from openpyxl import load_workbook

    p = Path(path)
    try:
        wb = load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise FormatError(f"not a readable .xlsx workbook ({exc})", path=p) from exc
    rows: list[ClinicalRow] = []
    found = False
    try:
        for ws in wb.worksheets:
            it = ws.iter_rows(values_only=True)
            header_row = next(it, None)
            if not header_row:
                continue
            header = [str(h).strip() if h is not None else "" for h in header_row]
            if "Anon Study UID" not in header or "Anon MRN" not in header:
                continue
            found = True
            rows.extend(_rows_of(header, it, ws.title))
    finally:
        wb.close()
    if not found:
        raise FormatError(
            "no sheet with the columns 'Anon MRN' and 'Anon Study UID'; expected a "
            "RICORD clinical data workbook",
            path=p,
        )
    return rows


def _rows_of(header: Sequence[str], it: Iterable[Sequence[Any]], sheet: str) -> list[ClinicalRow]:
    col = {name: i for i, name in enumerate(header)}
    date_col = next((c for c in _ANY_DATE if c in col), None)

    def get(values: Sequence[Any], name: str | None) -> Any:
        if name is None or name not in col or col[name] >= len(values):
            return None
        return values[col[name]]

    out = []
    for row_no, values in enumerate(it, start=2):
        uid = get(values, "Anon Study UID")
        if uid is None or str(uid).strip() == "":
            continue
        out.append(
            ClinicalRow(
                mrn=str(get(values, "Anon MRN") or "").strip(),
                age=_int(get(values, "Anon Age")),
                exam_description=str(get(values, "Anon Exam Description") or "").strip(),
                sex=str(get(values, "Anon Sex") or "").strip(),
                study_uid=str(uid).strip(),
                image_count=_int(get(values, "Anon Image Count")),
                modality=str(get(values, "Modality") or "").strip(),
                result=str(get(values, "Result") or "").strip(),
                specimen_source=str(get(values, "Specimen Source") or "").strip(),
                study_date=_date_text(get(values, date_col)),
                symptomatic=_text_or_none(get(values, "Symptomatic")),
                row=row_no,
                sheet=sheet,
            )
        )
    return out
