"""Import a bundle into a repository, refusing anything it should not hold.

Every check runs before a byte lands in the repository; the files are then
written to a staging folder inside the repository, hashed while they are written
(the sizes a zip declares are not trusted), and the staging folder is renamed into
place only when every file matched. Any failure removes the staging folder.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import stat
import zipfile
from dataclasses import dataclass
from os import PathLike
from pathlib import Path, PurePosixPath
from typing import Any

from teachingfiles.errors import FormatError, UsageError

__all__ = ["BUNDLE_FORMAT", "BundleLimits", "ImportReport", "import_bundle"]

_INDEX = "bundle.json"
#: The format tag of ``bundle.json``; import refuses any other.
BUNDLE_FORMAT = "teachingfiles-bundle/1"
_ALLOWED_TOP = ("bundle.json", "manifest.yaml", "dicom", "annotations")


@dataclass(frozen=True)
class BundleLimits:
    """What an import accepts at most.

    Parameters
    ----------
    max_files
        Entries in the archive.
    max_bytes
        Uncompressed bytes in all.
    max_ratio
        Uncompressed / compressed size of one entry (a zip bomb squeezes far more).
    """

    max_files: int = 100_000
    max_bytes: int = 20 * 2**30
    max_ratio: float = 250.0


@dataclass
class ImportReport:
    """Where an imported bundle went."""

    path: Path
    set_id: str
    title: str
    files: int
    bytes: int
    manifest: Path


def _refuse(bundle: Path, message: str, entry: str | None = None) -> FormatError:
    where = f"entry {entry!r}: " if entry else ""
    return FormatError(f"{where}{message}; nothing was imported", path=bundle, field=entry)


def _check_name(bundle: Path, info: zipfile.ZipInfo) -> None:
    name = info.filename
    if not name or "\\" in name or "\0" in name:
        raise _refuse(bundle, "a name with a backslash or NUL is not a bundle path", name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _refuse(bundle, "absolute paths are refused", name)
    parts = PurePosixPath(name).parts
    if any(p in ("..", ".") for p in name.split("/")) or not parts:
        raise _refuse(bundle, "path traversal ('..') is refused", name)
    if name.endswith("/") or info.is_dir():
        raise _refuse(bundle, "folders are not listed in bundle.json", name)
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise _refuse(bundle, "links are refused", name)
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # devices, fifos, folders
        raise _refuse(bundle, "only regular files are accepted", name)
    if info.flag_bits & 0x1:
        raise _refuse(bundle, "encrypted entries are refused", name)
    if parts[0] not in _ALLOWED_TOP:
        raise _refuse(bundle, f"not a bundle file (expected one of {_ALLOWED_TOP})", name)


def _check_archive(bundle: Path, zf: zipfile.ZipFile, limits: BundleLimits) -> dict[str, Any]:
    infos = zf.infolist()
    if len(infos) > limits.max_files:
        raise _refuse(bundle, f"{len(infos)} entries, more than the limit of {limits.max_files}")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise _refuse(bundle, "the same name appears twice", dup)
    total = 0
    for info in infos:
        _check_name(bundle, info)
        total += info.file_size
        if info.file_size > 1024 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise _refuse(bundle, "compressed beyond any real file (a zip bomb?)", info.filename)
    if total > limits.max_bytes:
        raise _refuse(bundle, f"{total} bytes unpacked, more than the limit of {limits.max_bytes}")
    return _read_index(bundle, zf, names)


def _read_index(bundle: Path, zf: zipfile.ZipFile, names: list[str]) -> dict[str, Any]:
    if _INDEX not in names:
        raise _refuse(bundle, "no bundle.json: not a teachingfiles bundle")
    with zf.open(_INDEX) as fh:
        raw = fh.read(16 * 2**20 + 1)
    try:
        index = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _refuse(bundle, f"bundle.json is not JSON ({exc})", _INDEX) from exc
    if not isinstance(index, dict) or index.get("format") != BUNDLE_FORMAT:
        raise _refuse(bundle, f"bundle.json does not declare format {BUNDLE_FORMAT!r}", _INDEX)
    listed = index.get("files")
    if not isinstance(listed, dict):
        raise _refuse(bundle, "bundle.json has no 'files' mapping", _INDEX)
    present = set(names) - {_INDEX}
    extra = sorted(present - set(listed))
    if extra:
        raise _refuse(bundle, "not listed in bundle.json", extra[0])
    missing = sorted(set(listed) - present)
    if missing:
        raise _refuse(bundle, "listed in bundle.json but missing from the archive", missing[0])
    if "manifest.yaml" not in listed:
        raise _refuse(bundle, "no manifest.yaml")
    return index


def _extract(zf: zipfile.ZipFile, name: str, spec: Any, dest: Path, bundle: Path) -> int:
    size, digest = int(spec["size"]), str(spec["sha256"])
    h = hashlib.sha256()
    written = 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(name) as src, dest.open("xb") as out:
        while chunk := src.read(1 << 20):
            written += len(chunk)
            if written > size:
                raise _refuse(bundle, f"longer than the {size} bytes bundle.json lists", name)
            h.update(chunk)
            out.write(chunk)
    if written != size or h.hexdigest() != digest:
        raise _refuse(bundle, "its size or SHA-256 differs from bundle.json", name)
    return written


def import_bundle(
    bundle: str | PathLike[str],
    repo: str | PathLike[str],
    *,
    limits: BundleLimits | None = None,
    replace: bool = False,
) -> ImportReport:
    """Bring a bundle into the repository folder ``repo`` as ``imported/<set id>/``.

    Raises
    ------
    FormatError
        For anything the archive should not hold (the message names the entry and
        says nothing was imported); :class:`~teachingfiles.errors.ManifestError` for
        an invalid manifest.
    UsageError
        When ``imported/<set id>`` exists and ``replace`` is false.
    """
    from teachingfiles.cases.teaching_set import TeachingSet

    path = Path(bundle)
    lim = limits or BundleLimits()
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FormatError(f"not a zip archive ({exc}); nothing was imported", path=path) from exc
    with zf:
        index = _check_archive(path, zf, lim)
        text = zf.read("manifest.yaml").decode("utf-8")
        ts = TeachingSet.from_yaml(f"{path}!manifest.yaml", text=text)
        root = Path(repo)
        root.mkdir(parents=True, exist_ok=True)
        target = root / "imported" / ts.set_id
        if target.exists() and not replace:
            raise UsageError(
                f"{target} exists: this teaching set was imported before; pass replace=True "
                "(--replace) to replace it"
            )
        stage = root / ".teachingfiles" / f"import-{secrets.token_hex(6)}"
        stage.mkdir(parents=True)
        try:
            total = 0
            for name, spec in index["files"].items():
                total += _extract(zf, name, spec, stage / PurePosixPath(name), path)
            with zf.open(_INDEX) as src, (stage / _INDEX).open("xb") as out:
                shutil.copyfileobj(src, out)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                shutil.rmtree(target)
            stage.rename(target)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
    return ImportReport(
        path=target,
        set_id=ts.set_id,
        title=ts.title,
        files=len(index["files"]) + 1,
        bytes=total,
        manifest=target / "manifest.yaml",
    )
