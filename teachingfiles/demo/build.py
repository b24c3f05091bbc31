"""Build the demo repository: RICORD-shaped synthetic studies plus real pydicom-data images.

The result lies on disk the way TCIA's NBIA Data Retriever leaves a RICORD
download (one ``manifest-<timestamp>/`` folder per collection with its
``metadata.csv``), with the MD.ai exports in ``annotations/``, the clinical sheets
in ``clinical/``, a ``.tcia`` manifest per collection and a ``README.md`` saying
what is synthetic and what is real. Studies are generated and written in worker
processes; everything is deterministic, so two builds are byte for byte equal.

Example
-------
>>> summary = build_demo("/tmp/demo")
>>> print(summary.format())
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from string import Template
from typing import TypeAlias

import pydicom
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, RLELossless
from tqdm import tqdm

from teachingfiles import __version__
from teachingfiles.demo.annotations import (
    clinical_row,
    ct_annotations,
    mdai_project,
    normalize_xlsx,
    radiograph_annotations,
)
from teachingfiles.demo.dicom_writer import (
    ct_datasets,
    radiograph_dataset,
    write_dataset,
)
from teachingfiles.demo.real_images import REAL_IMAGES, RealImage
from teachingfiles.demo.specs import (
    COLLECTION_1A,
    COLLECTION_1B,
    COLLECTION_1C,
    COLLECTION_REAL,
    DEMO_COLLECTIONS,
    CtStudySpec,
    RadiographStudySpec,
    ct_specs,
    radiograph_specs,
)
from teachingfiles.errors import RepositoryError
from teachingfiles.repository.clinical import ClinicalRow, write_clinical_xlsx
from teachingfiles.repository.mdai import Annotation, write_mdai
from teachingfiles.repository.nbia import (
    MetadataRow,
    TciaManifest,
    format_file_size,
    instance_file_name,
    metadata_date,
    series_folder_name,
    study_folder_name,
    write_metadata_csv,
    write_tcia_manifest,
)
from teachingfiles.repository.ricord import ricord_1a_label_groups, ricord_1c_label_groups

__all__ = ["DEMO_MARKER", "CollectionSummary", "DemoSummary", "build_demo", "check_target"]

#: A file at the root that marks a folder as a demo repository (safe to replace).
DEMO_MARKER = ".teachingfiles-demo"
_COMPLETE = ".complete"
#: The retriever names each download after a millisecond timestamp; these are fixed.
_MANIFEST_TS = {
    COLLECTION_1A: "1610656454899",
    COLLECTION_1B: "1613493170402",
    COLLECTION_1C: "1610656862251",
    COLLECTION_REAL: "1609459200000",
}
_DOWNLOAD_TIMESTAMP = "2021-01-14T20:34:17.421"
_TRANSFER_SYNTAX = {COLLECTION_1B: DeflatedExplicitVRLittleEndian}
_MDAI_FILES = {
    COLLECTION_1A: "DEMO-RICORD-1a_annotations_labelgroup_all_2020-Dec-8.json",
    COLLECTION_1C: "DEMO-RICORD-1c_mdai_rsna_project_DEMO1c00_annotations_labelgroup_all"
    "_2021-01-08-164102.json",
}
_CLINICAL_FILES = {
    COLLECTION_1A: ("DEMO-RICORD-1a-Clinical-Data-Jan-13-2021.xlsx", "Sheet1"),
    COLLECTION_1B: ("DEMO-RICORD-1b-Clinical-Data-Feb-2021.xlsx", "Sheet1"),
    COLLECTION_1C: ("DEMO-RICORD-1c Clinical Data Jan 13 2021 .xlsx", "CR Pos - TCIA Submission"),
}
_REAL_URI = "https://github.com/pydicom/pydicom-data"


@dataclass(frozen=True)
class SeriesRecord:
    """What was written for one series: enough for ``metadata.csv`` and the summary."""

    collection: str
    patient_id: str
    study_uid: str
    study_description: str
    study_date: str  # DICOM YYYYMMDD
    series_uid: str
    series_description: str
    manufacturer: str
    modality: str
    sop_class_uid: str
    files: int
    size: int  # bytes
    location: str  # ./COLLECTION/patient/study/series, relative to the download folder

    def metadata_row(self) -> MetadataRow:
        """Return the series' ``metadata.csv`` row."""
        real = self.collection == COLLECTION_REAL
        return MetadataRow(
            series_uid=self.series_uid,
            collection=self.collection,
            third_party_analysis="NO",
            data_description_uri=_REAL_URI if real else "",
            subject_id=self.patient_id,
            study_uid=self.study_uid,
            study_description=self.study_description,
            study_date=metadata_date(self.study_date),
            series_description=self.series_description,
            manufacturer=self.manufacturer,
            modality=self.modality,
            sop_class_name=UID(self.sop_class_uid).name,
            sop_class_uid=self.sop_class_uid,
            number_of_images=self.files,
            file_size=format_file_size(self.size),
            file_location=self.location,
            download_timestamp=_DOWNLOAD_TIMESTAMP,
        )


