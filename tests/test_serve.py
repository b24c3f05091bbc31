"""``teachingfiles serve`` starts Voila with the dashboards and stops by its pid."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from test_tcia import FakeNbia, nbia  # noqa: F401  # the fake NBIA API and its fixture

from teachingfiles.cli import build_parser, main
from teachingfiles.commands._mirror import mirror_dicomweb, mirror_dir
from teachingfiles.commands.serve import (
    DASHBOARDS,
    PAGE_EXTENSIONS,
    _repository,
    can_open_browser,
    dashboards_dir,
    voila_options,
)
from teachingfiles.repository import Repository
from teachingfiles.repository.pull import CACHE_SUBDIR


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


def test_the_pages_load_only_installed_extensions_the_dashboards_use() -> None:
    """A renamed or missing extension would leave the dashboards without widgets."""
    from jupyter_core.paths import jupyter_path

    folders = [
        Path(p) for p in jupyter_path("labextensions") + jupyter_path("voila", "labextensions")
    ]
    for name in PAGE_EXTENSIONS:
        assert any((f / name / "package.json").is_file() for f in folders), name
    installed = {p.parent.relative_to(f).as_posix() for f in folders
                 for p in f.glob("**/package.json") if "node_modules" not in p.parts}  # fmt: skip
    assert {"anywidget", "@jupyter-widgets/jupyterlab-manager"} <= installed
    allow = [
        o for o in voila_options() if o.startswith("--VoilaConfiguration.extension_allowlist=")
    ]
    assert [o.split("=", 1)[1] for o in allow] == list(PAGE_EXTENSIONS)
    assert installed - set(PAGE_EXTENSIONS)  # others are installed, and left out


def test_mirror_dir_is_one_folder_per_server_under_the_user_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TEACHINGFILES_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    remote = tmp_path / "xdg" / "teachingfiles" / "remote"
    assert mirror_dir("http://127.0.0.1:8042/dicom-web") == remote / "127.0.0.1-8042-dicom-web"
    assert mirror_dir("https://pacs.example.org/dcm4chee-arc/aets/DCM4CHEE/rs/") == (
        remote / "pacs.example.org-443-dcm4chee-arc-aets-DCM4CHEE-rs"
    )
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mirror_dir("http://pacs:8042/dicom-web").parent == (
        tmp_path / "home" / ".cache" / "teachingfiles" / "remote"
    )


def test_serve_names_an_unreachable_url_and_what_to_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/dicom-web"
    mirror = tmp_path / "mirror"
    assert main(["serve", "--repository", url, "--mirror", str(mirror), "--no-browser"]) == 1
    err = capsys.readouterr().err
    assert f"{url}: cannot connect" in err
    assert "are the host and port right?" in err and "--repository DIR" in err
    assert not mirror.exists()  # no empty mirror is left behind


class _Refuse(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", "Bearer")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_serve_says_a_401_server_wants_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/dicom-web"
    try:
        argv = ["serve", "--repository", url, "--mirror", str(tmp_path / "m"), "--no-browser"]
        assert main(argv) == 1
    finally:
        httpd.shutdown()
        httpd.server_close()
    err = capsys.readouterr().err
    assert re.search(rf"{re.escape(url)}/studies\S*: 401 Unauthorized: .* pass a token", err), err
    assert "--token" in err


def test_serve_refuses_other_schemes_and_a_mirror_for_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--repository", "ftp://pacs/dicom", "--no-browser"]) == 1
    assert "only http(s):// DICOMweb roots can be served" in capsys.readouterr().err
    argv = ["serve", "--repository", str(tmp_path), "--mirror", str(tmp_path / "m")]
    assert main(argv) == 1
    assert "only for a DICOMweb URL" in capsys.readouterr().err
    # a server address without its scheme is not taken for a folder silently
    assert main(["serve", "--repository", "pacs.example.org:8042/dicom-web"]) == 1
    assert "give its URL: http://pacs.example.org:8042/dicom-web" in capsys.readouterr().err


def test_serve_refuses_a_folder_without_studies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    assert main(["serve", "--repository", str(tmp_path), "--no-browser"]) == 1
    err = capsys.readouterr().err
    assert f"--repository {tmp_path}: no DICOM studies found (1 file(s) skipped" in err
    assert main(["serve", "--repository", str(tmp_path / "missing"), "--no-browser"]) == 1
    assert "not a folder" in capsys.readouterr().err


def test_a_browser_is_opened_only_where_one_can_be_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert not can_open_browser()  # headless: webbrowser would start lynx in the terminal
    monkeypatch.setenv("DISPLAY", ":0")
    assert can_open_browser()
    monkeypatch.delenv("DISPLAY")
    monkeypatch.setattr(sys, "platform", "darwin")
    assert can_open_browser()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the function returns


def _start(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str, list[str]]:
    """Start ``teachingfiles`` with ``argv``; wait for the address line; return it too."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "teachingfiles.cli", *argv],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if line.startswith("Dashboards at ") or not line:
            break
    assert lines[-1].startswith("Dashboards at http://127.0.0.1:"), lines
    return proc, lines[-1].split()[2].rsplit("/voila/", 1)[0], lines


