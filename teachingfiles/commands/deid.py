"""``teachingfiles deid``: de-identify DICOM files (PS3.15 Annex E), or check that it worked.

``teachingfiles deid IN OUT [--educator | --shift-dates --keep-patient-characteristics
--clean-descriptors ...] [--secret-file F] [--audit F] [--confirm-burned-in]
[--blank X,Y,W,H ...] [--workers N] [--json]`` writes the de-identified copies of every
file under IN to OUT as ``<pseudonym>/<study>/<series>/<sop>.dcm`` and the mapping of
old to new identifiers to the audit file (default: ``OUT.audit.json`` beside OUT,
never inside it). Images that may carry burned-in text are held back and listed.

``teachingfiles deid --verify ORIGINAL OUT [same options] [--validate N] [--json]``
searches every element and the raw bytes of every file under OUT for the identifying
values of the files under ORIGINAL, and runs ``dciodvfy`` on N output files (default
all). Exit status 0 when clean, 1 when anything identifying was found (or a file
failed), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from teachingfiles.errors import UsageError

__all__ = ["register"]

_OPTION_FLAGS = (
    ("--shift-dates", "retain_modified_dates", "keep dates, shifted per patient (intervals kept)"),
    ("--keep-full-dates", "retain_full_dates", "keep dates unchanged"),
    ("--keep-patient-characteristics", "retain_patient_characteristics",
     "keep age, sex, size, weight, smoking and pregnancy status"),
    ("--clean-descriptors", "clean_descriptors",
     "keep descriptions and comments, cleaned of identifying values"),
    ("--keep-device-identity", "retain_device_identity", "keep station and serial numbers"),
    ("--keep-institution-identity", "retain_institution_identity", "keep institution"),
    ("--keep-uids", "retain_uids", "keep the original UIDs"),
    ("--keep-safe-private", "retain_safe_private", "keep the documented safe private tags"),
)  # fmt: skip


def register(subparsers: Any) -> None:
    """Add the ``deid`` subcommand."""
    p = subparsers.add_parser(
        "deid",
        help="de-identify DICOM files (PS3.15 Annex E) or --verify the result",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("source", type=Path, help="the files to de-identify (or, with --verify, "
                   "the originals)")  # fmt: skip
    p.add_argument("output", type=Path, help="the output folder")
    p.add_argument("--verify", action="store_true", help="check OUT against the originals")
    p.add_argument("--educator", action="store_true",
                   help="the teaching preset: --shift-dates --keep-patient-characteristics "
                   "--clean-descriptors")  # fmt: skip
    for flag, dest, text in _OPTION_FLAGS:
        p.add_argument(flag, dest=dest, action="store_true", help=text)
    p.add_argument("--secret-file", type=Path, default=None,
                   help="the project secret for UIDs and pseudonyms (default: "
                   "$TEACHINGFILES_DEID_SECRET_FILE or ~/.config/teachingfiles/deid-secret, "
                   "created if missing)")  # fmt: skip
    p.add_argument("--audit", type=Path, default=None, help="where the mapping goes")
    p.add_argument(
        "--confirm-burned-in",
        action="store_true",
        help="write images flagged for burned-in text as they are (you checked them)",
    )
    p.add_argument(
        "--blank",
        action="append",
        default=[],
        metavar="X,Y,W,H",
        help="blank this pixel rectangle in flagged images (repeatable)",
    )
    p.add_argument("--workers", type=int, default=1, help="processes to use")
    p.add_argument(
        "--validate",
        type=int,
        default=-1,
        help="with --verify: run dciodvfy on this many files (-1: all, 0: none)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_run)


def _options(args: argparse.Namespace) -> Any:
    from teachingfiles.dicom.deid import DeidOptions

    chosen = {dest: bool(getattr(args, dest)) for _, dest, _ in _OPTION_FLAGS}
    if args.educator:
        preset = DeidOptions.educator()
        chosen = {k: v or getattr(preset, k) for k, v in chosen.items()}
    return DeidOptions(**chosen)


def _blank(texts: list[str]) -> list[tuple[int, int, int, int]]:
    regions = []
    for text in texts:
        parts = text.split(",")
        if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
            raise UsageError(f"--blank {text!r}: expected X,Y,W,H in pixels, e.g. 0,0,512,40")
        x, y, w, h = (int(p) for p in parts)
        regions.append((x, y, w, h))
    return regions


def _run(args: argparse.Namespace) -> int:
    options = _options(args)
    if args.verify:
        return _verify(args, options)
    from teachingfiles.dicom.deid import deidentify, load_secret

    audit = args.audit or args.output.with_name(args.output.name + ".audit.json")
    report = deidentify(
        [args.source],
        args.output,
        secret=load_secret(args.secret_file),
        options=options,
        audit=audit,
        confirm_burned_in=args.confirm_burned_in,
        blank=_blank(args.blank),
        workers=args.workers,
    )
    summary = report.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{args.output}: {summary['written']} written, {summary['held']} held back, "
            f"{summary['skipped']} skipped, {summary['failed']} failed "
            f"(PS3.15 {summary['edition']}; options: {', '.join(summary['options']) or 'none'})"
        )
        print(f"audit (keep private, apart from the output): {summary['audit']}")
        for item in summary["not_written"]:
            print(f"  {item['status']}: {item['source']}: {item['reason']}", file=sys.stderr)
    return 1 if summary["failed"] else 0


def _verify(args: argparse.Namespace, options: Any) -> int:
    from teachingfiles.dicom.phi_check import verify

    report = verify([args.source], [args.output], options=options, validate=args.validate)
    summary = report.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{args.output}: {summary['files']} files checked against {summary['originals']} "
            f"originals: {summary['phi_hits']} identifying values found, "
            f"{summary['dciodvfy_errors']} dciodvfy errors in {summary['dciodvfy_checked']} files"
        )
        for hit in report.hits[:50]:
            print(f"  PHI: {hit.file}: {hit.where}: {hit.value!r} (from {hit.source})")
        for path, errors in summary["dciodvfy"].items():
            for line in errors[:5]:
                print(f"  dciodvfy: {path}: {line}")
    return 0 if report.clean else 1
