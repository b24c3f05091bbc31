"""``teachingfiles serve``: the dashboards (quiz, case library, gradebook) in Voila.

Builds the demo repository on first use when no ``--repository`` is given (as
``teachingfiles demo`` does: build when ``.complete`` is missing, then index),
mirrors a DICOMweb server into a local folder when ``--repository`` is a URL
(:mod:`teachingfiles.commands._mirror`: a per-server cache folder reused by the
next serve, or ``--mirror DIR``), starts Voila on 127.0.0.1 with the dashboard
notebooks and the offline ``teachingfiles`` template, and prints one line with the
address once the server answers. A web browser opens on it when there is a display
to show it on. The repository and gradebook reach the dashboards through
``TEACHINGFILES_REPOSITORY`` and ``TEACHINGFILES_GRADEBOOK``. Ctrl-C or SIGTERM
stops Voila too.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from teachingfiles.errors import UsageError

__all__ = [
    "DASHBOARDS",
    "PAGE_EXTENSIONS",
    "can_open_browser",
    "dashboards_dir",
    "dashboards_env",
    "register",
    "voila_options",
]

#: The front-end extensions a dashboard page loads: the widget managers and anywidget.
PAGE_EXTENSIONS: tuple[str, ...] = (
    "@voila-dashboards/widgets-manager8",
    "@jupyter-widgets/jupyterlab-manager",  # the controls (ipywidgets) module
    "anywidget",
)

#: The dashboard notebooks, in the order the start line lists them.
DASHBOARDS: tuple[str, ...] = ("quiz.ipynb", "library.ipynb", "gradebook.ipynb")


def dashboards_dir() -> Path:
    """Return the folder holding the dashboard notebooks.

    An installed wheel carries them in ``teachingfiles/dashboards/notebooks``; a
    source checkout has them in ``notebooks/dashboards``.

    Raises
    ------
    UsageError
        If neither folder holds the dashboards.
    """
    package = Path(__file__).resolve().parents[1]
    for folder in (
        package / "dashboards" / "notebooks",
        package.parent / "notebooks" / "dashboards",
    ):
        if (folder / DASHBOARDS[0]).exists():
            return folder
    raise UsageError(
        f"the dashboard notebooks are not installed (looked in {package}/dashboards/notebooks "
        "and the source checkout's notebooks/dashboards); reinstall teachingfiles"
    )


def register(subparsers: Any) -> None:
    """Add the ``serve`` command to ``subparsers``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="serve the quiz, case library and gradebook dashboards (Voila)",
        description=(
            "Start Voila on 127.0.0.1 with the dashboards. Without --repository the demo "
            "repository is used (built on first use). A DICOMweb URL is mirrored into a "
            "local folder first (reused, and brought up to date, by the next serve)."
        ),
    )
    parser.add_argument(
        "--repository",
        metavar="PATH-or-URL",
        default=None,
        help="the repository folder, a DICOMweb root URL to mirror and serve, or a TCIA "
        ".tcia manifest to download and serve (default: the demo repository, built if "
        "missing)",
    )
    parser.add_argument(
        "--mirror",
        metavar="DIR",
        default=None,
        help="where a DICOMweb --repository is mirrored (default: a folder per server "
        "under ~/.cache/teachingfiles/remote, or $XDG_CACHE_HOME)",
    )
    parser.add_argument(
        "--token", default=None, help="bearer token for a DICOMweb or TCIA --repository "
        "(default $TEACHINGFILES_TOKEN)"
    )  # fmt: skip
    parser.add_argument(
        "--api", default=None, metavar="URL",
        help="NBIA REST API root for a .tcia manifest as --repository (default: TCIA's)",
    )  # fmt: skip
    parser.add_argument(
        "--gradebook",
        metavar="URL",
        default=None,
        help="gradebook SQLAlchemy URL or SQLite path (default: $TEACHINGFILES_GRADEBOOK or "
        "gradebook.sqlite beside the demo); postgresql+psycopg://... for many learners",
    )
    parser.add_argument(
        "--port", type=int, default=0, metavar="N", help="port (default: a free one)"
    )
    parser.add_argument(
        "--no-browser",
        action="store_true",
        help="do not open a web browser (none is opened anyway when there is no display)",
    )
    parser.set_defaults(func=_serve)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def can_open_browser() -> bool:
    """Return whether a graphical web browser can be shown on this machine.

    On Linux and the BSDs that needs ``$DISPLAY`` or ``$WAYLAND_DISPLAY``: without
    them :mod:`webbrowser` falls back to text browsers (``www-browser``, ``lynx``)
    that would take over the terminal the server prints to. ``$BROWSER`` set by
    the user counts as a yes; macOS and Windows always have a browser to open.
    """
    if sys.platform in ("darwin", "win32") or os.environ.get("BROWSER"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _token(args: argparse.Namespace) -> str | None:
    from teachingfiles.commands.pull import TOKEN_ENV

    token: str | None = args.token or os.environ.get(TOKEN_ENV) or None
    return token


def _repository(args: argparse.Namespace) -> Path:
    from teachingfiles.commands._mirror import is_url, mirror_dicomweb
    from teachingfiles.dashboards import ensure_demo

    given: str | None = args.repository
    if given is None:
        print("Preparing the demo repository (built once) ...", flush=True)
        return ensure_demo().resolve()
    if is_url(given):
        if not given.startswith(("http://", "https://")):
            raise UsageError(
                f"--repository {given}: only http(s):// DICOMweb roots can be served, "
                "e.g. http://127.0.0.1:8042/dicom-web"
            )
        return mirror_dicomweb(given, args.mirror, token=_token(args))
    if given.endswith(".tcia") and Path(given).is_file():
        from teachingfiles.commands._mirror import mirror_tcia

        return mirror_tcia(given, args.mirror, api=args.api, token=_token(args))
    if args.mirror is not None:
        raise UsageError(
            f"--mirror {args.mirror}: only for a DICOMweb URL or .tcia manifest as --repository"
        )
    root = Path(given).expanduser().resolve()
    if not root.is_dir():
        hint = ""
        if re.match(r"^[\w.-]+:\d+(/|$)", given):  # host:port/... without its scheme
            hint = f" (a DICOMweb server? give its URL: http://{given})"
        raise UsageError(f"--repository {root}: not a folder; give a repository folder{hint}")
    from teachingfiles.repository import Repository

    with Repository.open(root) as repo:  # indexes a folder that has no catalog yet
        if not repo.collections():
            skipped = len(repo.skipped())
            seen = f" ({skipped} file(s) skipped: `teachingfiles index {root}` says why)"
            raise UsageError(
                f"--repository {root}: no DICOM studies found{seen if skipped else ''}; give "
                "the folder of a TCIA download, a PACS export or `teachingfiles demo build DIR`"
            )
    return root


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UsageError(f"Voila exited with status {proc.returncode}; see its output above")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)  # polling the port: the condition is the HTTP answer
    raise UsageError(f"Voila did not answer {url} within {timeout:g} s")


