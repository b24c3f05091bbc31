from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest
from _phi_corpus import phi_dataset, write_corpus

from teachingfiles.cli import main


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    write_corpus(tmp_path / "in", patients=2, slices=2)
    burned = phi_dataset(3, 1, 1)
    burned.BurnedInAnnotation = "YES"
    burned.save_as(tmp_path / "in" / "burned.dcm", enforce_file_format=True)
    (tmp_path / "secret").write_text("0123456789abcdef0123456789abcdef\n")
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_deid_writes_reports_and_audits_apart(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = str(corpus / "secret")
    status, out, _ = _run(
        capsys, "deid", str(corpus / "in"), str(corpus / "out"), "--secret-file", s, "--json"
    )
    assert status == 0
    summary = json.loads(out)
    assert (summary["written"], summary["held"], summary["edition"]) == (4, 1, "2024b")
    assert summary["not_written"][0]["reason"].startswith("Burned In Annotation is YES")
    assert summary["audit"] == str(corpus / "out.audit.json")
    assert (corpus / "out.audit.json").exists() and not list((corpus / "out").rglob("*.json"))
    # a separate run with the same secret gives the same names (UIDs) ...
    _run(capsys, "deid", str(corpus / "in"), str(corpus / "again"), "--secret-file", s)
    names = sorted(p.name for p in (corpus / "out").rglob("*.dcm"))
    assert names == sorted(p.name for p in (corpus / "again").rglob("*.dcm"))
    # ... and the check finds nothing identifying
    status, out, _ = _run(capsys, "deid", "--verify", str(corpus / "in"), str(corpus / "out"))
    assert status == 0
    assert "0 identifying values found, 0 dciodvfy errors" in out


def test_educator_preset_and_confirm(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = str(corpus / "secret")
    status, out, _ = _run(
        capsys, "deid", str(corpus / "in"), str(corpus / "out"), "--secret-file", s,
        "--educator", "--confirm-burned-in",
    )  # fmt: skip
    assert status == 0
    assert "5 written, 0 held back" in out
    assert "retain_modified_dates, retain_patient_characteristics, clean_descriptors" in out
    ds = pydicom.dcmread(next((corpus / "out").rglob("*.dcm")))
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    status, out, _ = _run(
        capsys, "deid", "--verify", str(corpus / "in"), str(corpus / "out"), "--educator",
        "--validate", "2", "--json",
    )  # fmt: skip
    report = json.loads(out)
    assert status == 0 and report["phi_hits"] == 0 and report["dciodvfy_checked"] == 2


def test_verify_fails_on_identifying_data(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(
        capsys, "deid", "--verify", str(corpus / "in"), str(corpus / "in"), "--validate", "0"
    )
    assert status == 1
    assert "PHI:" in out and "(from PatientName" in out


def test_bad_blank_region_is_a_clear_error(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _run(
        capsys, "deid", str(corpus / "in"), str(corpus / "out"), "--secret-file",
        str(corpus / "secret"), "--blank", "10,10,abc",
    )  # fmt: skip
    assert status == 1
    assert "--blank '10,10,abc': expected X,Y,W,H in pixels" in err


def test_missing_input_is_a_clear_error(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(
        capsys, "deid", str(corpus / "nowhere"), str(corpus / "out"), "--secret-file",
        str(corpus / "secret"),
    )  # fmt: skip
    assert status == 1
    assert "no such file or folder to de-identify" in err
