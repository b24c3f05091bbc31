"""QuizView and CaseView without a browser: the demo teaching set, a real repository,
a SQLite gradebook, answers given through the Python API and the browser's messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from teachingfiles.cases.teaching_set import TeachingSet
from teachingfiles.errors import UsageError
from teachingfiles.quiz import Gradebook, Quiz, QuizSession, resolve
from teachingfiles.quiz.questions import QuestionKind, ResolvedQuestion
from teachingfiles.repository.repository import Repository
from teachingfiles.widgets.case_view import CaseView
from teachingfiles.widgets.quiz_view import QuizView
from teachingfiles.widgets.viewer import StackViewer

SET = "teaching-sets/covid19-rsna-categories.yaml"


@pytest.fixture(scope="module")
def repository(demo_root: Path) -> Iterator[Repository]:
    repo = Repository.open(demo_root, index=False)
    yield repo
    repo.close()


@pytest.fixture(scope="module")
def quiz(demo_root: Path, repository: Repository) -> Quiz:
    return resolve(TeachingSet.from_yaml(demo_root / SET), repository)


@pytest.fixture
def gradebook(tmp_path: Path) -> Iterator[Gradebook]:
    with Gradebook(tmp_path / "grades.sqlite") as book:
        yield book


def start(quiz: Quiz, gradebook: Gradebook, repository: Repository, **kw: Any) -> QuizView:
    kw.setdefault("seed", 7)
    session = QuizSession.start(quiz, gradebook, "resident", resume=False, **kw)
    return QuizView(session, repository)


def page_state(view: QuizView) -> str:
    """Every synced trait of every widget on the page, as the browser receives it."""
    states = []
    for widget in (view.panel, view.viewer):
        if widget is None:
            continue
        state = widget.get_state()
        state.pop("_esm", None)
        state.pop("_css", None)
        states.append(state)
    return json.dumps(states, default=str)


def secrets(q: ResolvedQuestion) -> list[str]:
    """Texts that give the answer away and appear nowhere in the public view."""
    question = q.question
    found = [question.explanation, *question.teaching_points]
    if question.kind is QuestionKind.FREE_TEXT:
        found += list(question.answers)
    if q.case is not None:
        found += [q.case.title, q.case.findings, q.case.reasoning, *q.case.teaching_points]
        found += [k.caption for k in q.case.key_images]
        found += [r.label for r in q.key.regions]
    return [s for s in found if s and len(s) > 3]


def test_no_widget_state_holds_the_answer_key_before_submit(
    quiz: Quiz, gradebook: Gradebook, repository: Repository
) -> None:
    view = start(quiz, gradebook, repository)
    checked = 0
    for _ in quiz.questions:
        q = view.question
        assert q is not None and view.panel.stage == "question"
        text = page_state(view)
        for secret in secrets(q):
            assert secret not in text, (q.id, secret)
        for banned in ('"correct', '"explanation"', '"reference"', '"teaching_points"'):
            assert banned not in text, (q.id, banned)
        if view.viewer is not None:
            assert view.viewer.annotations == []
        checked += 1
        view.next()  # skip: every question comes round once
        if view.question is not None and view.question.id == quiz.questions[0].id:
            break
    assert checked == len(quiz.questions) == 20


def test_category_answer_is_committed_then_feedback_and_overlay_shown(
    quiz: Quiz, gradebook: Gradebook, repository: Repository
) -> None:
    view = start(quiz, gradebook, repository)
    q = view.question
    assert q is not None and q.id == "q01" and q.kind is QuestionKind.CATEGORY
    assert isinstance(view.viewer, StackViewer)
    assert view.viewer.index == 36 and view.viewer.preset == "lung"
    assert view.panel.progress["index"] == 0 and view.panel.progress["total"] == 20
    view.submit("indeterminate")
    attempts = gradebook.attempts(session_id=view.session.id)
    assert [(a.question_id, a.answer, a.correct) for a in attempts] == [
        ("q01", "indeterminate", False)
    ]
    feedback = view.panel.feedback
    assert view.panel.stage == "feedback"
    assert feedback["correct"] is False and feedback["correct_answer"] == "typical"
    assert feedback["explanation"] == q.question.explanation
    # q02 asks to click this case's finding: its outline waits for that answer
    assert view.viewer.annotations == []
    view.next()
    assert view.question is not None and view.question.id == "q02"
    assert view.panel.feedback == {} and view.viewer.annotations == []


def region_centre(q: ResolvedQuestion, slice_index: int) -> tuple[float, float]:
    region = next(r for r in q.key.regions if r.slice == slice_index)
    xs = [p[0] for p in region.vertices]
    ys = [p[1] for p in region.vertices]
    from teachingfiles.cases.geometry import point_in_polygon

    centre = (sum(xs) / len(xs), sum(ys) / len(ys))
    assert point_in_polygon(centre, region.vertices)
    return centre


def test_click_on_the_image_answers_a_click_question(
    quiz: Quiz, gradebook: Gradebook, repository: Repository
) -> None:
    view = start(quiz, gradebook, repository, questions=["q02"])
    q = view.question
    assert q is not None and q.kind is QuestionKind.CLICK
    viewer = view.viewer
    assert viewer is not None and viewer.mode == "point"
    with pytest.raises(UsageError, match=r"question 'q02': click the finding on the image"):
        view.submit()
    x, y = region_centre(q, viewer.index)
    # what the browser sends when the learner clicks the image
    viewer._on_message(viewer, {"type": "click", "index": viewer.index, "x": x, "y": y}, [])
    assert view.mark == {"x": round(x, 2), "y": round(y, 2), "slice": viewer.index}
    assert view.panel.mark == view.mark
    assert [s["label"] for s in viewer.annotations] == ["your mark"]
    view.panel._handle_custom_msg({"type": "submit", "answer": None}, [])
    assert view.panel.error == ""
    assert view.panel.feedback["correct"] is True
    (attempt,) = gradebook.attempts(session_id=view.session.id)
    assert attempt.correct and attempt.answer["slice"] == viewer.index
    labels = [s["label"] for s in viewer.annotations]
    assert "your mark" in labels and "Infectious opacity" in labels
    assert viewer.mode == "inspect"
    marked = view.panel.mark
    viewer._on_message(viewer, {"type": "click", "index": 0, "x": 1.0, "y": 1.0}, [])
    assert view.panel.mark == marked  # after the answer, clicks inspect only


def test_box_drawn_on_the_image_answers_a_box_question(
    quiz: Quiz, gradebook: Gradebook, repository: Repository
) -> None:
    view = start(quiz, gradebook, repository, questions=["q04"])
    q = view.question
    assert q is not None and q.kind is QuestionKind.BOX
    viewer = view.viewer
    assert viewer is not None and viewer.mode == "box"
    largest = max(
        (r for r in q.key.regions if r.slice == viewer.index),
        key=lambda r: r.bounds[2] * r.bounds[3],
    )
    x, y, w, h = largest.bounds
    shape = {"type": "shape", "kind": "box", "index": viewer.index,
             "points": [[x, y], [x + w, y + h]]}  # fmt: skip
    viewer._on_message(viewer, shape, [])
    assert view.mark == pytest.approx(
        {"x": x, "y": y, "width": w, "height": h, "slice": viewer.index}, abs=0.01
    )
    submission = view.submit()
    assert submission.feedback is not None and submission.feedback.correct
    kinds = sorted({s["kind"] for s in viewer.annotations if s["label"] == "your mark"})
    assert kinds == ["box"]


def test_free_text_and_choice_answers_through_browser_messages(
    quiz: Quiz, gradebook: Gradebook, repository: Repository
) -> None:
    view = start(quiz, gradebook, repository, questions=["q03", "q08"])
    view.panel._handle_custom_msg({"type": "submit", "answer": ""}, [])
    assert "choose or type an answer before submitting" in view.panel.error
    view.panel._handle_custom_msg({"type": "submit", "answer": "crazy paving"}, [])
    assert view.panel.feedback["correct"] is True and view.panel.error == ""
    view.panel._handle_custom_msg({"type": "next"}, [])
    q = view.question
    assert q is not None and q.kind is QuestionKind.MULTIPLE and view.viewer is None
    assert view.panel.has_image is False
    right = [c["id"] for c in view.panel.question["choices"] if c["text"] in q.question.answers]
    view.panel._handle_custom_msg({"type": "submit", "answer": right}, [])
    assert view.panel.feedback["correct"] is True
    view.panel._handle_custom_msg({"type": "next"}, [])
    assert view.panel.stage == "summary"
    assert view.panel.summary["percent"] == 100.0 and view.panel.can_retry is False


def test_exam_mode_keeps_feedback_until_the_end_then_retries_the_missed(
    quiz: Quiz, gradebook: Gradebook, repository: Repository
) -> None:
    view = start(quiz, gradebook, repository, mode="exam", questions=["q01", "q05", "q12"])
    assert view.panel.mode == "exam"
    view.submit("typical")  # right
    assert view.panel.stage == "question" and view.panel.feedback == {}
    assert view.panel.notice == "Answer to question 1 recorded."
    assert '"correct' not in page_state(view)
    view.submit("typical")  # q05 is indeterminate
    assert len(gradebook.attempts(session_id=view.session.id)) == 2
    summary = view.finish()  # q12 left unanswered
    assert summary.answered == 2 and summary.unanswered == ("q12",)
    assert view.panel.stage == "summary" and view.viewer is None
    assert view.panel.chart.startswith("data:image/png;base64,")
    review = {r["question_id"]: r for r in view.panel.review}
    assert set(review) == {"q05", "q12"}
    assert review["q05"]["correct_answer"] == "indeterminate" and review["q12"]["unanswered"]
    assert view.panel.can_retry
    view.panel._handle_custom_msg({"type": "retry"}, [])
    assert view.session.mode.value == "practice"
    assert [q.id for q in view.session.questions] == ["q05", "q12"]
    assert view.panel.stage == "question" and view.question is not None
    assert view.question.id == "q05"


def test_start_opens_paths_and_resumes_the_open_session(demo_root: Path, tmp_path: Path) -> None:
    book = tmp_path / "book.sqlite"
    first = QuizView.start(demo_root / SET, demo_root, book, "bob", seed=3)
    first.submit("typical")
    again = QuizView.start(demo_root / SET, demo_root, book, "bob")
    assert again.session.id == first.session.id
    assert again.question is not None and again.question.id == "q02"
    assert again.panel.progress["answered"] == 1
    with pytest.raises(UsageError, match=r"only an unanswered click or box question takes a mark"):
        first.set_mark({"x": 1, "y": 1, "slice": 0})
    first.close()
    again.close()


def test_case_view_reveals_the_answer_and_annotations_only_on_reveal(
    quiz: Quiz, repository: Repository
) -> None:
    case = quiz.cases["ct-01"]
    view = CaseView(case, repository)
    text = json.dumps([view.panel.get_state(), view.viewer.get_state()], default=str)
    for secret in (case.title, case.findings, case.reasoning, *case.teaching_points):
        assert secret not in text
    assert case.history in text
    assert view.viewer.annotations == [] and view.viewer.index == 36
    view.panel._handle_custom_msg({"type": "reveal"}, [])
    assert view.revealed and view.panel.case["title"] == case.title
    assert view.panel.case["reads"] is not None
    assert {s["label"] for s in view.viewer.annotations} == {"Infectious opacity"}
    shown = CaseView(case, repository, reveal=True)
    assert shown.panel.revealed and shown.viewer.annotations


def test_case_view_rejects_a_case_without_images(repository: Repository, quiz: Quiz) -> None:
    from dataclasses import replace

    case = replace(quiz.cases["ct-01"], study_uid="1.2.3.4.5", series_uid=None, key_images=())
    with pytest.raises(UsageError, match=r"case 'ct-01' has no image to show"):
        CaseView(case, repository)


def test_quiz_and_case_browser_files_load_nothing_from_the_network() -> None:
    from teachingfiles.widgets._static import static_text

    for name in ("quiz_view.js", "case_view.js", "quiz.css"):
        text = static_text(name)
        assert "http://" not in text and "https://" not in text and "import " not in text
    assert "export default { render }" in static_text("quiz_view.js")


def test_category_feedback_draws_the_case_outlines_when_no_question_waits_on_them(
    quiz: Quiz, gradebook: Gradebook, repository: Repository
) -> None:
    view = start(quiz, gradebook, repository, questions=["q01"])
    view.submit("typical")
    viewer = view.viewer
    assert viewer is not None
    shapes = viewer.annotations
    assert shapes and {s["label"] for s in shapes} == {"Infectious opacity"}
    assert any(s["slice"] == viewer.index for s in shapes)


# ------------------------------------------------------------------ exam time limit


class Clock:
    """The kernel's clock, moved by hand (no wall-clock time in the assertions)."""

    def __init__(self) -> None:
        import datetime as dt

        self.now = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> Any:
        return self.now

    def advance(self, seconds: float) -> None:
        import datetime as dt

        self.now += dt.timedelta(seconds=seconds)


