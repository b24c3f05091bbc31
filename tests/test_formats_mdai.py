"""MD.ai JSON: read, write, round trip, and the public ``mdai`` client's contract."""

import json

import pytest

from teachingfiles.errors import FormatError
from teachingfiles.repository.mdai import (
    Annotation,
    MdaiDataset,
    MdaiProject,
    is_mdai_json,
    read_mdai,
    write_mdai,
)
from teachingfiles.repository.ricord import ricord_1a_label_groups, ricord_1c_label_groups
from teachingfiles.vocabulary import AnnotationMode, Finding, LabelScope


def _project() -> MdaiProject:
    groups = ricord_1a_label_groups()
    labels = {label.name: label for label in groups[0].labels}
    opacity = labels[Finding.INFECTIOUS_OPACITY.value]
    typical = labels["Typical"]
    anns = (
        Annotation(
            id="A_study1",
            label_id=typical.id,
            study_uid="1.2.3",
            created_by="U_reader1",
            created_at="2020-12-08T10:00:00.000Z",
        ),
        Annotation(
            id="A_poly1",
            label_id=opacity.id,
            study_uid="1.2.3",
            series_uid="1.2.3.4",
            sop_uid="1.2.3.4.5",
            frame_number=0,
            data={"vertices": [[10.5, 20.0], [30.0, 20.0], [30.0, 40.25]]},
            height=512,
            width=512,
            created_by="U_reader1",
            created_at="2020-12-08T10:00:00.000Z",
            annotation_number=1,
        ),
    )
    dataset = MdaiDataset(id="D_demo01", name="Dataset", studies=(("1.2.3", 1),), annotations=anns)
    return MdaiProject(label_groups=groups, datasets=(dataset,), name="demo", id="P_demo")


def test_round_trip(tmp_path):
    project = _project()
    path = write_mdai(project, tmp_path / "a.json")
    again = read_mdai(path)
    assert again == project
    assert again.annotations().__next__().label_id == project.datasets[0].annotations[0].label_id
    poly = next(a for a in again.annotations() if a.data)
    assert poly.vertices == [(10.5, 20.0), (30.0, 20.0), (30.0, 40.25)]
    assert is_mdai_json(path)


def test_labels_keep_scope_mode_and_every_field(tmp_path):
    raw = json.loads(write_mdai(_project(), tmp_path / "a.json").read_text())
    label = raw["labelGroups"][0]["labels"][0]
    for key in (
        "id",
        "name",
        "annotationMode",
        "color",
        "description",
        "radlexTagIds",
        "scope",
        "type",
        "parentId",
    ):
        assert key in label
    assert label["scope"] == "INSTANCE"
    project = read_mdai(tmp_path / "a.json")
    by_name = {lab.name: lab for lab in project.labels}
    assert by_name["Infectious opacity"].scope is LabelScope.INSTANCE
    assert by_name["Infectious opacity"].mode is AnnotationMode.FREEFORM
    assert by_name["Typical"].scope is LabelScope.STUDY and by_name["Typical"].mode is None


def test_ricord_1c_has_six_groups_of_eight_study_labels():
    groups = ricord_1c_label_groups()
    assert len(groups) == 6
    assert all(len(g.labels) == 8 for g in groups)
    assert all(lab.scope is LabelScope.STUDY for g in groups for lab in g.labels)
    ids = [lab.id for g in groups for lab in g.labels]
    assert len(set(ids)) == 48


def test_mdai_client_reads_what_we_write(tmp_path):
    common_utils = pytest.importorskip("mdai.utils.common_utils")
    path = write_mdai(_project(), tmp_path / "a.json")
    frames = common_utils.json_to_dataframe(str(path))
    annotations, labels = frames["annotations"], frames["labels"]
    assert len(annotations) == 2
    assert set(annotations["labelName"]) == {"Typical", "Infectious opacity"}
    assert len(labels) == len(ricord_1a_label_groups()[0].labels)


def test_not_json_names_file_and_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"datasets": [\n  {"id": 1,,}\n]}')
    with pytest.raises(FormatError, match=r"broken.json, line 2: not valid JSON"):
        read_mdai(path)


def test_wrong_shape_and_unknown_label(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(FormatError, match=r"not an MD\.ai annotation export"):
        read_mdai(path)
    assert not is_mdai_json(path)
    raw = _project().to_mdai()
    raw["datasets"][0]["annotations"][0]["labelId"] = "L_nothere"
    path.write_text(json.dumps(raw))
    with pytest.raises(FormatError, match="refers to label 'L_nothere'"):
        read_mdai(path)


def test_missing_required_key(tmp_path):
    raw = _project().to_mdai()
    del raw["datasets"][0]["annotations"][1]["StudyInstanceUID"]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(FormatError, match="annotation has no 'StudyInstanceUID' key"):
        read_mdai(path)


def test_bad_scope_is_a_format_error(tmp_path):
    raw = _project().to_mdai()
    raw["labelGroups"][0]["labels"][0]["scope"] = "PATIENT"
    path = tmp_path / "a.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(FormatError, match=r"'PATIENT' is not a LabelScope"):
        read_mdai(path)
