"""The typed records the :class:`~teachingfiles.repository.Repository` API returns.

All are frozen dataclasses built from catalog rows; modalities, appearances and
severities are enums where the value is one the vocabulary knows (else the text).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from teachingfiles.vocabulary import (
    AnnotationMode,
    Appearance,
    LabelScope,
    Modality,
    Severity,
)

__all__ = [
    "AnnotationRecord",
    "CollectionInfo",
    "IndexReport",
    "Instance",
    "LabelRecord",
    "ReaderLabel",
    "Series",
    "SkippedFile",
    "Study",
    "parse_modality",
]


def parse_modality(text: str | None) -> Modality | str | None:
    """``Modality`` for a known code, the text itself otherwise, ``None`` if empty."""
    if not text:
        return None
    try:
        return Modality.parse(text)
    except ValueError:
        return text


def _floats(text: str | None) -> tuple[float, ...] | None:
    if not text:
        return None
    return tuple(float(v) for v in text.split("\\"))


@dataclass(frozen=True)
class CollectionInfo:
    """One collection of the repository and how much it holds."""

    name: str
    patients: int
    studies: int
    series: int
    instances: int
    annotations: int
    modalities: tuple[Modality | str, ...] = ()

    def as_dict(self) -> dict[str, int]:
        """Return the counts as the ``--json`` output gives them."""
        return {
            "patients": self.patients,
            "studies": self.studies,
            "series": self.series,
            "instances": self.instances,
            "annotations": self.annotations,
        }


@dataclass(frozen=True)
class Study:
    """A study in the catalog, with what a case library lists."""

    study_uid: str
    patient_id: str | None
    collection: str | None
    study_date: str | None
    study_time: str | None
    description: str | None
    accession_number: str | None
    patient_name: str | None
    patient_sex: str | None
    patient_age: str | None
    modalities: tuple[Modality | str, ...]
    n_series: int
    n_instances: int
    n_annotations: int
    appearance: Appearance | None = None  # the adjudicated or majority category
    severity: Severity | None = None


@dataclass(frozen=True)
class Series:
    """A series in the catalog."""

    series_uid: str
    study_uid: str
    modality: Modality | str | None
    description: str | None
    series_number: int | None
    body_part: str | None
    manufacturer: str | None
    collection: str | None
    n_instances: int
    frame_of_reference_uid: str | None = None


@dataclass(frozen=True)
class Instance:
    """One image file: where it is and the geometry and display values it declares."""

    sop_instance_uid: str | None
    series_uid: str
    path: Path
    sop_class_uid: str | None
    transfer_syntax: str | None
    instance_number: int | None
    rows: int | None
    columns: int | None
    number_of_frames: int | None
    photometric_interpretation: str | None
    bits_allocated: int | None
    bits_stored: int | None
    pixel_spacing: tuple[float, ...] | None
    slice_thickness: float | None
    image_position: tuple[float, ...] | None
    image_orientation: tuple[float, ...] | None
    window_center: tuple[float, ...] | None
    window_width: tuple[float, ...] | None
    rescale_intercept: float | None
    rescale_slope: float | None
    file_size: int

    @classmethod
    def from_row(cls, row: Any, root: Path) -> Instance:
        """Build from an ``instances`` row (paths are stored relative to ``root``)."""
        return cls(
            sop_instance_uid=row.sop_instance_uid,
            series_uid=row.series_uid,
            path=root / row.path,
            sop_class_uid=row.sop_class_uid,
            transfer_syntax=row.transfer_syntax,
            instance_number=row.instance_number,
            rows=row.rows,
            columns=row.columns,
            number_of_frames=row.number_of_frames,
            photometric_interpretation=row.photometric_interpretation,
            bits_allocated=row.bits_allocated,
            bits_stored=row.bits_stored,
            pixel_spacing=_floats(row.pixel_spacing or row.imager_pixel_spacing),
            slice_thickness=row.slice_thickness,
            image_position=_floats(row.image_position),
            image_orientation=_floats(row.image_orientation),
            window_center=_floats(row.window_center),
            window_width=_floats(row.window_width),
            rescale_intercept=row.rescale_intercept,
            rescale_slope=row.rescale_slope,
            file_size=row.file_size,
        )


@dataclass(frozen=True)
class LabelRecord:
    """One label of the repository's MD.ai label groups (merged over every JSON file)."""

    label_id: str
    name: str
    scope: LabelScope | None
    mode: AnnotationMode | None
    color: str | None
    description: str | None
    group_id: str | None
    group_name: str | None
    source: str | None  # the MD.ai JSON file it came from

    @classmethod
    def from_row(cls, row: Any) -> LabelRecord:
        """Build from a ``labels`` catalog row."""
        return cls(
            label_id=row.label_id,
            name=row.name,
            scope=LabelScope.parse(row.scope) if row.scope else None,
            mode=AnnotationMode.parse(row.mode) if row.mode else None,
            color=row.color,
            description=row.description,
            group_id=row.group_id,
            group_name=row.group_name,
            source=row.source,
        )


