"""The authoring workflow (teachingfiles.cases.authoring) and its widget, on a copy of the demo.

Every test that writes (drafts, authored MD.ai JSON, re-indexing, de-identified
imports) works on its own copy of the demo repository, never on ``demo_root``.
"""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest

from teachingfiles.cases.authoring import AuthoringSession, LabelChoice, default_labels
from teachingfiles.cases.teaching_set import TeachingSet
from teachingfiles.commands.validate import validate
from teachingfiles.dicom.volume import Volume
from teachingfiles.errors import FormatError, ManifestError, NotFoundError, UsageError
from teachingfiles.quiz import resolve
from teachingfiles.quiz.questions import QuestionKind
from teachingfiles.repository import Repository
from teachingfiles.repository.mdai import read_mdai
from teachingfiles.widgets import AuthoringView, CaseView, StackViewer

SECRET = b"authoring-test-secret-0123456789"


@pytest.fixture
def repo(demo_root: Path, tmp_path: Path) -> Iterator[Repository]:
    """A private copy of the demo (with its catalog), opened."""
    root = tmp_path / "repo"
    shutil.copytree(demo_root, root)
    repository = Repository.open(root, index=False)
    yield repository
    repository.close()


def _ct_study(repo: Repository, collection: str = "DEMO-RICORD-1B") -> str:
    return repo.studies(collection=collection)[0].study_uid


def _session(repo: Repository, tmp_path: Path, **kw: object) -> AuthoringSession:
    return AuthoringSession(repo, tmp_path / "drafts" / "set.json", **kw)  # type: ignore[arg-type]


def test_the_label_set_defaults_to_the_repositorys_mdai_labels(
    repo: Repository, tmp_path: Path
) -> None:
    session = _session(repo, tmp_path)
    names = [c.name for c in session.labels]
    # RICORD 1a's instance-level findings first, then the study labels of 1a and 1c
    assert names[0] == "Infectious opacity"
    assert {"Atelectasis", "Typical", "Typical Appearance", "Mild"} <= set(names)
    assert len(names) == len(set(names))
    assert session.label("infectious OPACITY").color == "#ff5722"
    assert session.labels == default_labels(repo)
    chosen = _session(repo, tmp_path / "other", labels=["Atelectasis", "Mine"])
    assert [(c.name, c.color) for c in chosen.labels] == [
        ("Atelectasis", "#03a9f4"), ("Mine", LabelChoice("Mine").color)]  # fmt: skip
    with pytest.raises(UsageError, match="no label 'Nope' in the label set; labels: Atelectasis"):
        chosen.label("Nope")


def _fill(session: AuthoringSession, repo: Repository) -> str:
    """Author one CT case with every kind of content; return its id."""
    case = session.add_case(_ct_study(repo), case_id="ct-1", title="Ground glass")
    session.edit_case(
        "ct-1",
        history="Fever and cough for five days.",
        findings="Peripheral ground-glass opacities.",
        category="typical",
        severity="moderate",
        difficulty="introductory",
        differential="Organising pneumonia\nDrug reaction",
        teaching_points=["Peripheral", "Bilateral"],
        references=[{"citation": "Simpson 2020", "doi": "10.1148/ryct.2020200152"}],
        tags="covid\nct",
        synthetic=True,
    )
    assert case.series_uid is not None
    session.draw("ct-1", "box", [[150, 140], [100, 100]], slice=30, label="Typical")
    session.draw("ct-1", "polygon", [[10, 10], [40, 10], [25, 30]], slice=31, label="Atelectasis")
    session.draw("ct-1", "freehand", [[60, 60], [80, 62], [78, 90], [58, 85]], slice=30,
                 label="Typical")  # fmt: skip
    session.draw("ct-1", "point", [[12.345, 20]], slice=2, label="Mild")
    session.add_key_image("ct-1", slice=30, preset="lung", caption="Both lungs")
    session.add_question("single_best", case="ct-1", prompt="Which?", choices="A\nB",
                         answers="B", explanation="Because.")  # fmt: skip
    session.add_question("multiple", case="ct-1", prompt="All?", choices=["A", "B", "C"],
                         answers=["A", "C"])  # fmt: skip
    session.add_question("category", case="ct-1", prompt="RSNA category?")
    session.add_question("severity", case="ct-1", prompt="Grade?")
    session.add_question("click", case="ct-1", prompt="Click it.", labels=["Typical"])
    session.add_question("box", case="ct-1", prompt="Box it.", labels=["Typical"], iou=0.3)
    session.add_question("free_text", case="ct-1", prompt="Name it.", answers="ground glass")
    return "ct-1"


