"""Scoring of every question kind, with the edge cases that decide a learner's mark."""

from __future__ import annotations

import json

import pytest
from _quiz_fakes import SQUARE, fake_repository, manifest_set

from teachingfiles.errors import UsageError
from teachingfiles.quiz import resolve
from teachingfiles.quiz.scoring import (
    Region,
    box_iou,
    edit_distance,
    normalize_text,
    point_in_polygon,
    score_box,
    score_choices,
    score_click,
    score_free_text,
    score_severity,
    voxel_from_view,
)
from teachingfiles.vocabulary import Severity

SQ = [tuple(p) for p in SQUARE]  # x 100..200, y 150..250
L_SHAPE = [(0, 0), (10, 0), (10, 4), (4, 4), (4, 10), (0, 10)]


@pytest.fixture(scope="module")
def quiz():
    return resolve(manifest_set(), fake_repository())


# ------------------------------------------------------------------ geometry


@pytest.mark.parametrize(
    ("point", "inside"),
    [
        ((150, 200), True),  # centre
        ((100, 200), True),  # on the left edge
        ((150, 250), True),  # on the bottom edge
        ((200, 150), True),  # on a vertex
        ((99.9, 200), False),
        ((150, 250.1), False),
    ],
)
def test_point_in_square_counts_the_edge_as_inside(point, inside):
    assert point_in_polygon(point, SQ) is inside


def test_point_in_concave_polygon():
    assert point_in_polygon((2, 8), L_SHAPE)
    assert not point_in_polygon((8, 8), L_SHAPE)  # in the notch of the L
    assert point_in_polygon((4, 7), L_SHAPE)  # on the inner edge


def test_degenerate_polygon_contains_nothing():
    assert not point_in_polygon((0, 0), [(0, 0), (1, 1)])


def test_box_iou_values():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_voxel_from_each_view():
    assert voxel_from_view("axial", 10, 20, 3, 64) == (10.0, 20.0, 3.0)
    assert voxel_from_view("coronal", 10, 0, 250, 64) == (10.0, 250.0, 63.0)
    assert voxel_from_view("sagittal", 300, 126, 40, 64, slice_scale=2.0) == (40.0, 300.0, 0.0)
    with pytest.raises(ValueError, match="unknown view 'oblique'"):
        voxel_from_view("oblique", 0, 0, 0, 1)


# ------------------------------------------------------------------ click


def test_click_on_the_annotated_slice_and_on_the_edge():
    regions = [Region("Infectious opacity", 4, tuple(SQ))]
    assert score_click((150, 200), 4, regions).correct
    assert score_click((100, 200), 4, regions).correct  # edge
    miss = score_click((50, 50), 4, regions)
    assert miss.value == 0.0
    assert "slices 4 (0-based)" in miss.message


def test_click_on_the_neighbouring_slice_needs_a_tolerance():
    regions = [Region("Infectious opacity", 4, tuple(SQ))]
    assert not score_click((150, 200), 5, regions).correct
    near = score_click((150, 200), 5, regions, slice_tolerance=1)
    assert near.correct
    assert "near this slice" in near.message
    assert not score_click((150, 200), 6, regions, slice_tolerance=1).correct


def test_click_without_regions_is_an_error():
    with pytest.raises(ValueError, match="no reference regions"):
        score_click((0, 0), 0, [])


def test_click_question_in_a_reformatted_view(quiz):
    q = quiz.question("q-click")
    # coronal view through image row 200: the square's slice 4 is 5 rows from the top
    hit = q.score({"view": "coronal", "u": 150, "v": 5, "index": 200})
    assert hit.correct
    assert hit.mark == {"x": 150.0, "y": 200.0, "slice": 4.0, "view": "coronal"}
    # sagittal through column 150, stretched 2 display pixels per slice
    assert q.score({"view": "sagittal", "u": 240, "v": 10, "index": 150, "slice_scale": 2}).correct
    assert not q.score({"view": "coronal", "u": 150, "v": 5, "index": 260}).correct


def test_click_question_feedback_carries_reference_and_mark(quiz):
    fb = quiz.question("q-click").score({"x": 120, "y": 160, "slice": 4})
    assert fb.correct
    assert fb.reference[0]["vertices"][0] == [100.0, 150.0]
    assert fb.reference[0]["slice"] == 4
    assert fb.mark["x"] == 120.0
    json.dumps(fb.as_dict())  # JSON-ready for the widget


def test_click_question_with_slice_tolerance(quiz):
    answer = {"x": 150, "y": 200, "slice": 3}
    assert not quiz.question("q-click").score(answer).correct
    assert quiz.question("q-click-near").score(answer).correct


