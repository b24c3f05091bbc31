"""Fixtures for the browser tier: Voila on loopback, Debian's headless Chromium.

One Voila server and one page per module keep the tier fast on a 2-core machine;
each test puts the viewer into the state it needs before acting.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "notebooks"))

from pages import keep_on_loopback
from serving import chromium, chromium_path, voila

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if chromium_path() is None:
        skip = pytest.mark.skip(
            reason="Debian chromium is not installed (apt-get install chromium)"
        )
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="module")
def voila_url() -> Iterator[str]:
    with voila() as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, chromium(pw) as launched:
        yield launched


class ViewerPage:
    """A Voila page holding one viewer, with the requests it made."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.outside: list[str] = []
        self.console_errors: list[str] = []

    def state(self) -> dict[str, Any]:
        """What Python sees (the notebook mirrors the viewer's traits as JSON)."""
        import json

        return dict(json.loads(self.page.locator(".tf-state").text_content()))

    def wait_python(self, expression: str, timeout: float = 15_000) -> None:
        """Wait until ``expression`` (JS, over ``s`` = Python's state) is true."""
        self.page.wait_for_function(
            "(expr) => { const el = document.querySelector('.tf-state');"
            " if (!el) return false; const s = JSON.parse(el.textContent);"
            " return Function('s', 'return ' + expr)(s); }",
            arg=expression,
            timeout=timeout,
        )

    def wait_dataset(self, key: str, value: str, timeout: float = 15_000) -> None:
        self.page.wait_for_function(
            "([k, v]) => document.querySelector('.tfv')?.dataset[k] === v",
            arg=[key, value],
            timeout=timeout,
        )

    def screenshot(self, name: str) -> Any:
        """Screenshot the canvas (saved under test-output/screenshots) as an RGB numpy array."""
        import io

        import numpy as np
        from PIL import Image

        SHOTS.mkdir(parents=True, exist_ok=True)
        data = self.page.locator(".tfv-canvas").screenshot(path=str(SHOTS / f"{name}.png"))
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

    def image_rect(self) -> tuple[float, float, float, float]:
        """Where the image is drawn inside the canvas, CSS px: left, top, width, height."""
        text = self.page.locator(".tfv").get_attribute("data-image-rect")
        left, top, width, height = (float(v) for v in str(text).split(","))
        return left, top, width, height


@pytest.fixture(scope="module")
def viewer_page(voila_url: str, browser: Any) -> Iterator[ViewerPage]:
    page = browser.new_page(viewport={"width": 900, "height": 1000})
    viewer = ViewerPage(page)

    keep_on_loopback(page, viewer.outside)
    page.on("console", lambda m: m.type == "error" and viewer.console_errors.append(m.text))
    page.goto(f"{voila_url}/voila/render/viewer_blocks.ipynb")
    page.wait_for_selector(".tfv[data-full='40']", timeout=60_000)
    yield viewer
    page.close()
