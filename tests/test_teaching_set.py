"""The teaching set manifest: round trip, every validation error with file/line/field,
resolving against a repository, and ``teachingfiles validate``."""

from __future__ import annotations

import json

import pytest
from _quiz_fakes import CT_STUDY, MANIFEST, fake_repository, manifest_set

from teachingfiles.cases import TeachingSet, check_manifest
from teachingfiles.cli import main
from teachingfiles.errors import ManifestError
from teachingfiles.quiz import QuestionKind, resolve
from teachingfiles.vocabulary import Appearance


def _errors(text: str) -> list[str]:
    return [str(e) for e in check_manifest("set.yaml", text=text).errors]


def _replace(old: str, new: str) -> str:
    assert old in MANIFEST
    return MANIFEST.replace(old, new, 1)


# ------------------------------------------------------------------ round trip


def test_manifest_reads_typed_values():
    ts = manifest_set()
    assert ts.title == "Test set"
    assert ts.version == "2"
    assert ts.set_id == "test-set"
    ct = ts.case("ct1")
    assert ct.category is Appearance.TYPICAL
    assert ct.history == "Fever and cough.\nFive days."
    assert ct.references[0].doi == "10.1148/ryct.2020200152"
    assert ct.key_images[0].annotations == ("Infectious opacity",)
    assert {q.kind for q in ts.questions} == set(QuestionKind)
    assert ts.kinds()["click"] == 2


def test_yaml_round_trip_is_equal(tmp_path):
    ts = manifest_set()
    path = ts.save(tmp_path / "out" / "set.yaml")
    again = TeachingSet.from_yaml(path)
    assert again == ts
    assert again.to_yaml() == ts.to_yaml()
    assert "history: |-\n" in path.read_text()  # multi-line text stays readable


def test_round_trip_keeps_every_question_field(tmp_path):
    text = (
        MANIFEST
        + """\
  - id: q-extra
    kind: box
    case: ct1
    prompt: Box it.
    iou: 0.3
    slice_tolerance: 2
    topic: Localisation
    points: 2
    image: {slice: 5, view: coronal, preset: lung}
"""
    )
    ts = TeachingSet.from_yaml("set.yaml", text=text)
    q = ts.questions[-1]
    assert (q.iou, q.slice_tolerance, q.topic, q.points) == (0.3, 2, "Localisation", 2.0)
    assert q.image is not None and q.image.view.value == "coronal"
    assert TeachingSet.from_yaml("again.yaml", text=ts.to_yaml()) == ts


# ------------------------------------------------------------------ validation errors


def test_unknown_key_names_file_line_and_suggests():
    errors = _errors(_replace("    history: Dyspnoea.", "    histroy: Dyspnoea."))
    assert errors == [
        (
            "set.yaml, line 27: cases[1].histroy: unknown key; did you mean 'history'? "
            "(allowed here: category, collection, diagnosis, differential, difficulty, "
            "discussion, findings, history, id, key_images, patient, reasoning, references, "
            "series, severity, source, study, synthetic, tags, teaching_points, title)"
        )
    ]


def test_bad_category_is_reported_with_the_choices():
    errors = _errors(_replace("category: typical", "category: typicall"))
    assert errors == [
        (
            "set.yaml, line 16: cases[0].category: 'typicall' is not a Appearance; expected one "
            "of 'typical', 'indeterminate', 'atypical', 'negative'"
        )
    ]


def test_single_best_answer_must_be_one_of_the_choices():
    with pytest.raises(
        ManifestError,
        match=r"set.yaml, line 33: questions\[0\].answer: 'Reversed-halo' is not one of "
        r"the choices; copy it exactly from 'choices'",
    ):
        manifest_set(_replace("answer: Reversed halo", "answer: Reversed-halo"))


def test_missing_required_fields_and_case_reference():
    text = _replace("  - id: q-sev\n    kind: severity\n    case: cxr1\n    prompt: How severe?\n",
                    "  - id: q-sev\n    kind: severity\n    case: cxr9\n")  # fmt: skip
    errors = _errors(text)
    assert "set.yaml, line 50: questions[4].prompt: is required" in errors
    assert (
        "set.yaml, line 52: questions[4].case: names case 'cxr9', which the manifest does not "
        "define (cases: ct1, cxr1)" in errors
    )


def test_every_problem_is_reported_together():
    text = _replace("kind: free_text", "kind: essay")
    text = text.replace('    study: "1.2.3.2"\n', "")
    text = text.replace("id: q-multi", "id: q-sba")
    errors = _errors(text)
    assert len(errors) == 3
    assert errors[0].startswith("set.yaml, line 23: cases[1].study: is required")
    assert (
        "line 70: questions[8].kind: 'essay' is not a question kind; expected one of" in errors[1]
    )
    assert "line 35: questions[1].id: 'q-sba' is already used by questions[0]" in errors[2]
    with pytest.raises(ManifestError, match=r"3 problems in the manifest:\n  set.yaml, line 23"):
        manifest_set(text)


