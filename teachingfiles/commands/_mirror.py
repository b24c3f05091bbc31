"""Mirror a DICOMweb server into a local repository folder, for ``teachingfiles serve``.

The dashboards read a folder (its catalog, thumbnails, volumes), so serving a
DICOMweb URL first pulls the server into a folder with the pull machinery
(:func:`~teachingfiles.repository.pull.pull_dicomweb`: tqdm progress, a resumable
instance cache keyed by SOP Instance UID, the NBIA layout), then indexes it. The
folder defaults to one per server under the user's cache::

    $TEACHINGFILES_CACHE or $XDG_CACHE_HOME/teachingfiles or ~/.cache/teachingfiles
        remote/<host>-<port>-<path>/      e.g. remote/127.0.0.1-8042-dicom-web/

(a ``.tcia`` manifest goes to ``remote/tcia-<manifest name>/``), so a second serve
of the same source reuses it: series already complete in the cache
are not fetched again, only the series the server gained since (and the
missing instances of a series whose download broke off).
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

from teachingfiles.errors import NotFoundError, RepositoryError, UsageError

__all__ = ["is_url", "mirror_dicomweb", "mirror_dir", "mirror_tcia"]


def is_url(text: str) -> bool:
    """Return whether ``text`` looks like a URL (``scheme://...``) rather than a folder."""
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text) is not None


def mirror_dir(url: str) -> Path:
    """Return the default mirror folder of a DICOMweb server (see the module docstring).

    Examples
    --------
    >>> mirror_dir("http://127.0.0.1:8042/dicom-web").name
    '127.0.0.1-8042-dicom-web'
    """
    from teachingfiles.repository.cache import default_cache_root

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    words = [parts.hostname or "local", str(port), *parts.path.split("/")]
    slug = "-".join(w for w in (re.sub(r"[^A-Za-z0-9._-]+", "_", w) for w in words) if w)
    return default_cache_root() / "remote" / slug


def _has_catalog(root: Path) -> bool:
    return any(root.glob("manifest-*/metadata.csv"))


def mirror_dicomweb(
    url: str,
    dest: str | Path | None = None,
    *,
    token: str | None = None,
    progress: bool = True,
) -> Path:
    """Pull every series of a DICOMweb server into a folder, index it, return the folder.

    Parameters
    ----------
    url
        The DICOMweb root, e.g. ``http://127.0.0.1:8042/dicom-web``.
    dest
        The mirror folder (default :func:`mirror_dir`).
    token
        A bearer token for servers that want one.
    progress
        Show tqdm progress bars (on stderr) while series download.

    Raises
    ------
    RepositoryError
        If the server cannot be reached or refuses (401/403) and there is no earlier
        mirror to fall back on; the message names the URL and what to fix.
    UsageError
        If the server holds no series at all.
    """
    from teachingfiles.repository import Repository
    from teachingfiles.repository.dicomweb import DicomwebSource
    from teachingfiles.repository.pull import CACHE_SUBDIR, pull_dicomweb

    root = (Path(dest) if dest is not None else mirror_dir(url)).expanduser().resolve()
    fresh = not root.exists()
    print(f"Mirroring {url} into {root} ...", flush=True)
    try:
        # two retries: a dead server is reported in ~2 s; a rerun resumes a broken mirror
        source = DicomwebSource(url, token=token, cache=root / CACHE_SUBDIR, retries=2)
        report = pull_dicomweb(source, root, progress=progress)
    except (NotFoundError, RepositoryError) as exc:
        if fresh:  # leave no empty mirror behind
            shutil.rmtree(root, ignore_errors=True)
        if isinstance(exc, NotFoundError):
            raise UsageError(
                f"--repository {url}: the server holds no series to serve; load studies "
                "into it, or give the DICOMweb root of another server"
            ) from exc
        if not _has_catalog(root):
            raise RepositoryError(
                f"--repository: {exc} Nothing was mirrored (to serve a local folder "
                "instead: --repository DIR)"
            ) from exc
        print(
            f"warning: {exc}\nServing the earlier mirror in {root} (it may be out of date).",
            file=sys.stderr,
            flush=True,
        )
    else:
        print(report.format().splitlines()[0], flush=True)
        for uid, reason in report.failed:
            print(f"warning: series {uid} not mirrored: {reason}", file=sys.stderr, flush=True)
    Repository.open(root, index=True).close()  # catalog what arrived (new files only)
    if not any((root / "teaching-sets").glob("*.y*ml")):
        print(
            f"The mirror holds images only: put teaching sets (YAML) in {root / 'teaching-sets'} "
            "for the quiz dashboard.",
            flush=True,
        )
    return root


def mirror_tcia(
    manifest: str | Path,
    dest: str | Path | None = None,
    *,
    api: str | None = None,
    token: str | None = None,
    progress: bool = True,
) -> Path:
    """Download the series of a TCIA ``.tcia`` manifest into a folder, index it, return it.

    Parameters
    ----------
    manifest
        The manifest file (NBIA Data Retriever format).
    dest
        The mirror folder (default ``remote/tcia-<manifest name>`` in the user cache).
    api
        The NBIA REST API root (default: TCIA's public API).
    token
        A bearer token for restricted collections.
    progress
        Show tqdm progress bars (on stderr).

    Raises
    ------
    RepositoryError
        If the API cannot be reached and no series arrived; the message says what to fix.
    """
    from teachingfiles.repository import Repository
    from teachingfiles.repository.cache import default_cache_root
    from teachingfiles.repository.pull import pull_tcia
    from teachingfiles.repository.tcia import NBIA_API, NbiaClient

    path = Path(manifest).expanduser().resolve()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", path.stem)
    default = default_cache_root() / "remote" / f"tcia-{slug}"
    root = (Path(dest) if dest is not None else default).expanduser().resolve()
    print(f"Downloading the series of {path} into {root} ...", flush=True)
    client = NbiaClient(api or NBIA_API, token=token, retries=2)
    try:
        report = pull_tcia(path, root, client=client, progress=progress)
    except RepositoryError as exc:
        if not _has_catalog(root):
            raise RepositoryError(
                f"--repository {path}: {exc} Nothing was downloaded (to serve a local "
                "folder instead: --repository DIR)"
            ) from exc
        print(f"warning: {exc}\nServing the earlier download in {root}.", file=sys.stderr)
    else:
        print(report.format().splitlines()[0], flush=True)
        for uid, reason in report.failed:
            print(f"warning: series {uid} not downloaded: {reason}", file=sys.stderr, flush=True)
    Repository.open(root, index=True).close()
    return root
