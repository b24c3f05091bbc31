"""Open a remote 150-slice CT series over DICOMweb (Orthanc), against the plain way.

Usage: ``python benchmarks/dicomweb.py [--json] [--slices 150] [--repeat 3]``

Starts Orthanc on loopback (``tests/orthanc.py``), uploads a synthetic 512x512 RLE
Lossless CT series generated here, and measures, each run with an empty cache:

* ours: ``DicomwebSource.open_series`` (series metadata, then instances fetched
  four at a time nearest the middle slice first, decoded as they arrive);
  ``first_slice_ms`` until the middle slice is decoded (screen-ready),
  ``series_s`` until the whole volume is;
* baseline: ``dicomweb_client.DICOMwebClient.retrieve_series`` followed by
  ``pixel_array`` of every dataset and sorting (``baseline_series_s``);
* ``cached_reopen_s``: opening the same series again from the instance cache,
  whole volume decoded, no request made.

The medians of ``--repeat`` runs are reported. The machine is shared: treat the
figures as indicative.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from _series150 import make_ct_series  # noqa: E402
from dicomweb_client import DICOMwebClient  # noqa: E402
from orthanc import standalone  # noqa: E402

from teachingfiles.repository.dicomweb import DicomwebSource  # noqa: E402


def _baseline(url: str, study: str, series: str) -> float:
    start = time.perf_counter()
    datasets = DICOMwebClient(url).retrieve_series(study, series)
    datasets.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
    volume = np.stack([ds.pixel_array for ds in datasets])
    assert volume.shape[0] == len(datasets)
    return time.perf_counter() - start


def _ours(url: str, study: str, series: str, cache: Path) -> tuple[float, float, float, float]:
    start = time.perf_counter()
    vol = DicomwebSource(url, cache=cache).open_series(study, series, progress=False)
    vol.slice(vol.shape[0] // 2)
    first = time.perf_counter() - start
    vol.wait()
    whole = time.perf_counter() - start
    vol.close()
    start = time.perf_counter()
    again = DicomwebSource(url, cache=cache).open_series(study, series, progress=False)
    again.slice(again.shape[0] // 2)
    cached_first = time.perf_counter() - start
    again.wait()
    cached = time.perf_counter() - start
    again.close()
    return first, whole, cached_first, cached


def run(slices: int, repeat: int) -> dict[str, Any]:
    """Measure; return the figures."""
    with tempfile.TemporaryDirectory(prefix="tf-bench-dicomweb-") as tmp, standalone() as server:
        files = make_ct_series(Path(tmp) / "series", slices)
        server.upload(files, threads=2)
        src = DicomwebSource(server.dicomweb, cache=Path(tmp) / "probe")
        study = src.search_studies()[0].study_uid
        series = src.search_series(study)[0].series_uid
        ours, base = [], []
        for k in range(repeat):
            base.append(_baseline(server.dicomweb, study, series))
            ours.append(_ours(server.dicomweb, study, series, Path(tmp) / f"cache-{k}"))
    first, whole, cached_first, cached = (statistics.median(x) for x in zip(*ours, strict=True))
    baseline = statistics.median(base)
    return {
        "slices": slices,
        "repeat": repeat,
        "first_slice_ms": round(first * 1000, 1),
        "series_s": round(whole, 3),
        "baseline_series_s": round(baseline, 3),
        "speedup": round(baseline / whole, 2),
        "cached_first_slice_ms": round(cached_first * 1000, 1),
        "cached_reopen_s": round(cached, 3),
        "cached_reopen_speedup": round(whole / cached, 1),
    }


def main() -> None:
    """Parse arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--slices", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    result = run(args.slices, args.repeat)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.slices}-slice 512x512 RLE CT over DICOMweb (Orthanc), median of {args.repeat}")
    print(f"  first slice screen-ready      {result['first_slice_ms']:8.1f} ms")
    print(f"  whole series (ours)           {result['series_s']:8.3f} s")
    print(f"  whole series (retrieve+decode){result['baseline_series_s']:8.3f} s")
    print(f"  speed-up                      {result['speedup']:8.2f} x")
    print(f"  cached re-open, whole series  {result['cached_reopen_s']:8.3f} s "
          f"({result['cached_reopen_speedup']}x faster than the first open)")  # fmt: skip


if __name__ == "__main__":
    main()