def test_kind_specific_rules():
    errors = _errors(
        _replace("    accepted: [crazy paving, crazy-paving pattern]\n", "    choices: [a, b]\n")
    )
    assert any("questions[8].accepted: a free_text question needs its accepted" in e
               for e in errors)  # fmt: skip
    assert any("questions[8].choices: does not apply to a free_text question" in e for e in errors)
    errors = _errors(_replace("    kind: category\n    case: ct1\n", "    kind: category\n"))
    assert errors == [
        (
            "set.yaml, line 41: questions[2].case: a category question needs the id of the case "
            "it asks about"
        )
    ]
    errors = _errors(_replace("answer: Reversed halo", "answers: [Reversed halo, Cavity]"))
    assert errors == [
        (
            "set.yaml, line 33: questions[0].answers: a single_best question has exactly one "
            "right choice; use kind: multiple"
        )
    ]


def test_wrong_types_are_named():
    errors = _errors(_replace("    synthetic: true\n    history: |", "    synthetic: yes please\n"
                              "    history: |"))  # fmt: skip
    assert errors == [("set.yaml, line 11: cases[0].synthetic: expected true or false, got "
                      "text 'yes please'")]  # fmt: skip
    errors = _errors(_replace("slice_tolerance: 1", "slice_tolerance: -1"))
    assert errors == [
        "set.yaml, line 64: questions[6].slice_tolerance: -1 is out of range [0, None]"
    ]


def test_duplicate_keys_and_yaml_syntax_errors():
    errors = _errors(
        _replace("    title: Typical CT\n", "    title: Typical CT\n    title: Again\n")
    )
    assert errors == [
        "set.yaml, line 9: cases[0].title: appears twice; keep one (YAML keeps only the last)"
    ]
    errors = _errors("title: x\ncases:\n  - id: a\n   title: b\n")
    assert len(errors) == 1
    assert errors[0].startswith("set.yaml, line 4: not valid YAML:")


def test_empty_and_missing_manifest(tmp_path):
    assert _errors("") == [
        (
            "set.yaml: (top level): the manifest is empty; it needs at least a title, cases and "
            "questions"
        )
    ]
    assert _errors("- a\n- b\n") == [
        "set.yaml, line 1: (top level): expected a mapping of keys to values, got a list",
        "set.yaml, line 1: cases: is required",
        "set.yaml, line 1: title: is required",
    ]
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ManifestError, match=r"nope.yaml: no such file; check the path"):
        TeachingSet.from_yaml(missing)


# ------------------------------------------------------------------ resolving


def test_resolve_against_the_repository():
    quiz = resolve(manifest_set(), fake_repository())
    assert len(quiz.questions) == 9
    assert quiz.cases["cxr1"].reads is not None
    assert quiz.question("q-click").key.n_slices == 10
    assert [r.slice for r in quiz.question("q-click").key.regions] == [4]
    assert quiz.question("q-box").key.regions[0].mode == "bbox"


def test_resolve_reports_missing_study_with_its_line():
    ts = manifest_set(_replace(f'study: "{CT_STUDY}"', 'study: "9.9.9"'))
    quiz = resolve(ts, fake_repository(), strict=False)
    texts = [str(p) for p in quiz.problems]
    assert texts[0] == (
        "set.yaml, line 9: cases[0].study: case 'ct1': study 9.9.9 is not in the repository; "
        "check the StudyInstanceUID or index the folder that holds it"
    )
    with pytest.raises(ManifestError, match="problems resolving the teaching set"):
        resolve(ts, fake_repository())


def test_resolve_reports_missing_annotations_and_bad_slices():
    text = _replace("labels: [Atelectasis]", "labels: [Effusion]")
    text = text.replace("{slice: 4, preset: lung, annotations: [Infectious opacity]",
                        "{slice: 40, preset: lung, annotations: [Cavity]")  # fmt: skip
    problems = [str(p) for p in resolve(manifest_set(text), fake_repository(),
                                        strict=False).problems]  # fmt: skip
    assert problems == [
        (
            "set.yaml, line 22: cases[0].key_images[0].slice: case 'ct1': slice 40 is past the "
            "series' 10 images (0 to 9)"
        ),
        (
            "set.yaml, line 22: cases[0].key_images[0].annotations: case 'ct1': the study has no "
            "annotation labelled 'Cavity'"
        ),
        (
            "set.yaml, line 69: questions[7].labels: question 'q-box': study 1.2.3.1 has no "
            "outlined finding (Effusion) to score against"
        ),
    ]


def test_resolve_without_repository_keeps_manifest_only_questions():
    quiz = resolve(manifest_set(), None, strict=False)
    assert {q.id for q in quiz.questions} == {"q-sba", "q-multi", "q-cat", "q-text"}
    assert quiz.question("q-cat").key.appearance is Appearance.TYPICAL  # the case's category
    assert any("give --repository" in str(p) for p in quiz.problems)


# ------------------------------------------------------------------ the command


