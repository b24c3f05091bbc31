"""The quiz and case widgets in real headless Chromium, served by Voila on loopback.

Every message the kernel sends to the page is recorded from the websocket, so the
test can check that nothing of the answer key reached the browser before the
learner submitted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pages import canvas_xy, keep_on_loopback, wait_quiz_stage, wait_viewer_index
from serving import voila

from teachingfiles.cases.teaching_set import TeachingSet
from teachingfiles.quiz import Gradebook, Quiz, resolve
from teachingfiles.quiz.questions import ResolvedQuestion
from teachingfiles.repository.repository import Repository

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
SET = "teaching-sets/covid19-rsna-categories.yaml"
LEARNER = "browser-resident"


@pytest.fixture(scope="module")
def quiz(demo_root: Path) -> Iterator[Quiz]:
    repo = Repository.open(demo_root, index=False)
    yield resolve(TeachingSet.from_yaml(demo_root / SET), repo)
    repo.close()


@pytest.fixture(scope="module")
def gradebook_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("h10") / "grades.sqlite"


@pytest.fixture(scope="module")
def quiz_server(demo_root: Path, gradebook_path: Path) -> Iterator[str]:
    env = {"TF_DEMO_ROOT": str(demo_root), "TF_GRADEBOOK": str(gradebook_path)}
    with voila(env=env) as base:
        yield base


class QuizPage:
    """The Voila page of the quiz, with every frame the kernel sent it."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.frames: list[str] = []
        self.outside: list[str] = []

    def on_socket(self, socket: Any) -> None:
        def received(payload: str | bytes) -> None:
            text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
            self.frames.append(text)

        socket.on("framereceived", received)

    def received(self) -> str:
        """Everything the kernel sent so far, and the page as it stands."""
        return "\n".join(self.frames) + self.page.content()

    def stage(self, stage: str, question: str, timeout: float = 60_000) -> None:
        wait_quiz_stage(self.page, stage, question, timeout)

    def viewer_ready(self, index: int, timeout: float = 60_000) -> None:
        wait_viewer_index(self.page, index, timeout)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def open_page(browser: Any, url: str) -> QuizPage:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    qp = QuizPage(page)

    keep_on_loopback(page, qp.outside)
    page.on("websocket", qp.on_socket)
    page.goto(url)
    return qp


@pytest.fixture(scope="module")
def quiz_page(browser: Any, quiz_server: str) -> Iterator[QuizPage]:
    qp = open_page(browser, f"{quiz_server}/voila/render/quiz_demo.ipynb")
    qp.stage("question", "q01", timeout=90_000)
    yield qp
    qp.page.close()


def secrets(q: ResolvedQuestion) -> list[str]:
    question = q.question
    found = [question.explanation, *question.teaching_points, *question.answers]
    if q.case is not None:
        found += [q.case.title, q.case.findings, q.case.reasoning, *q.case.teaching_points]
        found += [k.caption for k in q.case.key_images]
        found += sorted({r.label for r in q.key.regions})
        if q.case.reads is not None and q.case.reads.calls:
            found.append(q.case.reads.describe())
    # a category's right answer is one of the four choices on screen: not a secret
    return [s for s in found if s and len(s) > 3 and s not in ("typical", "indeterminate")]


def test_answer_key_is_not_on_the_page_before_submit(quiz_page: QuizPage, quiz: Quiz) -> None:
    qp = quiz_page
    q01 = quiz.question("q01")
    qp.viewer_ready(36)
    before = qp.received()
    assert len(qp.frames) > 10  # the kernel's state and slices did arrive
    for secret in [*secrets(q01), '"correct"', '"reference"', '"explanation"']:
        assert secret not in before, secret
    assert "Which RSNA CT category" in before and q01.case is not None
    assert q01.case.history in before
    assert qp.page.locator(".tfv").get_attribute("data-shapes") == "0"
    qp.shot("q01_question")
    # answer through the keyboard: the first category is 1, Enter submits
    qp.page.locator(".tfq-choice").first.click()
    qp.page.keyboard.press("Enter")
    qp.stage("feedback", "q01")
    verdict = qp.page.locator(".tfq-verdict").text_content() or ""
    assert verdict.startswith("Correct")
    assert q01.question.explanation in (qp.page.locator(".tfq-explanation").text_content() or "")
    # the recording does see the key once it is sent: the check above can fail
    after = "\n".join(qp.frames)
    assert q01.question.explanation in after
    # q02 asks to click this case's finding: its outline waits for that answer
    assert "Infectious opacity" not in after
    assert qp.page.locator(".tfv").get_attribute("data-shapes") == "0"
    qp.shot("q01_feedback")
    assert qp.outside == [] or all("fortawesome" in u for u in qp.outside)


def screen_xy(qp: QuizPage, x: float, y: float, cols: int, rows: int) -> tuple[float, float]:
    return canvas_xy(qp.page, x, y, cols, rows)


