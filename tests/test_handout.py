from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from html import escape
from pathlib import Path

import pytest

from teachingfiles.cases.handout import handout_html, write_handout
from teachingfiles.cases.teaching_set import TeachingSet
from teachingfiles.errors import NotFoundError, UsageError
from teachingfiles.repository import Repository

SET_FILE = "covid19-rsna-categories.yaml"
CASES = ["ct-01", "cxr-02", "real-01"]


@pytest.fixture(scope="module")
def page(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, TeachingSet]:
    root = tmp_path_factory.mktemp("handout") / "demo"
    shutil.copytree(demo_root, root)
    out = write_handout(root / "teaching-sets" / SET_FILE, root / "out" / "h.html", case_ids=CASES)
    return out.read_text(encoding="utf-8"), TeachingSet.from_yaml(root / "teaching-sets" / SET_FILE)


@pytest.mark.slow
def test_handout_is_self_contained_with_images(page: tuple[str, TeachingSet]) -> None:
    html, _ = page
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(?:src|href)=["'](?:https?:)?//""", html)  # nothing fetched
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 6  # three key images, before and after the answers
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert 'class="missing"' not in html


@pytest.mark.slow
def test_answers_come_after_every_case(page: tuple[str, TeachingSet]) -> None:
    html, ts = page
    front, answers = html.split('<div class="answers">')
    for case in (ts.case(c) for c in CASES):
        assert escape(case.title) not in front  # titles name the answer
        if case.findings:
            assert escape(case.findings) not in front
        assert escape(case.title) in answers
        assert all(escape(point) in answers for point in case.teaching_points)
    ct = ts.case("ct-01")
    assert ct.category is not None and f"<b>Category:</b> {ct.category.value}" in answers
    questions = [q for q in ts.questions if q.case == "ct-01"]
    assert questions and all(q.prompt in front for q in questions)
    assert answers.count("<b>Answer:</b>") >= len(questions)
    assert "SYNTHETIC" in front and "REAL" in front


@pytest.mark.slow
def test_revealed_images_differ_from_unknown_ones(page: tuple[str, TeachingSet]) -> None:
    html, _ = page
    front, answers = html.split('<div class="answers">')
    before = re.findall(r"base64,([A-Za-z0-9+/=]+)", front)
    after = re.findall(r"base64,([A-Za-z0-9+/=]+)", answers)
    assert before[0] != after[0]  # the CT's annotations and legend are drawn on reveal


def test_unknown_cases_and_missing_repo_are_clear(demo_root: Path) -> None:
    ts = TeachingSet.from_yaml(demo_root / "teaching-sets" / SET_FILE)
    with (
        Repository.open(demo_root, index=False) as repo,
        pytest.raises(NotFoundError, match="no case nope in the teaching set"),
    ):
        handout_html(ts, repo, case_ids=["nope"])
    with pytest.raises(UsageError, match="pass repo= with a loaded TeachingSet"):
        write_handout(ts, "x.html")


def test_missing_images_are_named_not_fatal(demo_root: Path) -> None:
    ts = TeachingSet.from_yaml(demo_root / "teaching-sets" / SET_FILE)
    case = ts.case("ct-01")
    key = replace(case.key_images[0], series_uid="1.2.3.4")
    broken = replace(case, series_uid="1.2.3.4", key_images=(key,))
    one = replace(ts, cases=(broken,), questions=())
    with Repository.open(demo_root, index=False) as repo:
        html = handout_html(one, repo)
    assert 'class="missing">Image not available (no series with SeriesInstanceUID' in html


# ------------------------------------------------------------------ the command


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "teachingfiles.cli", *args], capture_output=True, text=True
    )


@pytest.mark.slow
def test_handout_command_writes_a_self_contained_page(demo_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "handout.html"
    proc = _cli(
        "handout", str(demo_root / "teaching-sets" / SET_FILE), str(out),
        "--repository", str(demo_root), "--case", "cxr-06", "--case", "ct-01", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report == {
        "handout": str(out), "bytes": out.stat().st_size, "cases": 2, "images": 4,
        "missing_images": 0,
    }  # fmt: skip
    html = out.read_text(encoding="utf-8")
    # nothing fetched: no external address anywhere, images embedded as data URIs
    assert not re.search(r"https?://|<link\b|<script\b", html)
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) == 4 and all(i.startswith("data:image/png;base64,") for i in images)
    # the answers come at the end, after every case's questions
    front, answers = html.split('<div class="answers">')
    ts = TeachingSet.from_yaml(demo_root / "teaching-sets" / SET_FILE)
    for case_id in ("ct-01", "cxr-06"):
        case = ts.case(case_id)
        assert escape(case.title) not in front and escape(case.title) in answers
    assert re.findall(r"<h3>Case \d+: ([^<]+)</h3>", answers) == [
        escape(ts.case("ct-01").title),
        escape(ts.case("cxr-06").title),
    ]  # the set's order, whatever order the cases were named in
    # readers numbered, the adjudicator marked, MD.ai ids only on hover
    assert "2 of 3 readers said typical" in answers
    assert '<li class="adjudicator" title="MD.ai user U_' in answers
    assert "Reader 1: typical" in answers and "Readers:" not in front
    visible = re.sub(r'title="[^"]*"', "", html)
    assert not re.search(r"\bU_[A-Za-z0-9]{6}\b", visible)


def test_handout_command_errors_name_the_culprit(demo_root: Path, tmp_path: Path) -> None:
    manifest = str(demo_root / "teaching-sets" / SET_FILE)
    missing = _cli("handout", str(tmp_path / "nope.yaml"), str(tmp_path / "o.html"))
    assert missing.returncode == 1
    assert re.search(r"handout: error: .*nope\.yaml: no such file", missing.stderr)
    unknown = _cli("handout", manifest, str(tmp_path / "o.html"), "--case", "ct-01", "ct-99")
    assert unknown.returncode == 1
    assert "no case ct-99 in the teaching set" in unknown.stderr
    assert "its cases are: ct-01, ct-02" in unknown.stderr
    not_html = _cli("handout", manifest, str(tmp_path / "o.pdf"))
    assert not_html.returncode == 1 and "name the output file *.html" in not_html.stderr
    no_repo = _cli("handout", manifest, str(tmp_path / "o.html"), "--repository", "/no/such")
    assert no_repo.returncode == 1 and "--repository /no/such: no such folder" in no_repo.stderr
    assert not (tmp_path / "o.html").exists()


def test_handout_help_loads_no_numpy() -> None:
    code = (
        "import sys\n"
        "from teachingfiles.cli import main\n"
        "try:\n"
        "    main(['handout', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'numpy', 'matplotlib', 'sqlalchemy', 'pydicom'}\n"
        "print('HEAVY', sorted(heavy & set(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "SET.yaml OUT.html" in proc.stdout and "--repository PATH" in proc.stdout
    assert "--case ID" in proc.stdout
    assert proc.stdout.strip().endswith("HEAVY []")