def test_the_draft_survives_a_restart_exactly(repo: Repository, tmp_path: Path) -> None:
    session = _session(repo, tmp_path, title="Restart me")
    _fill(session, repo)
    draft = session.draft_path
    saved = json.loads(draft.read_text(encoding="utf-8"))
    assert saved["format"] == "teachingfiles-authoring-draft"
    assert len(saved["annotations"]) == 4
    # the "restart": a new session (a new kernel would build exactly this) on the same file
    again = AuthoringSession(repo, draft)
    assert again.teaching_set == session.teaching_set
    assert again.annotations == session.annotations
    assert again.labels == session.labels
    case = again.case("ct-1")
    assert case.differential == ("Organising pneumonia", "Drug reaction")
    assert case.references[0].doi == "10.1148/ryct.2020200152"
    assert [q.kind for q in again.questions] == list(QuestionKind)
    assert again.annotations[3].points == ((12.35, 20.0),)
    assert not [p for p in draft.parent.iterdir() if p.name != draft.name]  # no temp files


def test_a_damaged_draft_is_refused_with_its_name(repo: Repository, tmp_path: Path) -> None:
    draft = tmp_path / "broken.json"
    draft.write_text('{"format": "teachingfiles-authoring-draft", "manifest": {', encoding="utf-8")
    with pytest.raises(FormatError, match=r"broken\.json, line 1: the draft is not valid JSON"):
        AuthoringSession(repo, draft)
    draft.write_text('{"title": "a manifest, not a draft"}', encoding="utf-8")
    with pytest.raises(FormatError, match="not an authoring draft"):
        AuthoringSession(repo, draft)


def test_saved_yaml_validates_and_resolves_against_authored_annotations(
    repo: Repository, tmp_path: Path
) -> None:
    session = _session(repo, tmp_path, title="Authored set")
    _fill(session, repo)
    path = session.save()
    assert path == repo.root / "teaching-sets" / "authored-set.yaml"
    report = validate(str(path), str(repo.root))
    assert report["valid"], report["errors"]
    assert report["questions"] == 7
    ts = TeachingSet.from_yaml(path)
    assert ts == session.teaching_set
    with Repository.open(repo.root, index=False) as fresh:
        quiz = resolve(ts, fresh)
    box = quiz.question("q6")
    # RICORD 1B has no annotations: the truth is the authored box and freehand outline
    regions = sorted(box.key.regions, key=lambda r: len(r.vertices))
    assert [(r.label, r.slice) for r in regions] == [("Typical", 30), ("Typical", 30)]
    xs = sorted({x for x, _ in regions[0].vertices})
    assert xs == [100.0, 150.0]
    feedback = box.score({"x": 100, "y": 100, "width": 50, "height": 40, "slice": 30})
    assert feedback.correct


def test_annotations_round_trip_through_mdai_json_and_the_index(
    repo: Repository, tmp_path: Path
) -> None:
    session = _session(repo, tmp_path, title="Round trip")
    _fill(session, repo)
    study = session.case("ct-1").study_uid
    calls_before = repo.reader_labels(study)
    path = session.publish_annotations()
    assert path == repo.root / "annotations" / "authored-round-trip.json"
    project = read_mdai(path)
    by_id = {a.id: a for a in project.annotations()}
    names = {lab.id: lab.name for lab in project.labels}
    for authored in session.annotations:
        ann = by_id[authored.id]
        assert names[ann.label_id] == authored.label
        assert ann.sop_uid == authored.sop_uid
        assert ann.data == authored.mdai_data()
    indexed = {a.annotation_id: a for a in repo.annotations(study)}
    assert set(indexed) == set(by_id)
    assert indexed[session.annotations[0].id].data == {"x": 100.0, "y": 100.0,
                                                       "width": 50.0, "height": 40.0}  # fmt: skip
    assert {a.mode.value for a in indexed.values() if a.mode} == {
        "bbox", "polygon", "freeform", "location"}  # fmt: skip
    # authored labels are instance-level: they never count as a reader's call, and the
    # default label set stays the repository's own
    assert repo.reader_labels(study) == calls_before
    assert default_labels(repo) == session.labels
    # deleting and publishing again takes it out of the index
    session.delete_annotation(session.annotations[0].id)
    session.publish_annotations()
    assert len(repo.annotations(study)) == 3


