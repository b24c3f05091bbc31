"""Authoring in real headless Chromium (Voila): draw a box (and a freehand outline), save,
reload, the box is there.

The page holds :class:`~teachingfiles.widgets.AuthoringView` on a draft of a
private copy of the demo repository (``tests/browser/notebooks/authoring_demo.ipynb``);
a reload starts a new kernel, which restores the draft.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SHOTS, ViewerPage
from pages import keep_on_loopback
from serving import voila

from teachingfiles.cases.authoring import AuthoringSession
from teachingfiles.cases.teaching_set import TeachingSet
from teachingfiles.repository.mdai import read_mdai
from teachingfiles.repository.repository import Repository

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

LABEL = "Infectious opacity"  # the first label of the default set
VOILA_TEMPLATE_CDN = "cdn.jsdelivr.net/npm/@fortawesome/"
NPIX = 512  # the demo CT images are 512 x 512
BOX = ((200.0, 180.0), (340.0, 300.0))  # image pixels (x = column), top-left and bottom-right


@pytest.fixture(scope="module")
def author_env(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A copy of the demo and a draft holding one CT case (RICORD 1A)."""
    base = tmp_path_factory.mktemp("authoring")
    root = base / "repo"
    shutil.copytree(demo_root, root)
    draft = base / "draft.json"
    with Repository.open(root, index=False) as repo:
        session = AuthoringSession(repo, draft, title="Browser set")
        study = repo.studies(collection="DEMO-RICORD-1A")[0].study_uid
        session.add_case(study, case_id="ct-1", title="Drawn in Chromium")
    return {"TF_AUTHOR_ROOT": str(root), "TF_AUTHOR_DRAFT": str(draft)}


@pytest.fixture(scope="module")
def author_page(author_env: dict[str, str], browser: Any) -> Iterator[ViewerPage]:
    with voila(env=author_env) as base:
        page = browser.new_page(viewport={"width": 1300, "height": 1100})
        vp = ViewerPage(page)

        keep_on_loopback(page, vp.outside)
        page.on("console", lambda m: m.type == "error" and vp.console_errors.append(m.text))
        page.goto(f"{base}/voila/render/authoring_demo.ipynb")
        yield vp
        page.close()


def _ready(vp: ViewerPage) -> None:
    vp.page.wait_for_selector(".tfv[data-full='64']", timeout=120_000)
    vp.page.wait_for_selector(".tf-state", timeout=60_000)


def _page_point(vp: ViewerPage, x: float, y: float) -> tuple[float, float]:
    canvas = vp.page.locator(".tfv-canvas").bounding_box()
    left, top, width, height = vp.image_rect()
    return canvas["x"] + left + x * width / NPIX, canvas["y"] + top + y * height / NPIX


def _outline_found(vp: ViewerPage, shot: np.ndarray, color: tuple[int, int, int]) -> bool:
    """Whether the left edge of the box, halfway down, is drawn in ``color``."""
    left, top, width, height = vp.image_rect()
    scale = shot.shape[1] / vp.page.locator(".tfv-canvas").bounding_box()["width"]
    x = (left + BOX[0][0] * width / NPIX) * scale
    y = (top + (BOX[0][1] + BOX[1][1]) / 2 * height / NPIX) * scale
    patch = shot[int(y) - 1 : int(y) + 2, int(x) - 3 : int(x) + 4].astype(float)
    distance = np.linalg.norm(patch - np.asarray(color, float), axis=2)
    return bool(distance.min() < 40)


