"""Annotations of a bundle as MD.ai JSON and as DICOM SEG (made with highdicom).

Both are written against the de-identified images: every UID goes through the same
keyed hash as the DICOM, so the annotations point at the bundle's own files.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset

from teachingfiles.dicom._deid_values import Keys
from teachingfiles.repository.mdai import Annotation, Label, LabelGroup, MdaiDataset, MdaiProject
from teachingfiles.repository.records import AnnotationRecord
from teachingfiles.vocabulary import AnnotationMode, LabelScope

__all__ = ["annotations_project", "series_segmentation"]

_AREA_MODES = (AnnotationMode.POLYGON, AnnotationMode.FREEFORM, AnnotationMode.BBOX)


def _group_id(name: str) -> str:
    return "G_" + hashlib.sha256(name.encode()).hexdigest()[:6]


def annotations_project(records: Iterable[AnnotationRecord], keys: Keys, name: str) -> MdaiProject:
    """Return the records as one MD.ai project, their UIDs replaced by the keyed hash."""
    labels: dict[str, Label] = {}
    annotations = []
    studies: dict[str, int] = {}
    for r in records:
        group = r.group_name or "Default group"
        labels.setdefault(
            r.label_id,
            Label(
                id=r.label_id,
                name=r.label_name,
                scope=r.scope or LabelScope.INSTANCE,
                mode=r.mode,
                color=r.color or "#888888",
                group_id=_group_id(group),
                group_name=group,
            ),
        )
        study = keys.uid(r.study_uid)
        studies.setdefault(study, len(studies) + 1)
        annotations.append(
            Annotation(
                id=r.annotation_id,
                label_id=r.label_id,
                study_uid=study,
                series_uid=keys.uid(r.series_uid) if r.series_uid else None,
                sop_uid=keys.uid(r.sop_uid) if r.sop_uid else None,
                frame_number=r.frame_number,
                data=r.data,
                height=r.height,
                width=r.width,
                created_by=r.reader,
            )
        )
    groups: dict[str, list[Label]] = defaultdict(list)
    for label in labels.values():
        groups[label.group_name or "Default group"].append(label)
    return MdaiProject(
        label_groups=tuple(
            LabelGroup(id=_group_id(g), name=g, labels=tuple(ls)) for g, ls in groups.items()
        ),
        datasets=(
            MdaiDataset(
                id="D_bundle",
                name=name,
                studies=tuple(studies.items()),
                annotations=tuple(annotations),
            ),
        ),
        name=name,
    )


def _mask(record: AnnotationRecord, rows: int, cols: int) -> npt.NDArray[np.bool_]:
    from matplotlib.path import Path as Outline

    data = record.data or {}
    if record.mode is AnnotationMode.BBOX:
        x, y = float(data["x"]), float(data["y"])
        w, h = float(data["width"]), float(data["height"])
        vertices = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    else:
        vertices = [(float(px), float(py)) for px, py in data["vertices"]]
    yy, xx = np.mgrid[0:rows, 0:cols]
    centres = np.column_stack([xx.ravel() + 0.5, yy.ravel() + 0.5])
    inside = Outline(vertices).contains_points(centres)
    return np.asarray(inside.reshape(rows, cols), dtype=bool)


def series_segmentation(
    records: list[AnnotationRecord], images: dict[str, Path], keys: Keys, series_number: int
) -> Dataset | None:
    """Return a binary DICOM SEG of the area annotations on one de-identified series.

    ``records`` carry original UIDs; ``images`` maps *new* SOP Instance UIDs to the
    de-identified files. One segment per label; ``None`` without area annotations.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    areas = [r for r in records if r.mode in _AREA_MODES and r.sop_uid and r.data]
    areas = [r for r in areas if keys.uid(str(r.sop_uid)) in images]
    if not areas:
        return None
    label_names = sorted({r.label_name for r in areas})
    sops = sorted({keys.uid(str(r.sop_uid)) for r in areas})
    sources = [pydicom.dcmread(images[uid]) for uid in sops]
    rows, cols = int(sources[0].Rows), int(sources[0].Columns)
    masks = np.zeros((len(sops), rows, cols, len(label_names)), dtype=bool)
    for r in areas:
        masks[sops.index(keys.uid(str(r.sop_uid))), :, :, label_names.index(r.label_name)] |= _mask(
            r, rows, cols
        )
    colors = {r.label_name: r.color for r in areas}
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=i + 1,
            segment_label=name[:64],
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Lesion,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            display_color=_color(colors.get(name)),
        )
        for i, name in enumerate(label_names)
    ]
    series = str(sources[0].SeriesInstanceUID)
    seg: Any = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=masks,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=keys.uid(f"seg-series:{series}"),
        series_number=series_number,
        sop_instance_uid=keys.uid(f"seg:{series}"),
        instance_number=1,
        manufacturer="teachingfiles",
        manufacturer_model_name="teachingfiles bundle",
        software_versions=_version(),
        device_serial_number="none",
        content_label="ANNOTATIONS",
        content_description="Reader annotations exported from MD.ai JSON",
    )
    return seg  # type: ignore[no-any-return]


def _color(text: str | None) -> Any:
    import highdicom as hd

    if not text or not text.startswith("#") or len(text) != 7:
        return None
    red, green, blue = (int(text[i : i + 2], 16) for i in (1, 3, 5))
    return hd.color.CIELabColor.from_rgb(red, green, blue)


def _version() -> str:
    from teachingfiles import __version__

    return __version__