def test_editing_annotations_relabel_move_delete(repo: Repository, tmp_path: Path) -> None:
    session = _session(repo, tmp_path)
    _fill(session, repo)
    first = session.annotations[0]
    moved = session.move_annotation(first.id, 40)
    series = repo.instances(first.series_uid)
    assert (moved.slice, moved.sop_uid) == (40, series[40].sop_instance_uid)
    assert session.relabel(first.id, "atelectasis").label == "Atelectasis"
    session.delete_annotation(first.id)
    assert first.id not in {a.id for a in AuthoringSession(repo, session.draft_path).annotations}
    with pytest.raises(NotFoundError, match=f"no annotation '{first.id}' in the draft"):
        session.relabel(first.id, "Typical")
    with pytest.raises(
        UsageError, match=r"case 'ct-1': slice 999 is outside the series' 64 images"
    ):
        session.draw("ct-1", "box", [[1, 1], [2, 2]], slice=999, label="Typical")
    with pytest.raises(UsageError, match="cannot draw a 'circle'; expected one of box, polygon"):
        session.draw("ct-1", "circle", [[1, 1]], slice=0, label="Typical")
    with pytest.raises(UsageError, match="a polygon needs at least 3 points, got 2"):
        session.draw("ct-1", "polygon", [[1, 1], [2, 2]], slice=0, label="Typical")


def test_cases_edit_rename_and_refuse_unknown_fields(repo: Repository, tmp_path: Path) -> None:
    session = _session(repo, tmp_path)
    _fill(session, repo)
    session.edit_case("ct-1", id="ct-ggo")
    assert {q.case for q in session.questions} == {"ct-ggo"}
    assert {a.case for a in session.annotations} == {"ct-ggo"}
    with pytest.raises(UsageError, match=r"edit_case\('ct-ggo'\) got colour; editable fields"):
        session.edit_case("ct-ggo", colour="red")
    with pytest.raises(ValueError, match="typicl"):
        session.edit_case("ct-ggo", category="typicl")
    with pytest.raises(NotFoundError, match="no case 'ct-1' in the draft; cases: ct-ggo"):
        session.case("ct-1")
    with pytest.raises(NotFoundError, match=r"no study with StudyInstanceUID '1\.2\.3\.4\.5\.6'"):
        session.add_case("1.2.3.4.5.6")


def test_validate_names_the_case_and_field_and_save_refuses(
    repo: Repository, tmp_path: Path
) -> None:
    session = _session(repo, tmp_path, title="Unfinished")
    session.add_case(_ct_study(repo), case_id="ct-1")
    session.add_key_image("ct-1", slice=3, annotations=["Nope"])
    session.add_question("single_best", case="ct-1", prompt="Which?", choices=["Only one"])
    session.add_question("box", case="ct-1", prompt="Box it.", labels=["Atelectasis"])
    errors = session.validate()
    assert [e.field for e in errors] == ["questions[0].choices"]
    yaml_lines = session.teaching_set.to_yaml().splitlines()
    assert errors[0].line == 1 + next(i for i, t in enumerate(yaml_lines) if "choices:" in t)
    assert "a single_best question needs at least two choices" in str(errors[0])
    with pytest.raises(ManifestError, match=r"1 problem\(s\) in the teaching set; fix them"):
        session.save()
    assert not session.output.exists()
    session.edit_question("q1", choices="A\nB", answers="A")
    errors = session.validate()
    assert [e.field for e in errors] == [
        "cases[0].key_images[0].annotations",
        "questions[1].labels",
    ]
    assert "case 'ct-1': the study has no annotation labelled 'Nope'" in str(errors[0])
    assert "question 'q2': study" in str(errors[1])
    assert "has no outlined finding (Atelectasis)" in str(errors[1])