def test_click_the_finding_then_feedback_with_overlay_and_gradebook(
    quiz_page: QuizPage, quiz: Quiz, gradebook_path: Path
) -> None:
    qp = quiz_page
    if qp.page.locator(".tfq").get_attribute("data-stage") == "question":
        qp.page.locator(".tfq-choice").first.click()  # q01, when run alone
        qp.page.locator(".tfq-submit").click()
    qp.stage("feedback", "q01")
    qp.page.locator(".tfq-next").click()
    qp.stage("question", "q02")
    q02 = quiz.question("q02")
    seen = len(qp.frames)
    qp.viewer_ready(36)
    assert qp.page.locator(".tfv").get_attribute("data-shapes") == "0"
    for secret in (q02.question.explanation, *q02.question.teaching_points):
        assert secret not in "\n".join(qp.frames[seen:]), secret
    assert "Infectious opacity" not in qp.received()  # the reference outline
    region = max(
        (r for r in q02.key.regions if r.slice == 36), key=lambda r: r.bounds[2] * r.bounds[3]
    )
    bx, by, bw, bh = region.bounds
    assert qp.page.locator(".tfq-submit").is_disabled()
    x, y = screen_xy(qp, bx + bw / 2, by + bh / 2, 512, 512)
    qp.page.mouse.click(x, y)
    qp.page.wait_for_selector(".tfq-mark >> text=Your mark: click on slice 37")
    qp.shot("q02_marked")
    qp.page.locator(".tfq-submit").click()
    qp.stage("feedback", "q02")
    assert (qp.page.locator(".tfq-verdict").text_content() or "").startswith("Correct")
    qp.page.wait_for_function("() => Number(document.querySelector('.tfv').dataset.shapes) >= 2")
    assert "your mark" in (qp.page.locator(".tfv-legend").text_content() or "")
    qp.shot("q02_feedback")
    with Gradebook(gradebook_path) as book:
        attempts = book.attempts(learner=LEARNER)
    assert [(a.question_id, a.correct) for a in attempts] == [("q01", True), ("q02", True)]
    assert attempts[1].answer["slice"] == 36


@pytest.fixture(scope="module")
def case_page(browser: Any, quiz_server: str) -> Iterator[QuizPage]:
    qp = open_page(browser, f"{quiz_server}/voila/render/case_demo.ipynb")
    qp.page.wait_for_selector(".tfc[data-revealed='false']", timeout=90_000)
    yield qp
    qp.page.close()


def test_case_view_reveals_on_click(case_page: QuizPage, quiz: Quiz) -> None:
    qp = case_page
    case = quiz.cases["ct-01"]
    qp.viewer_ready(36)
    before = qp.received()
    for secret in (case.title, case.findings, case.reasoning, *case.teaching_points):
        assert secret not in before, secret
    assert "Infectious opacity" not in before
    qp.shot("case_unknown")
    qp.page.locator(".tfc-reveal").focus()
    qp.page.keyboard.press("Enter")
    qp.page.wait_for_selector(".tfc[data-revealed='true']")
    assert case.title in (qp.page.locator(".tfc-title").text_content() or "")
    qp.page.wait_for_function("() => Number(document.querySelector('.tfv').dataset.shapes) > 0")
    qp.shot("case_revealed")


def test_end_the_quiz_see_the_summary_chart_and_retry_the_missed(
    quiz_page: QuizPage, gradebook_path: Path
) -> None:
    qp = quiz_page
    if qp.page.locator(".tfq").get_attribute("data-stage") == "feedback":
        qp.page.keyboard.press("n")
    qp.page.wait_for_selector(".tfq[data-stage='question'][data-busy='false']")
    qp.page.locator(".tfq-finish").click()
    qp.page.locator(".tfq-finish-now").click()
    qp.page.wait_for_selector(".tfq[data-stage='summary'][data-busy='false']")
    chart = qp.page.locator("img.tfq-chart")
    assert chart.evaluate("img => img.complete && img.naturalWidth > 300")
    assert "18 questions not answered" in (qp.page.locator(".tfq-skipped").text_content() or "")
    assert qp.page.locator(".tfq-total-value").text_content() == "10%"
    qp.shot("summary")
    qp.page.locator(".tfq-retry").click()
    qp.page.wait_for_selector(".tfq[data-stage='question'][data-question='q03'][data-busy='false']")
    assert "Question 1 of 18" in (qp.page.locator(".tfq-counter").text_content() or "")
    with Gradebook(gradebook_path) as book:
        sessions = book.sessions(learner=LEARNER)
    assert sorted(s.purpose for s in sessions) == ["full", "retry"]
    qp.shot("retry")