@dataclass(frozen=True)
class AnnotationRecord:
    """An MD.ai annotation with its label resolved."""

    annotation_id: str
    study_uid: str
    series_uid: str | None
    sop_uid: str | None
    frame_number: int | None
    label_id: str
    label_name: str
    color: str | None
    scope: LabelScope | None
    mode: AnnotationMode | None
    group_name: str | None
    reader: str | None  # createdById
    data: dict[str, Any] | None
    height: int | None = None
    width: int | None = None

    @classmethod
    def from_row(cls, row: Any) -> AnnotationRecord:
        """Build from a joined annotations/labels row."""
        return cls(
            annotation_id=row.annotation_id,
            study_uid=row.study_uid,
            series_uid=row.series_uid,
            sop_uid=row.sop_uid,
            frame_number=row.frame_number,
            label_id=row.label_id,
            label_name=row.name,
            color=row.color,
            scope=LabelScope.parse(row.scope) if row.scope else None,
            mode=AnnotationMode.parse(row.mode) if row.mode else None,
            group_name=row.group_name,
            reader=row.created_by,
            data=json.loads(row.data) if row.data else None,
            height=row.height,
            width=row.width,
        )


@dataclass(frozen=True)
class ReaderLabel:
    """A study-level label one reader gave (RICORD 1c keeps one group per reader).

    ``reader`` is the label group's name when it names a reader ("Reader 1",
    "Adjudication"), else the annotator's id (``createdById``).
    """

    reader: str
    created_by: str | None
    group_name: str | None
    label_name: str
    label_id: str
    appearance: Appearance | None = None
    severity: Severity | None = None

    @property
    def is_adjudication(self) -> bool:
        """Whether the label comes from the adjudication group."""
        return (self.group_name or "").lower().startswith("adjudicat")


@dataclass(frozen=True)
class SkippedFile:
    """A file under the root that was not indexed, and why."""

    path: str  # relative to the root
    reason: str
    kind: str  # empty, not-dicom, truncated, no-pixel-data, broken-header, dicomdir, ...

    def as_dict(self) -> dict[str, str]:
        """``{path, reason, kind}`` as in the ``--json`` output."""
        return {"path": self.path, "reason": self.reason, "kind": self.kind}


@dataclass(frozen=True)
class IndexReport:
    """What an index run found and did (``as_dict()`` is the ``--json`` object)."""

    root: Path
    catalog: Path
    collections: tuple[CollectionInfo, ...]
    patients: int
    studies: int
    series: int
    instances: int
    annotations: int
    skipped: tuple[SkippedFile, ...]
    new: int
    changed: int
    unchanged: int
    removed: int
    seconds: float
    side_files: tuple[tuple[str, str], ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON object ``teachingfiles index --json`` prints."""
        return {
            "root": str(self.root),
            "collections": {c.name: c.as_dict() for c in self.collections},
            "patients": self.patients,
            "studies": self.studies,
            "series": self.series,
            "instances": self.instances,
            "annotations": self.annotations,
            "skipped": [s.as_dict() for s in self.skipped],
            "side_files": [{"path": p, "kind": k} for p, k in self.side_files],
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "seconds": round(self.seconds, 3),
            "catalog": str(self.catalog),
        }
