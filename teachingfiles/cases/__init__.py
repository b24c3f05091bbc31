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
from teachingfiles.cases.geometry import mask_to_polygons
from teachingfiles.cases.teaching_set import ManifestCheck, TeachingSet, check_manifest

__all__ = [
    "Difficulty",
    "KeyImage",
    "ManifestCheck",
    "ReadSummary",
    "ReaderCall",
    "Reference",
    "TeachingCase",
    "TeachingSet",
    "View",
    "check_manifest",
    "mask_to_polygons",
]
