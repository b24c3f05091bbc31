"""The NBIA Data Retriever's download layout, ``metadata.csv`` and ``.tcia`` manifests.

A TCIA download lies on disk as::

    manifest-1610656454899/
      metadata.csv
      MIDRC-RICORD-1C/<PatientID>/<study folder>/<series folder>/1-1.dcm

Folder names are for people; the importer keys on DICOM headers and on
``metadata.csv``. The functions here write the same names (so the demo looks like a
real download) and read ``metadata.csv`` and ``.tcia`` manifests.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from os import PathLike
from pathlib import Path

from teachingfiles.errors import FormatError

__all__ = [
    "METADATA_COLUMNS",
    "MetadataRow",
    "TciaManifest",
    "format_file_size",
    "instance_file_name",
    "read_metadata_csv",
    "read_tcia_manifest",
    "series_folder_name",
    "study_folder_name",
    "write_metadata_csv",
    "write_tcia_manifest",
]

METADATA_COLUMNS: tuple[str, ...] = (
    "Series UID",
    "Collection",
    "3rd Party Analysis",
    "Data Description URI",
    "Subject ID",
    "Study UID",
    "Study Description",
    "Study Date",
    "Series Description",
    "Manufacturer",
    "Modality",
    "SOP Class Name",
    "SOP Class UID",
    "Number of Images",
    "File Size",
    "File Location",
    "Download Timestamp",
)

_DROPPED = str.maketrans("", "", "/&;+()")


def _clean(text: str | None) -> str:
    text = (text or "").translate(_DROPPED).strip()
    return text or "NA"


def _dicom_date(value: str | dt.date | None) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.datetime.strptime(str(value)[:8], "%Y%m%d").date()
    except ValueError:
        return None


def study_folder_name(
    study_date: str | dt.date | None,
    study_description: str | None,
    study_uid: str,
    *,
    with_na: bool = True,
) -> str:
    """Name a study folder as the retriever does: ``MM-DD-YYYY-NA-<description>-<last 5 of UID>``.

    Example
    -------
    >>> study_folder_name("20020802", "CT CHEST WO CONTRAST", "1.2.3.45678")
    '08-02-2002-NA-CT CHEST WO CONTRAST-45678'
    """
    date = _dicom_date(study_date)
    prefix = date.strftime("%m-%d-%Y") if date else "NA"
    middle = "NA-" if with_na else ""
    return f"{prefix}-{middle}{_clean(study_description)}-{study_uid.replace('.', '')[-5:]}"


def series_folder_name(
    series_number: int | str | None, series_description: str | None, series_uid: str
) -> str:
    """Name a series folder as the retriever does, e.g. ``3.000000-0.625mm bone alg-26970``.

    Without a series number the folder starts with ``NA``.
    """
    tail = series_uid.replace(".", "")[-5:]
    try:
        number = f"{float(series_number):.6f}" if series_number not in (None, "") else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        return f"NA-{tail}" if not series_description else f"NA-{_clean(series_description)}-{tail}"
    return f"{number}-{_clean(series_description)}-{tail}"


def instance_file_name(acquisition: int, instance: int, *, width: int = 3) -> str:
    """``<acquisition>-<instance>.dcm``, zero-padded as newer retrievers write it."""
    return f"{acquisition}-{instance:0{width}d}.dcm"


def format_file_size(n_bytes: int) -> str:
    """Text like the retriever's ``File Size`` column (``163.31 KB``, ``51.40 MB``)."""
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.2f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def parse_file_size(text: str) -> int | None:
    """Bytes from a ``File Size`` value such as ``163.31 KB`` (``None`` if unreadable)."""
    m = re.fullmatch(r"\s*([\d.,]+)\s*([KMG]?B)?\s*", text or "")
    if not m:
        return None
    scale = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3}[m.group(2) or "B"]
    try:
        return round(float(m.group(1).replace(",", "")) * scale)
    except ValueError:
        return None


@dataclass(frozen=True)
class MetadataRow:
    """One row of ``metadata.csv``: one series of the download."""

    series_uid: str
    collection: str
    third_party_analysis: str
    data_description_uri: str
    subject_id: str
    study_uid: str
    study_description: str
    study_date: str  # MM-DD-YYYY as the retriever writes it
    series_description: str
    manufacturer: str
    modality: str
    sop_class_name: str
    sop_class_uid: str
    number_of_images: int
    file_size: str
    file_location: str  # relative, ./COLLECTION/...
    download_timestamp: str

    def as_csv_row(self) -> list[str]:
        """Return the row's values in :data:`METADATA_COLUMNS` order."""
        return [str(getattr(self, f.name)) for f in fields(self)]

    def folder(self, root: str | PathLike[str]) -> Path:
        """Return the series folder this row describes, under the download root."""
        return Path(root) / self.file_location.replace("\\", "/").lstrip("./")


