"""The README's first command serves the dashboards; `teachingfiles demo` reports the demo.

The first command, ``python3 -m venv .venv && .venv/bin/pip install -e . &&
.venv/bin/teachingfiles serve``, is read from the README and its last step is run as
a person runs it (no extra options, no display): it must print the address, serve
the dashboards there, open no browser, print nothing else, and stop on SIGTERM.
"""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from teachingfiles.cli import main
from teachingfiles.commands.demo import default_demo_dir

ROOT = Path(__file__).resolve().parents[1]


def first_command() -> list[list[str]]:
    """The README's first code block (indented or fenced), one line, split at ``&&``."""
    block: list[str] = []
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("```") or (line.startswith("    ") and not lines[i - 1].strip()):
            start = i + 1 if line.startswith("```") else i
            for body in lines[start:]:
                if body.startswith("```") or not body.strip():
                    break
                block.append(body.strip())
            break
    assert len(block) == 1, f"the README's first command must be one line: {block}"
    return [shlex.split(step) for step in block[0].split(" && ")]


def test_readme_first_command_installs_into_a_venv_and_ends_in_serve() -> None:
    steps = first_command()
    assert steps[0] == ["python3", "-m", "venv", ".venv"]
    assert steps[1] == [".venv/bin/pip", "install", "-e", "."]
    assert steps[-1] == [".venv/bin/teachingfiles", "serve"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["teachingfiles"] == "teachingfiles.cli:main"


def _script(word: str) -> str:
    """``.venv/bin/X`` of the README: this checkout's venv, else the running interpreter's."""
    path = ROOT / word
    if path.exists():
        return str(path)
    return str(Path(sys.executable).parent / Path(word).name)


@pytest.mark.slow
@pytest.mark.server
def test_readme_first_command_serves_the_dashboards_headless_until_stopped(
    demo_root: Path, tmp_path: Path
) -> None:
    last = first_command()[-1]
    unset = ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER", "TEACHINGFILES_REPOSITORY")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env |= {
        "TEACHINGFILES_DEMO_DIR": str(demo_root),  # built once per test session
        "TEACHINGFILES_GRADEBOOK": str(tmp_path / "gradebook.sqlite"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    proc = subprocess.Popen(
        [_script(last[0]), *last[1:]],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        env=env, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert proc.stdout is not None
    printed: list[str] = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            printed.append(line)
            if "http://127.0.0.1:" in line or not line:
                break
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", printed[-1])
        assert found, printed
        base = f"http://127.0.0.1:{found.group(1)}"
        with urllib.request.urlopen(f"{base}/voila/render/quiz.ipynb", timeout=120) as answer:
            assert answer.status == 200
            assert "<html" in answer.read().decode().lower()
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        status = proc.wait(timeout=30)
    assert status == 0
    printed += proc.stdout.readlines()
    # headless: no browser was started, and nothing but the address lines was printed
    assert [ln.rstrip() for ln in printed if ln.strip()] == [
        "Preparing the demo repository (built once) ...",
        f"Dashboards at {base}/voila/tree (Ctrl-C to stop)",
        *(f"  {base}/voila/render/{name}" for name in ("quiz.ipynb", "library.ipynb",
                                                       "gradebook.ipynb")),
    ]  # fmt: skip


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
