"""``teachingfiles push DIR URL``: upload a folder's DICOM files to a DICOMweb server."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from teachingfiles.commands.pull import TOKEN_ENV

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``push`` subcommand."""
    parser = subparsers.add_parser(
        "push",
        help="upload a folder's DICOM files to a DICOMweb server (STOW-RS)",
        description=(
            "Upload every .dcm file under DIR (hidden folders left out) to the DICOMweb "
            "server at URL with STOW-RS, e.g. to publish a teaching set's de-identified "
            "images. De-identify first: push sends the files as they are."
        ),
    )
    parser.add_argument("dir", metavar="DIR", help="folder of DICOM files")
    parser.add_argument("url", metavar="URL", help="DICOMweb root URL")
    parser.add_argument("--token", help=f"bearer token (default ${TOKEN_ENV})")
    parser.add_argument("--batch", type=int, default=16, help="instances per request")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*.dcm")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def run(args: argparse.Namespace) -> int:
    """Upload; print how many were stored; 1 if the server refused any."""
    root = Path(args.dir)
    if not root.is_dir():
        print(f"teachingfiles push: error: {root}: not a folder", file=sys.stderr)
        return 2
    files = _files(root)
    if not files:
        print(f"teachingfiles push: error: {root}: no .dcm files", file=sys.stderr)
        return 2
    token = args.token or os.environ.get(TOKEN_ENV) or None
    from teachingfiles.repository.dicomweb import DicomwebSource  # requests: only now

    source = DicomwebSource(args.url, token=token, timeout=args.timeout)
    report = source.store(files, batch=args.batch, progress=not args.no_progress)
    print(f"Stored {report.stored} of {len(files)} instances at {source.url}")
    for uid, reason in report.failed:
        print(f"  refused {uid}: {reason}")
    return 1 if report.failed else 0
