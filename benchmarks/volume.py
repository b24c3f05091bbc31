"""Time and peak memory to open a 300-slice 512x512 CT series, against the plain way.

Usage: ``python benchmarks/volume.py [--json] [--slices 300] [--repeat 3] [--keep DIR]``

Two synthetic series are written once (uncompressed, and JPEG 2000 lossless via
``Dataset.compress`` with pylibjpeg-openjpeg). Each side is measured in its own
subprocess, so peak RSS (``ru_maxrss``) is honest:

* ours: ``Volume.open(paths)``, then ``slice(n // 2)`` (what a viewer shows first),
  then ``wait()`` for the whole volume of HU;
* baseline: ``numpy.stack([pydicom.dcmread(f).pixel_array for f in files])``
  (stored values only, no rescale).

``first_slice_ms`` counts from the call to ``Volume.open`` (reading all headers
included); ``first_slice_catalog_ms`` counts from ``Volume.open(headers=...)`` with
headers already read, as the catalog provides them. The median of ``--repeat``
runs is reported.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

N_DEFAULT = 300


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _child(kind: str, folder: Path) -> dict[str, Any]:
    import numpy as np
    import pydicom

    from teachingfiles.dicom._slices import read_slice_headers
    from teachingfiles.dicom.volume import Volume

    paths = sorted(folder.glob("*.dcm"))
    before = _rss_mb()
    out: dict[str, Any] = {"rss_before_mb": before}
    if kind == "baseline":
        t0 = time.perf_counter()
        arr = np.stack([pydicom.dcmread(p).pixel_array for p in paths])
        out["load_s"] = time.perf_counter() - t0
    elif kind == "ours":
        t0 = time.perf_counter()
        vol = Volume.open(paths)
        vol.slice(len(paths) // 2)
        out["first_slice_ms"] = (time.perf_counter() - t0) * 1000
        arr = vol.wait()
        out["load_s"] = time.perf_counter() - t0
        vol.close()
    else:  # "catalog": headers already read, as the catalog hands them over
        headers = [h for p in paths for h in read_slice_headers(p)]
        before = out["rss_before_mb"] = _rss_mb()
        t0 = time.perf_counter()
        vol = Volume.open([], headers=headers)
        vol.slice(len(paths) // 2)
        out["first_slice_ms"] = (time.perf_counter() - t0) * 1000
        arr = vol.wait()
        out["load_s"] = time.perf_counter() - t0
        vol.close()
    out["peak_rss_mb"] = _rss_mb()
    out["volume_mb"] = arr.size * 2 / 2**20  # as int16
    out["held_over_volume"] = (out["peak_rss_mb"] - before) / out["volume_mb"]
    return out


def _run(kind: str, folder: Path, repeat: int) -> dict[str, Any]:
    runs = []
    for _ in range(repeat):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", kind, str(folder)],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(proc.stdout))
    keys = runs[0].keys()
    return {k: statistics.median(r[k] for r in runs) for k in keys}


def _series(root: Path, n: int) -> dict[str, Path]:
    from pydicom.uid import JPEG2000Lossless

    from teachingfiles.dicom.synthetic import write_ct_series

    out = {}
    for name, syntax in (("uncompressed", None), ("j2k", JPEG2000Lossless)):
        folder = root / f"{name}-{n}"
        if len(list(folder.glob("*.dcm"))) != n:
            print(f"writing {n} slices ({name}) to {folder} ...", file=sys.stderr)
            write_ct_series(folder, n, 512, 512, compress=syntax, slice_spacing=1.0)
        out[name] = folder
    return out


def _measure(folder: Path, repeat: int) -> dict[str, Any]:
    ours = _run("ours", folder, repeat)
    catalog = _run("catalog", folder, repeat)
    base = _run("baseline", folder, repeat)
    return {
        "load_s": round(ours["load_s"], 3),
        "baseline_load_s": round(base["load_s"], 3),
        "speedup": round(base["load_s"] / ours["load_s"], 2),
        "first_slice_ms": round(ours["first_slice_ms"], 1),
        "first_slice_catalog_ms": round(catalog["first_slice_ms"], 1),
        "catalog_load_s": round(catalog["load_s"], 3),
        "peak_rss_mb": round(ours["peak_rss_mb"], 1),
        "baseline_peak_rss_mb": round(base["peak_rss_mb"], 1),
        "rss_before_mb": round(ours["rss_before_mb"], 1),
        "held_over_volume": round(ours["held_over_volume"], 2),
        "baseline_held_over_volume": round(base["held_over_volume"], 2),
        "volume_mb": round(ours["volume_mb"], 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with --child, one measurement)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--slices", type=int, default=N_DEFAULT)
    parser.add_argument("--repeat", type=int, default=3, help="runs per side (median)")
    parser.add_argument("--keep", type=Path, default=None, help="write the series here, reuse")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child[0], Path(args.child[1]))))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        series = _series(root, args.slices)
        result = _measure(series["uncompressed"], args.repeat)
        result["slices"] = args.slices
        result["j2k"] = _measure(series["j2k"], args.repeat)
    if args.json:
        print(json.dumps(result))
    else:
        for name, res in (("uncompressed", result), ("JPEG 2000 lossless", result["j2k"])):
            print(
                f"{name}: load {res['load_s']} s vs plain {res['baseline_load_s']} s "
                f"({res['speedup']}x); first slice {res['first_slice_ms']} ms "
                f"({res['first_slice_catalog_ms']} ms with catalog headers); peak RSS "
                f"{res['peak_rss_mb']} MB vs {res['baseline_peak_rss_mb']} MB "
                f"({res['held_over_volume']}x the int16 volume held)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
