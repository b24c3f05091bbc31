"""The demo's side files: MD.ai annotation JSON and RICORD-style clinical rows.

``DEMO-RICORD-1A`` gets what RICORD 1a ships: study labels (the RSNA category,
"Infectious lung disease", "Effusion") and a freeform polygon for every region of
every finding mask on every slice, traced from the generator's masks.
``DEMO-RICORD-1C`` gets three readers' study labels (one category, one grade) per
radiograph, and an adjudicator's where they disagree. Ids, authors and times are
fixed, so the JSON is the same on every build.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from teachingfiles.cases.geometry import mask_to_polygons
from teachingfiles.demo.specs import CtStudySpec, RadiographStudySpec, Read
from teachingfiles.repository.clinical import ClinicalRow
from teachingfiles.repository.mdai import (
    Annotation,
    JSONDict,
    LabelGroup,
    MdaiDataset,
    MdaiProject,
)
from teachingfiles.repository.ricord import (
    mdai_id,
    ricord_1a_label_groups,
    ricord_1c_label_groups,
)
from teachingfiles.vocabulary import Finding

if TYPE_CHECKING:
    from teachingfiles.demo.synthetic_ct import SyntheticCT

__all__ = [
    "clinical_row",
    "ct_annotations",
    "mdai_project",
    "normalize_xlsx",
    "radiograph_annotations",
]

#: When the demo's annotators "worked" (fixed, so builds are reproducible).
_EPOCH_1A = dt.datetime(2020, 11, 19, 14, 0, 0, tzinfo=dt.UTC)
_EPOCH_1C = dt.datetime(2020, 12, 14, 9, 0, 0, tzinfo=dt.UTC)
_FIXED_XLSX_TIME = "2021-01-13T00:00:00Z"
_INFECTIOUS = (Finding.INFECTIOUS_OPACITY, Finding.INFECTIOUS_TIB, Finding.INFECTIOUS_CAVITY)


def _stamp(epoch: dt.datetime, seconds: float) -> str:
    """ISO 8601 with milliseconds and ``Z``, as MD.ai writes ``createdAt``."""
    when = epoch + dt.timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _labels_by_name(groups: Sequence[LabelGroup]) -> dict[tuple[str, str], str]:
    """Label ids keyed by (group name, label name)."""
    return {(g.name, label.name): label.id for g in groups for label in g.labels}


def _fill_holes(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Fill a 2-D mask's holes, working on its bounding box only (much faster)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    out = mask.copy()
    out[box] = ndimage.binary_fill_holes(mask[box])
    return out


def ct_annotations(
    spec: CtStudySpec,
    ct: SyntheticCT,
    *,
    study_uid: str,
    series_uid: str,
    sop_uids: Sequence[str],
) -> tuple[Annotation, ...]:
    """Study labels and per-slice freeform polygons of one 1a CT study.

    ``sop_uids[k]`` is the SOPInstanceUID of generator slice ``k`` (slice 0 the most
    inferior). Holes in a mask are filled before tracing: a freeform polygon has no
    holes, and a reader outlines the whole opacity.
    """
    groups = ricord_1a_label_groups()
    group = groups[0].name
    ids = _labels_by_name(groups)
    author = mdai_id("U", "1a-annotator", str(spec.patient.number % 3))
    key = (spec.patient.patient_id, study_uid)
    n_slices, rows, cols = ct.hu.shape
    t0 = spec.patient.number * 3600.0
    out: list[Annotation] = []

    def add(
        label: str, seconds: float, slice_index: int | None = None, data: JSONDict | None = None
    ) -> None:
        number = len(out) + 1
        created = _stamp(_EPOCH_1A, t0 + seconds)
        on_slice = slice_index is not None
        out.append(
            Annotation(
                id=mdai_id("A", *key, str(number)),
                label_id=ids[(group, label)],
                study_uid=study_uid,
                series_uid=series_uid if on_slice else None,
                sop_uid=sop_uids[slice_index] if slice_index is not None else None,
                frame_number=0 if on_slice else None,
                data=data,
                height=rows if on_slice else None,
                width=cols if on_slice else None,
                created_by=author,
                created_at=created,
                updated_at=created,
                annotation_number=number,
            )
        )

    present = {f for f, m in ct.masks.items() if np.any(m)}
    add(ct.appearance.ct_label, 0.0)
    if present & set(_INFECTIOUS):
        add("Infectious lung disease", 1.5)
    if any("effusion" in feature for feature in ct.features):
        add("Effusion", 3.0)
    for finding in Finding:
        mask = ct.masks.get(finding)
        if mask is None:
            continue
        for k in range(n_slices):
            if not mask[k].any():
                continue
            for vertices in mask_to_polygons(_fill_holes(mask[k]), min_area=0.0):
                data = {"vertices": [[x, y] for x, y in vertices]}
                add(finding.value, 10.0 + 4.0 * len(out), k, data)
    return tuple(out)


def radiograph_annotations(spec: RadiographStudySpec, *, study_uid: str) -> tuple[Annotation, ...]:
    """Return the readers' (and, on disputed studies, the adjudicator's) study labels."""
    ids = _labels_by_name(ricord_1c_label_groups())
    reads: list[tuple[str, Read]] = [(f"Reader {i}", read) for i, read in enumerate(spec.reads, 1)]
    if spec.adjudication is not None:
        reads.append(("Adjudication", spec.adjudication))
    key = (spec.patient.patient_id, study_uid)
    t0 = (spec.study_date.toordinal() % 97) * 600.0 + spec.patient.number * 60.0
    out: list[Annotation] = []
    for reader_index, (group, read) in enumerate(reads):
        author = mdai_id("U", "1c", group)
        names = [read.appearance.radiograph_label]
        if read.severity is not None:
            names.append(read.severity.label)
        for name in names:
            number = len(out) + 1
            created = _stamp(_EPOCH_1C, t0 + 86400.0 * reader_index + 7.0 * number)
            out.append(
                Annotation(
                    id=mdai_id("A", *key, str(number)),
                    label_id=ids[(group, name)],
                    study_uid=study_uid,
                    created_by=author,
                    created_at=created,
                    updated_at=created,
                    annotation_number=number,
                )
            )
    return tuple(out)


def mdai_project(
    name: str,
    label_groups: Sequence[LabelGroup],
    studies: Iterable[tuple[str, Sequence[Annotation]]],
) -> MdaiProject:
    """Make an MD.ai export of one dataset: its studies (numbered in order) and annotations."""
    uids: list[tuple[str, int]] = []
    annotations: list[Annotation] = []
    for number, (study_uid, anns) in enumerate(studies, start=1):
        uids.append((study_uid, number))
        annotations.extend(anns)
    dataset = MdaiDataset(mdai_id("D", name), name, tuple(uids), tuple(annotations))
    return MdaiProject(tuple(label_groups), (dataset,), name=name, id=mdai_id("P", name))


def clinical_row(
    spec: CtStudySpec | RadiographStudySpec,
    *,
    study_uid: str,
    exam_description: str,
    image_count: int,
    modality: str,
) -> ClinicalRow:
    """Return the study's row of its collection's clinical sheet (dates as ``M/D/YYYY``)."""
    date = spec.study_date
    positive = spec.covid_positive if isinstance(spec, CtStudySpec) else True
    return ClinicalRow(
        mrn=spec.patient.mrn,
        age=spec.age,
        exam_description=exam_description,
        sex=spec.patient.sex,
        study_uid=study_uid,
        image_count=image_count,
        modality=modality,
        result="DETECTED" if positive else "NOT DETECTED",
        specimen_source=spec.specimen_source,
        study_date=f"{date.month}/{date.day}/{date.year}",
        symptomatic=spec.symptomatic if isinstance(spec, CtStudySpec) else None,
    )


def normalize_xlsx(path: Path) -> None:
    """Make an openpyxl workbook byte-for-byte reproducible.

    openpyxl stamps the save time into ``docProps/core.xml`` and into every zip
    entry; neither can be set through its API, so the archive is rewritten with
    fixed times (and the same entries, order and compression).
    """
    src = zipfile.ZipFile(path)
    buffer = io.BytesIO()
    with src, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = re.sub(
                    r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)",
                    rf"\g<1>{_FIXED_XLSX_TIME}\g<3>",
                    data.decode("utf-8"),
                )
                data = text.encode("utf-8")
            fixed = zipfile.ZipInfo(info.filename, date_time=(2021, 1, 13, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, data)
    path.write_bytes(buffer.getvalue())
