"""MD.ai annotation JSON, the format RICORD ships its labels and polygons in.

A file holds ``datasets`` (each with its ``studies`` and ``annotations``) and
``labelGroups`` (each with its ``labels``). :func:`read_mdai` turns one into an
:class:`MdaiProject`; :func:`write_mdai` writes one back with every key the public
``mdai`` client's ``json_to_dataframe`` selects, so that tool reads our files too.

Example
-------
>>> project = read_mdai("MIDRC-RICORD-1a_annotations_labelgroup_all_2020-Dec-8.json")
>>> [label.name for label in project.labels if label.scope is LabelScope.STUDY]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from teachingfiles.errors import FormatError
from teachingfiles.vocabulary import AnnotationMode, LabelScope

__all__ = [
    "Annotation",
    "Label",
    "LabelGroup",
    "MdaiDataset",
    "MdaiProject",
    "read_mdai",
    "write_mdai",
]

JSONDict = dict[str, Any]


def _req(raw: Mapping[str, Any], key: str, what: str, path: str | None) -> Any:
    try:
        return raw[key]
    except KeyError:
        raise FormatError(
            f"{what} has no {key!r} key; every MD.ai {what} needs one",
            path=path,
            field=key,
        ) from None


@dataclass(frozen=True)
class Label:
    """One label of an MD.ai project (``L_...``).

    ``scope`` and ``mode`` are enums; ``mode`` is ``None`` for labels without
    geometry (RICORD's study labels).
    """

    id: str
    name: str
    scope: LabelScope
    mode: AnnotationMode | None = None
    color: str = "#888888"
    description: str | None = None
    type: str = "global"
    radlex_tag_ids: tuple[str, ...] = ()
    parent_id: str | None = None
    group_id: str | None = None
    group_name: str | None = None

    @classmethod
    def from_mdai(
        cls,
        raw: Mapping[str, Any],
        *,
        group_id: str | None = None,
        group_name: str | None = None,
        path: str | None = None,
    ) -> Label:
        """Build a label from its JSON object, validating scope and mode."""
        mode = raw.get("annotationMode")
        try:
            return cls(
                id=str(_req(raw, "id", "label", path)),
                name=str(_req(raw, "name", "label", path)),
                scope=LabelScope.parse(raw.get("scope") or "STUDY"),
                mode=AnnotationMode.parse(mode) if mode else None,
                color=str(raw.get("color") or "#888888"),
                description=raw.get("description"),
                type=str(raw.get("type") or "global"),
                radlex_tag_ids=tuple(raw.get("radlexTagIds") or ()),
                parent_id=raw.get("parentId"),
                group_id=group_id,
                group_name=group_name,
            )
        except ValueError as exc:
            if isinstance(exc, FormatError):
                raise
            raise FormatError(f"label {raw.get('id')!r}: {exc}", path=path) from exc

    def to_mdai(self) -> JSONDict:
        """Return the label's JSON object, with every key MD.ai writes."""
        return {
            "id": self.id,
            "parentId": self.parent_id,
            "name": self.name,
            "shortName": self.name,
            "description": self.description,
            "color": self.color,
            "type": self.type,
            "scope": self.scope.value,
            "annotationMode": None if self.mode is None else self.mode.value,
            "radlexTagIds": list(self.radlex_tag_ids),
        }


@dataclass(frozen=True)
class LabelGroup:
    """A named group of labels (``G_...``); RICORD 1c keeps one per reader."""

    id: str
    name: str
    labels: tuple[Label, ...]
    description: str | None = None

    @classmethod
    def from_mdai(cls, raw: Mapping[str, Any], *, path: str | None = None) -> LabelGroup:
        """Build a label group and its labels from the JSON object."""
        gid = str(_req(raw, "id", "label group", path))
        name = str(raw.get("name") or gid)
        labels = tuple(
            Label.from_mdai(lab, group_id=gid, group_name=name, path=path)
            for lab in raw.get("labels") or ()
        )
        return cls(id=gid, name=name, labels=labels, description=raw.get("description"))

    def to_mdai(self) -> JSONDict:
        """Return the group's JSON object."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "labels": [label.to_mdai() for label in self.labels],
        }


@dataclass(frozen=True)
class Annotation:
    """One MD.ai annotation (``A_...``): a study label or a drawn shape.

    ``data`` keeps MD.ai's own geometry: bbox ``{x, y, width, height}``, polygon,
    freeform and line ``{vertices: [[x, y], ...]}`` (x is the column), location
    ``{x, y}``, mask ``{foreground, background}``; ``None`` for study labels.
    """

    id: str
    label_id: str
    study_uid: str
    series_uid: str | None = None
    sop_uid: str | None = None
    frame_number: int | None = None
    data: JSONDict | None = None
    height: int | None = None
    width: int | None = None
    note: str | None = None
    created_by: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    annotation_number: int | None = None
    dataset_id: str | None = field(default=None, compare=False)
    extra: JSONDict = field(default_factory=dict, compare=False)

    @property
    def vertices(self) -> list[tuple[float, float]]:
        """The polygon/freeform/line vertices as ``(x, y)`` pixel pairs (else empty)."""
        if not self.data or "vertices" not in self.data:
            return []
        return [(float(x), float(y)) for x, y in self.data["vertices"]]

    @classmethod
    def from_mdai(
        cls, raw: Mapping[str, Any], *, dataset_id: str | None = None, path: str | None = None
    ) -> Annotation:
        """Build an annotation from its JSON object."""
        known = {
            "id", "labelId", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
            "frameNumber", "data", "height", "width", "note", "createdById",
            "createdAt", "updatedAt", "annotationNumber",
        }  # fmt: skip
        frame = raw.get("frameNumber")
        return cls(
            id=str(_req(raw, "id", "annotation", path)),
            label_id=str(_req(raw, "labelId", "annotation", path)),
            study_uid=str(_req(raw, "StudyInstanceUID", "annotation", path)),
            series_uid=raw.get("SeriesInstanceUID"),
            sop_uid=raw.get("SOPInstanceUID"),
            frame_number=None if frame is None else int(frame),
            data=raw.get("data"),
            height=raw.get("height"),
            width=raw.get("width"),
            note=raw.get("note"),
            created_by=raw.get("createdById"),
            created_at=raw.get("createdAt"),
            updated_at=raw.get("updatedAt"),
            annotation_number=raw.get("annotationNumber"),
            dataset_id=dataset_id,
            extra={k: v for k, v in raw.items() if k not in known},
        )

    def to_mdai(self) -> JSONDict:
        """Return the annotation's JSON object, with every key the ``mdai`` client selects."""
        out: JSONDict = {
            "id": self.id,
            "parentId": None,
            "isImported": False,
            "isPrediction": False,
            "StudyInstanceUID": self.study_uid,
            "SeriesInstanceUID": self.series_uid,
            "SOPInstanceUID": self.sop_uid,
            "labelId": self.label_id,
            "annotationNumber": self.annotation_number,
            "frameNumber": self.frame_number,
            "data": self.data,
            "height": self.height,
            "width": self.width,
            "note": self.note,
            "radlexTagIds": [],
            "reviewsPositiveCount": 0,
            "reviewsNegativeCount": 0,
            "createdAt": self.created_at,
            "createdById": self.created_by,
            "updatedAt": self.updated_at,
            "updatedById": self.created_by,
            "modelId": None,
        }
        out.update({k: v for k, v in self.extra.items() if k not in out})
        return out


@dataclass(frozen=True)
class MdaiDataset:
    """A dataset of an MD.ai project: its studies and its annotations."""

    id: str
    name: str
    studies: tuple[tuple[str, int], ...]  # (StudyInstanceUID, number)
    annotations: tuple[Annotation, ...]

    def to_mdai(self) -> JSONDict:
        """Return the dataset's JSON object."""
        return {
            "id": self.id,
            "name": self.name,
            "type": "ANNOTATION",
            "studies": [
                {"StudyInstanceUID": uid, "number": num, "studyNumber": num}
                for uid, num in self.studies
            ],
            "annotations": [a.to_mdai() for a in self.annotations],
        }


@dataclass(frozen=True)
class MdaiProject:
    """A whole MD.ai export: label groups and datasets."""

    label_groups: tuple[LabelGroup, ...]
    datasets: tuple[MdaiDataset, ...]
    name: str = ""
    id: str = ""

    @property
    def labels(self) -> list[Label]:
        """Every label of every group, in file order."""
        return [label for group in self.label_groups for label in group.labels]

    def label_map(self) -> dict[str, Label]:
        """Labels by id."""
        return {label.id: label for label in self.labels}

    def annotations(self) -> Iterator[Annotation]:
        """Every annotation of every dataset."""
        for dataset in self.datasets:
            yield from dataset.annotations

    @classmethod
    def from_mdai(cls, raw: Mapping[str, Any], *, path: str | None = None) -> MdaiProject:
        """Build a project from the parsed JSON, checking its top-level shape."""
        if not isinstance(raw, Mapping) or "datasets" not in raw or "labelGroups" not in raw:
            raise FormatError(
                "not an MD.ai annotation export: expected a JSON object with "
                "'datasets' and 'labelGroups'",
                path=path,
            )
        groups = tuple(LabelGroup.from_mdai(g, path=path) for g in raw["labelGroups"])
        datasets = []
        for ds in raw["datasets"]:
            dsid = str(ds.get("id") or "")
            studies = tuple(
                (str(s["StudyInstanceUID"]), int(s.get("number") or i + 1))
                for i, s in enumerate(ds.get("studies") or ())
            )
            anns = tuple(
                Annotation.from_mdai(a, dataset_id=dsid, path=path)
                for a in ds.get("annotations") or ()
            )
            datasets.append(MdaiDataset(dsid, str(ds.get("name") or dsid), studies, anns))
        project = cls(groups, tuple(datasets), str(raw.get("name") or ""), str(raw.get("id") or ""))
        known = project.label_map()
        for ann in project.annotations():
            if ann.label_id not in known:
                raise FormatError(
                    f"annotation {ann.id} refers to label {ann.label_id!r}, "
                    "which no label group defines",
                    path=path,
                    field="labelId",
                )
        return project

    def to_mdai(self) -> JSONDict:
        """Return the whole export as a JSON-ready dict."""
        return {
            "id": self.id,
            "name": self.name,
            "createdAt": None,
            "updatedAt": None,
            "labelGroups": [g.to_mdai() for g in self.label_groups],
            "datasets": [d.to_mdai() for d in self.datasets],
        }


def read_mdai(path: str | PathLike[str]) -> MdaiProject:
    """Read an MD.ai annotation export.

    Raises
    ------
    FormatError
        If the file is not JSON, or not shaped like an MD.ai export; the message
        names the file (and the line, for JSON syntax errors).
    """
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FormatError(f"not valid JSON: {exc.msg}", path=p, line=exc.lineno) from exc
    except UnicodeDecodeError as exc:
        raise FormatError("not UTF-8 text, so not an MD.ai JSON export", path=p) from exc
    return MdaiProject.from_mdai(raw, path=str(p))


def write_mdai(project: MdaiProject, path: str | PathLike[str]) -> Path:
    """Write an MD.ai annotation export (pretty-printed, stable key order)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(project.to_mdai(), indent=1) + "\n", encoding="utf-8")
    return p


def is_mdai_json(
    path: str | PathLike[str], head: Iterable[str] = ("labelGroups", "datasets")
) -> bool:
    """Cheaply tell whether a ``.json`` file looks like an MD.ai export."""
    try:
        with Path(path).open("r", encoding="utf-8", errors="replace") as fh:
            text = fh.read(1 << 16)
    except OSError:
        return False
    return text.lstrip().startswith("{") and any(f'"{key}"' in text for key in head)
