"""RICORD clinical spreadsheets: write, read back, and the per-collection date column."""

import datetime as dt

import pytest

from teachingfiles.errors import FormatError
from teachingfiles.repository.clinical import (
    DATE_COLUMNS,
    ClinicalRow,
    read_clinical_xlsx,
    write_clinical_xlsx,
)


def _rows(symptomatic=None):
    return [
        ClinicalRow(mrn="SYN001-000001", age=54, exam_description="CT CHEST WO CONTRAST",
                    sex="M", study_uid="1.2.3", image_count=64, modality="CT",
                    result="DETECTED", specimen_source="NP swab", study_date="4/15/2020",
                    symptomatic=symptomatic, row=2, sheet="Sheet1"),
        ClinicalRow(mrn="SYN001-000002", age=None, exam_description="CT CHEST",
                    sex="F", study_uid="1.2.4", image_count=None, modality="CT",
                    result="NOT DETECTED", specimen_source="", study_date="8/2/2020",
                    symptomatic=symptomatic, row=3, sheet="Sheet1"),
    ]  # fmt: skip


@pytest.mark.parametrize("collection", ["DEMO-RICORD-1A", "MIDRC-RICORD-1c"])
def test_round_trip(tmp_path, collection):
    path = write_clinical_xlsx(_rows(), tmp_path / "c.xlsx", collection=collection)
    assert read_clinical_xlsx(path) == _rows()


def test_1b_has_symptomatic_and_its_own_date_column(tmp_path):
    from openpyxl import load_workbook

    rows = _rows(symptomatic="Yes")
    path = write_clinical_xlsx(rows, tmp_path / "b.xlsx", collection="DEMO-RICORD-1B")
    header = [c.value for c in next(load_workbook(path).active.iter_rows())]
    assert DATE_COLUMNS["1b"] in header and "Symptomatic" in header
    back = read_clinical_xlsx(path)
    assert [r.symptomatic for r in back] == ["Yes", "Yes"]
    assert [r.covid_positive for r in back] == [True, False]


def test_reads_real_cells_dates_and_numbers(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "CR Pos - TCIA Submission"
    ws.append(
        [
            "Anon MRN",
            "Anon Age",
            "Anon Exam Description",
            "Anon Sex",
            "Anon Study UID",
            "Anon TCIA Study Date",
            "Anon Image Count",
            "Modality",
            "Result",
            "Specimen Source",
        ]
    )
    ws.append(
        [
            "419639-000082",
            "67",
            "XR CHEST AP PORTABLE",
            "F",
            "1.2.9",
            dt.datetime(2002, 8, 2),
            1.0,
            "CR",
            "DETECTED",
            "NP",
        ]
    )
    ws.append([None] * 10)  # blank rows are skipped
    wb.save(tmp_path / "r.xlsx")
    (row,) = read_clinical_xlsx(tmp_path / "r.xlsx")
    assert (row.age, row.image_count, row.study_date) == (67, 1, "8/2/2002")
    assert row.sheet == "CR Pos - TCIA Submission" and row.row == 2


def test_errors_name_the_file(tmp_path):
    bad = tmp_path / "notxlsx.xlsx"
    bad.write_text("hello")
    with pytest.raises(FormatError, match=r"notxlsx.xlsx: not a readable .xlsx workbook"):
        read_clinical_xlsx(bad)
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["Name", "Age"])
    wb.save(tmp_path / "other.xlsx")
    with pytest.raises(
        FormatError, match="no sheet with the columns 'Anon MRN' and 'Anon Study UID'"
    ):
        read_clinical_xlsx(tmp_path / "other.xlsx")
    with pytest.raises(ValueError, match="expected one ending in 1a, 1b or 1c"):
        write_clinical_xlsx([], tmp_path / "x.xlsx", collection="LIDC")
