"""The stack viewer in real headless Chromium, served by Voila on loopback."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from conftest import ViewerPage
from volumes import BLOCK, BLOCK_SHAPE, BLOCK_SPACING, block_value

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

NZ, NY, NX = BLOCK_SHAPE
# Voila's own page template links Font Awesome from jsDelivr (not the viewer's doing).
VOILA_TEMPLATE_CDN = "cdn.jsdelivr.net/npm/@fortawesome/"


def screen_xy(vp: ViewerPage, x: float, y: float) -> tuple[float, float]:
    """Page coordinates of image pixel (x, y) (pixel centres at integers)."""
    box = vp.page.locator(".tfv-canvas").bounding_box()
    left, top, width, height = vp.image_rect()
    return (
        box["x"] + left + (x + 0.5) * width / NX,
        box["y"] + top + (y + 0.5) * height / NY,
    )


def expected_grey(value: float, center: float, width: float) -> float:
    return float(np.floor(np.clip((value - (center - width / 2)) / width * 255, 0, 255)))


def sample(vp: ViewerPage, shot: Any, x: float, y: float) -> np.ndarray:
    left, top, width, height = vp.image_rect()
    px = int(left + (x + 0.5) * width / NX)
    py = int(top + (y + 0.5) * height / NY)
    return shot[py, px].astype(float)


def go_to(vp: ViewerPage, index: int) -> None:
    vp.page.locator(".tfv").focus()
    vp.page.keyboard.press("Home")
    for _ in range(index):
        vp.page.keyboard.press("ArrowDown")
    vp.wait_dataset("index", str(index))
    vp.wait_python(f"s.index === {index}")


def check_slice_pixels(vp: ViewerPage, z: int, name: str) -> None:
    center, width = vp.page.evaluate(
        "(() => { const s = globalThis.__tfViewers[0].state; return [s.center, s.width]; })()"
    )
    shot = vp.screenshot(name)
    checked = 0
    for by in range(NY // BLOCK):
        for bx in range(NX // BLOCK):
            y, x = by * BLOCK + BLOCK // 2, bx * BLOCK + BLOCK // 2
            want = expected_grey(block_value(z, y, x), center, width)
            got = sample(vp, shot, x, y)
            assert np.all(np.abs(got - want) <= 3), (z, y, x, got, want)
            checked += 1
    assert checked == (NY // BLOCK) * (NX // BLOCK)


def test_viewer_renders_the_slice_values_at_full_quality(viewer_page: ViewerPage) -> None:
    vp = viewer_page
    assert vp.page.locator(".tfv").get_attribute("data-quality") == "full"
    z = int(vp.page.locator(".tfv").get_attribute("data-index"))
    assert z == NZ // 2
    check_slice_pixels(vp, z, "rendered_middle")
    assert "21 / 40" in vp.page.locator(".tfv-counter").text_content()
    # patient orientation at the image edges: left, right, top, bottom
    assert vp.page.locator(".tfv").get_attribute("data-orientation") == "R,L,A,P"


def test_keys_and_wheel_scroll_and_python_sees_the_slice(viewer_page: ViewerPage) -> None:
    vp = viewer_page
    root = vp.page.locator(".tfv")
    root.focus()
    vp.page.keyboard.press("Home")
    vp.wait_python("s.index === 0")
    for _ in range(3):
        vp.page.keyboard.press("ArrowDown")
    vp.wait_python("s.index === 3")
    vp.page.keyboard.press("End")
    vp.wait_python(f"s.index === {NZ - 1}")
    vp.page.keyboard.press("PageUp")
    vp.wait_python(f"s.index === {NZ - 1 - NZ // 10}")
    x, y = screen_xy(vp, NX / 2, NY / 2)
    vp.page.mouse.move(x, y)
    vp.page.mouse.wheel(0, -100)
    vp.wait_python(f"s.index === {NZ - 2 - NZ // 10}")
    vp.wait_dataset("index", str(NZ - 2 - NZ // 10))
    check_slice_pixels(vp, NZ - 2 - NZ // 10, "after_wheel")


def test_python_moves_the_slice_and_the_browser_follows(viewer_page: ViewerPage) -> None:
    vp = viewer_page
    vp.page.get_by_label("go to").fill("12")
    vp.page.get_by_label("go to").press("Enter")
    vp.wait_dataset("index", "12")
    assert vp.page.locator(".tfv-counter").text_content() == "13 / 40"


def test_drag_changes_the_window_in_python(viewer_page: ViewerPage) -> None:
    vp = viewer_page
    go_to(vp, 10)
    before = vp.state()
    x, y = screen_xy(vp, NX / 2, NY / 2)
    vp.page.mouse.move(x, y)
    vp.page.mouse.down()
    vp.page.mouse.move(x + 60, y + 30, steps=6)
    vp.page.mouse.up()
    drawn = vp.page.evaluate(
        "(() => { const s = globalThis.__tfViewers[0].state; return [s.center, s.width]; })()"
    )
    vp.wait_python(f"s.window_center === {drawn[0]} && s.window_width === {drawn[1]}")
    after = vp.state()
    assert after["preset"] == ""
    assert after["window_width"] > before["window_width"]
    assert after["window_center"] > before["window_center"]
    check_slice_pixels(vp, 10, "after_drag")
    vp.page.keyboard.press("1")  # the first preset by its number key
    vp.wait_python("s.preset === 'lung'")
    assert "(lung)" in vp.page.locator(".tfv-tr").text_content()


def test_click_reaches_python_with_pixel_patient_position_and_value(
    viewer_page: ViewerPage,
) -> None:
    vp = viewer_page
    go_to(vp, 7)
    clicks = vp.state()["clicks"]
    x, y = screen_xy(vp, 40, 24)
    vp.page.mouse.click(x, y)
    vp.wait_python(f"s.clicks === {clicks + 1}")
    event = vp.state()["last_event"]
    assert event["slice"] == 7
    assert event["pixel"] == pytest.approx([40, 24], abs=0.5)
    dz, dy, dx = BLOCK_SPACING
    assert event["patient"] == pytest.approx([40 * dx, 24 * dy, 7 * dz], abs=0.5)
    assert event["value"] == block_value(7, 24, 40)
    vp.page.mouse.move(x, y)
    readout = vp.page.locator(".tfv-bl").text_content()
    assert f"{block_value(7, 24, 40)} HU" in readout


def test_overlay_toggle_shows_and_hides_the_polygon(viewer_page: ViewerPage) -> None:
    vp = viewer_page
    go_to(vp, 5)
    vp.wait_dataset("shapes", "1")
    shot = vp.screenshot("overlay_on")
    edge = sample(vp, shot, 40, 20)  # on the polygon's top edge, drawn in #ff0000
    assert edge[0] > 200 and edge[1] < 80 and edge[2] < 80, edge
    vp.page.keyboard.press("o")
    vp.wait_python("s.show_overlay === false")
    vp.wait_dataset("shapes", "0")
    shot = vp.screenshot("overlay_off")
    grey = sample(vp, shot, 40, 20)
    assert abs(grey[0] - grey[1]) < 4 and abs(grey[1] - grey[2]) < 4, grey
    vp.page.keyboard.press("o")
    vp.wait_python("s.show_overlay === true")


def test_box_drawn_in_box_mode_reaches_python(viewer_page: ViewerPage) -> None:
    vp = viewer_page
    vp.page.get_by_label("mode").select_option("box")
    vp.wait_python("s.mode === 'box'")
    go_to(vp, 9)
    x0, y0 = screen_xy(vp, 10, 10)
    x1, y1 = screen_xy(vp, 50, 30)
    vp.page.mouse.move(x0, y0)
    vp.page.mouse.down()
    vp.page.mouse.move(x1, y1, steps=5)
    vp.page.mouse.up()
    vp.wait_python("s.last_event.kind === 'box'")
    event = vp.state()["last_event"]
    assert event["slice"] == 9
    assert np.allclose(event["points"], [[10, 10], [50, 30]], atol=0.6)
    vp.page.get_by_label("mode").select_option("inspect")
    vp.wait_python("s.mode === 'inspect'")


def test_coronal_view_switch_streams_the_reformat(viewer_page: ViewerPage) -> None:
    vp = viewer_page
    vp.page.locator(".tfv").focus()
    vp.page.keyboard.press("c")
    vp.wait_python("s.view === 'coronal'")
    vp.wait_dataset("full", str(NY))
    assert vp.page.locator(".tfv-counter").text_content() == f"{NY // 2 + 1} / {NY}"
    vp.screenshot("coronal")
    assert vp.page.locator(".tfv").get_attribute("data-orientation") == "R,L,S,I"
    vp.page.keyboard.press("a")
    vp.wait_python("s.view === 'axial'")
    vp.wait_dataset("full", str(NZ))


def test_python_error_is_shown_inside_the_widget(viewer_page: ViewerPage) -> None:
    vp = viewer_page
    vp.page.get_by_role("button", name="fail").click()
    box = vp.page.locator(".tfv-error")
    box.wait_for(state="visible")
    assert "the test asked for a failure" in box.text_content()


def test_no_request_leaves_loopback(viewer_page: ViewerPage) -> None:
    vp = viewer_page
    assert all(VOILA_TEMPLATE_CDN in url for url in vp.outside), vp.outside
    stats = vp.page.evaluate("globalThis.__tfViewers[0].stats")
    assert stats["maxMessage"] <= 8 * 2**20
    assert vp.state()["client_errors"] == []


def readout_pixel(vp: ViewerPage) -> tuple[int, int, int]:
    """Column, row and value the pointer readout shows."""
    text = str(vp.page.locator(".tfv-bl").text_content())
    match = re.match(r"\((\d+), (\d+)\) (-?\d+) HU", text)
    assert match, text
    col, row, value = (int(g) for g in match.groups())
    return col, row, value


def point_at(vp: ViewerPage, x: float, y: float) -> None:
    """Move the mouse to page point (x, y), arriving from a pixel away (a fresh pointermove)."""
    vp.page.mouse.move(x + 3, y + 3)
    vp.page.mouse.move(x, y)


def test_ctrl_wheel_zoom_keeps_the_point_under_the_cursor_and_keys_zoom_and_reset(
    viewer_page: ViewerPage,
) -> None:
    vp = viewer_page
    go_to(vp, 11)
    start_rect = vp.image_rect()
    x, y = screen_xy(vp, 30, 20)  # off centre: zooming about the centre would prove nothing
    point_at(vp, x, y)
    assert readout_pixel(vp) == (30, 20, block_value(11, 20, 30))
    vp.page.keyboard.down("Control")
    for _ in range(5):
        vp.page.mouse.wheel(0, -100)
    vp.page.keyboard.up("Control")
    vp.wait_python("s.zoom > 1.6 && s.zoom < 1.62")  # 1.1 ** 5
    assert vp.state()["index"] == 11  # ctrl+wheel zooms, it does not scroll
    left, top, width, height = vp.image_rect()
    assert width == pytest.approx(start_rect[2] * 1.1**5, rel=1e-3)
    point_at(vp, x, y)
    assert readout_pixel(vp) == (30, 20, block_value(11, 20, 30))
    # the drawn pixel under the cursor is still that pixel's block
    box = vp.page.locator(".tfv-canvas").bounding_box()
    shot = vp.screenshot("zoomed_about_cursor")
    center, window = vp.page.evaluate(
        "(() => { const s = globalThis.__tfViewers[0].state; return [s.center, s.width]; })()"
    )
    got = shot[int(y - box["y"]), int(x - box["x"])].astype(float)
    assert np.all(np.abs(got - expected_grey(block_value(11, 20, 30), center, window)) <= 3)
    assert left + 30.5 * width / NX == pytest.approx(x - box["x"], abs=1.0)
    assert top + 20.5 * height / NY == pytest.approx(y - box["y"], abs=1.0)
    # +/- zoom about the centre of the image, r resets zoom and pan
    vp.page.locator(".tfv").focus()
    vp.page.keyboard.press("+")
    vp.wait_python("s.zoom > 2.0 && s.zoom < 2.02")  # 1.1 ** 5 * 1.25
    vp.page.keyboard.press("-")
    vp.wait_python("s.zoom > 1.6 && s.zoom < 1.62")
    vp.page.keyboard.press("r")
    vp.wait_python("s.zoom === 1")
    assert vp.image_rect() == pytest.approx(start_rect, abs=0.01)
    point_at(vp, x, y)
    assert readout_pixel(vp) == (30, 20, block_value(11, 20, 30))
    # the Reset button does the same after a zoom
    vp.page.keyboard.press("+")
    vp.wait_python("s.zoom === 1.25")
    vp.page.get_by_role("button", name="Reset").click()
    vp.wait_python("s.zoom === 1")
    assert vp.image_rect() == pytest.approx(start_rect, abs=0.01)
