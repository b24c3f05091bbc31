"""A learner clicks "Cor" on a CT still streaming from a PACS (Orthanc), in real Chromium.

The coronal image must show at once, black rows where slices are still to come, fill
in as they land, and end equal to the whole series at full quality. The notebook's
DICOMweb source holds its series stream at set points until the test drops a gate
file beside the notebook (the server, the HTTP stream, the kernel and the page are
the real ones; only the pace is the test's).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.uid import RLELossless

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from orthanc import orthanc_server  # noqa: E402
from pages import keep_on_loopback  # noqa: E402
from serving import chromium, voila  # noqa: E402

from teachingfiles.dicom.synthetic import write_ct_series  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

NZ, NY, NX = 120, 256, 256
HOLDS = (30, 60)  # the stream waits for gate0 after 30 instances, for gate1 after 60
JPEG_BLOCK = 8  # rows a JPEG block can carry past the last row loaded
VOILA_TEMPLATE_CDN = "cdn.jsdelivr.net/npm/@fortawesome/"
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
GUARD_MS = 60_000  # a guard against a hang, not a timing

NOTEBOOK_CODE = """\
import json
import time
from pathlib import Path

from teachingfiles.repository.dicomweb import DicomwebSource
from teachingfiles.widgets import StackViewer

HERE = Path.cwd()
CONFIG = json.loads((HERE / "remote.json").read_text())


class Gated(DicomwebSource):
    # holds the series stream at CONFIG["holds"] until a gate file appears here
    def _stream_series(self, study, series):
        for n, part in enumerate(super()._stream_series(study, series)):
            for k, hold in enumerate(CONFIG["holds"]):
                while n >= hold and not (HERE / f"gate{k}").exists():
                    time.sleep(0.05)
            yield part

    def fetch_instance(self, study, series, sop):  # only the slice on screen comes alone
        while sop != CONFIG["middle"] and not (HERE / "gate1").exists():
            time.sleep(0.05)
        return super().fetch_instance(study, series, sop)


src = Gated(CONFIG["url"], cache=CONFIG["cache"], backoff=0.01)
vol = src.open_series(CONFIG["study"], CONFIG["series"], progress=False)
StackViewer(vol, preset="lung")
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Orthanc holding a synthetic CT, and Voila serving a notebook that streams it."""
    tmp = tmp_path_factory.mktemp("remote-planes")
    files = write_ct_series(tmp / "ct", n=NZ, rows=NY, cols=NX, compress=RLELossless)
    header = pydicom.dcmread(files[len(files) // 2], stop_before_pixels=True)
    folder = tmp / "notebooks"
    folder.mkdir()
    cell = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": []}
    notebook = {
        "cells": [{**cell, "source": NOTEBOOK_CODE}],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (folder / "remote.ipynb").write_text(json.dumps(notebook))
    with orthanc_server() as server:
        server.upload(files)
        config = {
            "url": server.dicomweb,
            "cache": str(tmp / "cache"),
            "study": str(header.StudyInstanceUID),
            "series": str(header.SeriesInstanceUID),
            "middle": str(header.SOPInstanceUID),  # write_ct_series: slice order
            "holds": list(HOLDS),
        }
        (folder / "remote.json").write_text(json.dumps(config))
        with voila(folder) as base:
            yield str(base), folder


@pytest.fixture(scope="module")
def launched() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, chromium(pw) as browser:
        yield browser


def filled_rows(page: Any, name: str) -> int:
    """How many image rows of the canvas are not black (slices that have come)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    import io

    from PIL import Image

    data = page.locator(".tfv-canvas").screenshot(path=str(SHOTS / f"{name}.png"))
    shot = np.asarray(Image.open(io.BytesIO(data)).convert("L")).astype(float)
    text = page.locator(".tfv").get_attribute("data-image-rect")
    left, top, width, height = (float(v) for v in str(text).split(","))
    scale = shot.shape[1] / page.locator(".tfv-canvas").bounding_box()["width"]
    xs = [int((left + width * f) * scale) for f in np.linspace(0.1, 0.9, 40)]
    rows = [int((top + (r + 0.5) * height / NZ) * scale) for r in range(NZ)]
    # lung window: air is grey 59, so only the rows still to come are black
    return sum(1 for y in rows if shot[y, xs].mean() > 20)


def wait_filled(page: Any, name: str, least: int) -> int:
    """Screenshot until at least ``least`` rows show (the page redraws as slices land)."""
    for _ in range(GUARD_MS // 250):
        count = filled_rows(page, name)
        if count >= least:
            return count
        page.wait_for_timeout(250)
    raise AssertionError(f"{name}: only {count} of {least} rows shown after {GUARD_MS} ms")


def test_coronal_of_a_series_still_downloading_shows_at_once_and_fills_in(
    served: tuple[str, Path], launched: Any
) -> None:
    base, folder = served
    page = launched.new_page(viewport={"width": 700, "height": 800})
    outside: list[str] = []
    errors: list[str] = []
    keep_on_loopback(page, outside)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{base}/voila/render/remote.ipynb")
        page.wait_for_selector(
            ".tfv[data-quality='preview'], .tfv[data-quality='full']", timeout=GUARD_MS
        )
        # the axial slices held back are missing: the page has the others at full quality
        page.wait_for_function(
            f"() => Number(document.querySelector('.tfv').dataset.full) >= {HOLDS[0]}",
            timeout=GUARD_MS,
        )
        page.wait_for_timeout(300)  # let a slice fetched alone land too: the count then holds
        first = int(str(page.locator(".tfv").get_attribute("data-full")))
        page.get_by_role("button", name="Cor").click()
        # at once, with the download held: a preview, black rows for the slices to come
        page.wait_for_function(
            "() => { const v = document.querySelector('.tfv');"
            " return v.dataset.quality === 'preview' && v.textContent.includes('coronal'); }",
            timeout=GUARD_MS,
        )
        shown = wait_filled(page, "remote-coronal-partial", first - 2)
        # the preview is a JPEG: its 8-row blocks may blur a few black rows at the edge
        assert shown <= first + JPEG_BLOCK, f"{shown} rows shown for {first} slices"
        assert f"downloading {first} / {NZ}" in str(page.locator(".tfv").text_content())
        # 30 more land: the image on screen is drawn again with their rows
        (folder / "gate0").write_text("go")
        more = first + HOLDS[1] - HOLDS[0]
        shown = wait_filled(page, "remote-coronal-more", more - 2)
        assert shown <= more + JPEG_BLOCK, f"{shown} rows shown for {more} slices"
        # the rest lands: every coronal image comes again at full quality
        (folder / "gate1").write_text("go")
        page.wait_for_function(
            f"() => document.querySelector('.tfv').dataset.full === '{NX}'", timeout=GUARD_MS
        )
        assert page.locator(".tfv").get_attribute("data-quality") == "full"
        assert filled_rows(page, "remote-coronal-final") == NZ
        assert all(VOILA_TEMPLATE_CDN in url for url in outside), outside
        assert not errors, errors
    finally:
        for gate in ("gate0", "gate1"):
            (folder / gate).write_text("go")  # let the kernel's download end
        page.close()
