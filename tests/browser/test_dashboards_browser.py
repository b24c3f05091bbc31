"""The three dashboards end to end in headless Chromium, served as ``teachingfiles serve`` does.

One Voila server per module serves ``notebooks/dashboards`` with the offline
``teachingfiles`` template, a COPY of the demo repository and a fresh gradebook
file. A learner takes the quiz (scrolls the CT with the wheel, answers a category
question, clicks the finding), the attempt lands in the gradebook, a reload
resumes; the educator's gradebook lists the learner; the case library filters and
opens an unknown. Every request the pages make must stay on loopback.
Screenshots go to ``test-output/screenshots/dashboards_*.png`` (laptop and tablet,
light and dark).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SHOTS
from pages import canvas_xy, keep_on_loopback, wait_quiz_stage, wait_viewer_index
from serving import dashboards

from teachingfiles.cases.teaching_set import TeachingSet
from teachingfiles.dashboards.library import CaseLibrary, card_lines
from teachingfiles.dashboards.quiz_app import QuizDashboard
from teachingfiles.quiz import Gradebook, Quiz, resolve
from teachingfiles.repository.repository import Repository
from teachingfiles.vocabulary import Appearance


def browser_test(test: Any) -> Any:
    """Mark a test of this tier (the card unit test at the end runs without a browser)."""
    for mark in (pytest.mark.browser, pytest.mark.server, pytest.mark.slow):
        test = mark(test)
    return test


SET_FILE = "teaching-sets/covid19-rsna-categories.yaml"
LEARNER = "Dr Dashboard Resident"
LAPTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}


@pytest.fixture(scope="module")
def repo_copy(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo repository: the dashboards' kernels may write its catalog."""
    target = tmp_path_factory.mktemp("dash") / "repository"
    shutil.copytree(demo_root, target)
    return target


@pytest.fixture(scope="module")
def gradebook_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dash-gb") / "gradebook.sqlite"


@pytest.fixture(scope="module")
def quiz(repo_copy: Path) -> Iterator[Quiz]:
    repo = Repository.open(repo_copy, index=False)
    yield resolve(TeachingSet.from_yaml(repo_copy / SET_FILE), repo)
    repo.close()


@pytest.fixture(scope="module")
def server(repo_copy: Path, gradebook_file: Path) -> Iterator[str]:
    with dashboards(repo_copy, str(gradebook_file)) as base:
        yield base


class Dash:
    """A dashboard page, with the requests that tried to leave loopback."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.page = context.new_page()
        self.outside: list[str] = []
        keep_on_loopback(self.page, self.outside)

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_selector(".tfd", timeout=90_000)

    def shot(self, name: str) -> Any:
        """Full-page screenshot under test-output/screenshots; returned as an RGB array."""
        import io

        from PIL import Image

        SHOTS.mkdir(parents=True, exist_ok=True)
        data = self.page.screenshot(path=str(SHOTS / f"dashboards_{name}.png"), full_page=True)
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

    def stage(self, stage: str, question: str, timeout: float = 60_000) -> None:
        wait_quiz_stage(self.page, stage, question, timeout)

    def viewer_index(self, index: int, timeout: float = 60_000) -> None:
        wait_viewer_index(self.page, index, timeout)

    def canvas_xy(self, x: float, y: float, cols: int, rows: int) -> tuple[float, float]:
        """Page coordinates of image pixel (x, y) on the viewer's canvas."""
        return canvas_xy(self.page, x, y, cols, rows)

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def open_dash(browser: Any) -> Iterator[Any]:
    opened: list[Dash] = []

    def make(viewport: dict[str, int] = LAPTOP, scheme: str = "light") -> Dash:
        dash = Dash(browser.new_context(viewport=viewport, color_scheme=scheme))
        opened.append(dash)
        return dash

    yield make
    for dash in opened:
        dash.close()
    assert [u for d in opened for u in d.outside] == []


