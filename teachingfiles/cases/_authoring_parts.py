"""The parts of authoring that are not the session: conversions, labels, MD.ai, import.

:mod:`teachingfiles.cases.authoring` holds the session; here are the pieces it
uses: turning what a form sends (text, one item per line) into a case's or a
question's typed fields, the default label set read from the repository's MD.ai
JSON, the authored annotations as an MD.ai export, and importing a folder of
DICOM through de-identification.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from teachingfiles.cases._drafts import AuthoredAnnotation, DrawKind, LabelChoice
from teachingfiles.cases.case import Difficulty, KeyImage, Reference, TeachingCase
from teachingfiles.cases.teaching_set import TeachingSet
from teachingfiles.errors import ManifestError, UsageError
from teachingfiles.quiz.questions import Question, QuestionKind
from teachingfiles.repository.mdai import (
    Annotation,
    Label,
    LabelGroup,
    MdaiDataset,
    MdaiProject,
)
from teachingfiles.vocabulary import Appearance, LabelScope, Severity

if TYPE_CHECKING:
    from teachingfiles.dicom.deid import DeidOptions, DeidReport
    from teachingfiles.repository import Repository

__all__ = [
    "AUTHORED_PREFIX",
    "GROUP_ID",
    "LISTS",
    "OPTIONAL_TEXT",
    "QUESTION_FIELDS",
    "SET_FIELDS",
    "TEXT",
    "ImportResult",
    "authored_project",
    "convert_case_field",
    "convert_question_field",
    "default_labels",
    "import_folder",
    "label_id",
    "lines",
    "name_case",
]

AUTHORED_PREFIX = "authored-"
"""Authored annotation files are ``REPO/annotations/authored-<set id>.json``."""

_GROUP_NAME = "Authored"
GROUP_ID = "G_tfauthored"
"""The label group of authored annotations (instance scope, never a reader's call)."""
TEXT = ("title", "source", "history", "findings", "diagnosis", "reasoning", "discussion")
OPTIONAL_TEXT = ("collection", "patient_id", "series_uid")
LISTS = ("differential", "teaching_points", "tags")
SET_FIELDS = ("title", "id", "author", "audience", "licence", "version", "description")
QUESTION_FIELDS = tuple(f.name for f in fields(Question) if f.name != "id")


@dataclass(frozen=True)
class ImportResult:
    """What :meth:`AuthoringSession.import_folder` did.

    The de-identification report, and the StudyInstanceUIDs (new, de-identified)
    now in the repository.
    """

    report: DeidReport
    study_uids: tuple[str, ...]


def default_labels(repository: Repository) -> tuple[LabelChoice, ...]:
    """Return the default label set: every label name of the repository's MD.ai JSON.

    Instance-level finding labels (RICORD 1a's ``Infectious opacity`` ...) come
    first, then the study labels (``Typical Appearance`` ...); each name once, with
    the colour of its first occurrence. Authored labels are left out. The labels
    are read from the catalog, where indexing merged every MD.ai JSON file.
    """
    findings: dict[str, LabelChoice] = {}
    study: dict[str, LabelChoice] = {}
    for label in repository.labels():
        if label.group_id == GROUP_ID:
            continue  # authored labels
        bucket = study if label.scope is LabelScope.STUDY else findings
        if label.name not in findings and label.name not in study:
            bucket[label.name] = LabelChoice(
                label.name, label.color or "#ff5722", label.description or ""
            )
    return (*findings.values(), *study.values())


def label_id(name: str, kind: DrawKind) -> str:
    digest = hashlib.sha256(f"{name}\0{kind.mdai_mode.value}".encode()).hexdigest()[:10]
    return f"L_tf{digest}"


def lines(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Return a sequence, or text with one item per line, as a tuple."""
    if value is None:
        return ()
    items = value.splitlines() if isinstance(value, str) else [str(v) for v in value]
    return tuple(s.strip() for s in items if s.strip())


def _references(value: Any) -> tuple[Reference, ...]:
    out = []
    for item in lines(value) if isinstance(value, str) else value or ():
        if isinstance(item, Reference):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(Reference(str(item["citation"]), item.get("doi"), item.get("url")))
        else:
            out.append(Reference(str(item)))
    return tuple(out)


def authored_project(
    teaching_set: TeachingSet,
    annotations: Sequence[AuthoredAnnotation],
    labels: Sequence[LabelChoice],
) -> MdaiProject:
    """Return the authored annotations as an MD.ai export (one label per name and shape)."""
    made: dict[str, Label] = {}
    anns = []
    studies: dict[str, None] = {}
    group_id = GROUP_ID
    for number, a in enumerate(annotations, start=1):
        lid = label_id(a.label, a.kind)
        choice = next((c for c in labels if c.name == a.label), LabelChoice(a.label))
        made.setdefault(lid, Label(
            id=lid, name=a.label, scope=LabelScope.INSTANCE, mode=a.kind.mdai_mode,
            color=choice.color, description=choice.description or None, type="local",
            group_id=group_id, group_name=_GROUP_NAME,
        ))  # fmt: skip
        studies[a.study_uid] = None
        anns.append(Annotation(
            id=a.id, label_id=lid, study_uid=a.study_uid, series_uid=a.series_uid,
            sop_uid=a.sop_uid, data=a.mdai_data(), note=f"case {a.case}",
            created_by="teachingfiles-authoring", annotation_number=number,
        ))  # fmt: skip
    set_id = teaching_set.set_id
    group = LabelGroup(group_id, _GROUP_NAME, tuple(made.values()))
    dataset = MdaiDataset(
        f"D_tf{set_id}",
        f"Authored: {teaching_set.title}",
        tuple((uid, n) for n, uid in enumerate(studies, start=1)),
        tuple(anns),
    )
    return MdaiProject((group,), (dataset,), name=teaching_set.title, id=set_id)


def name_case(cases: Sequence[TeachingCase], error: ManifestError) -> ManifestError:
    """Put the case id in front of a problem about ``cases[i]``."""
    field = error.field or ""
    if not field.startswith("cases["):
        return error
    index = int(field[6 : field.index("]")])
    if index >= len(cases):
        return error
    return ManifestError(
        f"case {cases[index].id!r}: {error.reason}",
        path=error.path,
        line=error.line,
        field=error.field,
    )


def import_folder(
    repository: Repository,
    folder: str | PathLike[str],
    *,
    secret: bytes | None = None,
    options: DeidOptions | None = None,
    confirm_burned_in: bool = False,
    audit: str | PathLike[str] | None = None,
    subfolder: str = "deidentified",
) -> ImportResult:
    """De-identify a folder of DICOM into the repository and index it.

    Parameters
    ----------
    folder
        The educator's DICOM (any layout).
    secret
        The project secret for the keyed UID hash (default
        :func:`~teachingfiles.dicom.deid.load_secret`).
    options
        De-identification options (default ``DeidOptions.educator()``).
    confirm_burned_in
        Write images flagged for burned-in text too.
    audit
        Where to keep the old -> new identifier map (outside the repository).
    subfolder
        Where under the repository root the output goes.

    Returns
    -------
    ImportResult
        The report (files held back for burned-in text are listed there) and
        the de-identified StudyInstanceUIDs, ready for :meth:`AuthoringSession.add_case`.
    """
    import pydicom

    from teachingfiles.dicom.deid import DeidOptions, deidentify, load_secret

    source = Path(folder)
    if not source.is_dir():
        raise UsageError(f"{source}: not a folder; give the folder holding the DICOM files")
    out = repository.root / subfolder
    report = deidentify(
        [source],
        out,
        secret=load_secret() if secret is None else secret,
        options=options or DeidOptions.educator(),
        confirm_burned_in=confirm_burned_in,
        audit=audit,
    )
    studies: dict[str, None] = {}
    for outcome in report.outcomes:
        if outcome.status == "written" and outcome.output:
            ds = pydicom.dcmread(out / outcome.output, stop_before_pixels=True)
            studies[str(ds.StudyInstanceUID)] = None
    repository.index()
    return ImportResult(report, tuple(studies))


def convert_case_field(key: str, value: Any) -> Any:
    if key in ("category", "severity"):
        if value in (None, ""):
            return None
        return (Appearance if key == "category" else Severity).parse(value)
    if key == "difficulty":
        return Difficulty.parse(value)
    if key in LISTS:
        return lines(value)
    if key == "references":
        return _references(value)
    if key == "synthetic":
        return bool(value)
    if key in OPTIONAL_TEXT:
        return str(value) if value else None
    return "" if value is None else str(value)


def convert_question_field(key: str, value: Any) -> Any:
    if key == "kind":
        return QuestionKind.parse(value)
    if key in ("choices", "answers", "labels", "teaching_points"):
        return lines(value)
    if key in ("case", "topic"):
        return str(value) if value else None
    if key in ("slice_tolerance",):
        return int(value)
    if key == "max_typos":
        return None if value in (None, "") else int(value)
    if key in ("iou", "points"):
        number = float(value)
        if key == "iou" and not 0.01 <= number <= 1.0:
            raise UsageError(f"iou must be between 0.01 and 1, got {number:g}")
        return number
    if key == "shuffle":
        return bool(value)
    if key == "image":
        if value is None or isinstance(value, KeyImage):
            return value
        raise UsageError("image must be a KeyImage or None")
    return "" if value is None else str(value)
