"""``teachingfiles demo``: build the demo repository and show what it holds.

``teachingfiles demo`` is the main job on a fresh machine: it builds the demo
repository once (into ``--dir``, default :func:`default_demo_dir`), indexes it into
its catalog and prints the collections, studies, annotations and teaching sets.
``teachingfiles demo build DIR`` only writes the RICORD-shaped synthetic collections
and the real pydicom-data images into ``DIR`` and prints what it built.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["default_demo_dir", "register"]


def default_demo_dir() -> Path:
    """Where ``teachingfiles demo`` keeps the demo repository.

    ``$TEACHINGFILES_DEMO_DIR`` if set, else ``$XDG_DATA_HOME/teachingfiles/demo-repository``
    (``~/.local/share/teachingfiles/demo-repository``).
    """
    if os.environ.get("TEACHINGFILES_DEMO_DIR"):
        return Path(os.environ["TEACHINGFILES_DEMO_DIR"]).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "teachingfiles" / "demo-repository"


def register(subparsers: Any) -> None:
    """Add the ``demo`` command (and its ``build`` subcommand) to ``subparsers``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="build the demo repository (synthetic RICORD-like cases + real images)",
        description=(
            "The built-in demo: synthetic chest CTs and radiographs laid out like a TCIA "
            "download of RSNA RICORD, plus real images from pydicom-data."
        ),
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the demo repository lives (default: $TEACHINGFILES_DEMO_DIR or "
        "~/.local/share/teachingfiles/demo-repository); built there if missing",
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="build the demo again even if it is there"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=_main_job)
    sub = parser.add_subparsers(dest="demo_command", metavar="SUBCOMMAND")
    build = sub.add_parser(
        "build",
        help="write the demo repository into a folder",
        description=(
            "Write the demo repository into DIR (offline, deterministic: the same bytes "
            "every time). An existing demo in DIR is replaced; any other non-empty "
            "folder is refused unless --force is given."
        ),
    )
    build.add_argument("dir", metavar="DIR", help="folder to create (or demo to replace)")
    build.add_argument(
        "--force", action="store_true", help="replace DIR even if it is not a demo repository"
    )
    build.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        metavar="N",
        help="worker processes generating studies (default: 2, or 1 on a single core)",
    )
    build.add_argument("--quiet", action="store_true", help="print no progress bar and no summary")
    build.set_defaults(func=_build)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return value


def _main_job(args: argparse.Namespace) -> int:
    """Build the demo once, index it, print what it holds."""
    import json

    from teachingfiles.demo.build import build_demo, check_target
    from teachingfiles.repository import Repository

    root = (args.dir or default_demo_dir()).expanduser()
    built = None
    if args.rebuild or not (root / ".complete").exists():
        check_target(root)  # refuse a foreign folder before saying "Building"
        if not args.json:
            print(f"Building the demo repository in {root} ...", flush=True)
        built = build_demo(root, progress=not args.json and sys.stderr.isatty())
    repo = Repository.open(root, index=False)
    try:
        report = repo.index(progress=not args.json and sys.stderr.isatty())
        sets = sorted((root / "teaching-sets").glob("*.yaml"))
        if args.json:
            out = report.as_dict()
            out["root"] = str(root)
            out["teaching_sets"] = [str(p) for p in sets]
            print(json.dumps(out, indent=2))
            return 0
        if built is not None:
            print(built.format())
            print()
        print(_describe(root, report, sets))
    finally:
        repo.close()
    return 0


def _describe(root: Path, report: Any, sets: list[Path]) -> str:
    lines = [f"Demo repository: {root}", f"Catalog: {report.catalog}", ""]
    header = (
        f"{'collection':18} {'patients':>8} {'studies':>8} {'series':>7} {'images':>7} "
        f"{'annotations':>11}"
    )
    lines += [header, "-" * len(header)]
    for c in report.collections:
        lines.append(
            f"{c.name:18} {c.patients:8} {c.studies:8} {c.series:7} {c.instances:7} "
            f"{c.annotations:11}"
        )
    lines.append("-" * len(header))
    lines.append(
        f"{'total':18} {report.patients:8} {report.studies:8} {report.series:7} "
        f"{report.instances:7} {report.annotations:11}"
    )
    if report.skipped:
        lines.append(f"\n{len(report.skipped)} file(s) skipped: see `teachingfiles index --json`")
    if sets:
        lines.append("\nTeaching sets:")
        lines += [f"  {p}" for p in sets]
    lines += [
        "",
        (
            "Next: `teachingfiles index DIR --json` for the catalog, "
            "`teachingfiles render FILE OUT.png` to look at an image, "
            "`teachingfiles validate SET.yaml --repository DIR` to check a teaching set."
        ),
    ]
    return "\n".join(lines)


def _build(args: argparse.Namespace) -> int:
    from teachingfiles.demo import build_demo  # numpy, pydicom: only when building

    summary = build_demo(args.dir, workers=args.workers, progress=not args.quiet, force=args.force)
    if not args.quiet:
        print(summary.format())
    return 0
