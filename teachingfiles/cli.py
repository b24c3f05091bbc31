"""The ``teachingfiles`` command.

Each subcommand lives in its own module under :mod:`teachingfiles.commands` and
provides ``register(subparsers)``, which adds its parser and sets ``func`` to the
function that runs it and returns the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import keyword
import sys
from collections.abc import Sequence

from teachingfiles import __version__
from teachingfiles.errors import TeachingFilesError

__all__ = ["build_parser", "main"]

#: Subcommands, in the order --help lists them; each is a module under
#: teachingfiles.commands, with a trailing underscore when its name is a Python
#: keyword ("import" -> import_.py).
COMMANDS: tuple[str, ...] = (
    "bundle", "deid", "demo", "handout", "import", "index", "info", "pull", "push", "render",
    "serve", "validate",
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="teachingfiles",
        description=(
            "Turn open radiology image repositories (RSNA RICORD on TCIA/IDC, a PACS "
            "over DICOMweb, a folder) into teaching cases and quizzes."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        suffix = "_" if keyword.iskeyword(name) else ""
        module = importlib.import_module(f"teachingfiles.commands.{name}{suffix}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (also used as the script's)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        status: int = args.func(args)
    except TeachingFilesError as exc:
        print(f"teachingfiles {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
