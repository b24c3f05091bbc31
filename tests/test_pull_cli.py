from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from orthanc import Orthanc, _running, orthanc_server

from teachingfiles.cli import main
from teachingfiles.dicom.synthetic import write_ct_series
from teachingfiles.repository import Repository
from teachingfiles.repository.cache import InstanceCache
from teachingfiles.repository.dicomweb import DicomwebSource
from teachingfiles.repository.pull import CACHE_SUBDIR, pull_dicomweb

pytestmark = [pytest.mark.server, pytest.mark.slow]


def demo_files(root: Path) -> list[Path]:
    return sorted(root.glob("manifest-*/**/*.dcm"))


@pytest.fixture(scope="module")
def server(demo_root: Path) -> Iterator[Orthanc]:
    with orthanc_server() as orthanc:
        orthanc.upload(demo_files(demo_root))
        yield orthanc


def catalog_facts(repo: Repository) -> dict[str, object]:
    studies = repo.studies()
    series = [s for st in studies for s in repo.series(st.study_uid)]
    return {
        "collections": [(c.name, c.patients, c.studies, c.series, c.instances, c.annotations)
                        for c in repo.collections()],
        "studies": {(s.study_uid, s.patient_id, s.collection, s.n_instances, s.n_annotations,
                     s.appearance, s.severity) for s in studies},
        "series": {(s.series_uid, s.study_uid, s.modality, s.n_instances) for s in series},
        "instances": {i.sop_instance_uid for s in series for i in repo.instances(s.series_uid)},
        "labels": {st.study_uid: repo.reader_labels(st.study_uid) for st in studies},
    }  # fmt: skip