def start_quiz(dash: Dash, server: str) -> None:
    dash.open(f"{server}/voila/render/quiz.ipynb")
    dash.page.get_by_label("Teaching set").select_option(
        label="COVID-19 chest imaging: the RSNA categories"
    )
    dash.page.get_by_label("Your name").fill(LEARNER)
    dash.page.get_by_role("button", name="Start").click()


@browser_test
def test_a_learner_takes_the_quiz_and_the_attempt_is_in_the_gradebook(
    open_dash: Any, server: str, quiz: Quiz, gradebook_file: Path
) -> None:
    dash = open_dash()
    dash.open(f"{server}/voila/render/quiz.ipynb")
    dash.shot("quiz_start_laptop_light")
    # no name: the dashboard asks for one and starts nothing
    dash.page.get_by_role("button", name="Start").click()
    dash.page.wait_for_selector(".tfd-warn >> text=Please type your name first")
    assert dash.page.locator(".tfq").count() == 0
    start_quiz(dash, server)
    dash.stage("question", "q01", timeout=90_000)
    # the form folds away so the question fills the screen; a button brings it back
    dash.page.get_by_label("Your name").wait_for(state="hidden", timeout=30_000)
    dash.page.get_by_role("button", name="Change set or name").wait_for(timeout=30_000)
    dash.viewer_index(36)
    # scroll the CT with the wheel: one notch, one slice, and back
    box = dash.page.locator(".tfv-canvas").bounding_box()
    dash.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    dash.page.mouse.wheel(0, 100)
    dash.viewer_index(37)
    dash.page.mouse.wheel(0, 100)
    dash.viewer_index(38)
    dash.page.mouse.wheel(0, -200)
    dash.viewer_index(36)
    dash.shot("quiz_q01_laptop_light")
    # the category question: the truth from the repository's labels is "typical"
    assert quiz.question("q01").key.appearance == Appearance.TYPICAL
    typical = dash.page.get_by_text("Typical appearance", exact=True)
    dash.page.locator(".tfq-choice", has=typical).click()
    dash.page.locator(".tfq-submit").click()
    dash.stage("feedback", "q01")
    assert (dash.page.locator(".tfq-verdict").text_content() or "").startswith("Correct")
    dash.page.locator(".tfq-next").click()
    dash.stage("question", "q02")
    dash.viewer_index(36)
    # click the finding: the middle of the largest annotated region on slice 36
    q02 = quiz.question("q02")
    region = max(
        (r for r in q02.key.regions if r.slice == 36), key=lambda r: r.bounds[2] * r.bounds[3]
    )
    bx, by, bw, bh = region.bounds
    dash.page.mouse.click(*dash.canvas_xy(bx + bw / 2, by + bh / 2, 512, 512))
    dash.page.wait_for_selector(".tfq-mark >> text=Your mark: click on slice 37")
    dash.page.locator(".tfq-submit").click()
    dash.stage("feedback", "q02")
    assert (dash.page.locator(".tfq-verdict").text_content() or "").startswith("Correct")
    dash.page.wait_for_function("() => Number(document.querySelector('.tfv').dataset.shapes) >= 2")
    assert region.label in (dash.page.locator(".tfv-legend").text_content() or "")
    # the overlay is drawn: pixels in the region's colour on the canvas
    canvas = dash.page.locator(".tfv-canvas").screenshot(
        path=str(SHOTS / "dashboards_quiz_q02_overlay.png")
    )
    import io

    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(canvas)).convert("RGB")).astype(int)
    want = np.array([int(region.color[i : i + 2], 16) for i in (1, 3, 5)])
    close = np.abs(rgb - want).max(axis=2) <= 40
    assert close.sum() > 50, f"{close.sum()} pixels near {region.color}"
    dash.shot("quiz_feedback_laptop_light")
    # committed before the feedback was shown
    with Gradebook(gradebook_file) as book:
        attempts = book.attempts(learner=LEARNER)
    assert [(a.question_id, a.correct) for a in attempts] == [("q01", True), ("q02", True)]
    assert attempts[0].answer == "typical"


