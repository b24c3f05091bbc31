"""De-identification throughput, side by side with dicognito, dicom-anonymizer and deid.

    python benchmarks/deid.py [--files 3000] [--workers 2] [--peer-files N] [--json]

Generates a corpus of 512x512 CT files carrying made-up PHI in standard attributes,
in sequences nested three deep and in private elements (tests/_phi_corpus.py), then
times teachingfiles' PS3.15 pass (``--workers`` processes) and each peer as its
documentation shows it used from Python (one process, default settings). Every
output is searched by the PHI check (teachingfiles.dicom.phi_check.verify) and a
sample of each is validated with ``dciodvfy``. UID consistency across runs: each
tool is run a second time, as a separate run, on the first ``--consistency`` files;
outputs are paired with their input by the pixel data and their Study/Series/SOP
Instance UIDs compared. Peers' findings are reported as they are.

``--json`` prints one object: files, files_per_s (``--workers`` processes),
files_per_s_1_worker, phi_hits, consistent_uids, dciodvfy_errors, peers (name ->
files, files_per_s, phi_hits, consistent_uids, dciodvfy_errors, error),
speedup_vs_fastest_peer; also CPU seconds and files per CPU second for every tool
(this process plus its reaped worker processes), which the machine's other load
does not change, and the load average at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydicom

ROOT = Path(__file__).resolve().parents[1]
# this script's folder comes first on sys.path, and its name would shadow the deid package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT / "tests"))

from _phi_corpus import write_corpus  # noqa: E402

from teachingfiles.dicom.deid import DeidOptions, deidentify  # noqa: E402
from teachingfiles.dicom.phi_check import dciodvfy_errors, verify  # noqa: E402

SECRET = b"benchmark-secret-0123456789abcdef"
Runner = Callable[[list[Path], Path], None]


def _ours(workers: int) -> Runner:
    def run(files: list[Path], out: Path) -> None:
        deidentify(files, out, secret=SECRET, options=DeidOptions(), workers=workers)

    return run


def _dicognito(files: list[Path], out: Path) -> None:
    from dicognito.anonymizer import Anonymizer

    anonymizer = Anonymizer()
    for i, f in enumerate(files):
        ds = pydicom.dcmread(f)
        anonymizer.anonymize(ds)
        ds.save_as(out / f"{i:06d}.dcm")


def _dicom_anonymizer(files: list[Path], out: Path) -> None:
    from dicomanonymizer import anonymize_dicom_file

    for i, f in enumerate(files):
        anonymize_dicom_file(str(f), str(out / f"{i:06d}.dcm"))


def _deid(files: list[Path], out: Path) -> None:
    from deid.dicom import replace_identifiers

    # its documented default: the "dicom" recipe, files written to output_folder
    replace_identifiers(
        dicom_files=[str(f) for f in files], save=True, output_folder=str(out), overwrite=True
    )


PEERS: dict[str, Runner] = {
    "dicognito": _dicognito,
    "dicom-anonymizer": _dicom_anonymizer,
    "deid": _deid,
}


def _outputs(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file() and not p.name.endswith(".json"))


def _uids_by_pixels(out: Path) -> dict[str, tuple[str, ...]]:
    found = {}
    for p in _outputs(out):
        ds = pydicom.dcmread(p, force=True)
        if "PixelData" not in ds:
            continue
        key = hashlib.blake2b(ds.PixelData, digest_size=16).hexdigest()
        found[key] = tuple(
            str(ds.get(k, "")) for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
        )
    return found


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (the worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _measure(
    name: str, run: Runner, files: list[Path], corpus: Path, work: Path, consistency: int
) -> dict[str, Any]:
    out = work / name
    out.mkdir()
    result: dict[str, Any] = {"files": len(files)}
    try:
        start, cpu = time.perf_counter(), _cpu()
        run(files, out)
        seconds, cpu_seconds = time.perf_counter() - start, _cpu() - cpu
    except Exception as exc:  # a peer that fails is reported, not hidden
        return {**result, "error": f"{type(exc).__name__}: {exc}"}
    outputs = _outputs(out)
    result["written"] = len(outputs)
    result["seconds"] = round(seconds, 2)
    result["files_per_s"] = round(len(files) / seconds, 1)
    result["cpu_seconds"] = round(cpu_seconds, 2)
    result["files_per_cpu_s"] = round(len(files) / cpu_seconds, 1)
    check = verify([corpus], [out], validate=0)
    result["phi_hits"] = len(check.hits)
    result["files_with_phi"] = len({h.file for h in check.hits})
    result["phi_examples"] = sorted({f"{h.where.split('[')[0]} <- {h.source}" for h in check.hits})[
        :8
    ]
    sample = outputs[:: max(1, len(outputs) // 10)][:10]
    result["dciodvfy_errors"] = sum(len(dciodvfy_errors(p)) for p in sample)
    result["dciodvfy_checked"] = len(sample)
    again = work / f"{name}-again"
    again.mkdir()
    subset = files[:consistency]
    run(subset, again)
    first, second = _uids_by_pixels(out), _uids_by_pixels(again)
    pairs = [(first[k], second[k]) for k in second if k in first]
    changed = all(a[2] not in {"", None} for a, _ in pairs)
    result["consistent_uids"] = bool(pairs) and changed and all(a == b for a, b in pairs)
    result["uids_replaced"] = bool(pairs) and all(
        a[2] and not a[2].startswith("1.2.826.0.1.3680043.8.498.77.") for a, _ in pairs
    )
    shutil.rmtree(again)
    shutil.rmtree(out)
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--peer-files", type=int, default=None,
                        help="files given to each peer (default: all)")  # fmt: skip
    parser.add_argument("--consistency", type=int, default=50)
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated peer names")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="tf-deid-bench-"))
    try:
        corpus = work / "corpus"
        per_patient = 250
        patients = max(1, -(-args.files // per_patient))
        files = write_corpus(corpus, patients=patients, series=1, slices=per_patient, rows=512)[
            : args.files
        ]
        ours = _measure("teachingfiles", _ours(args.workers), files, corpus, work, args.consistency)
        single = _measure("teachingfiles-1", _ours(1), files, corpus, work, args.consistency)
        peers = {}
        for name in [n for n in args.peers.split(",") if n]:
            subset = files[: args.peer_files] if args.peer_files else files
            peers[name] = _measure(name, PEERS[name], subset, corpus, work, args.consistency)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rates = [p["files_per_s"] for p in peers.values() if "files_per_s" in p]
    per_cpu = [p["files_per_cpu_s"] for p in peers.values() if "files_per_cpu_s" in p]
    report = {
        "files": ours["files"],
        "workers": args.workers,
        "files_per_s": ours.get("files_per_s"),
        "phi_hits": ours.get("phi_hits"),
        "consistent_uids": ours.get("consistent_uids"),
        "dciodvfy_errors": ours.get("dciodvfy_errors"),
        "files_per_s_1_worker": single.get("files_per_s"),
        "teachingfiles": ours,
        "peers": peers,
        "files_per_cpu_s": ours.get("files_per_cpu_s"),
        "speedup_per_cpu_vs_fastest_peer": (
            round(ours["files_per_cpu_s"] / max(per_cpu), 2)
            if per_cpu and "files_per_cpu_s" in ours
            else None
        ),
        "load_average": os.getloadavg(),
        "speedup_vs_fastest_peer": (
            round(ours["files_per_s"] / max(rates), 2) if rates and "files_per_s" in ours else None
        ),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{'tool':18} {'files':>6} {'files/s':>8} {'PHI hits':>9} {'same UIDs':>9}")
        for name, r in {"teachingfiles": ours, "teachingfiles (1 worker)": single, **peers}.items():
            print(
                f"{name:18} {r['files']:>6} {r.get('files_per_s', '-')!s:>8} "
                f"{r.get('phi_hits', '-')!s:>9} {r.get('consistent_uids', '-')!s:>9} "
                f"{r.get('error', '')}"
            )
        print(f"speedup vs fastest peer: {report['speedup_vs_fastest_peer']}x wall, "
              f"{report['speedup_per_cpu_vs_fastest_peer']}x per CPU second")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
