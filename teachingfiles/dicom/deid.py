"""De-identification: the DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile.

Every attribute of Table E.1-1 gets the action the standard gives it, read from the
table shipped as data (:func:`annex_e`, edition in :data:`ANNEX_E_EDITION`), with
the options an educator needs (:class:`DeidOptions`):

- **Retain Longitudinal Temporal Information with Modified Dates**: every date of a
  patient moves by the same number of days (one shift per patient, from the keyed
  hash), so intervals between studies stay true; times are kept.
- **Clean Descriptors**: descriptions and comments are kept with the file's own
  identifying values, dates and long numbers blanked (see :func:`clean_text`).
- **Retain Patient Characteristics**: age, sex, size, weight and the like are kept.

UIDs are replaced by a keyed hash (HMAC-SHA-256 with the project secret) as
``2.25.<integer>``, so the same UID becomes the same new UID in every file, at any
depth of nesting and in every run with the same secret; references follow by
construction. PatientID and PatientName become a pseudonym from the same hash.
Private attributes are removed (with Retain Safe Private, the short list in
:data:`SAFE_PRIVATE` is kept). Sequences are walked to any depth. Patient Identity
Removed, De-identification Method and its Code Sequence (CID 7050) are recorded.

Images likely to carry burned-in text (:func:`burned_in_reason`) are held back
unless the educator blanks regions (``blank``) or confirms them. The mapping of old
to new identifiers goes to a separate audit file, never into the output. Pixel data
passes through untouched (it is neither decoded nor re-encoded) unless blanked.

Example
-------
>>> from teachingfiles.dicom.deid import DeidOptions, deidentify
>>> report = deidentify(["incoming/"], "deid/", secret=b"0123456789abcdef0123",
...                     options=DeidOptions.educator(), audit="deid.audit.json")
... # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from teachingfiles.dicom._deid_core import (
    ANNEX_E_EDITION,
    SAFE_PRIVATE,
    Deidentifier,
    DeidOptions,
    FileOutcome,
    burned_in_reason,
)
from teachingfiles.errors import UsageError

__all__ = [
    "ANNEX_E_EDITION",
    "SAFE_PRIVATE",
    "DeidOptions",
    "DeidReport",
    "Deidentifier",
    "FileOutcome",
    "burned_in_reason",
    "deidentify",
    "iter_files",
    "load_secret",
    "write_audit",
]


@dataclass
class DeidReport:
    """The outcome of a run (what :func:`deidentify` returns)."""

    outcomes: list[FileOutcome]
    edition: str
    options: list[str]
    audit: str | None = None

    def count(self, status: str) -> int:
        """How many files ended with this status."""
        return sum(1 for o in self.outcomes if o.status == status)

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts and the files not written, with reasons (no identifiers)."""
        return {
            "edition": self.edition,
            "options": self.options,
            "written": self.count("written"),
            "held": self.count("held"),
            "skipped": self.count("skipped"),
            "failed": self.count("failed"),
            "audit": self.audit,
            "not_written": [
                {"source": o.source, "status": o.status, "reason": o.reason}
                for o in self.outcomes
                if o.status != "written"
            ],
        }


# ---------------------------------------------------------------------- runs
def load_secret(path: str | PathLike[str] | None = None, *, create: bool = True) -> bytes:
    """Read the project secret (creating a random one, mode 0600, when missing).

    Without ``path``: ``$TEACHINGFILES_DEID_SECRET_FILE``, else
    ``~/.config/teachingfiles/deid-secret``. Keep the same secret for a project so
    that separate runs give the same UIDs and pseudonyms.
    """
    if path is None:
        env = os.environ.get("TEACHINGFILES_DEID_SECRET_FILE")
        path = env or Path.home() / ".config" / "teachingfiles" / "deid-secret"
    p = Path(path)
    if not p.exists():
        if not create:
            raise UsageError(f"{p}: no de-identification secret here; pass --secret-file")
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    secret = p.read_bytes().strip()
    if len(secret) < 16:
        raise UsageError(f"{p}: the secret is {len(secret)} bytes; it needs at least 16")
    return secret


