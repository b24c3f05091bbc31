"""Pull series from a remote repository into a folder laid out as a TCIA download.

Whatever the source (a DICOMweb server, TCIA through a ``.tcia`` manifest), the
result is what :class:`~teachingfiles.repository.Repository` already reads::

    DEST/manifest-<source>/metadata.csv           the retriever's 17 columns
    DEST/manifest-<source>/<COLLECTION>/<PatientID>/<study folder>/<series folder>/1-001.dcm

so ``teachingfiles index DEST`` builds the same catalog as from a folder. A pull is
resumable: instances already in the cache (``DEST/.teachingfiles/instances``, a
hidden folder the indexer skips) or series folders already complete are not
fetched again, and ``metadata.csv`` is rewritten after every series.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID
from tqdm.auto import tqdm

from teachingfiles.errors import NotFoundError, RepositoryError, TeachingFilesError
from teachingfiles.repository.cache import InstanceCache
from teachingfiles.repository.dicomweb import DicomwebSource, RemoteSeries
from teachingfiles.repository.nbia import (
    MetadataRow,
    format_file_size,
    instance_file_name,
    metadata_date,
    read_metadata_csv,
    read_tcia_manifest,
    series_folder_name,
    study_folder_name,
    write_metadata_csv,
)
from teachingfiles.repository.tcia import NbiaClient

__all__ = ["CACHE_SUBDIR", "PullReport", "pull_dicomweb", "pull_tcia"]

#: Where a pull keeps its instance cache, under DEST (hidden: the indexer skips it).
CACHE_SUBDIR = ".teachingfiles/instances-cache"
_NO_COLLECTION = "DICOMWEB"


@dataclass(frozen=True)
class PullReport:
    """What a pull did."""

    dest: Path
    manifest_dir: Path
    series: int
    instances: int
    seconds: float
    failed: tuple[tuple[str, str], ...] = field(default=())

    def format(self) -> str:
        """Return a readable summary, failures included."""
        lines = [
            (
                f"Pulled {self.series} series ({self.instances} instances) into "
                f"{self.manifest_dir} in {self.seconds:.1f} s"
            )
        ]
        if self.failed:
            lines.append(f"{len(self.failed)} series failed (run the same pull again to resume):")
            lines.extend(f"  {uid}: {reason}" for uid, reason in self.failed)
        else:
            lines.append(f"Next: teachingfiles index {self.dest}")
        return "\n".join(lines)


def _collection_of(ds: Dataset, fallback: str | None) -> str:
    """TCIA's private ProjectName (0013,xx10, creator ``CTP``), else ``fallback``."""
    try:
        block = ds.private_block(0x0013, "CTP")
        value = str(block[0x10].value).strip()
        if value:
            return value
    except (KeyError, ValueError):
        pass
    return fallback or _NO_COLLECTION


