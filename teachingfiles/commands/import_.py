"""``teachingfiles import``: bring a bundle into a repository.

``teachingfiles import BUNDLE.zip REPO [--replace] [--no-index] [--json]`` checks the
archive first (no path traversal, absolute paths, links, oversize or too many
files, nothing the bundle index does not list, every checksum right), writes it to
``REPO/imported/<set id>/`` in one step, and indexes the repository so the cases
open at once. A refused bundle leaves the repository as it was.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``import`` subcommand."""
    p = subparsers.add_parser(
        "import",
        help="bring a teaching set bundle into a repository",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("bundle", type=Path, help="the bundle (zip)")
    p.add_argument("repo", type=Path, help="the repository folder (created if missing)")
    p.add_argument("--replace", action="store_true", help="replace an earlier import of it")
    p.add_argument("--no-index", action="store_true", help="do not index the repository")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from teachingfiles.cases.bundle import import_bundle

    report = import_bundle(args.bundle, args.repo, replace=args.replace)
    indexed = None
    if not args.no_index:
        from teachingfiles.repository import Repository

        with Repository.open(args.repo, index=True) as repo:
            indexed = len(repo.studies())
    summary = {
        "path": str(report.path),
        "set_id": report.set_id,
        "title": report.title,
        "files": report.files,
        "bytes": report.bytes,
        "manifest": str(report.manifest),
        "studies_in_repository": indexed,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{report.path}: {report.title!r}, {report.files} files")
        print(f"manifest: {report.manifest}")
    return 0