def test_validate_command_valid_and_json(tmp_path, capsys):
    path = manifest_set().save(tmp_path / "set.yaml")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert (
        "valid: 'Test set' version 2, 2 cases, 9 questions (1 box, 2 category, 2 click, 1 free_text"
        in out
    )
    assert main(["validate", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["valid"] is True
    assert result["cases"] == 2
    assert result["questions"] == 9
    assert result["kinds"] == {"single_best": 1, "multiple": 1, "category": 2, "severity": 1,
                               "click": 2, "box": 1, "free_text": 1}  # fmt: skip
    assert result["errors"] == []


def test_validate_command_lists_every_error(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(_replace("category: typical", "category: typicall").replace(
        "kind: free_text", "kind: essay"))  # fmt: skip
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: 2 problems:\n")
    assert f"{path}, line 16: cases[0].category" in out
    assert main(["validate", str(path), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["valid"] is False
    assert [(e["line"], e["field"]) for e in result["errors"]] == [
        (16, "cases[0].category"),
        (71, "questions[8].kind"),
    ]


# ------------------------------------------------------------------ the demo set

_SECRET_KEYS = {"answers", "answer", "accepted", "correct", "explanation", "teaching_points",
                "regions", "vertices", "reads", "findings", "diagnosis", "reasoning",
                "category", "severity", "caption", "annotations", "title", "tags"}  # fmt: skip


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@pytest.fixture(scope="module")
def demo_quiz(demo_root, tmp_path_factory):
    from teachingfiles.demo.teaching_set import write_demo_teaching_sets
    from teachingfiles.repository import Repository

    out = tmp_path_factory.mktemp("demo-set")
    (path,) = write_demo_teaching_sets(demo_root, out_dir=out)
    ts = TeachingSet.from_yaml(path)
    with Repository.open(demo_root, catalog=out / "catalog.sqlite") as repo:
        quiz = resolve(ts, repo)  # strict: any missing study or annotation fails here
    return path, ts, quiz


@pytest.mark.slow
def test_demo_set_is_complete_and_resolves(demo_quiz):
    path, ts, quiz = demo_quiz
    assert path.name == "covid19-rsna-categories.yaml"
    assert ts.title == "COVID-19 chest imaging: the RSNA categories"
    assert len(quiz.questions) >= 16
    assert set(ts.kinds()) == {k.value for k in QuestionKind}
    collections = {c.collection for c in ts.cases}
    assert {"DEMO-RICORD-1A", "DEMO-RICORD-1C", "PYDICOM-DATA"} <= collections
    for case in ts.cases:
        assert case.references, case.id
        if case.synthetic:
            assert "SYNTHETIC" in case.source and "(Synthetic case.)" in case.history
        else:
            assert case.history == "No clinical history is available for this real image."
    # the readers' split reaches the feedback of the disputed radiograph
    split = quiz.question("q14").score("indeterminate")
    assert not split.correct
    assert "Reader 2: indeterminate, mild" in split.reads
    # and the click question scores against the real polygons of the demo
    click = quiz.question("q02")
    region = max(click.key.regions, key=lambda r: r.bounds[2] * r.bounds[3])
    xs, ys = zip(*region.vertices, strict=True)
    inside = next(
        (x, y)
        for x in range(int(min(xs)), int(max(xs)) + 1)
        for y in range(int(min(ys)), int(max(ys)) + 1)
        if click.score({"x": x, "y": y, "slice": region.slice}).correct
    )
    assert click.score({"x": inside[0], "y": inside[1], "slice": region.slice}).correct
    assert not click.score({"x": 0, "y": 0, "slice": region.slice}).correct


@pytest.mark.slow
def test_demo_set_validates_on_the_command_line(demo_quiz, capsys):
    path, _, _ = demo_quiz
    assert main(["validate", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["valid"] and result["questions"] >= 16


@pytest.mark.slow
def test_public_view_of_every_demo_question_leaks_no_answer(demo_quiz):
    _, _, quiz = demo_quiz
    for q in quiz.questions:
        view = q.public_view(seed=3)
        text = json.dumps(view)
        assert not _keys(view) & _SECRET_KEYS, q.id
        if q.question.explanation:
            assert q.question.explanation not in text, q.id
        for point in (*q.question.teaching_points, *(q.case.teaching_points if q.case else ())):
            assert point not in text, q.id
        if q.kind is QuestionKind.FREE_TEXT:
            for accepted in q.question.answers:
                assert accepted.lower() not in text.lower(), (q.id, accepted)
        if q.kind in (QuestionKind.CATEGORY, QuestionKind.SEVERITY):
            truth = (q.key.appearance or q.key.severity).value
            # the prompt may list the grades; the rest (case, image) must not name the truth
            rest = json.dumps({k: v for k, v in view.items() if k not in ("choices", "prompt")})
            assert truth not in rest.lower(), q.id
        if q.case is not None:
            for secret in (q.case.findings, q.case.diagnosis, q.case.reasoning, q.case.title):
                assert not secret or secret not in text, q.id
