"""The stack viewer in JupyterLab 4 and Notebook 7, served on loopback (issue item 5).

Each test starts the server with a fresh settings folder, opens the notebook in
headless Chromium, runs its cell from the keyboard (Shift+Enter), and checks that
the canvas shows the middle slice's values at full quality, with every request
kept on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from conftest import ViewerPage
from pages import keep_on_loopback
from serving import jupyter
from volumes import BLOCK, BLOCK_SHAPE, BLOCK_WINDOW, block_value

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

NZ, NY, NX = BLOCK_SHAPE
KERNEL_READY = """() => {
  const panel = globalThis.jupyterapp?.shell?.currentWidget;
  const kernel = panel?.sessionContext?.session?.kernel;
  return !!kernel && kernel.connectionStatus === "connected" && kernel.status === "idle";
}"""
URLS = {"lab": "/lab/tree/viewer_lab.ipynb", "notebook": "/notebooks/viewer_lab.ipynb"}


@pytest.fixture(params=["lab", "notebook"])
def jupyter_page(request: pytest.FixtureRequest, browser: Any) -> Iterator[ViewerPage]:
    app = str(request.param)
    with jupyter(app) as (base, token):
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        viewer = ViewerPage(page)

        keep_on_loopback(page, viewer.outside)
        page.goto(f"{base}{URLS[app]}?token={token}", timeout=60_000)
        try:
            yield viewer
        finally:
            page.close()


def run_first_code_cell(vp: ViewerPage) -> None:
    """Click into the code cell's editor and run it with Shift+Enter, once the kernel is idle."""
    page = vp.page
    editor = page.locator(".jp-CodeCell .cm-content").first
    editor.wait_for(timeout=60_000)
    page.wait_for_function(KERNEL_READY, timeout=60_000)
    editor.click()
    page.keyboard.press("Shift+Enter")
    page.locator(".jp-CodeCell .jp-InputPrompt").first.filter(has_text="[1]").wait_for(
        timeout=60_000
    )


def test_viewer_renders_the_middle_slice_in_jupyter(jupyter_page: ViewerPage) -> None:
    vp = jupyter_page
    run_first_code_cell(vp)
    vp.page.wait_for_selector(f".tfv[data-full='{NZ}']", timeout=60_000)
    vp.wait_dataset("quality", "full")
    z = int(vp.page.locator(".tfv").get_attribute("data-index"))
    assert z == NZ // 2
    center, width = BLOCK_WINDOW
    shot = vp.screenshot(f"jupyter_{vp.page.url.split('/')[3]}")
    left, top, w, h = vp.image_rect()
    for by in range(NY // BLOCK):
        for bx in range(NX // BLOCK):
            y, x = by * BLOCK + BLOCK // 2, bx * BLOCK + BLOCK // 2
            want = np.floor(
                np.clip((block_value(z, y, x) - (center - width / 2)) / width * 255, 0, 255)
            )
            got = shot[int(top + (y + 0.5) * h / NY), int(left + (x + 0.5) * w / NX)]
            assert np.all(np.abs(got.astype(float) - want) <= 3), (z, y, x, got, want)
    assert vp.page.locator(".tfv-error").is_hidden()
    assert vp.outside == []
