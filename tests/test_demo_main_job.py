"""`teachingfiles demo`: the README's first command builds once, indexes, reports."""

import json
import shutil
from pathlib import Path

import pytest

from teachingfiles.cli import main
from teachingfiles.commands.demo import default_demo_dir


def test_default_demo_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TEACHINGFILES_DEMO_DIR", str(tmp_path / "d"))
    assert default_demo_dir() == tmp_path / "d"
    monkeypatch.delenv("TEACHINGFILES_DEMO_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_demo_dir() == tmp_path / "xdg" / "teachingfiles" / "demo-repository"


@pytest.mark.slow
def test_demo_main_job_indexes_an_existing_demo_and_reports(demo_root, tmp_path, capsys):
    copy = tmp_path / "demo"
    shutil.copytree(demo_root, copy, ignore=shutil.ignore_patterns(".teachingfiles"))
    assert main(["demo", "--dir", str(copy), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["collections"]) == {
        "DEMO-RICORD-1A", "DEMO-RICORD-1B", "DEMO-RICORD-1C", "PYDICOM-DATA"
    }  # fmt: skip
    assert out["collections"]["DEMO-RICORD-1A"]["annotations"] > 0
    assert out["collections"]["DEMO-RICORD-1B"]["annotations"] == 0
    assert out["skipped"] == []
    assert out["instances"] == sum(c["instances"] for c in out["collections"].values())
    assert [Path(p).name for p in out["teaching_sets"]] == ["covid19-rsna-categories.yaml"]
    # It did not rebuild: the demo's files are the ones copied.
    assert out["unchanged"] == 0 and out["new"] >= out["instances"]
    # A second run finds the catalog up to date and prints a readable table.
    assert main(["demo", "--dir", str(copy)]) == 0
    text = capsys.readouterr().out
    assert "DEMO-RICORD-1C" in text and "Teaching sets:" in text
    assert "Building" not in text
