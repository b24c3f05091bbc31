"""``teachingfiles validate SET.yaml``: check a teaching set manifest, and its cases.

Exit status 0 and a summary when the manifest is valid; 1 and every problem
(file, line, field, what is wrong) otherwise. With ``--repository`` every case is
also resolved against that repository: missing studies, series, slices and
annotations are problems too. ``--json`` prints one object:
``{"valid", "cases", "questions", "kinds", "errors"}``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from teachingfiles.errors import ManifestError, TeachingFilesError

__all__ = ["register", "validate"]


def _error_dict(err: ManifestError) -> dict[str, Any]:
    return {
        "path": err.path,
        "line": err.line,
        "field": err.field,
        "message": err.reason,
        "text": str(err),
    }


def validate(path: str, repository: str | None = None) -> dict[str, Any]:
    """Check the manifest at ``path`` (and resolve it against ``repository``).

    Returns
    -------
    dict
        ``valid``, ``cases``, ``questions``, ``kinds`` (count per question kind) and
        ``errors`` (each with ``path``, ``line``, ``field``, ``message``, ``text``).
    """
    from teachingfiles.cases.teaching_set import check_manifest  # numpy, YAML: only now

    check = check_manifest(path)
    errors = list(check.errors)
    ts = check.teaching_set
    if ts is not None and repository is not None:
        from teachingfiles.quiz.resolve import resolve
        from teachingfiles.repository import Repository

        try:
            with Repository.open(repository) as repo:
                errors += resolve(ts, repo, strict=False).problems
        except TeachingFilesError as exc:
            errors.append(ManifestError(f"repository {repository}: {exc}", path=path))
    return {
        "valid": not errors,
        "title": None if ts is None else ts.title,
        "version": None if ts is None else ts.version,
        "cases": 0 if ts is None else len(ts.cases),
        "questions": 0 if ts is None else len(ts.questions),
        "kinds": {} if ts is None else ts.kinds(),
        "errors": [_error_dict(e) for e in errors],
    }


def _run(args: argparse.Namespace) -> int:
    result = validate(args.manifest, args.repository)
    if args.json:
        print(json.dumps(result, indent=2))
    elif result["valid"]:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(result["kinds"].items()))
        checked = f", checked against {args.repository}" if args.repository else ""
        print(
            f"{args.manifest}: valid{checked}: {result['title']!r} version "
            f"{result['version']}, {result['cases']} cases, {result['questions']} "
            f"questions ({kinds or 'none'})"
        )
    else:
        n = len(result["errors"])
        print(f"{args.manifest}: {n} problem{'s' if n != 1 else ''}:")
        for err in result["errors"]:
            print(f"  {err['text']}")
    return 0 if result["valid"] else 1


def register(subparsers: Any) -> None:
    """Add the ``validate`` subcommand."""
    parser = subparsers.add_parser(
        "validate",
        help="check a teaching set manifest (YAML)",
        description="Check a teaching set manifest: its schema, every field and line, "
        "and with --repository that every case and annotation it names exists.",
    )
    parser.add_argument("manifest", metavar="SET.yaml", help="the teaching set manifest")
    parser.add_argument(
        "--repository",
        metavar="PATH",
        help="also resolve every case against this repository (indexed if needed)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=_run)