def _stop(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


@pytest.mark.slow
@pytest.mark.server
def test_serve_mirrors_a_dicomweb_server_and_serves_it_and_the_next_serve_reuses_it(
    demo_root: Path, tmp_path: Path
) -> None:
    from orthanc import orthanc_server

    files = sorted(demo_root.glob("manifest-*/**/*.dcm"))
    later = sorted(demo_root.glob("manifest-*/DEMO-RICORD-1B/**/*.dcm"))
    assert later and len(later) < len(files)
    mirror = tmp_path / "mirror"
    env = {**os.environ, "JUPYTER_PLATFORM_DIRS": "1",
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}  # fmt: skip
    with orthanc_server() as server:
        server.upload(f for f in files if f not in set(later))
        argv = ["serve", "--repository", server.dicomweb, "--mirror", str(mirror),
                "--no-browser", "--gradebook", str(tmp_path / "gb.sqlite")]  # fmt: skip
        port = _closed_port()
        proc, base, lines = _start([*argv, "--port", str(port)], env)
        try:
            assert base == f"http://127.0.0.1:{port}"
            assert any(line.startswith(f"Mirroring {server.dicomweb} into ") for line in lines)
            with urllib.request.urlopen(f"{base}/voila/render/quiz.ipynb", timeout=60) as page:
                assert page.status == 200
        finally:
            _stop(proc)
        held = {s["0020000D"]["Value"][0] for s in _qido(f"{server.dicomweb}/studies")}
        with Repository.open(mirror, index=False) as repo:
            assert {s.study_uid for s in repo.studies()} == held
        cached = {p: p.stat().st_mtime_ns for p in (mirror / CACHE_SUBDIR).rglob("*.dcm")}
        assert len(cached) == len(files) - len(later)
        # the server gains a collection: the next mirror fetches only its instances
        server.upload(later)
        assert mirror_dicomweb(server.dicomweb, mirror, progress=False) == mirror.resolve()
        held = {s["0020000D"]["Value"][0] for s in _qido(f"{server.dicomweb}/studies")}
    now = {p: p.stat().st_mtime_ns for p in (mirror / CACHE_SUBDIR).rglob("*.dcm")}
    assert len(now) == len(files)
    assert all(now[p] == t for p, t in cached.items())  # not fetched again
    with Repository.open(mirror, index=False) as repo:
        assert {s.study_uid for s in repo.studies()} == held
        assert "DEMO-RICORD-1B" in {c.name for c in repo.collections()}


def test_serve_downloads_a_tcia_manifest_and_the_next_serve_downloads_nothing(
    nbia: tuple[str, FakeNbia],  # noqa: F811  # the fixture imported from test_tcia
    demo_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, fake = nbia
    manifest = demo_root / "DEMO-RICORD-1B.tcia"
    args = build_parser().parse_args(
        ["serve", "--repository", str(manifest), "--api", url, "--mirror", str(tmp_path / "m")]
    )
    root = _repository(args)
    assert root == (tmp_path / "m").resolve()
    assert "Downloading the series of" in capsys.readouterr().out
    with Repository.open(root, index=False) as pulled, Repository.open(demo_root) as folder:
        got = {s.study_uid for s in pulled.studies()}
        assert got == {s.study_uid for s in folder.studies(collection="DEMO-RICORD-1B")}
    before = fake.hits["getImage"]
    assert _repository(args) == root
    assert fake.hits["getImage"] == before  # every series folder was complete


def test_serve_names_an_unreachable_tcia_api(
    tmp_path: Path, demo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = f"http://127.0.0.1:{_closed_port()}/nbia-api/services/v4"
    manifest = str(demo_root / "DEMO-RICORD-1B.tcia")
    argv = ["serve", "--repository", manifest, "--api", api, "--mirror", str(tmp_path / "m")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"--repository {manifest}: {api}" in err and "cannot connect" in err


def _qido(url: str) -> list[dict[str, dict[str, list[str]]]]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        found: list[dict[str, dict[str, list[str]]]] = json.loads(answer.read())
    return found


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