def test_exam_time_limit_is_the_kernels_clock_and_ends_the_session(
    quiz: Quiz, gradebook: Gradebook, repository: Repository
) -> None:
    clock = Clock()
    started = clock.now
    session = QuizSession.start(
        quiz, gradebook, "resident", mode="exam", time_limit=90, seed=7, resume=False,
        questions=["q01", "q05", "q12"], clock=clock,
    )  # fmt: skip
    view = QuizView(session, repository)
    assert view.panel.time_limit == 90 and view.panel.time_left == 90
    clock.advance(30)
    view.submit("typical")  # q01, right
    assert view.panel.time_left == 60  # every update of the card says the time left
    clock.advance(50)
    # the page's countdown reached zero early (its clock ran fast): the kernel decides
    view.panel._handle_custom_msg({"type": "time_up"}, [])
    assert view.panel.stage == "question" and view.panel.time_left == 10
    clock.advance(11)
    view.panel._handle_custom_msg({"type": "time_up"}, [])
    assert view.panel.stage == "summary"
    assert view.panel.notice == ""  # the summary itself says the time ran out
    assert view.panel.summary["timed_out"] is True and view.panel.summary["time_limit"] == 90
    assert view.panel.summary["answered"] == 1 and view.panel.summary["earned"] == 1.0
    assert view.panel.time_left is None
    record = gradebook.session(view.session.id)
    assert record.finished_at == started + __import__("datetime").timedelta(seconds=90)
    attempts = gradebook.attempts(session_id=view.session.id)
    assert [(a.question_id, a.correct) for a in attempts] == [("q01", True)]
    review = {r["question_id"]: r for r in view.panel.review}
    assert review["q05"]["unanswered"] and review["q12"]["unanswered"]


