"""What every browser test does to a page: keep it on loopback, wait for the widgets.

One copy of the request guard (no request may leave the machine) and of the waits
on the quiz card and the viewer, which publish their state as ``data-`` attributes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

__all__ = ["LOOPBACK", "canvas_xy", "keep_on_loopback", "wait_quiz_stage", "wait_viewer_index"]

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def keep_on_loopback(page: Any, outside: list[str]) -> None:
    """Abort every request that would leave loopback, listing its URL in ``outside``."""

    def route(r: Any) -> None:
        host = urlparse(r.request.url).hostname or ""
        if host in LOOPBACK or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)


def wait_quiz_stage(page: Any, stage: str, question: str, timeout: float = 60_000) -> None:
    """Wait until the quiz card shows ``stage`` of ``question`` and is not busy."""
    page.wait_for_function(
        "([s, q]) => { const el = document.querySelector('.tfq');"
        " return el && el.dataset.stage === s && el.dataset.question === q"
        " && el.dataset.busy === 'false'; }",
        arg=[stage, question],
        timeout=timeout,
    )


def wait_viewer_index(page: Any, index: int, timeout: float = 60_000) -> None:
    """Wait until the viewer has drawn slice ``index`` (preview or full quality)."""
    page.wait_for_function(
        "(i) => { const v = document.querySelector('.tfv');"
        " return v && v.dataset.index === String(i) && v.dataset.imageRect"
        " && ['preview', 'full'].includes(v.dataset.quality); }",
        arg=index,
        timeout=timeout,
    )


def canvas_xy(page: Any, x: float, y: float, cols: int, rows: int) -> tuple[float, float]:
    """Page coordinates of the centre of image pixel (x, y) on the viewer's canvas."""
    box = page.locator(".tfv-canvas").bounding_box()
    text = page.locator(".tfv").get_attribute("data-image-rect")
    left, top, width, height = (float(v) for v in str(text).split(","))
    return box["x"] + left + (x + 0.5) * width / cols, box["y"] + top + (y + 0.5) * height / rows