def test_click_answer_of_the_wrong_shape(quiz):
    with pytest.raises(UsageError, match=r"question 'q-click' \(click\): answer 'here' is not"):
        quiz.question("q-click").score("here")
    with pytest.raises(UsageError, match="a mapping with x, y, slice"):
        quiz.question("q-click").score({"x": 1})


# ------------------------------------------------------------------ box


def test_box_iou_threshold():
    regions = [Region.from_box("Atelectasis", 6, (300, 300, 40, 20))]
    assert score_box((300, 300, 40, 20), 6, regions).correct
    assert score_box((310, 300, 40, 20), 6, regions).correct  # IoU 30/50 = 0.6
    low = score_box((320, 300, 40, 20), 6, regions)  # IoU 20/60 = 0.33
    assert not low.correct
    assert "0.33" in low.message
    assert not score_box((300, 300, 40, 20), 5, regions).correct  # other slice


def test_box_against_polygon_bounds():
    regions = [Region("Infectious opacity", 4, tuple(L_SHAPE))]
    assert regions[0].bounds == (0, 0, 10, 10)
    assert score_box((0, 0, 10, 10), 4, regions).correct
    assert score_box((1, 1, 10, 10), 4, regions, threshold=0.5).correct
    assert not score_box((1, 1, 10, 10), 4, regions, threshold=0.9).correct


def test_box_question(quiz):
    q = quiz.question("q-box")
    assert q.score({"x": 302, "y": 301, "width": 38, "height": 20, "slice": 6}).correct
    assert not q.score({"x": 0, "y": 0, "width": 38, "height": 20, "slice": 6}).correct
    with pytest.raises(UsageError, match="x, y, width, height, slice"):
        q.score({"x": 0, "y": 0, "slice": 6})


# ------------------------------------------------------------------ choices


def test_single_best_and_multiple_scores():
    assert score_choices([1], [1], 4).correct
    assert score_choices([2], [1], 4).value == 0.0
    assert score_choices([0, 2], [0, 2], 4).correct
    assert score_choices([0], [0, 2], 4).value == 0.5
    assert score_choices([0, 1], [0, 2], 4).value == 0.0
    assert score_choices([0, 1, 2, 3], [0, 2], 4).value == 0.0  # ticking all earns nothing


def test_choice_letters_follow_the_seeded_shuffle(quiz):
    q = quiz.question("q-sba")
    for seed in (1, 2, 3, 4):
        view = q.public_view(seed)
        right = next(c["id"] for c in view["choices"] if c["text"] == "Reversed halo")
        wrong = next(c["id"] for c in view["choices"] if c["text"] == "Cavity")
        assert q.score(right, seed=seed).correct
        assert not q.score(wrong, seed=seed).correct
    orders = {tuple(c["text"] for c in q.public_view(s)["choices"]) for s in range(10)}
    assert len(orders) > 1  # the order really changes with the seed
    assert q.public_view(7) == q.public_view(7)


def test_multiple_answer_question(quiz):
    q = quiz.question("q-multi")
    view = q.public_view(5)
    letter = {c["text"]: c["id"] for c in view["choices"]}
    both = q.score([letter["Peripheral GGO"], letter["Crazy paving"]], seed=5)
    assert both.correct
    assert both.answer == ["Peripheral GGO", "Crazy paving"]
    half = q.score([letter["Peripheral GGO"]], seed=5)
    assert half.score == 0.5
    assert half.partial


def test_choice_answer_errors(quiz):
    with pytest.raises(UsageError, match="one of the letters A, B, C"):
        quiz.question("q-sba").score("Z", seed=1)
    with pytest.raises(UsageError, match="exactly one choice letter"):
        quiz.question("q-sba").score(["A", "B"], seed=1)


# ------------------------------------------------------------------ category, severity


def test_category_from_readers_majority(quiz):
    q = quiz.question("q-cat-cxr")
    right = q.score("Typical Appearance")
    assert right.correct
    assert "Reader 2: indeterminate" in right.reads
    assert "2 of 3 typical" in right.reads
    wrong = q.score("indeterminate")
    assert not wrong.correct
    assert wrong.message == "You said indeterminate; the reference category is typical."
    with pytest.raises(UsageError, match="is not an RSNA category"):
        q.score("covid")


def test_severity_partial_credit_one_step_off():
    assert score_severity(Severity.MODERATE, Severity.MODERATE).value == 1.0
    assert score_severity(Severity.MILD, Severity.MODERATE).value == 0.5
    assert score_severity(Severity.SEVERE, Severity.MODERATE).value == 0.5
    assert score_severity(Severity.MILD, Severity.SEVERE).value == 0.0