def test_an_answer_sent_after_the_time_is_up_is_not_recorded(
    quiz: Quiz, gradebook: Gradebook, repository: Repository
) -> None:
    clock = Clock()
    session = QuizSession.start(
        quiz, gradebook, "resident", mode="exam", time_limit=60, seed=7, resume=False,
        questions=["q01", "q05"], clock=clock,
    )  # fmt: skip
    view = QuizView(session, repository)
    clock.advance(61)  # no timer ran (no event loop here): the answer arrives late
    submission = view.submit("typical")
    assert not submission.recorded and submission.feedback is None
    assert view.panel.stage == "summary" and view.panel.summary["timed_out"]
    assert gradebook.attempts(session_id=view.session.id) == []
    assert gradebook.session(view.session.id).finished_at is not None


def test_no_time_limit_sends_no_clock(
    quiz: Quiz, gradebook: Gradebook, repository: Repository
) -> None:
    view = start(quiz, gradebook, repository, questions=["q01"])
    assert view.panel.time_limit is None and view.panel.time_left is None
    view.panel._handle_custom_msg({"type": "time_up"}, [])  # a stray message changes nothing
    assert view.panel.stage == "question"


# ------------------------------------------------------------------ readers


def test_readers_are_numbered_not_named_by_their_mdai_ids(
    quiz: Quiz, repository: Repository
) -> None:
    ct = quiz.cases["ct-01"].reads  # RICORD 1a: the label carries only the user id
    assert ct is not None
    (call,) = ct.calls
    assert call.reader == "Reader 1" and call.reader_id is not None
    assert call.reader_id.startswith("U_")
    view = CaseView(quiz.cases["cxr-06"], repository, reveal=True)
    reads = view.panel.case["reads"]
    assert [c["reader"] for c in reads["calls"]] == ["Reader 1", "Reader 2", "Reader 3"]
    assert all(c["reader_id"].startswith("U_") for c in reads["calls"])  # for the hover
    assert reads["adjudication"]["reader"] == "Adjudication"
    assert reads["agreement"].startswith("2 of 3 readers said typical")
    assert "the adjudicator said typical" in reads["agreement"]
    view.close()


