"""Benchmark ``teachingfiles index`` against a plain pydicom header loop.

Usage::

    .venv/bin/python benchmarks/index.py [--json] [--files N] [--keep DIR]

Builds (or reuses, with ``--keep``) the demo repository plus a generated corpus of
``N`` (default 5,000) 512x512 CT files, then measures on the same files:

- the plain loop ``pydicom.dcmread(f, stop_before_pixels=True)`` (one process);
- ``teachingfiles index`` (the command, in a subprocess, 2 workers, fresh catalog);
- a re-index of the unchanged tree;

each warm (files in the page cache) and cold. Cold uses ``echo 3 >
/proc/sys/vm/drop_caches`` when permitted, else evicts each file from the page cache
with ``posix_fadvise(POSIX_FADV_DONTNEED)`` (said in the output), else reports that
cold is not possible.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import make_corpus

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "teachingfiles"


def _dicom_files(root: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        out += [Path(dirpath) / f for f in filenames if f.endswith(".dcm")]
    return sorted(out)


def _drop_caches(files: list[Path]) -> str:
    """Empty the page cache of ``files``; return how ("" if it could not be done)."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        pass
    else:
        return "drop_caches"
    if not hasattr(os, "posix_fadvise"):
        return ""
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return "posix_fadvise(DONTNEED) per file"


def _warm(files: list[Path]) -> None:
    for path in files:
        path.read_bytes()


def _baseline(files: list[Path]) -> tuple[float, float]:
    """Wall and CPU seconds of the plain pydicom loop."""
    import pydicom

    cpu = time.process_time()
    start = time.perf_counter()
    for path in files:
        with contextlib.suppress(Exception):  # the baseline counts time, not outcomes
            pydicom.dcmread(path, stop_before_pixels=True)
    return time.perf_counter() - start, time.process_time() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _index(root: Path, catalog: Path, workers: int) -> dict[str, Any]:
    """Run the command; add its wall time and CPU time (with its worker processes)."""
    cmd = [str(CLI), "index", str(root), "--json", "--no-progress", "--catalog", str(catalog),
           "--workers", str(workers)]  # fmt: skip
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    report: dict[str, Any] = json.loads(done.stdout)
    report["wall_s"] = wall
    report["cpu_s"] = _children_cpu() - cpu
    return report


