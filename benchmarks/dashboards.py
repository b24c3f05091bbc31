"""Load benchmark of the dashboards: first image per dashboard, 20 learners at once.

Starts a throwaway PostgreSQL (a fresh cluster in a temporary folder, run as an
unprivileged user, 127.0.0.1 only: ``tests/pg.py``), then ``teachingfiles serve``
itself on loopback with the demo repository and that gradebook (Voila, one kernel
per page), and drives Debian's headless Chromium with Playwright (one browser, one
context per visitor):

* ``first_image_s``: for each dashboard, the time from navigation to its first
  interactive image, in a fresh page (so a fresh kernel): the quiz's viewer canvas
  painted after the learner types a name and presses Start (typing and clicking
  are instant here), the case library's first thumbnail loaded, the gradebook's
  first chart loaded (measured after the learners, so it has results to chart);
  target <= 3 s;
* ``learners`` simulated learners (default 20), each in its own page and so its
  own Voila kernel, opening the quiz a little apart (``--stagger``) and then at the
  same time typing a distinct name and answering ``--questions`` questions through
  the UI (pick the first choice, or type a word; questions that want a mark on the
  image are skipped), submitting each and waiting for its feedback; then the
  attempts stored in PostgreSQL are counted (``attempts_expected`` vs
  ``attempts_stored``: none may be lost);
* ``kernel_rss_mb_per_learner``: the resident memory of Voila's kernel processes
  (psutil when installed, else ``/proc``) while every learner's page is open,
  divided by their number.

Run ``python benchmarks/dashboards.py [--json] [--learners 20] [--questions 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from statistics import median
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
sys.path.insert(0, str(ROOT / "tests"))

from serving import CHROMIUM_ARGS, chromium_path  # noqa: E402

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
TARGET_S = 3.0
TIMEOUT_S = 300.0  # seconds per wait, by default (--timeout)
NEXT = re.compile(r"^(Next question|See your results)$")

# Each predicate records performance.now() (ms since navigation) the first time it holds.
QUIZ_IMAGE = """() => { const v = document.querySelector('.tfv');
  const ok = v && v.dataset.imageRect && ['preview', 'full'].includes(v.dataset.quality);
  if (ok && !window.__tfFirst) window.__tfFirst = performance.now(); return ok; }"""
LOADED_IMAGE = """(sel) => { const img = [...document.querySelectorAll(sel)]
    .find((i) => i.complete && i.naturalWidth > 0);
  if (img && !window.__tfFirst) window.__tfFirst = performance.now(); return Boolean(img); }"""
SHOWN = """() => { const ok = Boolean(document.querySelector('.tfd'));
  if (ok && !window.__tfShown) window.__tfShown = performance.now(); return ok; }"""
QUESTION = "(q) => { const el = document.querySelector('.tfq'); return el && el.dataset.busy === 'false' && el.dataset.stage === 'question' && el.dataset.question !== q; }"  # noqa: E501
FEEDBACK = "(q) => { const el = document.querySelector('.tfq'); return el && el.dataset.busy === 'false' && el.dataset.stage !== 'question' && el.dataset.question === q; }"  # noqa: E501


# ---------------------------------------------------------------- servers
@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """Start a fresh PostgreSQL cluster on 127.0.0.1 (``tests/pg.py``); yield its URL."""
    import pytest
    from pg import postgres_server

    try:
        with postgres_server() as url:
            yield url
    except pytest.skip.Exception as exc:  # pg.py skips when PostgreSQL is missing
        raise SystemExit(f"cannot start PostgreSQL: {exc}") from None


@contextlib.contextmanager
def served(repository: Path, gradebook: str, runtime: Path) -> Iterator[tuple[str, int]]:
    """Run ``teachingfiles serve``; yield its base URL and pid; stop it by its pid."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env |= {"JUPYTER_PLATFORM_DIRS": "1", "JUPYTER_RUNTIME_DIR": str(runtime)}
    cmd = [sys.executable, "-m", "teachingfiles.cli", "serve", "--no-browser",
           "--repository", str(repository), "--gradebook", gradebook]  # fmt: skip
    log = (runtime / "serve.log").open("w")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    assert proc.stdout is not None
    try:
        line = ""
        while not line.startswith("Dashboards at "):
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"teachingfiles serve exited: {_tail(runtime / 'serve.log')}")
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found, line
        yield found.group(0), proc.pid
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


def kernel_rss_mb(pid: int) -> list[tuple[int, float]]:
    """Return the pid and resident MB of each kernel process under ``pid`` (Voila's)."""
    try:
        import psutil
    except ImportError:
        return _kernel_rss_proc(pid)
    out = []
    for child in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if any("ipykernel" in part for part in child.cmdline()):
                out.append((child.pid, child.memory_info().rss / 2**20))
    return out


