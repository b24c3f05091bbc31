"""``teachingfiles pull SOURCE DEST``: fetch series from DICOMweb or TCIA into a folder."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # requests and dicomweb-client load only when the command runs
    from teachingfiles.repository.dicomweb import DicomwebSource
    from teachingfiles.repository.pull import PullReport

__all__ = ["TOKEN_ENV", "register", "run"]

#: Environment variable read for a bearer token when --token is not given.
TOKEN_ENV = "TEACHINGFILES_TOKEN"


def register(subparsers: Any) -> None:
    """Add the ``pull`` subcommand."""
    parser = subparsers.add_parser(
        "pull",
        help="fetch series from a DICOMweb server or a TCIA .tcia manifest into a folder",
        description=(
            "Fetch series into DEST laid out as a TCIA download (metadata.csv and NBIA "
            "folder names), ready for 'teachingfiles index DEST'. SOURCE is a DICOMweb "
            "root URL (Orthanc, dcm4chee, a PACS, IDC's proxy) or a .tcia manifest. A pull "
            "that stops (network, quota) resumes where it stopped when run again."
        ),
    )
    parser.add_argument("source", metavar="SOURCE", help="DICOMweb URL or .tcia manifest")
    parser.add_argument("dest", metavar="DEST", help="the folder to fill")
    parser.add_argument("--collection", help="patients whose PatientID starts with NAME-")
    parser.add_argument("--patient", help="PatientID (* and ? are wildcards)")
    parser.add_argument("--modality", help="CT, CR, DX...")
    parser.add_argument("--date", help="StudyDate YYYYMMDD or range YYYYMMDD-YYYYMMDD")
    parser.add_argument("--description", help="text in the series description")
    parser.add_argument("--study", metavar="UID", help="only this StudyInstanceUID")
    parser.add_argument("--list", action="store_true", help="list matching series, fetch nothing")
    parser.add_argument("--token", help=f"bearer token (default ${TOKEN_ENV})")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--retries", type=int, default=4, help="retries on 429/5xx/network")
    parser.add_argument(
        "--api",
        default=None,
        help="NBIA REST API root for .tcia manifests (v4; default: TCIA's public API)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def run(args: argparse.Namespace) -> int:
    """Pull; print the report; 0 if every series arrived, 1 if some failed."""
    from teachingfiles.repository.dicomweb import DicomwebSource
    from teachingfiles.repository.pull import pull_dicomweb, pull_tcia
    from teachingfiles.repository.tcia import NBIA_API, NbiaClient

    token = args.token or os.environ.get(TOKEN_ENV) or None
    progress = not args.no_progress
    if _is_url(args.source):
        source = DicomwebSource(
            args.source, token=token, timeout=args.timeout, retries=args.retries,
            cache=Path(args.dest) / ".teachingfiles" / "instances-cache",
        )  # fmt: skip
        if args.list:
            return _list(source, args)
        report: PullReport = pull_dicomweb(
            source, args.dest, collection=args.collection, patient=args.patient,
            modality=args.modality, date=args.date, description=args.description,
            study_uid=args.study, progress=progress,
        )  # fmt: skip
    else:
        client = NbiaClient(
            args.api or NBIA_API, token=token, timeout=args.timeout, retries=args.retries
        )
        report = pull_tcia(args.source, args.dest, client=client, progress=progress)
    print(report.format())
    return 1 if report.failed else 0


def _list(source: DicomwebSource, args: argparse.Namespace) -> int:
    studies = (
        [args.study]
        if args.study
        else [
            s.study_uid
            for s in source.search_studies(
                collection=args.collection,
                patient=args.patient,
                modality=args.modality,
                date=args.date,
            )
        ]
    )
    for uid in studies:
        for s in source.search_series(uid, modality=args.modality, description=args.description):
            print(f"{s.study_uid}  {s.series_uid}  {s.modality or '-':<3}  "
                  f"{s.n_instances or 0:>5}  {s.description or ''}")  # fmt: skip
    return 0
