"""A small in-memory repository and manifest for the quiz tests.

It answers the same calls as ``teachingfiles.repository.Repository`` (study, series,
instances, annotations, reader_labels) with records of the same field names, so
resolving and scoring can be tested without building the demo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from teachingfiles.cases import TeachingSet
from teachingfiles.errors import NotFoundError
from teachingfiles.vocabulary import Appearance, Severity

CT_STUDY = "1.2.3.1"
CT_SERIES = "1.2.3.1.1"
CXR_STUDY = "1.2.3.2"
CXR_SERIES = "1.2.3.2.1"
N_SLICES = 10

#: A square outlined on slice 4 of the CT: x 100..200, y 150..250.
SQUARE = [[100.0, 150.0], [200.0, 150.0], [200.0, 250.0], [100.0, 250.0]]


@dataclass(frozen=True)
class FakeStudy:
    study_uid: str
    patient_id: str | None
    collection: str | None


@dataclass(frozen=True)
class FakeSeries:
    series_uid: str


@dataclass(frozen=True)
class FakeInstance:
    sop_instance_uid: str | None


@dataclass(frozen=True)
class FakeAnnotation:
    series_uid: str | None
    sop_uid: str | None
    frame_number: int | None
    label_name: str
    color: str | None
    data: dict[str, Any] | None


@dataclass(frozen=True)
class FakeReaderLabel:
    reader: str
    appearance: Appearance | None = None
    severity: Severity | None = None
    group_name: str | None = None

    @property
    def is_adjudication(self) -> bool:
        return (self.group_name or "").lower().startswith("adjudicat")


def sop(i: int) -> str:
    return f"{CT_SERIES}.{i}"


@dataclass
class FakeRepository:
    annotations_by_study: dict[str, list[FakeAnnotation]] = field(default_factory=dict)
    labels_by_study: dict[str, list[FakeReaderLabel]] = field(default_factory=dict)

    def study(self, uid: str) -> FakeStudy:
        if uid == CT_STUDY:
            return FakeStudy(uid, "DEMO-1A-000001", "DEMO-RICORD-1A")
        if uid == CXR_STUDY:
            return FakeStudy(uid, "DEMO-1C-000001", "DEMO-RICORD-1C")
        raise NotFoundError(f"no study {uid}")

    def series(self, study_uid: str) -> list[FakeSeries]:
        return [FakeSeries(CT_SERIES if study_uid == CT_STUDY else CXR_SERIES)]

    def instances(self, series_uid: str) -> list[FakeInstance]:
        if series_uid == CT_SERIES:
            return [FakeInstance(sop(i)) for i in range(N_SLICES)]
        if series_uid == CXR_SERIES:
            return [FakeInstance(f"{CXR_SERIES}.0")]
        raise NotFoundError(f"no series {series_uid}")

    def annotations(self, study_uid: str) -> list[FakeAnnotation]:
        return self.annotations_by_study.get(study_uid, [])

    def reader_labels(self, study_uid: str) -> list[FakeReaderLabel]:
        return self.labels_by_study.get(study_uid, [])


def fake_repository() -> FakeRepository:
    t, i = Appearance.TYPICAL, Appearance.INDETERMINATE
    mod, sev = Severity.MODERATE, Severity.SEVERE
    return FakeRepository(
        annotations_by_study={
            CT_STUDY: [
                FakeAnnotation(CT_SERIES, sop(4), None, "Infectious opacity", "#ff5722",
                               {"vertices": SQUARE}),
                FakeAnnotation(CT_SERIES, sop(6), None, "Atelectasis", "#03a9f4",
                               {"x": 300.0, "y": 300.0, "width": 40.0, "height": 20.0}),
                FakeAnnotation(None, None, None, "Typical", "#d32f2f", None),
            ]
        },
        labels_by_study={
            CT_STUDY: [FakeReaderLabel("U_abc", t, None, "Default group")],
            CXR_STUDY: [
                FakeReaderLabel("Reader 1", t, None, "Reader 1"),
                FakeReaderLabel("Reader 1", None, mod, "Reader 1"),
                FakeReaderLabel("Reader 2", i, None, "Reader 2"),
                FakeReaderLabel("Reader 2", None, sev, "Reader 2"),
                FakeReaderLabel("Reader 3", t, None, "Reader 3"),
                FakeReaderLabel("Reader 3", None, sev, "Reader 3"),
                FakeReaderLabel("Adjudication", None, mod, "Adjudication"),
            ],
        },
    )  # fmt: skip


MANIFEST = f"""\
title: Test set
author: Test Author
audience: residents
licence: CC0
version: "2"
cases:
  - id: ct1
    title: Typical CT
    study: "{CT_STUDY}"
    collection: DEMO-RICORD-1A
    synthetic: true
    history: |
      Fever and cough.
      Five days.
    findings: Peripheral ground-glass opacities.
    category: typical
    teaching_points: [Peripheral, Bilateral]
    references:
      - citation: Simpson S et al. Radiology Cardiothoracic Imaging 2020
        doi: 10.1148/ryct.2020200152
    key_images:
      - {{slice: 4, preset: lung, annotations: [Infectious opacity], caption: The opacity}}
  - id: cxr1
    title: Typical radiograph
    study: "{CXR_STUDY}"
    synthetic: true
    history: Dyspnoea.
questions:
  - id: q-sba
    kind: single_best
    prompt: Which sign?
    choices: [Reversed halo, Tree-in-bud, Cavity]
    answer: Reversed halo
    explanation: SECRET-EXPLANATION-SBA
    teaching_points: [SECRET-POINT-SBA]
  - id: q-multi
    kind: multiple
    prompt: Which are typical?
    choices: [Peripheral GGO, Cavitation, Crazy paving, Lymphadenopathy]
    answers: [Peripheral GGO, Crazy paving]
  - id: q-cat
    kind: category
    case: ct1
    prompt: Which RSNA category?
    explanation: SECRET-EXPLANATION-CAT
  - id: q-cat-cxr
    kind: category
    case: cxr1
    prompt: Which RSNA category?
  - id: q-sev
    kind: severity
    case: cxr1
    prompt: How severe?
  - id: q-click
    kind: click
    case: ct1
    prompt: Click the opacity.
    labels: [Infectious opacity]
  - id: q-click-near
    kind: click
    case: ct1
    prompt: Click the opacity (one slice of slack).
    labels: [Infectious opacity]
    slice_tolerance: 1
  - id: q-box
    kind: box
    case: ct1
    prompt: Box the atelectasis.
    labels: [Atelectasis]
  - id: q-text
    kind: free_text
    prompt: Name the pattern.
    accepted: [crazy paving, crazy-paving pattern]
"""


def manifest_set(text: str = MANIFEST) -> TeachingSet:
    return TeachingSet.from_yaml("set.yaml", text=text)