def test_draw_a_box_save_reload_and_the_box_is_there(
    author_page: ViewerPage, author_env: dict[str, str]
) -> None:
    vp = author_page
    _ready(vp)
    assert vp.state()["annotations"] == []
    assert vp.page.locator(".tfv").get_attribute("data-image-rect")
    index = vp.state()["index"]
    vp.page.locator(".tfa-tools button", has_text="Box").click()
    vp.wait_python("s.mode === 'box'")
    (x0, y0), (x1, y1) = (_page_point(vp, *p) for p in BOX)
    vp.page.mouse.move(x0, y0)
    vp.page.mouse.down()
    vp.page.mouse.move(x1, y1, steps=8)
    vp.page.mouse.up()
    vp.wait_python("s.annotations.length === 1")
    drawn = vp.state()["annotations"][0]
    assert (drawn["kind"], drawn["label"], drawn["slice"]) == ("box", LABEL, index)
    assert np.allclose(drawn["points"], BOX, atol=1.0)
    # Python's state is on disk already: the draft, written as it changed
    draft = json.loads(Path(author_env["TF_AUTHOR_DRAFT"]).read_text(encoding="utf-8"))
    assert draft["annotations"] == [drawn]
    # freehand: press, drag around, release gives a closed, simplified outline
    vp.page.locator(".tfa-tools button", has_text="Freehand").click()
    vp.wait_python("s.mode === 'freehand'")
    ring = [_page_point(vp, 110 + 30 * np.cos(t), 380 + 30 * np.sin(t))
            for t in np.linspace(0, 2 * np.pi, 40)]  # fmt: skip
    vp.page.mouse.move(*ring[0])
    vp.page.mouse.down()
    for point in ring[1:]:
        vp.page.mouse.move(*point, steps=2)
    vp.page.mouse.up()
    vp.wait_python("s.annotations.length === 2")
    free = vp.state()["annotations"][1]
    assert free["kind"] == "freehand"
    radii = [np.hypot(x - 110, y - 380) for x, y in free["points"]]
    assert 8 <= len(radii) < 80
    assert min(radii) > 26 and max(radii) < 34
    vp.page.locator(".tfa-save").click()
    vp.wait_python("s.status.includes('Saved')", timeout=60_000)
    root = Path(author_env["TF_AUTHOR_ROOT"])
    saved = TeachingSet.from_yaml(root / "teaching-sets" / "browser-set.yaml")
    assert [c.id for c in saved.cases] == ["ct-1"]
    mdai = list(read_mdai(root / "annotations" / "authored-browser-set.json").annotations())
    assert len(mdai) == 2
    assert [a.data for a in mdai if "width" in (a.data or {})] == [
        {"x": drawn["points"][0][0], "y": drawn["points"][0][1],
         "width": drawn["points"][1][0] - drawn["points"][0][0],
         "height": drawn["points"][1][1] - drawn["points"][0][1]}
    ]  # fmt: skip
    vp.wait_dataset("shapes", "2")
    color = (0xFF, 0x57, 0x22)  # the label's colour in RICORD's MD.ai JSON
    assert _outline_found(vp, vp.screenshot("authoring-drawn"), color)

    # a reload is a new kernel: it reads the draft back
    vp.page.reload()
    _ready(vp)
    assert vp.state()["annotations"] == [drawn, free]
    assert vp.state()["index"] == index
    vp.wait_dataset("shapes", "2")
    vp.page.screenshot(path=str(Path(__file__).resolve().parents[2] / "test-output" /
                                "screenshots" / "authoring-page.png"), full_page=True)  # fmt: skip
    assert _outline_found(vp, vp.screenshot("authoring-reloaded"), color)
    # the Voila template's own icon font is the only thing asked of the internet (refused)
    assert all(VOILA_TEMPLATE_CDN in url for url in vp.outside), vp.outside


def test_a_box_drawn_on_the_coronal_view_is_stored_on_the_axial_slices(
    author_page: ViewerPage, author_env: dict[str, str]
) -> None:
    vp = author_page
    _ready(vp)
    before = len(vp.state()["annotations"])
    vp.page.locator(".tfv button[title^='coronal view']").click()
    # the coronal image is 512 wide and 64 slices (5 mm) tall: wider than high on screen
    vp.page.wait_for_function(
        "() => { const r = document.querySelector('.tfv').dataset.imageRect.split(',');"
        " return +r[3] < 0.8 * +r[2]; }"
    )
    vp.page.locator(".tfa-tools button", has_text="Box").click()
    vp.wait_python("s.mode === 'box'")
    canvas = vp.page.locator(".tfv-canvas").bounding_box()
    left, top, width, height = vp.image_rect()

    def at(x: float, y: float) -> tuple[float, float]:
        return canvas["x"] + left + x * width / NPIX, canvas["y"] + top + y * height / 64

    vp.page.mouse.move(*at(100.0, 10.0))
    vp.page.mouse.down()
    vp.page.mouse.move(*at(160.0, 20.4), steps=8)
    vp.page.mouse.up()
    vp.wait_python(f"s.annotations.length > {before}")
    state = vp.state()
    made = state["annotations"][before:]
    image = state["index"]  # the coronal image on screen
    assert len(made) in (10, 11, 12)  # rows 10 to 20.4, to the hand's precision
    assert {m["drawn_on"]["view"] for m in made} == {"coronal"}
    assert len({m["group"] for m in made}) == 1
    slices = sorted(m["slice"] for m in made)
    assert slices == list(range(slices[0], slices[0] + len(made)))
    for m in made:  # one pixel row deep, around the row the coronal image cuts
        (x0, y0), (x1, y1) = m["points"]
        assert (y0, y1) == (image - 0.5, image + 0.5)
        assert abs(x0 - 100) < 1.5 and abs(x1 - 160) < 1.5
    assert "axial boxes" in state["status"] and "press &#x27;a&#x27;" in state["status"]
    draft = json.loads(Path(author_env["TF_AUTHOR_DRAFT"]).read_text(encoding="utf-8"))
    assert draft["annotations"][before:] == made
    vp.screenshot("authoring-coronal")
    vp.page.screenshot(path=str(SHOTS / "authoring-coronal-page.png"), full_page=True)
