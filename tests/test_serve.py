"""``teachingfiles serve`` starts Voila with the dashboards and stops by its pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from teachingfiles.cli import build_parser
from teachingfiles.commands.serve import DASHBOARDS, dashboards_dir


def test_serve_is_a_command_with_its_options() -> None:
    args = build_parser().parse_args(
        ["serve", "--repository", "demo", "--gradebook", "gb.sqlite", "--port", "8123",
         "--no-browser"]
    )  # fmt: skip
    assert (args.repository, args.gradebook, args.port, args.no_browser) == (
        "demo", "gb.sqlite", 8123, True,
    )  # fmt: skip


def test_dashboards_dir_holds_the_three_dashboards() -> None:
    assert {p.name for p in dashboards_dir().glob("*.ipynb")} == set(DASHBOARDS)


def test_serve_refuses_a_url_repository_with_a_hint() -> None:
    from teachingfiles.cli import main

    assert main(["serve", "--repository", "http://pacs:8042/dicom-web", "--no-browser"]) == 1


@pytest.mark.slow
@pytest.mark.server
def test_serve_prints_the_address_serves_the_dashboards_and_stops(
    demo_root: Path, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "TEACHINGFILES_DEMO_DIR": str(demo_root),
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    env.pop("TEACHINGFILES_REPOSITORY", None)
    cmd = [sys.executable, "-m", "teachingfiles.cli", "serve", "--no-browser",
           "--gradebook", str(tmp_path / "gb.sqlite")]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
    )
    try:
        assert proc.stdout is not None
        line = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if "http://127.0.0.1:" in line or not line:
                break
        assert line.startswith("Dashboards at http://127.0.0.1:"), line
        base = line.split()[2].rsplit("/voila/", 1)[0]
        with urllib.request.urlopen(f"{base}/voila/render/quiz.ipynb", timeout=60) as answer:
            page = answer.read().decode()
        assert answer.status == 200
        assert "cdn.jsdelivr.net" not in page and "fontawesome" not in page.lower()
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    port = int(base.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/voila/tree", timeout=2)
