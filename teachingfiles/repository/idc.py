"""NCI Imaging Data Commons (IDC) through the optional ``idc-index`` package.

IDC hosts RICORD (``midrc_ricord_1a``, ``_1b``, ``_1c``) in public cloud buckets;
``idc-index`` ships a table of every series and downloads them with ``s5cmd``.
It is an optional extra (``pip install teachingfiles[idc]``, which brings
``idc-index``); nothing here imports it until it is used, and using it without
the package raises an error that says how to install it.

The download lands in the NBIA layout the importer reads
(``<dest>/<collection>/<PatientID>/<study>/<series>/<SOPInstanceUID>.dcm``, plus
``metadata.csv`` written from IDC's index), so ``teachingfiles index DEST`` works as
for a TCIA download. IDC's other route, its DICOMweb proxy, works with
:class:`~teachingfiles.repository.dicomweb.DicomwebSource` directly.

Example
-------
>>> idc = IdcSource()
>>> series = idc.search_series(collection="midrc_ricord_1a", modality="CT")
>>> idc.download([s["SeriesInstanceUID"] for s in series[:2]], "ricord")
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from teachingfiles.errors import RepositoryError
from teachingfiles.repository.nbia import (
    MetadataRow,
    format_file_size,
    metadata_date,
    write_metadata_csv,
)

__all__ = ["IDC_INSTALL_HINT", "IdcSource", "idc_available"]

IDC_INSTALL_HINT = (
    "IDC access needs the optional package idc-index: pip install 'teachingfiles[idc]' "
    "(or pip install idc-index); or use IDC's DICOMweb proxy with DicomwebSource"
)
_DIR_TEMPLATE = "%collection_id/%PatientID/%StudyInstanceUID/%SeriesInstanceUID"


def idc_available() -> bool:
    """Whether ``idc-index`` can be imported."""
    try:
        importlib.import_module("idc_index")
    except ImportError:
        return False
    return True


class IdcSource:
    """IDC's index and downloader (``idc_index.IDCClient``).

    Raises
    ------
    RepositoryError
        If ``idc-index`` is not installed (the message says how to install it).
    """

    def __init__(self) -> None:
        try:
            module: Any = importlib.import_module("idc_index")
        except ImportError as exc:
            raise RepositoryError(IDC_INSTALL_HINT) from exc
        self._client: Any = module.IDCClient()

    def search_series(
        self,
        *,
        collection: str | None = None,
        patient: str | None = None,
        modality: str | None = None,
    ) -> list[dict[str, Any]]:
        """Series in IDC's index matching every filter, as dicts of its columns."""
        index = self._client.index
        mask = index["SeriesInstanceUID"].notna()
        if collection:
            mask &= index["collection_id"].str.lower() == collection.lower()
        if patient:
            mask &= index["PatientID"] == patient
        if modality:
            mask &= index["Modality"] == modality
        records: list[dict[str, Any]] = index[mask].to_dict("records")
        return records

    def download(
        self, series_uids: Sequence[str], dest: str | PathLike[str], *, progress: bool = True
    ) -> Path:
        """Download series into ``dest`` and write ``metadata.csv``; the folder."""
        root = Path(dest)
        root.mkdir(parents=True, exist_ok=True)
        self._client.download_from_selection(
            seriesInstanceUID=list(series_uids),
            downloadDir=str(root),
            dirTemplate=_DIR_TEMPLATE,
            show_progress_bar=progress,
        )
        index = self._client.index
        rows = [
            _row(rec)
            for rec in index[index["SeriesInstanceUID"].isin(series_uids)].to_dict("records")
        ]
        write_metadata_csv(rows, root / "metadata.csv")
        return root


def _row(rec: dict[str, Any]) -> MetadataRow:
    location = (
        f"./{rec['collection_id']}/{rec['PatientID']}/{rec['StudyInstanceUID']}/"
        f"{rec['SeriesInstanceUID']}"
    )
    return MetadataRow(
        series_uid=str(rec["SeriesInstanceUID"]),
        collection=str(rec["collection_id"]),
        third_party_analysis="NO",
        data_description_uri=str(rec.get("source_DOI") or ""),
        subject_id=str(rec["PatientID"]),
        study_uid=str(rec["StudyInstanceUID"]),
        study_description=str(rec.get("StudyDescription") or ""),
        study_date=metadata_date(str(rec.get("StudyDate") or "").replace("-", "")),
        series_description=str(rec.get("SeriesDescription") or ""),
        manufacturer=str(rec.get("Manufacturer") or ""),
        modality=str(rec.get("Modality") or ""),
        sop_class_name="",
        sop_class_uid="",
        number_of_images=int(rec.get("instanceCount") or 0),
        file_size=format_file_size(int(float(rec.get("series_size_MB") or 0) * 1_000_000)),
        file_location=location,
        download_timestamp=dt.datetime.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
    )
