"""Walking a folder, telling what changed, reading headers in parallel, filling the catalog.

Any layout is accepted (a TCIA/NBIA download, the IDC layout, a PACS export, a
flat folder): every file is looked at, with or without ``.dcm``. Hidden files and
folders (names starting with ``.``, such as the catalog's own ``.teachingfiles``)
are left out. A file whose size and mtime (ns) match the catalog is not read again.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import sqlite3
import stat as stat_module
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, delete, insert, select
from tqdm import tqdm

from teachingfiles.dicom.headers import DicomHeader, read_header
from teachingfiles.errors import DicomError, MissingPixelDataError
from teachingfiles.repository import catalog as cat
from teachingfiles.repository.sidecars import merge_side_files, resolve_collections, side_kind

__all__ = ["FileStat", "ScanResult", "read_batch", "read_rows", "scan", "walk"]

_CHUNK = 256
_FIRST_BLOCK = 16384  # what read_header reads first
_PREFETCH = hasattr(os, "posix_fadvise")
_IN_PROCESS_BELOW = 400  # fewer candidate files than this: no worker processes


class FileStat(NamedTuple):
    """A file under the root: its path relative to the root, size and mtime in ns."""

    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class ScanResult:
    """Counts of one scan (the catalog holds the rest)."""

    new: int
    changed: int
    unchanged: int
    removed: int
    side_files: tuple[tuple[str, str], ...]
    modified: bool = True  # whether the catalog changed at all


_Row = tuple[int, int, str, str, str | None]  # size, mtime_ns, status, path, kind
_Known = dict[str, _Row]


def walk(root: Path) -> list[FileStat]:
    """Every regular, non-hidden file under ``root``, with one ``stat`` each.

    Symbolic links to files are followed, links to folders are not. Each folder is
    opened once and its files are stat'ed relative to it (``dir_fd``), which is
    cheaper than resolving every full path.
    """
    return _walk(root, {})[0]


def _walk(root: Path, known: Mapping[str, _Row]) -> tuple[list[FileStat], int]:
    """Walk as :func:`walk` does, leaving out indexed files that have not changed.

    A file the catalog ``known`` holds as an instance with the same size and
    mtime_ns is only counted: a re-index of an unchanged tree is mostly this walk,
    so it builds nothing for such files. Returns the other files and that count.
    """
    out: list[FileStat] = []
    same = 0
    stack = [(str(root), "")]
    is_regular = stat_module.S_ISREG
    while stack:
        top, prefix = stack.pop()
        try:
            fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    name = entry.name
                    if name[0] == ".":
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append((f"{top}/{name}", f"{prefix}{name}/"))
                            continue
                        st = os.stat(name, dir_fd=fd)
                    except OSError:
                        continue
                    if is_regular(st.st_mode):
                        path = prefix + name
                        old = known.get(path)
                        if (
                            old is not None
                            and old[1] == st.st_mtime_ns
                            and old[0] == st.st_size
                            and old[2] == "instance"
                        ):
                            same += 1
                            continue
                        out.append(FileStat(path, st.st_size, st.st_mtime_ns))
        finally:
            os.close(fd)
    return out, same


def _skip_kind(exc: DicomError) -> str:
    if isinstance(exc, MissingPixelDataError):
        return "no-pixel-data"
    reason = exc.reason
    for prefix, kind in (("empty", "empty"), ("not DICOM", "not-dicom"),
                         ("truncated", "truncated"), ("cannot be read", "unreadable")):  # fmt: skip
        if reason.startswith(prefix):
            return kind
    return "broken-header"


def read_batch(
    root: str, batch: Sequence[tuple[str, int, int]]
) -> list[tuple[str, int, int, DicomHeader | None, str | None, str | None]]:
    """Read the headers of ``(path, size, mtime_ns)`` files; runs in a worker process.

    Returns ``(path, size, mtime_ns, header, skip kind, reason)`` for each file; the
    header is ``None`` (and kind and reason say why) for a file that is skipped.
    """
    out: list[tuple[str, int, int, DicomHeader | None, str | None, str | None]] = []
    if _PREFETCH:
        _prefetch(root, batch)
    for rel, size, mtime in batch:
        if rel.rsplit("/", 1)[-1].upper() == "DICOMDIR":
            out.append((rel, size, mtime, None, "dicomdir",
                        "DICOMDIR: a media directory index, not an image"))  # fmt: skip
            continue
        try:
            header = read_header(os.path.join(root, rel), size=size)  # noqa: PTH118 - hot loop
        except DicomError as exc:
            out.append((rel, size, mtime, None, _skip_kind(exc), exc.reason))
            continue
        except Exception as exc:  # a reader bug must not stop an import: report it
            reason = f"broken header ({type(exc).__name__}: {exc})"
            out.append((rel, size, mtime, None, "broken-header", reason))
            continue
        out.append((rel, size, mtime, header, None, None))
    return out


def _prefetch(root: str, batch: Sequence[tuple[str, int, int]]) -> None:
    """Ask the kernel to start reading the first block of every file of the batch.

    On a cold cache this turns one-at-a-time reads into many in flight at once;
    on a warm one it costs an open and a close per file.
    """
    for rel, _size, _mtime in batch:
        try:
            fd = os.open(f"{root}/{rel}", os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, _FIRST_BLOCK, os.POSIX_FADV_WILLNEED)
        finally:
            os.close(fd)


def read_rows(root: str, batch: Sequence[tuple[str, int, int]]) -> dict[str, list[dict[str, Any]]]:
    """Read a chunk and turn it into catalog rows; runs in a worker process.

    Building the rows here keeps the main process (which inserts them) light; the
    patient, study and series rows are de-duplicated within the chunk.
    """
    return _rows(read_batch(root, batch))


def _chunks(items: Sequence[FileStat], size: int) -> Iterator[list[tuple[str, int, int]]]:
    for i in range(0, len(items), size):
        yield [(f.path, f.size, f.mtime_ns) for f in items[i : i + size]]


@functools.lru_cache(maxsize=4096)  # spacing, orientation and windows repeat across a series
def _multi(values: tuple[float, ...] | None) -> str | None:
    return None if values is None else "\\".join(map(repr, values))


def _rows(results: Sequence[tuple[str, int, int, DicomHeader | None, str | None, str | None]]
          ) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    files: list[dict[str, Any]] = []
    inst: list[dict[str, Any]] = []
    pats: list[dict[str, Any]] = []
    studs: list[dict[str, Any]] = []
    sers: list[dict[str, Any]] = []
    for rel, size, mtime, h, kind, reason in results:
        if h is None or not (h.series_uid and h.study_uid):
            if h is not None:  # an image without the UIDs that place it
                kind, reason = "broken-header", "no StudyInstanceUID or SeriesInstanceUID"
            files.append({"path": rel, "size": size, "mtime_ns": mtime, "status": "skipped",
                          "kind": kind, "reason": reason})  # fmt: skip
            continue
        files.append({"path": rel, "size": size, "mtime_ns": mtime, "status": "instance",
                      "kind": None, "reason": None})  # fmt: skip
        inst.append(
            {"path": rel, "sop_instance_uid": h.sop_instance_uid, "series_uid": h.series_uid,
             "sop_class_uid": h.sop_class_uid, "transfer_syntax": h.transfer_syntax,
             "file_size": size, "mtime_ns": mtime, "instance_number": h.instance_number,
             "rows": h.rows, "columns": h.columns, "number_of_frames": h.number_of_frames,
             "samples_per_pixel": h.samples_per_pixel,
             "photometric_interpretation": h.photometric_interpretation,
             "bits_allocated": h.bits_allocated, "bits_stored": h.bits_stored,
             "pixel_representation": h.pixel_representation,
             "pixel_spacing": _multi(h.pixel_spacing),
             "imager_pixel_spacing": _multi(h.imager_pixel_spacing),
             "slice_thickness": h.slice_thickness, "slice_location": h.slice_location,
             "image_position": _multi(h.image_position),
             "image_orientation": _multi(h.image_orientation),
             "window_center": _multi(h.window_center), "window_width": _multi(h.window_width),
             "rescale_intercept": h.rescale_intercept, "rescale_slope": h.rescale_slope,
             "view_position": h.view_position, "pixel_tag": h.pixel_tag,
             "pixel_offset": h.pixel_offset, "pixel_length": h.pixel_length}
        )  # fmt: skip
        pid = h.patient_id or "(no PatientID)"
        pats.append({"patient_id": pid, "patient_name": h.patient_name, "sex": h.patient_sex})
        studs.append(
            {"study_uid": h.study_uid, "patient_id": pid, "study_date": h.study_date,
             "study_time": h.study_time, "description": h.study_description,
             "accession_number": h.accession_number, "patient_age": h.patient_age,
             "institution_name": h.institution_name}
        )  # fmt: skip
        sers.append(
            {"series_uid": h.series_uid, "study_uid": h.study_uid, "modality": h.modality,
             "description": h.series_description, "series_number": h.series_number,
             "series_date": h.series_date, "body_part": h.body_part,
             "manufacturer": h.manufacturer, "model_name": h.model_name,
             "frame_of_reference_uid": h.frame_of_reference_uid,
             "tcia_collection": h.tcia_collection, "patient_id": pid}
        )  # fmt: skip
    return {
        "files": files,
        "instances": inst,
        "patients": _unique(pats, "patient_id"),
        "studies": _unique(studs, "study_uid"),
        "series": _unique(sers, "series_uid"),
    }


def _unique(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return list({row[key]: row for row in reversed(rows)}.values())  # the first one wins


def _store(conn: Connection, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Insert one batch with executemany (SQLAlchemy Core) in the caller's transaction."""
    for name, table, prefix in (("files", cat.files, "OR REPLACE"),
                                ("instances", cat.instances, "OR REPLACE"),
                                ("patients", cat.patients, "OR IGNORE"),
                                ("studies", cat.studies, "OR IGNORE"),
                                ("series", cat.series, "OR IGNORE")):  # fmt: skip
        if rows[name]:
            conn.execute(insert(table).prefix_with(prefix), rows[name])