@browser_test
def test_a_reload_resumes_at_the_next_question(open_dash: Any, server: str) -> None:
    dash = open_dash()
    start_quiz(dash, server)
    dash.stage("question", "q03", timeout=90_000)
    status = dash.page.locator(".tfd-good").text_content() or ""
    assert f"Welcome back, {LEARNER}: resuming with 2 of" in status
    dash.shot("quiz_resumed_laptop_light")


@browser_test
def test_the_gradebook_dashboard_shows_the_learners_attempts(open_dash: Any, server: str) -> None:
    dash = open_dash()
    dash.open(f"{server}/voila/render/gradebook.ipynb")
    dash.page.wait_for_selector(f".tfd table >> text={LEARNER}", timeout=60_000)
    body = dash.page.locator(".tfd").first.text_content() or ""
    stats = [t.strip() for t in dash.page.locator(".tfd-stat").all_text_contents()]
    assert stats[:3] == ["2answers", "1learner", "100%of points earned"], stats
    # questions carry their prompts, from the repository's teaching set
    assert "q01 · Which RSNA CT category fits this study best?" in body
    assert "q02 · Click on the ground-glass opacity." in body
    link = dash.page.locator("a.tfd-download")
    assert (link.get_attribute("href") or "").startswith("data:text/csv;base64,")
    assert dash.page.locator("img[alt='scores by learner']").evaluate(
        "img => img.complete && img.naturalWidth > 300"
    )
    dash.shot("gradebook_laptop_light")


def visible_cards(dash: Dash) -> list[str]:
    return [t.strip() for t in dash.page.locator(".tfd-tile .tfd-caption").all_text_contents()]


def wait_count(dash: Dash, text: str) -> None:
    dash.page.wait_for_selector(f".tfd-count >> text={text}", timeout=30_000)


def wait_cards(dash: Dash, *words: str) -> None:
    """Wait until there are cards and every one's caption holds all ``words``."""
    dash.page.wait_for_function(
        "(words) => { const cs = [...document.querySelectorAll('.tfd-tile .tfd-caption')];"
        " return cs.length > 0 && cs.every(c => words.every(w => c.textContent.includes(w))); }",
        arg=list(words),
        timeout=30_000,
    )


@browser_test
def test_the_case_library_hides_answers_filters_and_opens_an_unknown(
    open_dash: Any, server: str, quiz: Quiz
) -> None:
    dash = open_dash()
    dash.open(f"{server}/voila/render/library.ipynb")
    wait_count(dash, "38 studies")
    ct01 = quiz.cases["ct-01"]
    # answers hidden: the teaching case is an unknown, no title, category or severity
    cards = visible_cards(dash)
    assert any(c.startswith("Unknown case ct-01") for c in cards), cards
    assert not any(ct01.title in c for c in cards)
    unknowns = [c for c in cards if c.startswith("Unknown case")]
    assert unknowns and not any(
        word in c.lower() for c in unknowns for word in ("typical", "negative", "severe", "mild")
    )
    dash.shot("library_laptop_light")
    dash.page.get_by_label("Show answers").check()
    dash.page.wait_for_selector(f".tfd-caption >> text={ct01.title}")
    dash.page.get_by_label("Show answers").uncheck()
    dash.page.wait_for_selector(".tfd-caption >> text=Unknown case ct-01")
    # modality CT and category typical: fewer cards, all typical CTs, answers shown and said so
    dash.page.get_by_label("Modality").select_option("CT")
    wait_count(dash, "studies")
    dash.page.get_by_label("Category").select_option("typical")
    wait_count(dash, "Filtered by category: answers shown")
    wait_cards(dash, "· CT", "typical")
    cards = visible_cards(dash)
    assert cards and all("· CT" in c and "typical" in c for c in cards), cards
    assert any(ct01.title in c for c in cards)
    dash.shot("library_filtered_laptop_light")
    # open ct-01 as an unknown; Reveal shows the answer
    tile = dash.page.locator(".tfd-tile", has_text=ct01.title)
    tile.get_by_role("button", name="Open as unknown").click()
    dash.page.wait_for_selector(".tfc[data-revealed='false']", timeout=60_000)
    assert dash.page.locator(".tfd-tile:visible").count() == 0
    dash.viewer_index(36)
    assert ct01.findings not in (dash.page.locator(".tfc").text_content() or "")
    dash.shot("library_unknown_laptop_light")
    dash.page.locator(".tfc-reveal").click()
    dash.page.wait_for_selector(".tfc[data-revealed='true']")
    assert ct01.title in (dash.page.locator(".tfc-title").text_content() or "")
    dash.shot("library_revealed_laptop_light")
    dash.page.get_by_role("button", name="All cases").click()
    dash.page.wait_for_selector(".tfd-tile:visible")
    assert dash.page.locator(".tfc").count() == 0