def write_metadata_csv(rows: Iterable[MetadataRow], path: str | PathLike[str]) -> Path:
    """Write ``metadata.csv`` with the retriever's 17 columns."""
    p = Path(path)
    with p.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(METADATA_COLUMNS)
        writer.writerows(row.as_csv_row() for row in rows)
    return p


def read_metadata_csv(path: str | PathLike[str]) -> list[MetadataRow]:
    """Read ``metadata.csv``.

    Columns are matched by name (order does not matter; extra columns are ignored).

    Raises
    ------
    FormatError
        Naming the file and line when a required column is missing or a
        ``Number of Images`` value is not a number.
    """
    p = Path(path)
    required = ("Series UID", "Collection", "Subject ID", "Study UID", "Modality")
    with p.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise FormatError(
                f"metadata.csv lacks column(s) {', '.join(map(repr, missing))}; "
                f"expected the NBIA retriever's columns {', '.join(METADATA_COLUMNS)}",
                path=p,
                line=1,
                field=missing[0],
            )
        rows = []
        for line, rec in enumerate(reader, start=2):
            values = [(rec.get(col) or "").strip() for col in METADATA_COLUMNS]
            count_text = values[13] or "0"
            try:
                values[13] = int(float(count_text))  # type: ignore[call-overload,unused-ignore]
            except ValueError:
                raise FormatError(
                    f"'Number of Images' is {count_text!r}, not a number",
                    path=p,
                    line=line,
                    field="Number of Images",
                ) from None
            rows.append(MetadataRow(*values))  # type: ignore[arg-type]
    return rows


@dataclass(frozen=True)
class TciaManifest:
    """A ``.tcia`` manifest: the retriever's header lines and a list of series UIDs."""

    series_uids: tuple[str, ...]
    download_server_url: str = (
        "https://public.cancerimagingarchive.net/nbia-download/servlet/DownloadServlet"
    )
    include_annotation: bool = True
    retries: int = 4
    databasket_id: str = "manifest.tcia"
    manifest_version: str = "3.0"


def write_tcia_manifest(manifest: TciaManifest, path: str | PathLike[str]) -> Path:
    """Write a ``.tcia`` manifest (six header lines, then one series UID a line)."""
    p = Path(path)
    lines = [
        f"downloadServerUrl={manifest.download_server_url}",
        f"includeAnnotation={'true' if manifest.include_annotation else 'false'}",
        f"noOfrRetry={manifest.retries}",
        f"databasketId={manifest.databasket_id}",
        f"manifestVersion={manifest.manifest_version}",
        "ListOfSeriesToDownload=",
        *manifest.series_uids,
    ]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def read_tcia_manifest(path: str | PathLike[str]) -> TciaManifest:
    """Read a ``.tcia`` manifest.

    Raises
    ------
    FormatError
        If the ``ListOfSeriesToDownload=`` line is missing or a line after it is not
        a DICOM UID (the line number is given).
    """
    p = Path(path)
    text = p.read_text(encoding="utf-8", errors="replace").splitlines()
    header: dict[str, str] = {}
    uids: list[str] = []
    in_list = False
    for line_no, raw in enumerate(text, start=1):
        line = raw.strip()
        if not line:
            continue
        if in_list:
            if not _UID.match(line) or len(line) > 64:
                raise FormatError(f"{line[:70]!r} is not a SeriesInstanceUID", path=p, line=line_no)
            uids.append(line)
        elif line.startswith("ListOfSeriesToDownload="):
            in_list = True
        elif "=" in line:
            key, _, value = line.partition("=")
            header[key.strip()] = value.strip()
        else:
            raise FormatError(
                f"expected 'key=value' header lines before 'ListOfSeriesToDownload=', "
                f"got {line[:70]!r}",
                path=p,
                line=line_no,
            )
    if not in_list:
        raise FormatError("no 'ListOfSeriesToDownload=' line: not a TCIA manifest", path=p)
    return TciaManifest(
        series_uids=tuple(uids),
        download_server_url=header.get("downloadServerUrl", TciaManifest.download_server_url),
        include_annotation=header.get("includeAnnotation", "true").lower() == "true",
        retries=int(header.get("noOfrRetry", "4") or 4),
        databasket_id=header.get("databasketId", p.name),
        manifest_version=header.get("manifestVersion", "3.0"),
    )


def metadata_date(study_date: str | dt.date | None) -> str:
    """Format a DICOM date (``YYYYMMDD``) as ``metadata.csv`` writes it (``MM-DD-YYYY``)."""
    date = _dicom_date(study_date)
    return date.strftime("%m-%d-%Y") if date else ""


def series_rows_by_uid(rows: Sequence[MetadataRow]) -> dict[str, MetadataRow]:
    """Index metadata rows by Series UID."""
    return {row.series_uid: row for row in rows}