def _kernel_rss_proc(pid: int) -> list[tuple[int, float]]:
    """Like :func:`kernel_rss_mb` from ``/proc`` (Linux) when psutil is not installed."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
    below = {pid}
    for _ in range(4):  # serve -> voila -> kernel
        below |= {p for p, parent in parents.items() if parent in below}
    out = []
    for p in below - {pid}:
        with contextlib.suppress(OSError):
            if b"ipykernel" in Path(f"/proc/{p}/cmdline").read_bytes():
                status = Path(f"/proc/{p}/status").read_text()
                kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
                out.append((p, kb / 1024))
    return out


# ---------------------------------------------------------------- browser
class Gate:
    """Opens when every learner has arrived or failed (a failed one must not block the rest)."""

    def __init__(self, n: int) -> None:
        self.left = n
        self.event = asyncio.Event()

    def arrive(self) -> None:
        """Count one learner in (or out, when it failed before the gate)."""
        self.left -= 1
        if self.left <= 0:
            self.event.set()

    async def wait(self, timeout: float) -> None:
        """Arrive, then wait for the others (at most ``timeout`` s: stragglers are left)."""
        self.arrive()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), timeout)


async def new_page(browser: Any, outside: list[str], timeout_ms: float) -> tuple[Any, Any]:
    """Open a page in its own context that may fetch from loopback only (others recorded)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    # every action (a click waits for its element to be still) may take as long as a
    # wait: 20 pages on 2 cores paint slowly (Playwright's own default is 30 s)
    page.set_default_timeout(timeout_ms)

    async def route(r: Any) -> None:
        url = r.request.url
        if (urlparse(url).hostname or "") in LOOPBACK or url.startswith(("data:", "blob:")):
            await r.continue_()
        else:
            outside.append(url)
            await r.abort()

    await page.route("**/*", route)
    return context, page


async def start_quiz(page: Any, name: str, timeout_ms: float) -> None:
    """Type the learner's name on the quiz dashboard and press Start."""
    field = page.get_by_placeholder("your name")
    await field.wait_for(timeout=timeout_ms)
    await field.fill(name)
    await page.get_by_role("button", name="Start", exact=True).click()


async def first_image(
    browser: Any, base: str, dashboard: str, timeout_ms: float
) -> tuple[float, float]:
    """Seconds from navigation to the dashboard shown, and to its first interactive image.

    Each run opens a fresh page, so Voila starts a fresh kernel for it.
    """
    outside: list[str] = []
    context, page = await new_page(browser, outside, timeout_ms)
    try:
        await page.goto(f"{base}/voila/render/{dashboard}.ipynb", timeout=timeout_ms)
        await page.wait_for_function(SHOWN, timeout=timeout_ms)
        if dashboard == "quiz":
            await start_quiz(page, "bench-first-image", timeout_ms)
            await page.wait_for_function(QUIZ_IMAGE, timeout=timeout_ms)
        else:
            selector = ".tfd-grid img" if dashboard == "library" else ".tfd img"
            await page.wait_for_function(LOADED_IMAGE, arg=selector, timeout=timeout_ms)
        shown: float = await page.evaluate("window.__tfShown")
        ms: float = await page.evaluate("window.__tfFirst")
        await page.screenshot(path=str(SHOTS / f"bench_{dashboard}.png"))
        return round(shown / 1000, 2), round(ms / 1000, 2)
    finally:
        await context.close()


async def answer_one(page: Any, previous: str, timeout_ms: float) -> tuple[str, bool]:
    """Answer the question on screen, or skip one that wants a mark; (its id, submitted)."""
    await page.wait_for_function(QUESTION, arg=previous, timeout=timeout_ms)
    qid = str(await page.locator(".tfq").get_attribute("data-question"))
    choices = page.locator(".tfq-choice")
    text = page.locator("input.tfq-text")
    if await choices.count():
        await choices.first.click()
    elif await text.count():
        await text.fill("ground-glass opacities")
    else:  # a click or box question: skip it (marks are covered by the browser tests)
        await page.get_by_role("button", name="Skip for now").click()
        return qid, False
    await page.get_by_role("button", name="Submit answer").click()
    await page.wait_for_function(FEEDBACK, arg=qid, timeout=timeout_ms)
    await page.get_by_role("button", name=NEXT).click()
    return qid, True