def test_quiz_feedback_shows_the_readers_and_their_agreement(
    quiz: Quiz, gradebook: Gradebook, repository: Repository
) -> None:
    view = start(quiz, gradebook, repository, questions=["q14", "q01"])
    assert "readers" not in json.dumps(view.panel.get_state()["feedback"])
    view.submit("indeterminate")  # q14: the readers split 2 to 1, adjudicated typical
    readers = view.panel.feedback["readers"]
    assert [c["reader"] for c in readers["calls"]] == ["Reader 1", "Reader 2", "Reader 3"]
    assert readers["calls"][1]["appearance"] == "indeterminate"
    assert readers["agreement"].startswith("2 of 3 readers said typical")
    view.next()
    view.submit("typical")
    assert view.panel.feedback["readers"]["calls"][0]["reader"] == "Reader 1"
    assert "U_" not in json.dumps([c["reader"] for c in view.panel.feedback["readers"]["calls"]])


# ------------------------------------------------------------------ review of wrong answers


def test_review_of_a_wrong_click_shows_its_image_and_opens_it_in_the_viewer(
    quiz: Quiz, gradebook: Gradebook, repository: Repository
) -> None:
    import base64

    view = start(quiz, gradebook, repository, questions=["q02", "q05"])
    view.submit({"x": 3.0, "y": 3.0, "slice": 36})  # q02: a corner of the image, wrong
    view.next()
    view.submit("typical")  # q05 is indeterminate: wrong, no mark
    view.next()
    assert view.panel.stage == "summary"
    review = {r["question_id"]: r for r in view.panel.review}
    assert set(review) == {"q02", "q05"}
    for item in review.values():
        assert item["image"].startswith("data:image/png;base64,")
        png = base64.b64decode(item["image"].split(",", 1)[1])
        assert png.startswith(b"\x89PNG")
        assert item["explanation"] and item["prompt"]
    assert review["q02"]["image_slice"] == 36  # the learner's slice holds the outline
    assert review["q02"]["image"] != review["q05"]["image"]
    assert view.viewer is None
    view.panel._handle_custom_msg({"type": "review_image", "question_id": "q02"}, [])
    assert view.panel.review_open == "q02" and view.viewer is not None
    labels = {s["label"] for s in view.viewer.annotations}
    assert "your mark" in labels and "Infectious opacity" in labels
    assert view.viewer.index == 36 and view.viewer.mode == "inspect"
    view.panel._handle_custom_msg({"type": "review_image", "question_id": "q99"}, [])
    assert "has no image to review" in view.panel.error
    # "again, only the ones I got wrong" still starts from the summary
    view.panel._handle_custom_msg({"type": "retry"}, [])
    assert [q.id for q in view.session.questions] == ["q02", "q05"]
    assert view.panel.review_open == "" and view.panel.stage == "question"
    view.close()


