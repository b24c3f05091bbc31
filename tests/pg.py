"""A throwaway PostgreSQL server for tests (Debian's ``postgresql`` package).

:func:`postgres_server` initialises a fresh cluster in a temporary folder, runs it
as an unprivileged user (``postgres`` via ``runuser`` when the tests run as root),
listening on 127.0.0.1 only on a free port with no Unix socket elsewhere, and stops
it by its pid at the end. It skips (with the reason) when PostgreSQL or the
``psycopg`` driver is not installed.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _bin_dir() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_user(cmd: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start PostgreSQL; yield a SQLAlchemy URL of an empty database; stop it."""
    pytest.importorskip("psycopg", reason="the psycopg driver is not installed")
    bindir = _bin_dir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (Debian package 'postgresql')")
    user = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server")
        user = "postgres"
    base = Path(tempfile.mkdtemp(prefix="tf-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if user:
        info = pwd.getpwnam(user)
        for path in (base, sock):
            os.chown(path, info.pw_uid, info.pw_gid)
    port = _free_port()
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "tf", "--auth=trust",
              "--no-sync", "-E", "UTF8"]  # fmt: skip
    subprocess.run(_as_user(initdb, user), check=True, capture_output=True)
    log = base / "server.log"
    options = f"-h 127.0.0.1 -p {port} -k {sock} -F -c fsync=off -c max_connections=40"
    start = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w",
             "start"]  # fmt: skip
    subprocess.run(_as_user(start, user), check=True, capture_output=True)
    pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    try:
        url = f"postgresql+psycopg://tf@127.0.0.1:{port}/postgres"
        _wait_ready(url)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)  # "fast" shutdown of this server only
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        shutil.rmtree(base, ignore_errors=True)


def _wait_ready(url: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        for _ in range(50):
            try:
                with engine.connect():
                    return
            except sqlalchemy.exc.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL at {url} did not accept connections")
    finally:
        engine.dispose()
