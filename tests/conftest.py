"""Shared fixtures.

The demo repository is built once per source version into ``tests/.cache`` (keyed
by a hash of the demo generator's source) and shared by every test and xdist worker;
a file lock keeps two workers from building it at the same time.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "tests" / ".cache"


def _demo_key() -> str:
    h = hashlib.sha256()
    for path in sorted((ROOT / "teachingfiles" / "demo").rglob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    for name in ("mdai.py", "nbia.py", "clinical.py", "ricord.py"):  # what the builder writes with
        h.update((ROOT / "teachingfiles" / "repository" / name).read_bytes())
    for name in ("teaching_set.py", "case.py", "_yaml.py", "geometry.py"):  # the demo teaching set
        h.update((ROOT / "teachingfiles" / "cases" / name).read_bytes())
    return h.hexdigest()[:12]


def _remove_old_builds(keep: Path, max_age_s: float = 6 * 3600) -> None:
    """Drop cached demos of other source versions once they are old.

    Builds of other versions are kept for a while: a test run of another checkout
    state may still be reading them.
    """
    now = time.time()
    for old in CACHE.glob("demo-*"):
        if old != keep and now - old.stat().st_mtime > max_age_s:
            shutil.rmtree(old, ignore_errors=True)


@pytest.fixture(scope="session")
def demo_root() -> Iterator[Path]:
    """A built demo repository (read-only for tests: copy it before changing it)."""
    from teachingfiles.demo import build_demo

    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / f"demo-{_demo_key()}"
    with (CACHE / "demo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            _remove_old_builds(keep=target)
            build_demo(target)
            (target / ".complete").write_text("ok\n")
        # Bring the catalog up to date here, under the lock (tens of ms when nothing
        # changed): tests, and the kernels of browser tests, then open a current
        # catalog instead of racing each other to write it.
        from teachingfiles.repository import Repository

        Repository.open(target).close()
        fcntl.flock(lock, fcntl.LOCK_UN)
    yield target
