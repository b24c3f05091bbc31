"""Image repositories and their catalog.

:class:`Repository` opens a folder of DICOM files (a TCIA/NBIA download, an IDC
download, a PACS export, the demo), keeps a SQLite catalog of it next to the data
and answers questions about it with the typed records below. The file formats
themselves live in :mod:`~teachingfiles.repository.mdai`,
:mod:`~teachingfiles.repository.nbia` and :mod:`~teachingfiles.repository.clinical`.

Remote sources (:class:`DicomwebSource` for any DICOMweb server, :class:`NbiaClient`
for TCIA, :class:`IdcSource` for IDC) and the pulls that land them on disk are
imported on first use, so the local catalog does not pay for ``requests``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from teachingfiles.repository.clinical import ClinicalRow
from teachingfiles.repository.records import (
    AnnotationRecord,
    CollectionInfo,
    IndexReport,
    Instance,
    LabelRecord,
    ReaderLabel,
    Series,
    SkippedFile,
    Study,
)
from teachingfiles.repository.repository import CATALOG_DIR, Repository

if TYPE_CHECKING:
    from teachingfiles.repository.cache import InstanceCache
    from teachingfiles.repository.dicomweb import (
        DicomwebSource,
        RemoteSeries,
        RemoteStudy,
        StoreReport,
    )
    from teachingfiles.repository.idc import IdcSource
    from teachingfiles.repository.pull import PullReport, pull_dicomweb, pull_tcia
    from teachingfiles.repository.tcia import NbiaClient

_REMOTE = {
    "DicomwebSource": "dicomweb",
    "RemoteSeries": "dicomweb",
    "RemoteStudy": "dicomweb",
    "StoreReport": "dicomweb",
    "InstanceCache": "cache",
    "NbiaClient": "tcia",
    "IdcSource": "idc",
    "PullReport": "pull",
    "pull_dicomweb": "pull",
    "pull_tcia": "pull",
}


def __getattr__(name: str) -> Any:
    if name in _REMOTE:
        module = importlib.import_module(f"teachingfiles.repository.{_REMOTE[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CATALOG_DIR",
    "AnnotationRecord",
    "ClinicalRow",
    "CollectionInfo",
    "DicomwebSource",
    "IdcSource",
    "IndexReport",
    "Instance",
    "InstanceCache",
    "LabelRecord",
    "NbiaClient",
    "PullReport",
    "ReaderLabel",
    "RemoteSeries",
    "RemoteStudy",
    "Repository",
    "Series",
    "SkippedFile",
    "StoreReport",
    "Study",
    "pull_dicomweb",
    "pull_tcia",
]
