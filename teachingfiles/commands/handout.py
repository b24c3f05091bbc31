"""``teachingfiles handout SET.yaml OUT.html``: a teaching set as one printable page.

``teachingfiles handout SET.yaml OUT.html [--repository PATH] [--case ID ...]
[--json]`` writes a self-contained HTML handout: each case with its history, key
images and questions, then the answers (findings, category and reasoning, the
readers' calls, teaching points, references, the key images with the annotations
drawn). Images are embedded as PNG data: nothing is fetched when it is opened, so
it can be mailed, shared or printed.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from teachingfiles.errors import UsageError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``handout`` subcommand."""
    p = subparsers.add_parser(
        "handout",
        help="write a teaching set (or some of its cases) as a self-contained HTML handout",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("manifest", metavar="SET.yaml", type=Path, help="the teaching set manifest")
    p.add_argument("output", metavar="OUT.html", type=Path, help="the HTML file to write")
    p.add_argument(
        "--repository",
        metavar="PATH",
        type=Path,
        default=None,
        help="where the images are (default: the folder above teaching-sets/, "
        "else the manifest's folder)",
    )
    p.add_argument(
        "--case",
        metavar="ID",
        dest="cases",
        action="extend",
        nargs="+",
        default=None,
        help="only these cases (by id; repeat or list several), in the set's order",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from teachingfiles.cases.handout import write_handout  # numpy, matplotlib: only now

    if args.output.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"{args.output}: the handout is HTML; name the output file *.html")
    if args.repository is not None and not args.repository.is_dir():
        raise UsageError(
            f"--repository {args.repository}: no such folder; give the repository's root"
        )
    path = write_handout(args.manifest, args.output, repo=args.repository, case_ids=args.cases)
    page = path.read_text(encoding="utf-8")
    answers = page.split('<div class="answers">', 1)[-1]
    summary: dict[str, Any] = {
        "handout": str(path),
        "bytes": path.stat().st_size,
        "cases": answers.count("<h3>Case "),
        "images": len(re.findall(r'src="data:image/png;base64,', page)),
        "missing_images": page.count('class="missing"'),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        missing = summary["missing_images"]
        print(
            f"{path}: {summary['cases']} cases, {summary['images']} images"
            + (f", {missing} not available (named in the page)" if missing else "")
            + f", {summary['bytes'] / 1e6:.1f} MB"
        )
    return 0