def test_import_folder_deidentifies_into_the_repository(repo: Repository, tmp_path: Path) -> None:
    # RICORD 1A's files (RLE Lossless); see the report: de-identifying the demo's
    # deflated 1B files currently drops their Pixel Data
    series = repo.series(_ct_study(repo, "DEMO-RICORD-1A"))[0].series_uid
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    originals = repo.instances(series)[:3]
    for inst in originals:
        shutil.copy(inst.path, incoming / Path(inst.path).name)
    original = pydicom.dcmread(originals[0].path, stop_before_pixels=True)
    session = _session(repo, tmp_path)
    result = session.import_folder(incoming, secret=SECRET, audit=tmp_path / "audit.json")
    assert result.report.count("written") == 3
    assert len(result.study_uids) == 1
    new_uid = result.study_uids[0]
    assert new_uid != original.StudyInstanceUID
    study = repo.study(new_uid)
    assert study.patient_id != original.PatientID
    written = sorted((repo.root / "deidentified").rglob("*.dcm"))
    assert len(written) == 3
    assert str(original.PatientID) not in written[0].read_bytes().decode("latin-1")
    case = session.add_case(new_uid)
    assert len(repo.instances(case.series_uid or "")) == 3
    with pytest.raises(UsageError, match="not a folder; give the folder holding the DICOM"):
        session.import_folder(tmp_path / "missing", secret=SECRET)


def test_the_authoring_api_is_pinned() -> None:
    import teachingfiles.cases.authoring as authoring

    assert sorted(authoring.__all__) == [
        "AUTHORED_PREFIX", "AuthoredAnnotation", "AuthoringSession", "DrawKind",
        "ImportResult", "LabelChoice", "default_labels",
    ]  # fmt: skip
    assert all(hasattr(authoring, name) for name in authoring.__all__)


def test_the_viewer_offers_a_freehand_mode() -> None:
    import numpy as np

    viewer = StackViewer(np.zeros((3, 16, 16), np.int16), mode="freehand")
    got: list[dict[str, object]] = []
    viewer.on_shape(got.append)
    viewer._on_message(viewer, {"type": "shape", "kind": "freehand", "index": 1,
                                "points": [[1, 1], [5, 1], [5, 5]]}, [])  # fmt: skip
    assert got[0]["kind"] == "freehand"
    assert got[0]["points"] == [[1.0, 1.0], [5.0, 1.0], [5.0, 5.0]]
    with pytest.raises(UsageError, match="mode must be one of inspect, point, box, polygon, free"):
        viewer.mode = "lasso"


@pytest.mark.slow
def test_the_widget_draws_edits_saves_and_previews(repo: Repository, tmp_path: Path) -> None:
    session = _session(repo, tmp_path, title="Widget set")
    view = AuthoringView(session)
    assert view.viewer is None
    view.study.value = _ct_study(repo, "DEMO-RICORD-1A")  # see the report: 1B's deflated files
    case = view.add_case()
    assert view.viewer is not None
    view.fields["history"].value = "Typed, not lost."
    view.fields["category"].value = "typical"
    assert AuthoringSession(repo, session.draft_path).case(case.id).history == "Typed, not lost."
    view.label.value = "Typical"
    view.tool.value = "box"
    assert view.viewer.mode == "box"
    index = view.viewer.index
    view.viewer._on_message(view.viewer, {"type": "shape", "kind": "box", "index": index,
                                          "points": [[20, 30], [60, 70]]}, [])  # fmt: skip
    view.viewer._on_message(view.viewer, {"type": "shape", "kind": "freehand", "index": index,
                                          "points": [[5, 5], [9, 5], [9, 9]]}, [])  # fmt: skip
    assert [a.kind.value for a in session.annotations] == ["box", "freehand"]
    assert len(view.viewer.annotations) == 2
    assert view.viewer.annotations[0]["color"] == session.label("Typical").color
    view.annotation_list.value = session.annotations[1].id
    view.label.value = "Atelectasis"
    view._annotation_action("relabel")
    assert session.annotations[1].label == "Atelectasis"
    view.add_key_image()
    assert session.case(case.id).key_images[0].slice == index
    view.questions.kind.value = "box"
    view.questions.prompt.value = "Box the opacity."
    view.questions.labels.value = ("Typical",)
    view._question_action("add")
    view.save()
    assert "Saved" in view.status.value, view.status.value
    assert validate(str(session.output), str(repo.root))["valid"]
    preview = view.preview()
    assert isinstance(preview, CaseView)
    assert not preview.revealed
    view.close()