async def learner(
    browser: Any, base: str, i: int, args: argparse.Namespace, opened: Gate
) -> dict[str, Any]:
    """One learner: open the quiz, wait for the others, then answer ``questions``."""
    outside: list[str] = []
    name = f"bench-learner-{i:02d}"
    timeout_ms = args.timeout * 1000
    await asyncio.sleep(i * args.stagger)
    context, page = await new_page(browser, outside, timeout_ms)
    result: dict[str, Any] = {"name": name, "submitted": 0, "error": None}
    arrived = False
    try:
        await page.goto(f"{base}/voila/render/quiz.ipynb", timeout=timeout_ms)
        await page.get_by_placeholder("your name").wait_for(timeout=timeout_ms)
        arrived = True
        await opened.wait(args.timeout)  # every kernel is up: now all act at once
        start = time.perf_counter()
        await start_quiz(page, name, timeout_ms)
        qid = ""
        for _ in range(args.questions * 3):
            if result["submitted"] == args.questions:
                break
            qid, submitted = await answer_one(page, qid, timeout_ms)
            result["submitted"] += submitted
        result["seconds"] = time.perf_counter() - start
        if i == 0:
            await page.screenshot(path=str(SHOTS / "bench_learner.png"))
    except Exception as exc:  # report the learner's failure, keep the others going
        result["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        with contextlib.suppress(Exception):  # what the learner saw, to look at
            await page.screenshot(path=str(SHOTS / f"bench_learner_{i:02d}_failed.png"))
        if not arrived:
            opened.arrive()
    result["outside"] = outside
    result["page"], result["context"] = page, context
    return result


async def run(args: argparse.Namespace, base: str, pid: int, gradebook: str) -> dict[str, Any]:
    """Measure first images and the learners' load against the running server."""
    from playwright.async_api import async_playwright

    from teachingfiles.quiz import Gradebook

    timeout_ms = args.timeout * 1000
    path = chromium_path()
    if path is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            await first_image(browser, base, "library", timeout_ms)  # warm the disk caches
            timings = {
                d: await first_image(browser, base, d, timeout_ms) for d in ("quiz", "library")
            }
            before = {k for k, _ in kernel_rss_mb(pid)}  # kernels of the pages closed above
            opened = Gate(args.learners)
            start = time.perf_counter()
            results = await asyncio.gather(
                *(learner(browser, base, i, args, opened) for i in range(args.learners))
            )
            wall = time.perf_counter() - start
            # every learner's page, and so its kernel, is still open
            rss = [mb for k, mb in kernel_rss_mb(pid) if k not in before]
            for r in results:
                await r.pop("context").close()
                r.pop("page")
            timings["gradebook"] = await first_image(browser, base, "gradebook", timeout_ms)
        finally:
            await browser.close()
    with Gradebook(gradebook) as book:
        stored = sum(len(book.attempts(learner=r["name"])) for r in results)
    done = [r["seconds"] for r in results if r["error"] is None]
    return {
        "first_image_s": {d: t[1] for d, t in timings.items()},
        "dashboard_shown_s": {d: t[0] for d, t in timings.items()},
        "first_image_target_s": TARGET_S,
        "learners": args.learners,
        "questions_per_learner": args.questions,
        "attempts_expected": args.learners * args.questions,
        "attempts_submitted": sum(r["submitted"] for r in results),
        "attempts_stored": stored,
        "learners_completed": len(done),
        "learner_errors": [f"{r['name']}: {r['error']}" for r in results if r["error"]],
        "learner_quiz_s_median": round(median(done), 1) if done else None,
        "learner_quiz_s_max": round(max(done), 1) if done else None,
        "load_wall_s": round(wall, 1),
        "kernels_measured": len(rss),
        "kernel_rss_mb_per_learner": round(sum(rss) / len(rss), 1) if rss else None,
        "requests_outside_loopback": sorted({u for r in results for u in r["outside"]}),
    }


SHOTS = ROOT / "test-output" / "screenshots"


def main() -> None:
    """Parse the options, start PostgreSQL and the dashboards, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--learners", type=int, default=20)
    parser.add_argument("--questions", type=int, default=3, help="answered per learner")
    parser.add_argument("--stagger", type=float, default=1.0, help="seconds between page opens")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per wait")
    parser.add_argument(
        "--repository", type=Path, default=None, help="default: the demo (built on first use)"
    )
    args = parser.parse_args()
    from teachingfiles.dashboards import ensure_demo

    SHOTS.mkdir(parents=True, exist_ok=True)
    repository = args.repository or ensure_demo()
    with (
        tempfile.TemporaryDirectory(prefix="tf-bench-dash-") as tmp,
        postgres() as url,
        served(repository, url, Path(tmp)) as (base, pid),
    ):
        out = asyncio.run(run(args, base, pid, url))
    if args.json:
        print(json.dumps(out))
        return
    for name, seconds in out["first_image_s"].items():
        verdict = "ok" if seconds <= TARGET_S else "over target"
        print(f"first image, {name:<9} {seconds:6.2f} s  (target <= {TARGET_S:g} s: {verdict}; "
              f"dashboard shown at {out['dashboard_shown_s'][name]:.2f} s)")  # fmt: skip
    print(
        f"{out['learners']} learners x {out['questions_per_learner']} questions: "
        f"{out['attempts_stored']} of {out['attempts_expected']} attempts stored in PostgreSQL "
        f"({out['attempts_submitted']} submitted; quiz median {out['learner_quiz_s_median']} s, "
        f"max {out['learner_quiz_s_max']} s; {out['load_wall_s']} s wall)"
    )
    print(f"kernel RSS per learner {out['kernel_rss_mb_per_learner']} MB "
          f"({out['kernels_measured']} kernels)")  # fmt: skip
    for problem in out["learner_errors"] + out["requests_outside_loopback"]:
        print(f"  ! {problem}")


if __name__ == "__main__":
    main()