@browser_test
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["laptop", "tablet"])
def test_screenshots_at_laptop_and_tablet_light_and_dark(
    open_dash: Any, server: str, scheme: str, size: str
) -> None:
    viewport = LAPTOP if size == "laptop" else TABLET
    dash = open_dash(viewport, scheme)
    for name in ("quiz", "library", "gradebook"):
        dash.open(f"{server}/voila/render/{name}.ipynb")
        dash.page.wait_for_selector(".tfd-card", timeout=60_000)
        # nothing wider than the window: no horizontal scrolling on a tablet
        assert dash.page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        # no code and no Python traceback on the page
        text = dash.page.locator("body").text_content() or ""
        assert "import " not in text and "Traceback" not in text
        rgb = dash.shot(f"{name}_{size}_{scheme}")
        background = rgb[5, viewport["width"] // 2]
        assert (background.mean() < 80) == (scheme == "dark"), background


def test_unknown_cards_hide_title_category_and_severity(quiz: Quiz, repo_copy: Path) -> None:
    with Repository.open(repo_copy, index=False) as repo:
        studies = {s.study_uid: s for s in repo.studies()}
    case = quiz.cases["cr-01"] if "cr-01" in quiz.cases else next(iter(quiz.cases.values()))
    study = studies[case.study_uid]
    hidden = card_lines(study, case, answers=False)
    shown = card_lines(study, case, answers=True)
    assert hidden[0] == f"Unknown case {case.id}"
    assert case.title not in " ".join(hidden)
    assert study.appearance is not None and study.appearance.value not in " ".join(hidden)
    assert shown[0] == case.title and study.appearance.value in shown[-1]
    assert case.history.startswith(hidden[-1].rstrip("…"))


def test_the_dashboards_say_what_is_wrong_instead_of_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-repository"
    quiz_app = QuizDashboard(missing, tmp_path / "gb.sqlite")
    library = CaseLibrary(missing)
    try:
        for app, what in ((quiz_app, "The quiz cannot open."), (library, "The case library")):
            text = app.children[-1].value
            assert what in text
            assert "no-such-repository: not a folder" in text
            assert "--repository" in text  # where to fix it
    finally:
        quiz_app.close()
        library.close()


@pytest.mark.slow
def test_a_broken_teaching_set_is_listed_and_the_others_still_open(
    demo_root: Path, tmp_path: Path
) -> None:
    root = tmp_path / "repository"
    shutil.copytree(demo_root, root)
    (root / "teaching-sets" / "broken.yaml").write_text("title: [unclosed\n", encoding="utf-8")
    quiz_app = QuizDashboard(root, tmp_path / "gb.sqlite")
    library = CaseLibrary(root, limit=2)
    try:
        assert [label for label, _ in quiz_app.sets.options] == [
            "COVID-19 chest imaging: the RSNA categories"
        ]
        assert "1 teaching set(s) could not be read" in quiz_app.status.value
        assert "broken.yaml, line 2: not valid YAML" in quiz_app.status.value
        assert "broken.yaml, line 2" in library.warning.value
        # the good set's cases are still unknowns; two cards, then two more
        assert (
            len(library.grid.children) == 2 and "tfd-hidden" not in library.more_button._dom_classes
        )
        library.show_more()
        assert len(library.grid.children) == 4
        library.category.value = "typical"  # a new filter starts from the first cards again
        assert len(library.grid.children) == 2
        assert "Filtered by category: answers shown" in library.count.value
    finally:
        quiz_app.close()
        library.close()