def dashboards_env(root: Path, gradebook: str) -> dict[str, str]:
    """Return what the dashboards read from the environment, beyond the caller's own.

    The repository and gradebook (``TEACHINGFILES_REPOSITORY`` /
    ``TEACHINGFILES_GRADEBOOK``) and the offline ``teachingfiles`` template on
    ``JUPYTER_PATH``.
    """
    from teachingfiles.dashboards import ENV_GRADEBOOK, ENV_REPOSITORY, jupyter_path

    return {
        ENV_REPOSITORY: str(root),
        ENV_GRADEBOOK: gradebook,
        "JUPYTER_PATH": os.pathsep.join(
            p for p in (str(jupyter_path()), os.environ.get("JUPYTER_PATH", "")) if p
        ),
    }


def voila_options() -> list[str]:
    """Return Voila's options for the dashboards (after the folder; no port, no address)."""
    from teachingfiles.dashboards import TEMPLATE

    return [
        f"--template={TEMPLATE}",  # tracebacks stay hidden: Voila's default
        # nbclient gives up waiting for a cell's output after 4 s and the page then
        # lacks the dashboard; with many kernels starting at once on a busy machine
        # the output can lag that long (seen with 20 learners on 2 cores)
        "--VoilaExecutor.iopub_timeout=60",
        # the page loads only the front-end extensions the dashboards use; by default
        # Voila loads every JupyterLab extension installed beside it (the notebook
        # app's, the preview's), which fail to start in Voila and slow the first paint
        *(f"--VoilaConfiguration.extension_allowlist={name}" for name in PAGE_EXTENSIONS),
    ]


def _serve(args: argparse.Namespace) -> int:
    from teachingfiles.dashboards import gradebook_url

    folder = dashboards_dir()
    root = _repository(args)
    gradebook = args.gradebook or gradebook_url()
    port = args.port or _free_port()
    env = {**os.environ, **dashboards_env(root, gradebook)}
    cmd = [
        sys.executable, "-m", "voila", str(folder), "--no-browser", f"--port={port}",
        "--Voila.ip=127.0.0.1", "--ServerApp.ip=127.0.0.1", *voila_options(),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=folder, env=env)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{base}/voila/tree", proc)
        print(f"Dashboards at {base}/voila/tree (Ctrl-C to stop)", flush=True)
        for name in DASHBOARDS:
            print(f"  {base}/voila/render/{name}", flush=True)
        if not args.no_browser and can_open_browser():
            import webbrowser

            webbrowser.open(f"{base}/voila/tree")
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
