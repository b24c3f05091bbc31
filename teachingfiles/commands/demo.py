"""``teachingfiles demo``: build the demo repository.

``teachingfiles demo build DIR`` writes the RICORD-shaped synthetic collections and
the real pydicom-data images into ``DIR`` and prints what it built.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


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
    parser.set_defaults(func=lambda _args: _help(parser))
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


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _build(args: argparse.Namespace) -> int:
    from teachingfiles.demo import build_demo  # numpy, pydicom: only when building

    summary = build_demo(args.dir, workers=args.workers, progress=not args.quiet, force=args.force)
    if not args.quiet:
        print(summary.format())
    return 0