@dataclass(frozen=True)
class CaseResult:
    """One study built by a worker: its series, MD.ai annotations and clinical row."""

    record: SeriesRecord
    annotations: tuple[Annotation, ...] = ()
    clinical: ClinicalRow | None = None


@dataclass(frozen=True)
class CollectionSummary:
    """Counts of one collection of the built demo."""

    name: str
    patients: int
    studies: int
    series: int
    files: int
    bytes: int


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`build_demo` built, where, and how long it took."""

    root: Path
    collections: tuple[CollectionSummary, ...]
    seconds: float

    @property
    def files(self) -> int:
        """DICOM files in all collections."""
        return sum(c.files for c in self.collections)

    @property
    def bytes(self) -> int:
        """Size of the DICOM files in all collections."""
        return sum(c.bytes for c in self.collections)

    def format(self) -> str:
        """Return a readable table of the collections, for the terminal."""
        head = f"{'collection':<18}{'patients':>9}{'studies':>9}{'series':>8}{'files':>7}{'MB':>8}"
        lines = [f"Built the teachingfiles demo repository in {self.root}", head]
        total = CollectionSummary(
            "total",
            sum(c.patients for c in self.collections),
            sum(c.studies for c in self.collections),
            sum(c.series for c in self.collections),
            self.files,
            self.bytes,
        )
        lines.extend(
            f"{c.name:<18}{c.patients:>9}{c.studies:>9}{c.series:>8}{c.files:>7}"
            f"{c.bytes / 1e6:>8.1f}"
            for c in (*self.collections, total)
        )
        lines.append(f"{self.seconds:.1f} seconds")
        return "\n".join(lines)


def _series_dir(download: Path, collection: str, patient_id: str, ds: pydicom.Dataset) -> Path:
    return (
        download
        / collection
        / patient_id
        / study_folder_name(ds.get("StudyDate"), ds.get("StudyDescription"), ds.StudyInstanceUID)
        / series_folder_name(
            ds.get("SeriesNumber"), ds.get("SeriesDescription"), ds.SeriesInstanceUID
        )
    )


def _record(
    collection: str, download: Path, folder: Path, ds: pydicom.Dataset, files: int, size: int
) -> SeriesRecord:
    return SeriesRecord(
        collection=collection,
        patient_id=str(ds.PatientID),
        study_uid=str(ds.StudyInstanceUID),
        study_description=str(ds.get("StudyDescription") or ""),
        study_date=str(ds.get("StudyDate") or ""),
        series_uid=str(ds.SeriesInstanceUID),
        series_description=str(ds.get("SeriesDescription") or ""),
        manufacturer=str(ds.get("Manufacturer") or ""),
        modality=str(ds.Modality),
        sop_class_uid=str(ds.SOPClassUID),
        files=files,
        size=size,
        location="./" + folder.relative_to(download).as_posix(),
    )


def _ct_case(spec: CtStudySpec, download: Path) -> CaseResult:
    """Generate, write and annotate one CT study (runs in a worker process)."""
    from teachingfiles.demo.synthetic_ct import make_chest_ct

    collection = spec.patient.collection
    ct = make_chest_ct(spec.appearance, seed=spec.seed, variant=spec.variant)
    pairs = ct_datasets(spec, ct)
    first = pairs[0][0]
    folder = _series_dir(download, collection, spec.patient.patient_id, first)
    syntax = _TRANSFER_SYNTAX.get(collection, RLELossless)
    size = 0
    for ds, pixels in pairs:
        name = instance_file_name(int(ds.AcquisitionNumber), int(ds.InstanceNumber))
        size += write_dataset(ds, pixels, folder / name, transfer_syntax=syntax)
    annotations: tuple[Annotation, ...] = ()
    if collection == COLLECTION_1A:
        # pairs run from the top slice down; generator slice k is pairs[-1 - k]
        sop_uids = [str(ds.SOPInstanceUID) for ds, _ in reversed(pairs)]
        annotations = ct_annotations(
            spec, ct, study_uid=first.StudyInstanceUID, series_uid=first.SeriesInstanceUID,
            sop_uids=sop_uids,
        )  # fmt: skip
    clinical = clinical_row(
        spec, study_uid=first.StudyInstanceUID, exam_description=first.StudyDescription,
        image_count=len(pairs), modality="CT",
    )  # fmt: skip
    record = _record(collection, download, folder, first, len(pairs), size)
    return CaseResult(record, annotations, clinical)


def _radiograph_case(spec: RadiographStudySpec, download: Path) -> CaseResult:
    """Generate, write and label one radiograph study (runs in a worker process)."""
    from teachingfiles.demo.synthetic_radiograph import make_chest_radiograph

    rad = make_chest_radiograph(
        spec.appearance, spec.severity, seed=spec.seed, size=spec.size, view=spec.view,
        variant=spec.variant,
    )  # fmt: skip
    ds, pixels = radiograph_dataset(spec, rad)
    collection = spec.patient.collection
    folder = _series_dir(download, collection, spec.patient.patient_id, ds)
    name = instance_file_name(int(ds.AcquisitionNumber), int(ds.InstanceNumber))
    size = write_dataset(ds, pixels, folder / name)
    annotations = radiograph_annotations(spec, study_uid=ds.StudyInstanceUID)
    clinical = clinical_row(
        spec, study_uid=ds.StudyInstanceUID, exam_description=ds.StudyDescription,
        image_count=1, modality=spec.modality.value,
    )  # fmt: skip
    return CaseResult(_record(collection, download, folder, ds, 1, size), annotations, clinical)


def _real_case(image: RealImage, download: Path) -> CaseResult:
    """Copy one real file byte for byte into the NBIA layout."""
    source = image.path
    ds = pydicom.dcmread(source, stop_before_pixels=True)
    folder = _series_dir(download, COLLECTION_REAL, str(ds.PatientID), ds)
    name = instance_file_name(
        int(ds.get("AcquisitionNumber") or 1), int(ds.get("InstanceNumber") or 1)
    )
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, folder / name)
    size = (folder / name).stat().st_size
    return CaseResult(_record(COLLECTION_REAL, download, folder, ds, 1, size))


_Spec: TypeAlias = CtStudySpec | RadiographStudySpec | RealImage
_Task: TypeAlias = tuple[_Spec, Path]  # what to build, and the download folder it goes in


def _build_one(spec: _Spec, download: Path) -> CaseResult:
    """Build one study of any kind (the function the worker processes run)."""
    if isinstance(spec, CtStudySpec):
        return _ct_case(spec, download)
    if isinstance(spec, RadiographStudySpec):
        return _radiograph_case(spec, download)
    return _real_case(spec, download)


def _tasks(root: Path, subset: int | None) -> list[_Task]:
    """Every study to build, slowest first (CTs) so the two workers finish together."""
    tasks: list[_Task] = []

    def download(collection: str) -> Path:
        return root / f"manifest-{_MANIFEST_TS[collection]}"

    cts = ct_specs()
    for collection in (COLLECTION_1A, COLLECTION_1B):
        chosen = [s for s in cts if s.patient.collection == collection][:subset]
        tasks += [(s, download(collection)) for s in chosen]
    tasks += [(s, download(COLLECTION_1C)) for s in radiograph_specs()[:subset]]
    tasks += [(r, download(COLLECTION_REAL)) for r in REAL_IMAGES[:subset]]
    return tasks


def _run(tasks: Sequence[_Task], workers: int, progress: bool) -> list[CaseResult]:
    """Run the tasks (in ``workers`` processes when more than one); results in task order."""
    results: list[CaseResult | None] = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc="demo studies", unit="study", disable=not progress)
    with bar:
        if workers <= 1:
            for i, (spec, where) in enumerate(tasks):
                results[i] = _build_one(spec, where)
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures: dict[Future[CaseResult], int] = {
                    pool.submit(_build_one, spec, where): i for i, (spec, where) in enumerate(tasks)
                }
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.update()
    return [r for r in results if r is not None]


def _write_side_files(root: Path, results: Sequence[CaseResult]) -> None:
    """metadata.csv per download, .tcia manifests, MD.ai JSON, clinical sheets."""
    for collection in DEMO_COLLECTIONS:
        mine = [r for r in results if r.record.collection == collection]
        if not mine:
            continue
        ts = _MANIFEST_TS[collection]
        write_metadata_csv(
            [r.record.metadata_row() for r in mine], root / f"manifest-{ts}" / "metadata.csv"
        )
        manifest = TciaManifest(
            series_uids=tuple(r.record.series_uid for r in mine),
            databasket_id=f"manifest-{ts}.tcia",
        )
        write_tcia_manifest(manifest, root / f"{collection}.tcia")
        if collection in _MDAI_FILES:
            groups = (
                ricord_1a_label_groups()
                if collection == COLLECTION_1A
                else ricord_1c_label_groups()
            )
            project = mdai_project(
                collection, groups, [(r.record.study_uid, r.annotations) for r in mine]
            )
            write_mdai(project, root / "annotations" / _MDAI_FILES[collection])
        if collection in _CLINICAL_FILES:
            name, sheet = _CLINICAL_FILES[collection]
            path = root / "clinical" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            rows = [r.clinical for r in mine if r.clinical is not None]
            write_clinical_xlsx(rows, path, collection=collection, sheet=sheet)
            normalize_xlsx(path)


def _readme(results: Sequence[CaseResult]) -> str:
    """Fill in the root README from the template shipped beside this module."""
    template = Template((Path(__file__).with_name("README.demo.md")).read_text(encoding="utf-8"))
    counts = {c: sum(1 for r in results if r.record.collection == c) for c in DEMO_COLLECTIONS}
    real = "\n".join(
        f"| `{img.file_name}` | {img.package} | {img.what} | {img.origin} | {img.licence} |"
        for img in REAL_IMAGES
    )
    return template.substitute(
        version=__version__,
        n_1a=counts[COLLECTION_1A],
        n_1b=counts[COLLECTION_1B],
        n_1c=counts[COLLECTION_1C],
        n_real=counts[COLLECTION_REAL],
        real_images=real,
    )


def _summaries(results: Sequence[CaseResult]) -> tuple[CollectionSummary, ...]:
    out = []
    for collection in DEMO_COLLECTIONS:
        records = [r.record for r in results if r.record.collection == collection]
        if records:
            out.append(
                CollectionSummary(
                    name=collection,
                    patients=len({r.patient_id for r in records}),
                    studies=len({r.study_uid for r in records}),
                    series=len(records),
                    files=sum(r.files for r in records),
                    bytes=sum(r.size for r in records),
                )
            )
    return tuple(out)


def check_target(root: Path, force: bool = False) -> None:
    """Refuse to replace anything but a demo, an empty folder, or (with force) anything.

    Raises
    ------
    RepositoryError
        When ``root`` is a file or a non-empty folder without the demo marker.
    """
    if force or not (root.exists() or root.is_symlink()):
        return
    if root.is_dir() and ((root / DEMO_MARKER).exists() or not any(root.iterdir())):
        return
    what = "folder is not empty" if root.is_dir() else "path is a file"
    raise RepositoryError(
        f"{root}: the {what} and is not a teachingfiles demo repository (it has no "
        f"{DEMO_MARKER} file); choose a new or empty folder, or pass force=True "
        "(`teachingfiles demo build DIR --force`) to replace it"
    )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _clear_stale(root: Path) -> None:
    """Remove half-built folders beside ``root`` left by builds that died."""
    for stale in root.parent.glob(f".{root.name}.partial-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        try:
            os.kill(int(pid), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(stale, ignore_errors=True)
        except PermissionError:  # alive, but another user's
            continue


def build_demo(
    root: str | PathLike[str],
    *,
    workers: int | None = None,
    progress: bool = False,
    force: bool = False,
    _subset: int | None = None,
) -> DemoSummary:
    """Build the demo repository at ``root``.

    The demo is built in a hidden folder beside ``root`` and renamed into place
    when complete (with a ``.complete`` file written last), so a half-built demo
    is never mistaken for a whole one. An existing demo at ``root`` is replaced.

    Parameters
    ----------
    root
        The folder to create (or the demo to replace).
    workers
        Processes generating studies; default ``min(2, CPU count)``. 1 builds in
        this process.
    progress
        Show a progress bar on stderr.
    force
        Replace ``root`` even if it is a non-empty folder that is not a demo.
    _subset
        For tests: build at most this many studies per collection.

    Returns
    -------
    DemoSummary
        Collections with their patients, studies, series, files and bytes.

    Raises
    ------
    RepositoryError
        If ``root`` is a non-empty folder (or a file) that is not a demo and
        ``force`` is not set.
    """
    started = time.perf_counter()
    target = Path(root).absolute()
    check_target(target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    _clear_stale(target)
    partial = target.parent / f".{target.name}.partial-{os.getpid()}"
    _remove(partial)
    partial.mkdir()
    try:
        n_workers = workers if workers is not None else min(2, os.cpu_count() or 1)
        results = _run(_tasks(partial, _subset), max(1, n_workers), progress)
        _write_side_files(partial, results)
        (partial / "README.md").write_text(_readme(results), encoding="utf-8")
        if _subset is None:  # a subset lacks studies the teaching set refers to
            from teachingfiles.demo.teaching_set import write_demo_teaching_sets

            write_demo_teaching_sets(partial)
        (partial / DEMO_MARKER).write_text(
            "A teachingfiles demo repository; `teachingfiles demo build` may replace it.\n",
            encoding="utf-8",
        )
        (partial / _COMPLETE).write_text("ok\n", encoding="utf-8")
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        if target.exists() or target.is_symlink():
            target.rename(old)
        partial.rename(target)
        _remove(old)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return DemoSummary(target, _summaries(results), time.perf_counter() - started)
