"""Teaching cases, key images, annotation geometry and teaching set manifests.

:class:`TeachingCase` is one curated study; :class:`TeachingSet` a YAML manifest
of cases and questions (:meth:`TeachingSet.from_yaml`, :meth:`TeachingSet.to_yaml`).
"""

from __future__ import annotations

from teachingfiles.cases.case import (
    Difficulty,
    KeyImage,
    ReaderCall,
    ReadSummary,
    Reference,
    TeachingCase,
    View,
)
from teachingfiles.cases.geometry import (
    Shape,
    box_iou,
    mask_to_polygons,
    place_shape,
    point_in_polygon,
    polygon_to_mask,
    shape_in_view,
)
from teachingfiles.cases.teaching_set import ManifestCheck, TeachingSet, check_manifest

__all__ = [
    "Difficulty",
    "KeyImage",
    "ManifestCheck",
    "ReadSummary",
    "ReaderCall",
    "Reference",
    "Shape",
    "TeachingCase",
    "TeachingSet",
    "View",
    "box_iou",
    "check_manifest",
    "mask_to_polygons",
    "place_shape",
    "point_in_polygon",
    "polygon_to_mask",
    "shape_in_view",
]