def _drop(conn: Connection, paths: Sequence[str]) -> None:
    for i in range(0, len(paths), 500):
        part = list(paths[i : i + 500])
        conn.execute(delete(cat.instances).where(cat.instances.c.path.in_(part)))
        conn.execute(delete(cat.files).where(cat.files.c.path.in_(part)))


def _prune(conn: Connection) -> None:
    i, s, st, p = cat.instances, cat.series, cat.studies, cat.patients
    conn.execute(delete(s).where(s.c.series_uid.not_in(select(i.c.series_uid).distinct())))
    conn.execute(delete(st).where(st.c.study_uid.not_in(select(s.c.study_uid).distinct())))
    conn.execute(delete(p).where(p.c.patient_id.not_in(select(st.c.patient_id).distinct())))


def _executor(workers: int) -> Executor:
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx)


def scan(
    engine: Engine,
    root: Path,
    *,
    workers: int | None = None,
    progress: bool = False,
    exclude: Sequence[Path] = (),
) -> ScanResult:
    """Bring the catalog in line with the files under ``root``.

    Unchanged files (same size and mtime_ns) are not read; new and changed ones are
    read (in ``workers`` processes, default ``min(2, cpu count)``, in chunks of a
    few hundred paths) and stored one transaction per chunk; removed ones are
    dropped. Side files are merged again whenever one of them changed. Files in
    ``exclude`` (the catalog itself when it lies under the root) are left out.
    """
    known = _known_files(engine)
    skip = _excluded(root, exclude)
    others, same = _walk(root, known)
    on_disk = [f for f in others if f.path not in skip]
    plan = _compare(on_disk, known, same, root)
    todo, side, side_changed = plan.todo, plan.side, plan.side_changed
    new, changed, unchanged, removed = plan.new, plan.changed, plan.unchanged, plan.removed
    stale = removed + [f.path for f in todo if f.path in known]
    if stale:
        with engine.begin() as conn:
            _drop(conn, stale)
    _read_all(engine, root, todo, workers=workers, progress=progress)
    recorded = tuple((r[3], r[4] or "") for r in known.values() if r[2] == "side")
    merge = side_changed or bool(side and not recorded)
    if not (removed or todo or merge):  # nothing to write
        return ScanResult(new, changed, unchanged, 0, recorded, modified=False)
    with engine.begin() as conn:
        if removed or todo:
            _prune(conn)
        if merge:
            _merge(conn, root, side, {f.path: f for f in on_disk})
        if removed or todo or merge:
            resolve_collections(conn)
        used = _side_files(conn)
    return ScanResult(new, changed, unchanged, len(removed), used, modified=True)


