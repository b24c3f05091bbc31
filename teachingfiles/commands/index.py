"""``teachingfiles index DIR``: scan a folder of DICOM files into its catalog."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the catalog (SQLAlchemy, pydicom) loads only when the command runs
    from teachingfiles.repository import IndexReport

__all__ = ["format_report", "register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``index`` subcommand."""
    parser = subparsers.add_parser(
        "index",
        help="scan a folder of DICOM files into its catalog",
        description=(
            "Scan every file under DIR (a TCIA/NBIA download, an IDC download, a PACS "
            "export, the demo, a flat folder) into a SQLite catalog next to the data, "
            "merging metadata.csv, MD.ai annotation JSON and clinical sheets found "
            "anywhere under DIR. A second run reads only new and changed files. Files "
            "that cannot be used are listed with the reason; the exit status stays 0 "
            "unless --strict is given."
        ),
    )
    parser.add_argument("dir", metavar="DIR", help="the folder to index")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--catalog",
        metavar="PATH",
        help="the catalog file (default DIR/.teachingfiles/catalog.sqlite)",
    )
    parser.add_argument(
        "--workers", type=int, metavar="N", help="header-reading processes (default 2)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 if any file was skipped"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Index ``args.dir``; print the summary (or JSON); return the exit status."""
    if args.workers is not None and args.workers < 1:
        print("teachingfiles index: error: --workers must be 1 or more", file=sys.stderr)
        return 2
    from teachingfiles.repository import Repository

    with Repository.open(args.dir, catalog=args.catalog, index=False) as repo:
        report = repo.index(progress=not args.no_progress, workers=args.workers)
    if args.json:
        print(json.dumps(report.as_dict(), indent=1))
    else:
        print(format_report(report))
    return 1 if args.strict and report.skipped else 0


def format_report(report: IndexReport, *, max_skipped: int = 20) -> str:
    """Format a readable summary: totals, a table of collections, the skipped files."""
    lines = [
        (
            f"Indexed {report.root} in {report.seconds:.2f} s "
            f"({report.new} new, {report.changed} changed, {report.unchanged} unchanged, "
            f"{report.removed} removed files)"
        ),
        f"Catalog: {report.catalog}",
        "",
    ]
    header = ("collection", "patients", "studies", "series", "instances", "annotations")
    rows = [
        (c.name, c.patients, c.studies, c.series, c.instances, c.annotations)
        for c in report.collections
    ]
    rows.append(
        ("total", report.patients, report.studies, report.series, report.instances,
         report.annotations)
    )  # fmt: skip
    width = max(len(header[0]), *(len(str(r[0])) for r in rows))
    lines.append(f"{header[0]:<{width}}  " + "  ".join(f"{h:>11}" for h in header[1:]))
    lines.extend(f"{r[0]!s:<{width}}  " + "  ".join(f"{v:>11}" for v in r[1:]) for r in rows)
    if report.skipped:
        lines += ["", f"Skipped {len(report.skipped)} file(s):"]
        for s in report.skipped[:max_skipped]:
            lines.append(f"  {s.path}: {s.reason}")
        if len(report.skipped) > max_skipped:
            lines.append(f"  ... and {len(report.skipped) - max_skipped} more (see --json)")
    return "\n".join(lines)
