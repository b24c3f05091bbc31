"""Start Voila or Jupyter on loopback and a headless Debian Chromium, for tests and benchmarks.

Voila (and JupyterLab 4 / Notebook 7, through :func:`jupyter`) listen on 127.0.0.1 on
a free port and are stopped by their process id; Chromium
runs with a fresh profile and no background networking. Nothing here sleeps: each
wait polls a condition with a deadline.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """Debian's chromium, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"the server exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)  # polling the port: the condition is the HTTP answer
    raise TimeoutError(
        f"the server did not answer {url} within {timeout:g} s:\n{log.read_text()[-3000:]}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server by its process id: terminate, then kill if it lingers."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Server(str):
    """The base URL of a running server (a ``str``), with its process id."""

    pid: int


@contextmanager
def voila(
    folder: Path = NOTEBOOKS,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    args: list[str] | None = None,
) -> Iterator[Server]:
    """Serve ``folder`` with Voila on 127.0.0.1; yield the base URL (with ``.pid``).

    ``args`` are added to Voila's command line (e.g. ``--template=teachingfiles``).
    """
    port = free_port()
    logdir = Path(tempfile.mkdtemp(prefix="tf-voila-"))
    log = logdir / "voila.log"
    cmd = [
        sys.executable, "-m", "voila", str(folder),
        "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
        "--ServerApp.ip=127.0.0.1", "--show_tracebacks=True",
        "--VoilaConfiguration.file_allowlist=[]", *(args or []),
    ]  # fmt: skip
    full_env = {**os.environ, **(env or {}), "JUPYTER_PLATFORM_DIRS": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=folder, stdout=out, stderr=subprocess.STDOUT, env=full_env)
    base = Server(f"http://127.0.0.1:{port}")
    base.pid = proc.pid
    try:
        _wait_http(f"{base}/voila/tree", proc, log, timeout)
        yield base
    finally:
        _stop(proc)
        shutil.rmtree(logdir, ignore_errors=True)


@contextmanager
def dashboards(repository: Path, gradebook: str, timeout: float = 90.0) -> Iterator[Server]:
    """Serve the dashboards the way ``teachingfiles serve`` does; yield the base URL.

    The dashboard notebooks, the repository and gradebook in
    ``TEACHINGFILES_REPOSITORY`` / ``TEACHINGFILES_GRADEBOOK``, the offline
    ``teachingfiles`` template on ``JUPYTER_PATH``; no JupyterHub user, so the quiz
    asks for a name.
    """
    from teachingfiles.commands.serve import dashboards_dir, dashboards_env, voila_options

    env = {**dashboards_env(repository, gradebook), "JUPYTERHUB_USER": ""}
    with voila(dashboards_dir(), env=env, timeout=timeout, args=voila_options()) as base:
        yield base


@contextmanager
def jupyter(
    app: str = "lab", folder: Path = NOTEBOOKS, timeout: float = 90.0
) -> Iterator[tuple[Server, str]]:
    """Serve ``folder`` with ``jupyter lab`` or ``jupyter notebook`` on 127.0.0.1.

    Yields the base URL (with ``.pid``) and the token. Settings, workspaces and
    runtime files go to a temporary folder, so runs do not share state, and the
    update and news checks are off (nothing is fetched from the network).
    """
    port = free_port()
    token = os.urandom(16).hex()
    home = Path(tempfile.mkdtemp(prefix=f"tf-{app}-"))
    log = home / "server.log"
    cmd = [
        sys.executable, "-m", "jupyter", app, "--no-browser", "--ip=127.0.0.1",
        f"--port={port}", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={folder}", "--ServerApp.open_browser=False",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers often run tests as root
        cmd.append("--allow-root")
    if app == "notebook":  # Notebook 7 has no news feed or update check to turn off
        cmd = [c for c in cmd if not c.startswith("--LabApp.")]
    # window.jupyterapp lets a test wait until the notebook's kernel is connected
    cmd.append(f"--{'LabApp' if app == 'lab' else 'JupyterNotebookApp'}.expose_app_in_browser=True")
    env = {
        **os.environ,
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    # no "get notified about Jupyter news?" toast over the page (and no fetching)
    notification = home / "settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}', encoding="utf-8"
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=folder, stdout=out, stderr=subprocess.STDOUT, env=env)
    base = Server(f"http://127.0.0.1:{port}")
    base.pid = proc.pid
    try:
        _wait_http(f"{base}/api/status?token={token}", proc, log, timeout)
        yield base, token
    finally:
        _stop(proc)
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def chromium(playwright: Any) -> Iterator[Any]:
    """Launch Debian's Chromium headless; yield the browser.

    Playwright gives each launch a fresh temporary profile (it refuses an explicit
    ``--user-data-dir`` outside ``launch_persistent_context``).
    """
    path = chromium_path()
    if path is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()