def test_severity_truth_is_the_adjudication_over_the_majority(quiz):
    q = quiz.question("q-sev")  # readers: moderate, severe, severe; adjudicated moderate
    assert q.key.severity is Severity.MODERATE
    fb = q.score("severe")
    assert fb.score == 0.5
    assert "adjudicated moderate" in fb.reads


# ------------------------------------------------------------------ free text


def test_normalize_and_edit_distance():
    assert normalize_text("  Ground-GLASS\topacity ") == "ground glass opacity"
    assert normalize_text("Pneumonie à COVID") == "pneumonie a covid"
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("paving", "pavnig") == 1  # transposition is one typo
    assert edit_distance("", "abc") == 3


@pytest.mark.parametrize(
    ("said", "right"),
    [
        ("crazy paving", True),
        ("Crazy-Paving", True),
        ("  CRAZY   paving ", True),
        ("crazy pavign", True),  # one transposition
        ("crazy-paving pattern", True),  # a synonym
        ("crazzy pavving", True),  # two typos in a long answer
        ("crazy", False),
        ("tree in bud", False),
        ("", False),
    ],
)
def test_free_text_tolerates_case_spacing_and_typos(said, right):
    assert score_free_text(said, ["crazy paving", "crazy-paving pattern"]).correct is right


def test_free_text_short_answers_must_be_exact():
    assert score_free_text("nof", ["NOF"]).correct
    assert not score_free_text("nif", ["NOF"]).correct
    assert not score_free_text("crazy pavign", ["crazy paving"], max_typos=0).correct


def test_free_text_question(quiz):
    fb = quiz.question("q-text").score("Crazy paving")
    assert fb.correct
    with pytest.raises(UsageError, match="is not text"):
        quiz.question("q-text").score(3)


# ------------------------------------------------------------------ readers' names


def test_mdai_user_ids_become_numbered_readers_in_a_stable_order():
    from _quiz_fakes import CT_STUDY, FakeReaderLabel

    from teachingfiles.vocabulary import Appearance

    t, i = Appearance.TYPICAL, Appearance.INDETERMINATE
    names = {}
    for labels in (
        [FakeReaderLabel("U_zed", i, None, "Default group"),
         FakeReaderLabel("U_abc", t, None, "Default group"),
         FakeReaderLabel("U_mid", t, None, "Default group")],
        [FakeReaderLabel("U_mid", t, None, "Default group"),
         FakeReaderLabel("U_zed", i, None, "Default group"),
         FakeReaderLabel("U_abc", t, None, "Default group")],
    ):  # fmt: skip
        repo = fake_repository()
        repo.labels_by_study[CT_STUDY] = labels
        reads = resolve(manifest_set(), repo).cases["ct1"].reads
        assert reads is not None
        names[len(names)] = [(c.reader, c.reader_id) for c in reads.calls]
        assert reads.agreement() == "2 of 3 readers said typical"
        assert "U_" not in reads.describe()
    assert names[0] == names[1] == [
        ("Reader 1", "U_abc"), ("Reader 2", "U_mid"), ("Reader 3", "U_zed")
    ]  # fmt: skip


def test_named_readers_keep_their_numbers_and_the_adjudicator_is_apart(quiz):
    reads = quiz.cases["cxr1"].reads
    assert [c.reader for c in reads.calls] == ["Reader 1", "Reader 2", "Reader 3"]
    assert reads.adjudication is not None and reads.adjudication.severity is Severity.MODERATE
    assert reads.agreement() == (
        "2 of 3 readers said typical; 2 of 3 readers said severe; the adjudicator said moderate"
    )
    as_dict = reads.as_dict()
    assert as_dict["agreement"] == reads.agreement()
    assert as_dict["calls"][0] == {
        "reader": "Reader 1", "reader_id": None, "appearance": "typical", "severity": "moderate"
    }  # fmt: skip
    one = quiz.cases["ct1"].reads
    assert one.agreement() == "1 reader said typical" and one.calls[0].reader_id == "U_abc"


def test_agreement_words_for_a_split_and_for_unanimity():
    from teachingfiles.cases.case import ReaderCall, ReadSummary
    from teachingfiles.vocabulary import Appearance

    t, i, a = Appearance.TYPICAL, Appearance.INDETERMINATE, Appearance.ATYPICAL
    split = ReadSummary((ReaderCall("Reader 1", t), ReaderCall("Reader 2", i),
                         ReaderCall("Reader 3", a)))  # fmt: skip
    assert split.agreement() == "the readers split: 1 typical, 1 indeterminate, 1 atypical"
    same = ReadSummary(tuple(ReaderCall(f"Reader {n}", t, Severity.MILD) for n in (1, 2, 3)))
    assert same.agreement() == "all 3 readers said typical; all 3 readers said mild"
    assert ReadSummary().agreement() == "no reader labels"