def iter_files(sources: Iterable[str | PathLike[str]]) -> Iterator[Path]:
    """Every file under these files and folders, sorted per folder (hidden ones skipped)."""
    for source in sources:
        p = Path(source)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).parts
                if f.is_file() and not any(part.startswith(".") for part in rel):
                    yield f
        elif p.is_file():
            yield p
        else:
            raise UsageError(f"{p}: no such file or folder to de-identify")


_WORKER: dict[str, Any] = {}


def _init_worker(secret: bytes, options: DeidOptions, out_dir: str, kwargs: dict[str, Any]) -> None:
    _WORKER["deid"] = Deidentifier(secret, options)
    _WORKER["out_dir"] = out_dir
    _WORKER["kwargs"] = kwargs


def _work(batch: list[str]) -> list[FileOutcome]:
    deid: Deidentifier = _WORKER["deid"]
    return [deid.deidentify_file(s, _WORKER["out_dir"], **_WORKER["kwargs"]) for s in batch]


def deidentify(
    sources: Iterable[str | PathLike[str]],
    out_dir: str | PathLike[str],
    *,
    secret: bytes,
    options: DeidOptions | None = None,
    audit: str | PathLike[str] | None = None,
    confirm_burned_in: bool = False,
    blank: Sequence[tuple[int, int, int, int]] = (),
    workers: int = 1,
) -> DeidReport:
    """De-identify every file under ``sources`` into ``out_dir``.

    Parameters
    ----------
    sources
        Files and folders.
    out_dir
        Where the output goes, as ``<pseudonym>/<study>/<series>/<sop>.dcm``; no
        input name survives (folder names often carry names and dates).
    secret, options
        As for :class:`Deidentifier`.
    audit
        Where to write the old -> new mapping (JSON); must lie outside ``out_dir``.
    confirm_burned_in, blank
        As for :meth:`Deidentifier.deidentify_file`.
    workers
        Processes to use (files are independent; the keyed hash needs no sharing).
    """
    out = Path(out_dir)
    if audit is not None and Path(audit).resolve().is_relative_to(out.resolve()):
        raise UsageError(f"{audit}: the audit file must not be inside the output folder {out}")
    opts = options or DeidOptions()
    files = [str(f) for f in iter_files(sources)]
    out.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"confirm_burned_in": confirm_burned_in, "blank": tuple(blank)}
    outcomes: list[FileOutcome] = []
    if workers <= 1 or len(files) < 64:
        deid = Deidentifier(secret, opts)
        outcomes = [deid.deidentify_file(f, out, **kwargs) for f in files]
    else:
        size = max(16, min(256, len(files) // (workers * 8) or 1))
        batches = [files[i : i + size] for i in range(0, len(files), size)]
        init = (secret, opts, str(out), kwargs)
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=init) as ex:
            for done in ex.map(_work, batches):
                outcomes.extend(done)
    report = DeidReport(outcomes, ANNEX_E_EDITION, opts.enabled())
    if audit is not None:
        report.audit = str(write_audit(report, audit))
    return report


def write_audit(report: DeidReport, path: str | PathLike[str]) -> Path:
    """Write the mapping of old to new identifiers (keep it private, apart from the output)."""
    patients: dict[str, dict[str, Any]] = {}
    uids: dict[str, str] = {}
    files = []
    for o in report.outcomes:
        if o.patient:
            patients[o.patient["original_id"]] = {
                k: v for k, v in o.patient.items() if k != "original_id"
            }
        uids.update(o.uids)
        files.append(
            {"source": o.source, "status": o.status, "output": o.output, "reason": o.reason}
        )
    doc = {
        "profile": f"DICOM PS3.15 {report.edition} Annex E Basic Profile",
        "options": report.options,
        "patients": patients,
        "uids": uids,
        "files": files,
    }
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return p