def _link(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (copy across file systems), atomically."""
    tmp = dst.with_name(f".{dst.name}.part")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    tmp.replace(dst)


def _metadata_row(ds: Dataset, collection: str, location: str, n: int, size: int) -> MetadataRow:
    sop_class = UID(str(ds.get("SOPClassUID", "")))
    return MetadataRow(
        series_uid=str(ds.SeriesInstanceUID),
        collection=collection,
        third_party_analysis="NO",
        data_description_uri="",
        subject_id=str(ds.get("PatientID", "")),
        study_uid=str(ds.StudyInstanceUID),
        study_description=str(ds.get("StudyDescription", "")),
        study_date=metadata_date(str(ds.get("StudyDate", ""))),
        series_description=str(ds.get("SeriesDescription", "")),
        manufacturer=str(ds.get("Manufacturer", "")),
        modality=str(ds.get("Modality", "")),
        sop_class_name=sop_class.name if sop_class else "",
        sop_class_uid=str(sop_class),
        number_of_images=n,
        file_size=format_file_size(size),
        file_location=location,
        download_timestamp=dt.datetime.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
    )


class _Layout:
    """The NBIA folder tree under one ``manifest-*`` folder, and its metadata.csv."""

    def __init__(self, manifest_dir: Path) -> None:
        self.dir = manifest_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.csv = manifest_dir / "metadata.csv"
        self.rows: dict[str, MetadataRow] = {}
        if self.csv.exists():
            self.rows = {r.series_uid: r for r in read_metadata_csv(self.csv)}

    def series_folder(self, ds: Dataset, collection: str) -> tuple[Path, str]:
        study = study_folder_name(
            str(ds.get("StudyDate", "")), str(ds.get("StudyDescription", "")),
            str(ds.StudyInstanceUID),
        )  # fmt: skip
        series = series_folder_name(
            ds.get("SeriesNumber"), str(ds.get("SeriesDescription", "")), str(ds.SeriesInstanceUID)
        )
        rel = Path(collection) / str(ds.get("PatientID", "NA")) / study / series
        return self.dir / rel, f"./{rel.as_posix()}"

    def add(self, row: MetadataRow) -> None:
        self.rows[row.series_uid] = row
        tmp = self.csv.with_name(".metadata.csv.part")
        write_metadata_csv(sorted(self.rows.values(), key=lambda r: r.file_location), tmp)
        tmp.replace(self.csv)


def _lay_out_series(paths: Sequence[Path], layout: _Layout, collection: str | None) -> int:
    """Link cached instances into their NBIA folder and record the series; the count."""
    headers = [(p, pydicom.dcmread(p, stop_before_pixels=True)) for p in paths]
    first = headers[0][1]
    name = _collection_of(first, collection)
    folder, location = layout.series_folder(first, name)
    folder.mkdir(parents=True, exist_ok=True)
    for path, ds in headers:
        number = int(ds.get("InstanceNumber") or 0)
        target = folder / instance_file_name(1, number)
        if number == 0 or (target.exists() and not target.samefile(path)):
            target = folder / f"1-{ds.SOPInstanceUID}.dcm"  # no or clashing number
        if not target.exists():
            _link(path, target)
    size = sum(p.stat().st_size for p in paths)
    layout.add(_metadata_row(first, name, location, len(paths), size))
    return len(paths)


def pull_dicomweb(
    source: DicomwebSource | str,
    dest: str | PathLike[str],
    *,
    collection: str | None = None,
    patient: str | None = None,
    modality: str | None = None,
    date: str | None = None,
    description: str | None = None,
    study_uid: str | None = None,
    progress: bool = True,
) -> PullReport:
    """Pull every series matching the filters from a DICOMweb server into ``dest``.

    Parameters
    ----------
    source
        A :class:`DicomwebSource` or its URL. Its cache is replaced by one under
        ``dest`` so that the pull and the folder travel together.
    collection, patient, modality, date, description
        QIDO-RS filters as in :meth:`DicomwebSource.search_studies`;
        ``description`` and ``modality`` apply to series.
    study_uid
        Only this study.

    Raises
    ------
    NotFoundError
        If nothing matches the filters.
    RepositoryError
        If the server cannot be reached at all (series that fail half way are
        reported in :attr:`PullReport.failed` instead, and a rerun resumes them).
    """
    start = time.perf_counter()
    root = Path(dest).expanduser().resolve()
    src = source if isinstance(source, DicomwebSource) else DicomwebSource(source)
    src.cache = InstanceCache(root / CACHE_SUBDIR)
    src.cache.clean()
    layout = _Layout(root / "manifest-dicomweb")
    if study_uid:
        study_uids = [study_uid]
    else:
        study_uids = [
            s.study_uid
            for s in src.search_studies(
                collection=collection, patient=patient, modality=modality, date=date
            )
        ]
    wanted: list[RemoteSeries] = []
    for uid in study_uids:
        wanted.extend(src.search_series(uid, modality=modality, description=description))
    if not wanted:
        raise NotFoundError(
            f"{src.url}: no series match the filters; list what the server has with "
            "'teachingfiles pull URL DEST --list'"
        )
    return _pull_each(
        wanted,
        lambda s: src.retrieve_series(s.study_uid, s.series_uid, progress=progress),
        layout,
        collection,
        root,
        start,
        progress,
    )


def _pull_each(
    wanted: Sequence[RemoteSeries],
    fetch: Callable[[RemoteSeries], list[Path]],
    layout: _Layout,
    collection: str | None,
    root: Path,
    start: float,
    progress: bool = True,
) -> PullReport:
    failed: list[tuple[str, str]] = []
    n_series = n_instances = 0
    with _series_bar(len(wanted), progress) as bar:
        for series in wanted:
            try:
                paths = fetch(series)
                n_instances += _lay_out_series(paths, layout, collection)
                n_series += 1
            except TeachingFilesError as exc:
                if not failed and _unreachable(exc):
                    raise  # nothing works: say so once instead of once per series
                failed.append((series.series_uid, str(exc)))
            bar.update(1)
    return PullReport(
        dest=root,
        manifest_dir=layout.dir,
        series=n_series,
        instances=n_instances,
        seconds=time.perf_counter() - start,
        failed=tuple(failed),
    )


def _series_bar(total: int, progress: bool) -> Any:
    """Make the pull's overall progress bar (a step a series; each series has its own)."""
    return tqdm(total=total, unit="series", desc="pull", disable=not progress)


def _unreachable(exc: BaseException) -> bool:
    return isinstance(exc, RepositoryError) and "cannot connect" in str(exc)


def pull_tcia(
    manifest: str | PathLike[str] | Sequence[str],
    dest: str | PathLike[str],
    *,
    client: NbiaClient | None = None,
    progress: bool = True,
) -> PullReport:
    """Download the series of a ``.tcia`` manifest (or a list of UIDs) into ``dest``.

    Each series comes as one zip (``getImage``) unpacked into its NBIA folder, named
    from ``getSeriesMetaData``; ``metadata.csv`` gets the same row the NBIA Data
    Retriever writes. Series whose folder is complete are skipped (resume).

    Raises
    ------
    FormatError
        If the manifest is malformed (its line is named).
    """
    start = time.perf_counter()
    root = Path(dest).expanduser().resolve()
    if isinstance(manifest, str | PathLike):
        path = Path(manifest)
        uids: Sequence[str] = read_tcia_manifest(path).series_uids
        folder = f"manifest-{path.stem}"
    else:
        uids, folder = list(manifest), "manifest-tcia"
    tcia = client or NbiaClient()
    layout = _Layout(root / folder)
    failed: list[tuple[str, str]] = []
    n_series = n_instances = 0
    with _series_bar(len(uids), progress) as bar:
        for uid in uids:
            try:
                n_instances += _pull_tcia_series(tcia, uid, layout, progress)
                n_series += 1
            except TeachingFilesError as exc:
                if not failed and _unreachable(exc):
                    raise
                failed.append((uid, str(exc)))
            bar.update(1)
    return PullReport(root, layout.dir, n_series, n_instances, time.perf_counter() - start,
                      tuple(failed))  # fmt: skip


def _pull_tcia_series(tcia: NbiaClient, uid: str, layout: _Layout, progress: bool) -> int:
    meta = tcia.get_series_metadata(uid)
    ds = Dataset()
    ds.StudyInstanceUID = meta.get("Study UID", "")
    ds.SeriesInstanceUID = uid
    ds.StudyDate = _dicom_date(str(meta.get("Study Date", "")))
    ds.StudyDescription = meta.get("Study Description", "")
    ds.SeriesDescription = meta.get("Series Description", "")
    ds.SeriesNumber = meta.get("Series Number") or None
    ds.PatientID = meta.get("Subject ID", "")
    collection = str(meta.get("Collection") or _NO_COLLECTION)
    folder, location = layout.series_folder(ds, collection)
    expected = int(meta.get("Number of Images") or 0)
    files = sorted(folder.glob("*.dcm")) if folder.is_dir() else []
    if uid not in layout.rows or len(files) < expected or not files:
        files = tcia.get_image(uid, folder, progress=progress)
    row = MetadataRow(
        series_uid=uid, collection=collection,
        third_party_analysis=str(meta.get("3rd Party Analysis", "NO")),
        data_description_uri=str(meta.get("Data Description URI", "")),
        subject_id=str(ds.PatientID), study_uid=str(ds.StudyInstanceUID),
        study_description=str(ds.StudyDescription),
        study_date=metadata_date(ds.StudyDate),
        series_description=str(ds.SeriesDescription),
        manufacturer=str(meta.get("Manufacturer", "")), modality=str(meta.get("Modality", "")),
        sop_class_name=str(meta.get("SOP Class Name", "")),
        sop_class_uid=str(meta.get("SOP Class UID", "")), number_of_images=len(files),
        file_size=format_file_size(sum(p.stat().st_size for p in files)),
        file_location=location,
        download_timestamp=dt.datetime.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
    )  # fmt: skip
    layout.add(row)
    return len(files)


def _dicom_date(text: str) -> str:
    """``YYYYMMDD`` from TCIA's ``YYYY-MM-DD`` (or ``MM-DD-YYYY``) dates."""
    for fmt, width in (("%Y-%m-%d", 10), ("%m-%d-%Y", 10), ("%Y%m%d", 8)):
        try:
            return dt.datetime.strptime(text[:width], fmt).strftime("%Y%m%d")
        except ValueError:
            continue
    return ""