def run(n_files: int, keep: Path | None, workers: int, repeat: int = 3) -> dict[str, Any]:
    """Run every measurement; return the figures."""
    base = keep or Path(tempfile.mkdtemp(prefix="tf-bench-"))
    root = base / "repository"
    root.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    demo_note = "demo included"
    try:
        from teachingfiles.demo import build_demo

        if not (root / "demo" / ".complete").exists():
            build_demo(root / "demo", force=True)
            (root / "demo" / ".complete").write_text("ok\n")
    except Exception as exc:  # the corpus alone still measures the reader
        demo_note = f"demo not built ({type(exc).__name__}: {exc})"
        shutil.rmtree(root / "demo", ignore_errors=True)
    make_corpus(root / "corpus", n_files)
    setup_s = time.perf_counter() - t
    files = _dicom_files(root)
    catalogs = base / "catalogs"
    shutil.rmtree(catalogs, ignore_errors=True)
    catalogs.mkdir()

    _warm(files)
    empty = base / "empty"
    empty.mkdir(exist_ok=True)
    startup = _index(empty, catalogs / "empty.sqlite", workers)  # start-up and imports only
    # each figure is the median of `repeat` runs: the machine is shared, so single runs
    # swing with whatever else is running
    rounds: list[dict[str, Any]] = []
    for k in range(repeat):
        one: dict[str, Any] = {}
        _warm(files)
        one["baseline_warm"], one["baseline_cpu"] = _baseline(files)
        one["warm"] = _index(root, catalogs / f"warm{k}.sqlite", workers)
        one["reindex"] = _index(root, catalogs / f"warm{k}.sqlite", workers)
        cold_how = _drop_caches(files)
        if cold_how:
            one["baseline_cold"] = _baseline(files)[0]
            _drop_caches(files)
            one["cold"] = _index(root, catalogs / f"cold{k}.sqlite", workers)
        rounds.append(one)

    def med(key: str, field: str | None = None) -> float:
        return statistics.median(r[key][field] if field else r[key] for r in rounds)

    baseline_warm, baseline_cpu = med("baseline_warm"), med("baseline_cpu")
    warm = {k: med("warm", k) for k in ("seconds", "wall_s", "cpu_s", "new", "instances")}
    warm["skipped"] = rounds[0]["warm"]["skipped"]
    reindex = {k: med("reindex", k) for k in ("seconds", "wall_s", "unchanged")}
    baseline_cold = med("baseline_cold") if cold_how else None
    cold = {k: med("cold", k) for k in ("seconds", "wall_s", "new")} if cold_how else None

    n = len(files)
    out: dict[str, Any] = {
        "files": n,
        "corpus_files": n_files,
        "demo": demo_note,
        "workers": workers,
        "cpus": os.cpu_count(),
        "repeat": repeat,
        "setup_s": round(setup_s, 2),
        "cold_method": cold_how or "cold not possible",
        "baseline_warm_files_per_s": round(n / baseline_warm),
        "index_warm_s": round(warm["seconds"], 3),
        "index_warm_wall_s": round(warm["wall_s"], 3),
        "index_warm_files_per_s": round(warm["new"] / warm["seconds"]),
        "baseline_warm_cpu_files_per_s": round(n / baseline_cpu),
        "index_warm_cpu_s": round(warm["cpu_s"] - startup["cpu_s"], 3),
        "index_warm_cpu_files_per_s": round(warm["new"] / (warm["cpu_s"] - startup["cpu_s"])),
        "startup_cpu_s": round(startup["cpu_s"], 3),
        "load_average": round(os.getloadavg()[0], 2),
        "reindex_s": round(reindex["seconds"], 4),
        "reindex_wall_s": round(reindex["wall_s"], 3),
        "reindex_unchanged": reindex["unchanged"],
        "instances": warm["instances"],
        "skipped": len(warm["skipped"]),
    }
    if cold and baseline_cold:
        out |= {
            "baseline_cold_files_per_s": round(n / baseline_cold),
            "index_cold_s": round(cold["seconds"], 3),
            "index_cold_wall_s": round(cold["wall_s"], 3),
            "index_cold_files_per_s": round(cold["new"] / cold["seconds"]),
            "speedup_cold": round((cold["new"] / cold["seconds"]) / (n / baseline_cold), 2),
        }
    out["first_index_s"] = out["index_warm_s"]
    out["index_files_per_s"] = out["index_warm_files_per_s"]
    out["baseline_files_per_s"] = out["baseline_warm_files_per_s"]
    out["speedup"] = round(out["index_files_per_s"] / out["baseline_files_per_s"], 2)
    out["speedup_warm"] = out["speedup"]
    out["reindex_speedup"] = round(out["first_index_s"] / max(out["reindex_s"], 1e-9), 1)
    if keep is None:
        shutil.rmtree(base, ignore_errors=True)
    return out


def _table(r: dict[str, Any]) -> str:
    def row(name: str, warm: str, cold: str) -> str:
        return f"{name:30}{r[warm]!s:>12}{r.get(cold, '-')!s:>12}"

    head = (
        f"teachingfiles index benchmark: {r['files']} files ({r['corpus_files']} generated "
        f"CT 512x512 + {r['demo']}), {r['workers']} workers on {r['cpus']} CPUs, "
        f"median of {r['repeat']} runs"
    )
    tail = (
        f"re-index of the unchanged tree: {r['reindex_s']} s in the command "
        f"({r['reindex_wall_s']} s wall incl. start-up), {r['reindex_speedup']}x faster "
        "than the first index"
    )
    return "\n".join(
        [
            head,
            f"cold cache: {r['cold_method']}",
            "",
            f"{'':30}{'warm':>12}{'cold':>12}",
            row("pydicom loop, files/s", "baseline_warm_files_per_s", "baseline_cold_files_per_s"),
            row("teachingfiles index, files/s", "index_warm_files_per_s", "index_cold_files_per_s"),
            row("speedup", "speedup_warm", "speedup_cold"),
            row("first index, s (in command)", "index_warm_s", "index_cold_s"),
            row("first index, s (wall)", "index_warm_wall_s", "index_cold_wall_s"),
            row("pydicom loop, files/CPU-s", "baseline_warm_cpu_files_per_s", "-"),
            row("index, files/CPU-s (all procs)", "index_warm_cpu_files_per_s", "-"),
            "",
            tail,
            f"load average (other users of the machine): {r['load_average']}",
        ]
    )


def main() -> None:
    """Parse the arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--files", type=int, default=5000, help="generated CT files")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the data in DIR")
    parser.add_argument("--workers", type=int, default=2, help="index worker processes")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    args = parser.parse_args()
    result = run(args.files, args.keep, args.workers, args.repeat)
    print(json.dumps(result, indent=1) if args.json else _table(result))


if __name__ == "__main__":
    main()