def test_a_card_that_says_hello_gets_the_whole_state_again(
    quiz: Quiz, gradebook: Gradebook, repository: Repository
) -> None:
    """Updates that reach a model still being created are dropped by the page."""
    view = start(quiz, gradebook, repository)
    sent: list[list[str] | None] = []
    said: list[dict[str, Any]] = []
    view.panel.send_state = lambda key=None: sent.append(key)  # type: ignore[method-assign]
    view.panel.send = lambda content, buffers=None: said.append(content)  # type: ignore[method-assign]
    view.panel._handle_custom_msg({"type": "hello", "seq": 1}, [])
    assert len(sent) == 1 and sent[0] is not None
    keys = set(sent[0])
    assert {"question", "progress", "stage", "title"} <= keys
    assert not keys & {"_esm", "_css"}
    assert said == [{"type": "welcome"}]
    view.panel._handle_custom_msg({"type": "next-please"}, [])  # other messages: not a resync
    assert len(sent) == 1
    case = CaseView(next(iter(quiz.cases.values())), repository)
    case_sent: list[list[str] | None] = []
    case.panel.send_state = lambda key=None: case_sent.append(key)  # type: ignore[method-assign]
    case.panel._handle_custom_msg({"type": "hello"}, [])
    assert len(case_sent) == 1 and case_sent[0] is not None and "case" in case_sent[0]
    case.close()
    view.close()