def test_timed_exam_counts_down_in_the_page_and_the_kernel_ends_it(
    browser: Any, quiz_server: str, gradebook_path: Path
) -> None:
    qp = open_page(browser, f"{quiz_server}/voila/render/quiz_exam_timed.ipynb")
    try:
        qp.stage("question", "q01", timeout=90_000)
        timer = qp.page.locator(".tfq-timer")
        assert re.fullmatch(r"\d+:\d\d", timer.text_content() or "")
        assert timer.get_attribute("role") == "timer"
        shown = int(qp.page.locator(".tfq").get_attribute("data-time-left") or "0")
        # the page counts down on its own between the kernel's updates
        qp.page.wait_for_function(
            "(t) => Number(document.querySelector('.tfq').dataset.timeLeft) < t", arg=shown
        )
        qp.page.locator(".tfq-choice", has_text="Atypical").click()  # q01 is typical
        qp.page.locator(".tfq-submit").click()
        qp.stage("question", "q14")
        assert "Answer to question 1 recorded" in (
            qp.page.locator(".tfq-notice").text_content() or ""
        )
        qp.page.wait_for_selector(".tfq-timer.tfq-timer-red", timeout=90_000)
        qp.shot("exam_timer_red")
        # no answer to q14: the kernel's clock ends the exam and shows the summary
        qp.page.wait_for_selector(".tfq[data-stage='summary'][data-busy='false']", timeout=90_000)
        assert qp.page.locator(".tfq-timer").count() == 0
        ran_out = qp.page.locator(".tfq-timed-out").text_content() or ""
        assert ran_out.startswith("Time ran out") and "1 of 3 questions answered" in ran_out
        with Gradebook(gradebook_path) as book:
            (session,) = book.sessions(learner="browser-examinee")
            attempts = book.attempts(session_id=session.id)
        assert session.finished_at is not None and session.time_limit_s is not None
        assert (session.finished_at - session.started_at).total_seconds() == session.time_limit_s
        assert [(a.question_id, a.correct) for a in attempts] == [("q01", False)]
        # the wrong answer is reviewed with its image; the thumbnail opens in the viewer
        thumb = qp.page.locator(".tfq-review-item[data-question='q01'] .tfq-thumb")
        assert thumb.locator("img").evaluate("img => img.complete && img.naturalWidth > 100")
        qp.shot("exam_summary")
        thumb.click()
        qp.page.wait_for_function(
            "() => { const v = document.querySelector('.tfv');"
            " return v && Number(v.dataset.shapes) > 0 && v.dataset.imageRect; }",
            timeout=60_000,
        )
        # the card says which review is open (its update may land after the viewer paints)
        qp.page.wait_for_selector(
            ".tfq-review-item[data-question='q01'] .tfq-thumb[aria-pressed='true']",
            timeout=30_000,
        )
        qp.shot("exam_review_in_viewer")
    finally:
        qp.page.close()


GREET_AS_DEAF = """() => {
  // what the card's own greeting does when it never hears the welcome (_resync.js)
  const models = Object.values(window.jupyterapp.widgetManager._models);
  return Promise.all(models).then((all) => {
    const card = all.find((m) => (m.get("_esm") || "").includes("tfc-reveal"));
    card.send({ type: "hello", seq: 3 });
    return card.model_id;
  });
}"""


def test_a_case_card_that_cannot_hear_the_kernel_is_opened_again_and_works(
    browser: Any, quiz_server: str, quiz: Quiz
) -> None:
    """anywidget leaves a model deaf when its module binds late; the kernel reopens it."""
    qp = open_page(browser, f"{quiz_server}/voila/render/case_demo.ipynb")
    try:
        qp.page.wait_for_selector(".tfc[data-revealed='false']", timeout=90_000)
        for _ in range(600):  # the first greeting is welcomed before the test greets again
            if any('"welcome"' in f for f in qp.frames):
                break
            qp.page.wait_for_timeout(100)
        assert any('"welcome"' in f for f in qp.frames)
        qp.page.wait_for_timeout(3500)  # a greeting this late is not one queued behind it
        qp.page.locator(".tfc").evaluate("el => { el.dataset.before = 'yes'; }")
        old_id = qp.page.evaluate(GREET_AS_DEAF)
        # the old card is removed and a new model's card rendered in its place
        qp.page.wait_for_selector(".tfc[data-before='yes']", state="detached", timeout=30_000)
        qp.page.wait_for_selector(".tfc[data-revealed='false']", timeout=30_000)
        assert qp.page.locator(".tfc").count() == 1
        assert any(old_id in f and "comm_close" in f for f in qp.frames)
        qp.page.locator(".tfc-reveal").click()  # the new model hears the kernel
        qp.page.wait_for_selector(".tfc[data-revealed='true']", timeout=30_000)
        case = quiz.cases["ct-01"]
        assert case.title in (qp.page.locator(".tfc-title").text_content() or "")
    finally:
        qp.page.close()
