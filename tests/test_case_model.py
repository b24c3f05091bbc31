"""The teaching case model: unknown mode, several readers, enums at the boundary."""

from __future__ import annotations

import json

import pytest

from teachingfiles.cases import (
    Difficulty,
    KeyImage,
    ReaderCall,
    ReadSummary,
    Reference,
    TeachingCase,
    View,
)
from teachingfiles.vocabulary import Appearance, Severity

T, IND, A = Appearance.TYPICAL, Appearance.INDETERMINATE, Appearance.ATYPICAL


def _case(**kw):
    base = {
        "id": "c1",
        "title": "Typical appearance: peripheral ground glass",
        "study_uid": "1.2.3",
        "synthetic": True,
        "history": "Fever for five days.",
        "findings": "FINDINGS-TEXT",
        "diagnosis": "DIAGNOSIS-TEXT",
        "category": T,
        "reasoning": "REASONING-TEXT",
        "teaching_points": ("POINT-ONE",),
        "references": (Reference("Simpson 2020", doi="10.1148/ryct.2020200152"),),
        "key_images": (
            KeyImage(slice=30, preset="lung", annotations=("Infectious opacity",),
                     caption="CAPTION-TEXT"),
        ),
    }  # fmt: skip
    base.update(kw)
    return TeachingCase(**base)


def test_unknown_view_shows_images_and_history_only():
    view = _case().unknown_view()
    text = json.dumps(view)
    assert view["history"] == "Fever for five days."
    assert view["synthetic"] is True
    assert view["key_images"] == [
        {"series_uid": None, "slice": 30, "view": "axial", "preset": "lung"}
    ]
    for secret in ("FINDINGS", "DIAGNOSIS", "REASONING", "POINT-ONE", "CAPTION", "Typical",
                   "typical", "Infectious opacity"):  # fmt: skip
        assert secret not in text


def test_revealed_view_has_everything():
    case = _case().with_reads([ReaderCall("U_1", T)])
    view = case.revealed_view()
    assert view["findings"] == "FINDINGS-TEXT"
    assert view["category"] == "typical"
    assert view["key_images"][0]["annotations"] == ["Infectious opacity"]
    assert view["key_images"][0]["caption"] == "CAPTION-TEXT"
    assert view["reads"]["appearance"] == "typical"
    assert view["references"] == [{"citation": "Simpson 2020", "doi": "10.1148/ryct.2020200152"}]
    json.dumps(view)


def test_three_readers_majority_and_spread():
    reads = ReadSummary(
        (
            ReaderCall("Reader 1", T, Severity.MODERATE),
            ReaderCall("Reader 2", IND, Severity.SEVERE),
            ReaderCall("Reader 3", T, Severity.SEVERE),
        )
    )
    assert reads.appearance is T
    assert reads.severity is Severity.SEVERE
    assert reads.appearance_votes == {T: 2, IND: 1}
    assert not reads.unanimous
    assert reads.describe() == (
        "Reader 1: typical, moderate; Reader 2: indeterminate, severe; "
        "Reader 3: typical, severe (2 of 3 typical)"
    )


def test_adjudication_overrides_the_majority():
    calls = [
        ReaderCall("Reader 1", T, Severity.MODERATE),
        ReaderCall("Reader 2", T, Severity.SEVERE),
        ReaderCall("Reader 3", T, Severity.SEVERE),
        ReaderCall("Adjudication", T, Severity.MODERATE),
    ]
    reads = _case().with_reads(calls).reads
    assert reads is not None
    assert len(reads.calls) == 3
    assert reads.severity is Severity.MODERATE
    assert reads.describe().endswith("(all 3 typical); adjudicated typical, moderate")


def test_no_majority_gives_no_consensus():
    reads = ReadSummary((ReaderCall("R1", T), ReaderCall("R2", IND), ReaderCall("R3", A)))
    assert reads.appearance is None
    assert ReadSummary().describe() == "no reader labels"


def test_view_and_difficulty_parse_at_the_boundary():
    assert View.parse("Coronal") is View.CORONAL
    assert Difficulty.parse(" advanced ") is Difficulty.ADVANCED
    with pytest.raises(ValueError, match=r"'oblique' is not a view; expected one of 'axial'"):
        View.parse("oblique")


def test_case_manifest_form_leaves_out_empty_fields():
    out = TeachingCase(id="x", title="X", study_uid="1.2").to_dict()
    assert out == {
        "id": "x",
        "title": "X",
        "study": "1.2",
        "synthetic": False,
        "difficulty": "intermediate",
    }


def test_public_names_are_pinned():
    import teachingfiles.cases as cases
    import teachingfiles.quiz as quiz

    assert {"TeachingCase", "TeachingSet", "KeyImage", "ReadSummary", "check_manifest",
            "mask_to_polygons"} <= set(cases.__all__)  # fmt: skip
    assert sorted(quiz.__all__) == [
        "AnswerKey", "AttemptRecord", "CaseSource", "Feedback", "Gradebook", "Mode", "Order",
        "Question", "QuestionKind", "Quiz", "QuizSession", "Region", "ResolvedQuestion",
        "ReviewItem", "Score", "SessionRecord", "Submission", "Summary", "TopicScore",
        "choice_order", "next_review", "resolve", "review_queue", "score_chart", "summarize",
    ]  # fmt: skip
    for module in (cases, quiz):
        for name in module.__all__:
            assert hasattr(module, name), name
