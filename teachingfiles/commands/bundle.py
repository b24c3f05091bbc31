"""``teachingfiles bundle``: publish a teaching set as one zip others can import.

``teachingfiles bundle SET.yaml OUT.zip [--repo DIR] [--secret-file F]
[--confirm-burned-in] [--json]`` writes the manifest, the de-identified DICOM the
cases use (PS3.15 Annex E with dates shifted per patient, patient characteristics
kept, descriptors cleaned), the annotations as MD.ai JSON and as DICOM SEG, and an
index of every file with its SHA-256. The old -> new mapping goes to
``OUT.zip.audit.json``, never into the bundle. Import it with ``teachingfiles import``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``bundle`` subcommand."""
    p = subparsers.add_parser(
        "bundle",
        help="write a teaching set and its de-identified images as a zip bundle",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("manifest", type=Path, help="the teaching set (YAML)")
    p.add_argument("output", type=Path, help="the zip to write")
    p.add_argument("--repo", type=Path, default=None,
                   help="the repository (default: the folder above teaching-sets/)")  # fmt: skip
    p.add_argument("--secret-file", type=Path, default=None,
                   help="the project de-identification secret (as for deid)")  # fmt: skip
    p.add_argument("--confirm-burned-in", action="store_true",
                   help="include images flagged for burned-in text (you checked them)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from teachingfiles.cases.bundle import write_bundle
    from teachingfiles.dicom.deid import load_secret

    report = write_bundle(
        args.manifest,
        args.output,
        secret=load_secret(args.secret_file),
        repo=args.repo,
        confirm_burned_in=args.confirm_burned_in,
    )
    summary = {
        "bundle": str(report.path),
        "files": report.files,
        "studies": report.studies,
        "images": report.images,
        "annotations": report.annotations,
        "segmentations": report.segmentations,
        "audit": str(report.audit),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{report.path}: {report.studies} studies, {report.images} images, "
            f"{report.annotations} annotations ({report.segmentations} DICOM SEG)"
        )
        print(f"audit (keep private, apart from the bundle): {report.audit}")
    return 0
