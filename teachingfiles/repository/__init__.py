"""Image repositories and their catalog.

:class:`Repository` opens a folder of DICOM files (a TCIA/NBIA download, an IDC
download, a PACS export, the demo), keeps a SQLite catalog of it next to the data
and answers questions about it with the typed records below. The file formats
themselves live in :mod:`~teachingfiles.repository.mdai`,
:mod:`~teachingfiles.repository.nbia` and :mod:`~teachingfiles.repository.clinical`.
"""

from __future__ import annotations

from teachingfiles.repository.clinical import ClinicalRow
from teachingfiles.repository.records import (
    AnnotationRecord,
    CollectionInfo,
    IndexReport,
    Instance,
    ReaderLabel,
    Series,
    SkippedFile,
    Study,
)
from teachingfiles.repository.repository import CATALOG_DIR, Repository

__all__ = [
    "CATALOG_DIR",
    "AnnotationRecord",
    "ClinicalRow",
    "CollectionInfo",
    "IndexReport",
    "Instance",
    "ReaderLabel",
    "Repository",
    "Series",
    "SkippedFile",
    "Study",
]
