"""Teaching cases, key images, annotation geometry and teaching set manifests.

:class:`TeachingCase` is one curated study; :class:`TeachingSet` a YAML manifest
of cases and questions (:meth:`TeachingSet.from_yaml`, :meth:`TeachingSet.to_yaml`).
:class:`AuthoringSession` writes one with an educator, saved to a draft as they go.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from teachingfiles.cases.authoring import AuthoringSession

__all__ = [
    "AuthoringSession",
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


def __getattr__(name: str) -> object:
    # authoring uses the quiz's questions, and the quiz imports this package: the
    # session is imported on first use, so importing either package first works
    if name == "AuthoringSession":
        from teachingfiles.cases.authoring import AuthoringSession

        return AuthoringSession
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