def _known_files(engine: Engine) -> _Known:
    """Path -> (size, mtime_ns, status, path, kind) of every file the catalog knows.

    Read as the database's own row tuples through a read-only connection of its
    own: building SQLAlchemy rows, or new tuples, for every file costs more than
    the query itself on a large catalog, and a re-index of an unchanged tree is
    mostly this and the walk.
    """
    database = engine.url.database
    ft = cat.files
    query = select(ft.c.size, ft.c.mtime_ns, ft.c.status, ft.c.path, ft.c.kind)
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        with engine.connect() as conn:
            return {r[3]: (r[0], r[1], r[2], r[3], r[4]) for r in conn.execute(query)}
    conn_ro = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows: list[_Row] = conn_ro.execute(_KNOWN_SQL).fetchall()
    finally:
        conn_ro.close()
    return {r[3]: r for r in rows}


_KNOWN_SQL = f"SELECT size, mtime_ns, status, path, kind FROM {cat.files.name}"


def _excluded(root: Path, exclude: Sequence[Path]) -> set[str]:
    skip: set[str] = set()
    for path in exclude:
        if path.is_relative_to(root):
            rel = path.relative_to(root).as_posix()
            skip.update(rel + end for end in ("", "-wal", "-shm", "-journal"))
    return skip