def test_pull_then_index_gives_the_folders_catalog(
    server: Orthanc, demo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "pulled"
    assert main(["pull", server.dicomweb, str(dest), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Next: teachingfiles index" in out
    # the MD.ai exports and clinical sheets travel beside the images, as in a download
    shutil.copytree(demo_root / "annotations", dest / "annotations")
    shutil.copytree(demo_root / "clinical", dest / "clinical")
    assert main(["index", str(dest), "--no-progress"]) == 0
    with Repository.open(dest) as pulled, Repository.open(demo_root) as folder:
        got, want = catalog_facts(pulled), catalog_facts(folder)
    # DICOM has no collection attribute: the RICORD-shaped files carry TCIA's private
    # ProjectName and keep their collection; the real pydicom-data files carry
    # nothing, so a pull names their collection after the source.
    rename = {"PYDICOM-DATA": "DICOMWEB"}
    want["studies"] = {(*s[:2], rename.get(s[2], s[2]), *s[3:]) for s in want["studies"]}
    want["collections"] = [(rename.get(c[0], c[0]), *c[1:]) for c in want["collections"]]
    assert got["instances"] == want["instances"]
    assert got["series"] == want["series"]
    assert got["studies"] == want["studies"]
    assert got["labels"] == want["labels"]
    assert got["collections"] == want["collections"]
    assert sum(s[4] for s in got["studies"]) > 0  # annotations came along  # type: ignore[attr-defined]


def test_pull_filters_and_list(
    server: Orthanc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "cr"
    args = ["pull", server.dicomweb, str(dest), "--collection", "DEMO-RICORD-1C",
            "--modality", "CR", "--no-progress"]  # fmt: skip
    assert main([*args, "--list"]) == 0
    listed = capsys.readouterr().out.strip().splitlines()
    assert listed
    assert all("  CR " in line for line in listed)
    assert not dest.exists() or not list(dest.rglob("*.dcm"))
    assert main(args) == 0
    with Repository.open(dest) as repo:
        series = [s for st in repo.studies() for s in repo.series(st.study_uid)]
    assert {s.series_uid for s in series} == {line.split()[1] for line in listed}
    assert {str(s.modality) for s in series} == {"CR"}


def test_pull_shows_progress_for_the_pull_and_each_series(
    server: Orthanc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "cr"
    args = ["pull", server.dicomweb, str(dest), "--collection", "DEMO-RICORD-1C",
            "--modality", "CR"]  # fmt: skip
    assert main(args) == 0
    err = capsys.readouterr().err
    n = len({p.parent for p in (dest / "manifest-dicomweb").rglob("*.dcm")})  # series pulled
    assert n > 0
    # tqdm.auto: a text bar on stderr here, a widget in Jupyter
    assert re.search(rf"pull: 100%.*\| {n}/{n} .*series", err)
    assert re.search(r"series …\d{8}: .*img", err)  # each series' own bar


def test_push_uploads_a_folder_with_stow_rs(
    server: Orthanc, demo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = demo_files(demo_root)[0]
    ds = pydicom.dcmread(src)
    ds.PatientID = "PUSH-TEST-000001"
    ds.StudyInstanceUID = pydicom.uid.generate_uid()
    ds.SeriesInstanceUID = pydicom.uid.generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    folder = tmp_path / "teaching-set"
    folder.mkdir()
    ds.save_as(folder / "key-image.dcm")
    try:
        assert main(["push", str(folder), server.dicomweb, "--no-progress"]) == 0
        assert "Stored 1 of 1 instances" in capsys.readouterr().out
    finally:
        server.delete_patient("PUSH-TEST-000001")


def test_cli_errors_say_what_to_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pull", "http://127.0.0.1:9/dicom-web", str(tmp_path), "--retries", "0",
                 "--no-progress"]) == 1  # fmt: skip
    assert "cannot connect" in capsys.readouterr().err
    bad = tmp_path / "bad.tcia"
    bad.write_text("downloadServerUrl=x\nListOfSeriesToDownload=\nnot-a-uid\n")
    assert main(["pull", str(bad), str(tmp_path / "d"), "--no-progress"]) == 1
    assert "line 3: 'not-a-uid' is not a SeriesInstanceUID" in capsys.readouterr().err
    assert main(["push", str(tmp_path / "nothing"), "http://127.0.0.1:9/dicom-web"]) == 2


class PacedSource(DicomwebSource):
    """A real DICOMweb source that waits 20 ms before each instance (so the stop lands)."""

    def fetch_instance(self, study_uid: str, series_uid: str, sop_uid: str) -> bytes:
        time.sleep(0.02)
        return super().fetch_instance(study_uid, series_uid, sop_uid)

    def _stream_series(self, study_uid: str, series_uid: str) -> Iterator[tuple[str, bytes]]:
        for part in super()._stream_series(study_uid, series_uid):
            time.sleep(0.02)
            yield part


def test_server_going_away_mid_pull_leaves_complete_instances_and_the_pull_resumes(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "orthanc"
    folder.mkdir()
    # 60 uncompressed 512x512 slices (31 MB), more than the socket buffers hold: the
    # series streams in one request, which cannot have arrived whole before the stop
    files = write_ct_series(tmp_path / "series", n=60, rows=512, cols=512)
    dest = tmp_path / "pulled"
    cache = InstanceCache(dest / CACHE_SUBDIR)
    with _running(folder) as first:
        first.upload(files)
        result: dict[str, object] = {}

        def pull() -> None:
            try:
                source = PacedSource(first.dicomweb, workers=1, retries=1, backoff=0.01)
                result["report"] = pull_dicomweb(source, dest, progress=False)
            except Exception as exc:
                result["error"] = exc

        thread = threading.Thread(target=pull)
        thread.start()
        deadline = time.monotonic() + 60
        while len(cache) < 5 and time.monotonic() < deadline:
            time.sleep(0.005)
    # the server is gone (stopped by its pid) while the pull goes on
    thread.join(120)
    assert not thread.is_alive()
    report = result.get("report")
    failed = report.failed if report is not None else ()  # type: ignore[attr-defined]
    message = str(result.get("error") or failed)
    assert "could not be downloaded" in message or "cannot connect" in message
    partial = list(cache.root.glob("instances/*/*.dcm"))
    assert 5 <= len(partial) < len(files)
    for path in partial:  # every file under its final name is a whole instance
        assert pydicom.dcmread(path).pixel_array.shape == (512, 512)
    # the server comes back (same storage, new port): the pull fetches only the rest
    with _running(folder) as second:
        report2 = pull_dicomweb(second.dicomweb, dest, progress=False)
    assert report2.failed == ()
    assert report2.instances == len(files)
    assert len(cache) == len(files)
