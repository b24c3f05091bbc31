"""The ``teachingfiles.repository`` browse API on a small TCIA-shaped repository."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _minirepo import A, C, MiniRepo, build

import teachingfiles.repository as repository_pkg
from teachingfiles.errors import NotFoundError, RepositoryError, UsageError
from teachingfiles.repository import Repository
from teachingfiles.vocabulary import (
    AnnotationMode,
    Appearance,
    Finding,
    LabelScope,
    Modality,
    Severity,
)


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> MiniRepo:
    return build(tmp_path_factory.mktemp("mini"))


@pytest.fixture(scope="module")
def repo(mini: MiniRepo) -> Iterator[Repository]:
    with Repository.open(mini.root) as r:
        yield r


def test_public_names() -> None:
    assert repository_pkg.__all__ == [
        "CATALOG_DIR",
        "AnnotationRecord",
        "ClinicalRow",
        "CollectionInfo",
        "DicomwebSource",
        "IdcSource",
        "IndexReport",
        "Instance",
        "InstanceCache",
        "LabelRecord",
        "NbiaClient",
        "PullReport",
        "ReaderLabel",
        "RemoteSeries",
        "RemoteStudy",
        "Repository",
        "Series",
        "SkippedFile",
        "StoreReport",
        "Study",
        "pull_dicomweb",
        "pull_tcia",
    ]
    for name in repository_pkg.__all__:  # remote names load on first use
        assert getattr(repository_pkg, name) is not None


def test_open_indexes_when_there_is_no_catalog(mini: MiniRepo, repo: Repository) -> None:
    assert repo.catalog == mini.root / ".teachingfiles" / "catalog.sqlite"
    assert repo.catalog.exists()
    assert len(repo.studies()) == 8


def test_open_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(RepositoryError, match=r"f: not a folder; expected a folder of DICOM"):
        Repository.open(tmp_path / "f")


def test_collections_are_resolved_by_csv_then_tag_then_prefix(repo: Repository) -> None:
    got = {c.name: c for c in repo.collections()}
    assert set(got) == {A, C, "PRIVATE-TAG-COLLECTION", "MIDRC-RICORD-1B", "(none)"}
    assert (got[A].patients, got[A].studies, got[A].series, got[A].instances) == (2, 2, 2, 6)
    assert (got[C].patients, got[C].studies, got[C].instances) == (2, 3, 3)
    assert got[A].annotations == 4 and got[C].annotations == 19
    assert got[A].modalities == (Modality.CT,)
    assert got[C].modalities == (Modality.CR,)


def test_study_and_not_found(mini: MiniRepo, repo: Repository) -> None:
    study = repo.study(mini.ct_studies[0])
    assert study.collection == A and study.modalities == (Modality.CT,)
    assert (study.n_series, study.n_instances, study.n_annotations) == (1, 3, 3)
    assert study.appearance is Appearance.TYPICAL
    with pytest.raises(NotFoundError, match=r"no study with StudyInstanceUID '9\.9'"):
        repo.study("9.9")
    with pytest.raises(NotFoundError, match=r"no study with StudyInstanceUID '9\.9'"):
        repo.series("9.9")
    with pytest.raises(NotFoundError, match=r"no series with SeriesInstanceUID '8\.8'"):
        repo.instances("8.8")


def test_instances_sorted_along_the_normal(mini: MiniRepo, repo: Repository) -> None:
    series = repo.series(mini.ct_studies[0])
    assert [s.series_uid for s in series] == [mini.ct_series[0]]
    assert series[0].modality is Modality.CT and series[0].n_instances == 3
    inst = repo.instances(mini.ct_series[0])
    assert [i.sop_instance_uid for i in inst] == mini.sops[mini.ct_series[0]]
    assert [i.image_position[2] for i in inst if i.image_position] == [10.0, 20.0, 30.0]
    assert all(i.path.is_absolute() and i.path.exists() for i in inst)
    assert inst[0].window_center == (-600.0, 40.0) and inst[0].pixel_spacing == (0.7, 0.7)
    assert (inst[0].rows, inst[0].columns, inst[0].bits_stored) == (8, 8, 12)


def test_annotations_and_geometry(mini: MiniRepo, repo: Repository) -> None:
    study = mini.ct_studies[0]
    anns = repo.annotations(study)
    assert len(anns) == 3
    poly = repo.annotations(study, series_uid=mini.ct_series[0])
    assert len(poly) == 1
    a = poly[0]
    assert a.label_name == "Infectious opacity" and a.mode is AnnotationMode.FREEFORM
    assert a.scope is LabelScope.INSTANCE and a.reader == "U_aaaaaa"
    assert a.data == {"vertices": [[1, 1], [5, 1], [5, 5]]}
    assert a.sop_uid == mini.sops[mini.ct_series[0]][1] and a.color and a.color.startswith("#")


def test_labels_list_every_group_of_the_json(repo: Repository) -> None:
    from teachingfiles.repository.ricord import ricord_1a_label_groups, ricord_1c_label_groups

    groups = (*ricord_1a_label_groups(), *ricord_1c_label_groups())
    expected = {(g.name, lab.id, lab.name) for g in groups for lab in g.labels}
    labels = repo.labels()
    assert {(lab.group_name, lab.label_id, lab.name) for lab in labels} == expected
    opacity = next(lab for lab in labels if lab.name == "Infectious opacity")
    assert opacity.scope is LabelScope.INSTANCE and opacity.mode is AnnotationMode.FREEFORM
    assert opacity.source and opacity.source.endswith("test_annotations_labelgroup_all.json")


def test_reader_labels_and_votes(mini: MiniRepo, repo: Repository) -> None:
    c0, c1, c2 = mini.cr_studies
    labels = repo.reader_labels(c2)
    assert [lab.reader for lab in labels][-1] == "Adjudication"
    assert {lab.reader for lab in labels} == {"Reader 1", "Reader 2", "Reader 3", "Adjudication"}
    first = next(lab for lab in labels if lab.reader == "Reader 1" and lab.appearance)
    assert first.appearance is Appearance.TYPICAL and first.group_name == "Reader 1"
    assert any(lab.severity is Severity.SEVERE for lab in labels)
    assert repo.appearance_votes(c2) == {
        Appearance.TYPICAL: 1,
        Appearance.INDETERMINATE: 1,
        Appearance.ATYPICAL: 1,
        Appearance.NEGATIVE: 0,
    }
    assert repo.appearance_votes(c0)[Appearance.TYPICAL] == 3
    assert repo.study(c2).appearance is Appearance.INDETERMINATE  # adjudicated
    assert repo.study(c1).appearance is Appearance.TYPICAL  # 2 of 3
    assert repo.study(c1).severity is Severity.MILD


def test_filters(mini: MiniRepo, repo: Repository) -> None:
    c0, c1, c2 = mini.cr_studies
    s0, s1 = mini.ct_studies

    def uids(**kw: object) -> set[str]:
        return {s.study_uid for s in repo.studies(**kw)}  # type: ignore[arg-type]

    assert uids(collection=A.lower()) == {s0, s1}
    assert uids(modality="CR") == {c0, c1, c2} == uids(modality=Modality.CR)
    assert uids(appearance="typical") == {s0, c0, c1, c2}
    assert uids(appearance=Appearance.TYPICAL, reader_agreement="majority") == {s0, c0, c1}
    assert uids(appearance="Typical Appearance", reader_agreement="unanimous") == {s0, c0}
    assert uids(appearance="indeterminate", reader_agreement="majority") == {c2}
    assert uids(appearance="atypical", collection=A) == {s1}
    assert uids(severity="moderate") == {c0, c1, c2}
    assert uids(severity=Severity.MODERATE, reader_agreement="majority") == {c0}
    assert uids(severity="severe", reader_agreement="majority") == {c2}
    assert uids(finding=Finding.INFECTIOUS_OPACITY) == {s0} == uids(finding="infectious opacity")
    assert uids(text="angio") == {s1}
    assert uids(text="HIGH RESOLUTION") == {s0}  # clinical exam description
    assert uids(text="infectious lung") == {s0}  # a label name
    assert uids(text="ricord-1c-site2-000002") == {c2}  # patient id
    assert uids(text="nothing like this") == set()


def test_filter_errors(repo: Repository) -> None:
    with pytest.raises(UsageError, match=r"reader_agreement='most'; expected one of 'any'"):
        repo.studies(reader_agreement="most")
    with pytest.raises(ValueError, match="'sometimes' is not a Appearance"):
        repo.studies(appearance="sometimes")


def test_clinical_row_linked(mini: MiniRepo, repo: Repository) -> None:
    row = repo.clinical(mini.ct_studies[0])
    assert row is not None
    assert row.mrn == "SITE1-000001" and row.covid_positive is True and row.age == 61
    assert repo.study(row.study_uid).patient_id == f"{A}-{row.mrn}"
    assert repo.clinical(mini.ct_studies[1]) is None


def test_skipped_is_empty_for_clean_tree(repo: Repository) -> None:
    assert repo.skipped() == []