def test_a_card_that_cannot_hear_the_kernel_is_opened_again_in_its_box(
    quiz: Quiz, gradebook: Gradebook, repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """anywidget drops every message to a model whose module took over 2 s to load."""
    from teachingfiles.widgets import _resync

    now = [1000.0]
    monkeypatch.setattr(_resync, "time", SimpleNamespace(monotonic=lambda: now[0]))
    view = start(quiz, gradebook, repository)
    panel, box = view.panel, view._panel_box
    said: list[dict[str, Any]] = []
    panel.send = lambda content, buffers=None: said.append(content)  # type: ignore[method-assign]
    told: list[tuple[str | None, list[str]]] = []
    box.send_state = lambda key=None: told.append((key, [c.model_id for c in box.children]))  # type: ignore[method-assign]
    first = panel.model_id
    panel._handle_custom_msg({"type": "hello", "seq": 1}, [])
    panel._handle_custom_msg({"type": "hello", "seq": 2}, [])  # the welcome may be on its way
    panel._handle_custom_msg({"type": "hello", "seq": 3}, [])  # queued behind the first: sent
    assert said == [{"type": "welcome"}] * 3 and panel.model_id == first and not told  # early
    now[0] += _resync.QUEUED_S
    panel._handle_custom_msg({"type": "hello", "seq": 4}, [])  # long after: it never arrived
    assert panel.model_id != first
    assert told == [("children", [panel.model_id])]  # the page renders the new model there
    assert view.panel is panel and panel.comm is not None
    opened = panel.get_state()
    assert opened["question"] == view.panel.question and opened["question"]["id"]
    panel._handle_custom_msg({"type": "hello", "seq": 1}, [])  # the new model greets: welcomed
    assert said[-1] == {"type": "welcome"} and panel.model_id == told[0][1][0]
    before = panel.question["id"]
    panel._handle_custom_msg({"type": "next"}, [])  # the quiz still hears its card: skipped
    assert panel.question["id"] != before
    view.close()