# ---------------------------------------------------------------- drawing on every plane
def _viewer_event(volume: object, view: str, index: int, kind: str, points: list[list[float]]):
    """The event the viewer hands the authoring view when a shape is drawn on ``view``."""
    viewer = StackViewer(volume, view=view, index=index)
    got: list[dict[str, object]] = []
    viewer.on_shape(got.append)
    viewer._on_message(viewer, {"type": "shape", "kind": kind, "index": index,
                                "points": points}, [])  # fmt: skip
    viewer.close()
    return got[0]


def _axial_patient(path: str, x: float, y: float) -> np.ndarray:
    """Patient mm of pixel (x, y) of a DICOM image, from its own header (not our geometry)."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    origin = np.asarray(ds.ImagePositionPatient, float)
    row_dir, col_dir = np.asarray(ds.ImageOrientationPatient[:3], float), np.asarray(
        ds.ImageOrientationPatient[3:], float)  # fmt: skip
    dy, dx = (float(v) for v in ds.PixelSpacing)
    return origin + x * dx * row_dir + y * dy * col_dir


@pytest.fixture
def drawn(repo: Repository, tmp_path: Path) -> Iterator[tuple[AuthoringSession, Volume]]:
    """A session with one CT case (RICORD 1B) and its series opened as the viewer holds it."""
    session = _session(repo, tmp_path)
    case = session.add_case(_ct_study(repo), case_id="ct-1")
    volume = Volume.open([i.path for i in repo.instances(case.series_uid or "")])
    yield session, volume
    volume.close()


def test_a_point_on_a_coronal_image_lands_on_the_axial_slice_under_it(
    drawn: tuple[AuthoringSession, Volume], repo: Repository
) -> None:
    session, volume = drawn
    event = _viewer_event(volume, "coronal", 300, "point", [[120.25, 21.0]])
    (ann,) = session.draw_in_view("ct-1", "point", event["points"], view="coronal",
                                  index=300, label="Mild", volume=volume)  # fmt: skip
    assert ann.drawn_on == ("coronal", 300)
    path = repo.instances(ann.series_uid)[ann.slice].path
    # the same spot in the patient, read back through the axial image's own header
    assert np.allclose(_axial_patient(path, *ann.points[0]), event["patient_points"][0])
    assert ann.points[0][0] == 120.25  # the column is kept to the hundredth of a pixel
    # and the same through a second route: the session opens the series itself
    (again,) = session.draw_in_view("ct-1", "point", event["points"], view="coronal",
                                    index=300, label="Mild")  # fmt: skip
    assert (again.slice, again.sop_uid, again.points) == (ann.slice, ann.sop_uid, ann.points)


def test_a_coronal_box_becomes_one_box_per_axial_slice_it_crosses(
    drawn: tuple[AuthoringSession, Volume], repo: Repository
) -> None:
    session, volume = drawn
    corners = [[100.0, 10.0], [160.0, 20.4]]  # rows 10 to 20.4 of the coronal image
    event = _viewer_event(volume, "coronal", 256, "box", corners)
    made = session.draw_in_view("ct-1", "box", corners, view="coronal", index=256,
                                label="Typical", volume=volume)  # fmt: skip
    instances = repo.instances(made[0].series_uid)
    top, bottom = (p[2] for p in event["patient_points"])  # z (mm) of the box's edges
    plane_y = event["patient_points"][0][1]  # the coronal plane's y (mm)
    zs = {i: float(pydicom.dcmread(inst.path, stop_before_pixels=True).ImagePositionPatient[2])
          for i, inst in enumerate(instances)}  # fmt: skip
    # exactly the slices whose z lies within the box, each once
    assert sorted(a.slice for a in made) == sorted(
        i for i, z in zs.items() if min(top, bottom) <= z <= max(top, bottom)
    )
    assert len(made) == 11
    for a in made:
        assert a.kind.value == "box" and a.drawn_on == ("coronal", 256)
        assert a.sop_uid == instances[a.slice].sop_instance_uid
        (x0, y0), (x1, y1) = a.points
        path = instances[a.slice].path
        # the box runs from the drawn left to right edge, one pixel row deep around the plane
        assert np.allclose(_axial_patient(path, x0, 0)[0], event["patient_points"][0][0])
        assert np.allclose(_axial_patient(path, x1, 0)[0], event["patient_points"][1][0])
        lo, hi = _axial_patient(path, 0, y0)[1], _axial_patient(path, 0, y1)[1]
        assert np.isclose(hi - lo, volume.spacing[1]) and np.isclose(
            (lo + hi) / 2, plane_y, atol=1e-3
        )  # the viewer rounds to µm
    assert len({a.group for a in made}) == 1 and made[0].group


def test_a_sagittal_outline_covers_the_same_pixels_on_the_axial_slices(
    drawn: tuple[AuthoringSession, Volume],
) -> None:
    from teachingfiles.cases import polygon_to_mask
    from teachingfiles.dicom.reformat import plan_view

    session, volume = drawn
    ring = [[200.3, 5.2], [340.7, 9.9], [300.1, 40.6], [260.2, 20.3], [215.6, 33.8]]  # a "W"
    made = session.draw_in_view("ct-1", "polygon", ring, view="sagittal", index=200,
                                label="Atelectasis", volume=volume)  # fmt: skip
    plan = plan_view(volume, "sagittal")
    drawn_mask = polygon_to_mask(ring, plan.shape[1:])  # the pixels of the sagittal image
    stored = np.zeros_like(drawn_mask)
    for a in made:  # rasterise every axial strip and read it back in the sagittal image
        axial = polygon_to_mask(a.points, volume.shape[1:])
        assert not axial[:, 199].any() and not axial[:, 201].any()  # one column deep
        rows = np.flatnonzero(axial[:, 200])
        view = plan.from_volume([[volume.index_of(a.sop_uid), r, 200] for r in rows])
        assert np.allclose(view[:, 0], 200)  # on the image it was drawn on
        stored[np.rint(view[:, 2]).astype(int), np.rint(view[:, 1]).astype(int)] = True
    assert drawn_mask.sum() > 500
    assert np.array_equal(stored, drawn_mask)
    # a "W" gives two strips on the slices through both of its arms
    assert max(sum(1 for b in made if b.slice == a.slice) for a in made) == 2


def test_a_drawing_on_a_reformat_is_kept_relabelled_and_deleted_as_one(
    drawn: tuple[AuthoringSession, Volume], repo: Repository
) -> None:
    session, volume = drawn
    ring = [[100, 29.6], [150, 29.6], [125, 40.2]]
    made = session.draw_in_view("ct-1", "freehand", ring, view="coronal", index=250,
                                label="Typical", volume=volume)  # fmt: skip
    single = session.draw("ct-1", "box", [[10, 10], [20, 20]], slice=5, label="Typical")
    assert [a.slice for a in made] == list(range(23, 34))  # rows 29.6..40.2, head at the top
    assert all(len(a.points) == 4 for a in made)  # each slice's strip, as a closed outline
    # a new session on the draft (a restart) keeps the drawing together
    again = AuthoringSession(repo, session.draft_path)
    assert again.annotations == session.annotations
    assert again.drawing(made[3].id) == made
    assert again.drawing(single.id) == (single,)
    again.relabel(made[0].id, "Atelectasis")
    assert {a.label for a in again.drawing(made[5].id)} == {"Atelectasis"}
    assert again.annotations[-1].label == "Typical"
    with pytest.raises(
        UsageError,
        match=r"part of a shape drawn on the coronal image 251 → 11 "
        r"axial outlines, slices 24-34; it cannot move alone",
    ):
        again.move_annotation(made[2].id, 7)  # fmt: skip
    # published: one MD.ai annotation per slice, on that slice's image
    project = read_mdai(again.publish_annotations())
    sops = [a.sop_uid for a in project.annotations() if a.id != single.id]
    assert sops == [a.sop_uid for a in made]
    again.delete_annotation(made[7].id)
    assert again.annotations == (single,)


def test_drawing_in_a_view_checks_the_view_and_image(
    drawn: tuple[AuthoringSession, Volume],
) -> None:
    session, volume = drawn
    (axial,) = session.draw_in_view("ct-1", "box", [[30, 40], [10, 20]], view="axial",
                                    index=12, label="Typical", volume=volume)  # fmt: skip
    assert (axial.slice, axial.points, axial.drawn_on, axial.group) == (
        12, ((10.0, 20.0), (30.0, 40.0)), None, "")  # fmt: skip
    with pytest.raises(ValueError, match="oblique"):
        session.draw_in_view("ct-1", "point", [[1, 1]], view="oblique", index=0,
                             label="Typical", volume=volume)  # fmt: skip
    with pytest.raises(
        UsageError,
        match=r"case 'ct-1': sagittal image 512 does not exist "
        r"\(0 to 511\)",
    ):
        session.draw_in_view("ct-1", "point", [[1, 1]], view="sagittal", index=512,
                             label="Typical", volume=volume)  # fmt: skip
    with pytest.raises(UsageError, match="a box needs at least 2 points, got 1"):
        session.draw_in_view("ct-1", "box", [[1, 1]], view="coronal", index=3,
                             label="Typical", volume=volume)  # fmt: skip
    assert len(session.annotations) == 1


@pytest.mark.slow
def test_the_widget_draws_on_coronal_and_sagittal_and_says_where_it_went(
    repo: Repository, tmp_path: Path
) -> None:
    session = _session(repo, tmp_path)
    session.add_case(_ct_study(repo, "DEMO-RICORD-1A"), case_id="ct-1")
    view = AuthoringView(session)
    assert view.viewer is not None
    view._volumes.get(session.case("ct-1").series_uid or "").wait()  # every slice in, and
    if view.viewer._watcher is not None:  # the viewer done announcing them (see the report)
        view.viewer._watcher.join(timeout=30)
    view.label.value = "Typical"
    view.tool.value = "box"
    view.viewer.view = "coronal"
    view.viewer.index = 256
    view.viewer._on_message(view.viewer, {"type": "shape", "kind": "box", "index": 256,
                                          "points": [[100, 10], [160, 20.4]]}, [])  # fmt: skip
    assert len(session.annotations) == 11
    assert "box 'Typical' drawn on the coronal image 257 → 11 axial boxes, slices 44-54" in (
        html.unescape(view.status.value))  # fmt: skip
    assert "press 'a' for the axial view" in html.unescape(view.status.value)
    assert [label for label, _ in view.annotation_list.options] == [
        "Typical · box · coronal image 257 → 11 axial boxes, slices 44-54"]  # fmt: skip
    assert len(view.viewer.annotations) == 11  # on the axial slices, for the overlay
    # a point on the sagittal view
    view.tool.value = "point"
    view.viewer.view = "sagittal"
    view.viewer._on_message(view.viewer, {"type": "click", "index": 300, "x": 40.5,
                                          "y": 30.0}, [])  # fmt: skip
    point = session.annotations[-1]
    assert (point.kind.value, point.slice, point.points) == ("point", 33, ((300.0, 40.5),))
    assert "point 'Typical' drawn on the sagittal image 301 → 1 axial point, slice 34" in (
        html.unescape(view.status.value))  # fmt: skip
    # 'Move here' needs the axial slice on screen; selecting a drawing goes back to its image
    view.annotation_list.value = session.annotations[0].id
    assert (view.viewer.view, view.viewer.index) == ("coronal", 256)
    view._guard(view._annotation_action)("move")
    assert "is part of a shape drawn on the coronal image 257" in html.unescape(view.status.value)
    view.annotation_list.value = point.id
    view.viewer.view = "coronal"
    view._guard(view._annotation_action)("move")
    assert "press 'a' for the axial view, scroll to the slice" in html.unescape(view.status.value)
    view.viewer.view = "axial"
    view.viewer.index = 20
    view._guard(view._annotation_action)("move")  # a point drawn on a reformat can move
    assert (session.annotations[-1].slice, session.annotations[-1].drawn_on) == (20, None)
    view.annotation_list.value = point.id
    view._guard(view._annotation_action)("delete")
    view.annotation_list.value = session.annotations[0].id
    view._guard(view._annotation_action)("delete")
    assert session.annotations == ()
    view.close()