@dataclass
class _Plan:
    """What a scan has to do, from comparing the disk with the catalog."""

    todo: list[FileStat] = field(default_factory=list)  # DICOM candidates to read
    side: list[tuple[str, str]] = field(default_factory=list)  # every side file and kind
    side_changed: bool = False
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)


def _compare(on_disk: list[FileStat], known: _Known, unchanged: int, root: Path) -> _Plan:
    """Plan the scan from the files that are not unchanged instances.

    ``unchanged`` counts the unchanged instances :func:`_walk` left out; when the
    catalog knows more files than were seen, the tree is walked again to name the
    removed ones (rare, and only then).
    """
    plan = _Plan(unchanged=unchanged)
    seen_known = unchanged
    for stat in on_disk:
        old = known.get(stat.path)
        seen_known += old is not None
        same = old is not None and old[0] == stat.size and old[1] == stat.mtime_ns
        kind = side_kind(stat.path)
        if old is None:
            plan.new += 1
        elif same:
            plan.unchanged += 1
        else:
            plan.changed += 1
        if kind is not None:
            plan.side.append((stat.path, kind))
            plan.side_changed |= not same
        elif not same:
            plan.todo.append(stat)
    if seen_known < len(known):
        seen = {f.path for f in walk(root)}
        plan.removed = [p for p in known if p not in seen]
    plan.side_changed |= any(known[p][2] == "side" or side_kind(p) for p in plan.removed)
    return plan


def _side_files(conn: Connection) -> tuple[tuple[str, str], ...]:
    f = cat.files
    rows = conn.execute(select(f.c.path, f.c.kind).where(f.c.status == "side")).all()
    return tuple((p, k) for p, k in rows)


def _merge(
    conn: Connection, root: Path, side: list[tuple[str, str]], stats: dict[str, FileStat]
) -> None:
    used, refused = merge_side_files(conn, root, side)
    paths = [p for p, _ in side]
    for i in range(0, len(paths), 500):
        conn.execute(delete(cat.files).where(cat.files.c.path.in_(paths[i : i + 500])))
    rows = [{"path": p, "size": stats[p].size, "mtime_ns": stats[p].mtime_ns,
             "status": "side", "kind": what, "reason": None} for p, what in used]  # fmt: skip
    rows += [{"path": p, "size": stats[p].size, "mtime_ns": stats[p].mtime_ns,
              "status": "skipped", "kind": kind, "reason": reason}
             for p, kind, reason in refused]  # fmt: skip
    if rows:
        conn.execute(insert(cat.files), rows)


def _read_all(
    engine: Engine, root: Path, todo: list[FileStat], *, workers: int | None, progress: bool
) -> None:
    if not todo:
        return
    n_workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    show = progress and sys.stderr.isatty()
    bar = tqdm(total=len(todo), unit="file", desc="indexing", disable=not show, file=sys.stderr)
    chunks = list(_chunks(todo, _CHUNK))
    try:
        if n_workers <= 1 or len(todo) < _IN_PROCESS_BELOW:
            results: Iterator[Any] = (read_rows(str(root), c) for c in chunks)
            _consume(engine, results, bar)
        else:
            with _executor(n_workers) as pool:
                results = pool.map(read_rows, [str(root)] * len(chunks), chunks)
                _consume(engine, results, bar)
    finally:
        bar.close()


def _consume(engine: Engine, results: Iterator[Any], bar: tqdm[Any]) -> None:
    for rows in results:
        with engine.begin() as conn:
            _store(conn, rows)
        bar.update(len(rows["files"]))
