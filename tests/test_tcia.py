from __future__ import annotations

import io
import json
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pydicom
import pytest

from teachingfiles.errors import NotFoundError, RepositoryError
from teachingfiles.repository import Repository
from teachingfiles.repository.nbia import MetadataRow, read_metadata_csv, read_tcia_manifest
from teachingfiles.repository.pull import pull_tcia
from teachingfiles.repository.tcia import NbiaClient

pytestmark = pytest.mark.slow


class FakeNbia:
    """The NBIA REST API v4 answering from the demo download, in TCIA's response shapes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rows: dict[str, tuple[MetadataRow, Path]] = {}
        for csv in root.glob("manifest-*/metadata.csv"):
            for row in read_metadata_csv(csv):
                self.rows[row.series_uid] = (row, row.folder(csv.parent))
        self.hits: Counter[str] = Counter()
        self.fail_images = 0  # answer getImage with 503 this many times

    def files(self, uid: str) -> list[Path]:
        return sorted(self.rows[uid][1].glob("*.dcm"))

    def answer(  # noqa: C901 - one branch per documented endpoint reads best here
        self, endpoint: str, q: dict[str, str]
    ) -> tuple[int, str, bytes]:
        rows = [r for r, _ in self.rows.values()]
        js: object
        if endpoint == "getCollectionValues":
            js = [{"Collection": c} for c in sorted({r.collection for r in rows})]
        elif endpoint == "getPatient":
            js = [
                {"PatientId": p, "PatientName": p, "PatientSex": "", "Collection": c}
                for p, c in sorted({(r.subject_id, r.collection) for r in rows})
                if q.get("Collection") in (None, c)
            ]
        elif endpoint == "getPatientStudy":
            js = [
                {"StudyInstanceUID": s, "StudyDate": d, "StudyDescription": desc,
                 "PatientID": p, "Collection": c, "SeriesCount": n}
                for (s, d, desc, p, c), n in Counter(
                    (r.study_uid, r.study_date, r.study_description, r.subject_id, r.collection)
                    for r in rows
                ).items()
                if q.get("Collection") in (None, c) and q.get("PatientID") in (None, p)
            ]  # fmt: skip
        elif endpoint == "getSeries":
            js = [
                {"SeriesInstanceUID": r.series_uid, "StudyInstanceUID": r.study_uid,
                 "Modality": r.modality, "SeriesDescription": r.series_description,
                 "Collection": r.collection, "PatientID": r.subject_id,
                 "ImageCount": r.number_of_images, "Manufacturer": r.manufacturer}
                for r in rows
                if q.get("Collection") in (None, r.collection)
                and q.get("Modality") in (None, r.modality)
                and q.get("StudyInstanceUID") in (None, r.study_uid)
            ]  # fmt: skip
        elif endpoint == "getSeriesMetaData":
            uid = q["SeriesInstanceUID"]
            if uid not in self.rows:
                return 200, "application/json", b""
            r = self.rows[uid][0]
            first = pydicom.dcmread(self.files(uid)[0], stop_before_pixels=True)
            js = [
                {"Series UID": uid, "Collection": r.collection, "3rd Party Analysis": "NO",
                 "Data Description URI": "", "Subject ID": r.subject_id,
                 "Study UID": r.study_uid, "Study Description": r.study_description,
                 "Study Date": r.study_date, "Series Description": r.series_description,
                 "Manufacturer": r.manufacturer, "Modality": r.modality,
                 "SOP Class Name": r.sop_class_name, "SOP Class UID": r.sop_class_uid,
                 "Number of Images": str(r.number_of_images), "File Size": r.file_size,
                 "Series Number": str(first.get("SeriesNumber", "")),
                 "License Name": "CC BY-NC 4.0"}
            ]  # fmt: skip
        elif endpoint == "getSOPInstanceUIDs":
            js = [
                {"SOPInstanceUID": str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)}
                for p in self.files(q["SeriesInstanceUID"])
            ]
        elif endpoint == "getImage":
            if self.fail_images:
                self.fail_images -= 1
                return 503, "text/plain", b"busy"
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as zf:
                for i, p in enumerate(self.files(q["SeriesInstanceUID"])):
                    zf.write(p, f"1-{i + 1:03d}.dcm")
            return 200, "application/zip", buf.getvalue()
        elif endpoint == "getSingleImage":
            for p in self.files(q["SeriesInstanceUID"]):
                if (
                    pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID
                    == q["SOPInstanceUID"]
                ):
                    return 200, "application/dicom", p.read_bytes()
            return 404, "text/plain", b"no such image"
        else:
            return 404, "text/plain", b"unknown endpoint"
        return 200, "application/json", json.dumps(js).encode()


@pytest.fixture(scope="module")
def nbia(demo_root: Path) -> Iterator[tuple[str, FakeNbia]]:
    fake = FakeNbia(demo_root)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            endpoint = parts.path.rsplit("/", 1)[-1]
            fake.hits[endpoint] += 1
            q = {k: v[0] for k, v in parse_qs(parts.query).items() if k != "format"}
            status, ctype, body = fake.answer(endpoint, q)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/nbia-api/services/v4", fake
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_queries_answer_in_the_documented_shapes(nbia: tuple[str, FakeNbia]) -> None:
    url, _ = nbia
    tcia = NbiaClient(url)
    names = [c["Collection"] for c in tcia.get_collection_values()]
    assert "DEMO-RICORD-1A" in names
    patients = tcia.get_patient("DEMO-RICORD-1B")
    assert patients
    assert all(p["PatientId"].startswith("DEMO-RICORD-1B-") for p in patients)
    studies = tcia.get_patient_study("DEMO-RICORD-1B", patients[0]["PatientId"])
    assert [s["PatientID"] for s in studies] == [patients[0]["PatientId"]]
    series = tcia.get_series(study_uid=studies[0]["StudyInstanceUID"])
    uid = series[0]["SeriesInstanceUID"]
    meta = tcia.get_series_metadata(uid)
    assert meta["Subject ID"] == patients[0]["PatientId"]
    sops = tcia.get_sop_instance_uids(uid)
    assert len(sops) == int(meta["Number of Images"])
    single = tcia.get_single_image(uid, sops[0])
    assert pydicom.dcmread(io.BytesIO(single)).SOPInstanceUID == sops[0]


def test_unknown_series_and_unknown_endpoint_say_so(nbia: tuple[str, FakeNbia]) -> None:
    url, _ = nbia
    with pytest.raises(NotFoundError, match=r"no series 1\.2\.3\.4; check the UID"):
        NbiaClient(url).get_series_metadata("1.2.3.4")
    with pytest.raises(NotFoundError, match="404 Not Found"):
        NbiaClient(url.replace("/v4", "/v9"))._json("getNothing")


def test_pull_of_a_tcia_manifest_indexes_like_the_folder(
    nbia: tuple[str, FakeNbia], demo_root: Path, tmp_path: Path
) -> None:
    url, fake = nbia
    manifest = demo_root / "DEMO-RICORD-1B.tcia"
    uids = read_tcia_manifest(manifest).series_uids
    fake.fail_images = 1  # one 503: retried with backoff, not an error
    report = pull_tcia(manifest, tmp_path, client=NbiaClient(url, backoff=0.01), progress=False)
    assert report.failed == ()
    assert report.series == len(uids)
    rows = read_metadata_csv(report.manifest_dir / "metadata.csv")
    assert {r.series_uid for r in rows} == set(uids)
    with Repository.open(tmp_path) as pulled, Repository.open(demo_root) as folder:
        got = {s.study_uid: s.n_instances for s in pulled.studies()}
        want = {s.study_uid: s.n_instances for s in folder.studies(collection="DEMO-RICORD-1B")}
        assert got == want
        assert {s.collection for s in pulled.studies()} == {"DEMO-RICORD-1B"}
    # run again: every series folder is complete, nothing is downloaded twice
    before = fake.hits["getImage"]
    again = pull_tcia(manifest, tmp_path, client=NbiaClient(url), progress=False)
    assert again.series == len(uids)
    assert fake.hits["getImage"] == before


def test_a_series_that_keeps_failing_is_reported_and_the_rest_arrive(
    nbia: tuple[str, FakeNbia], demo_root: Path, tmp_path: Path
) -> None:
    url, fake = nbia
    uids = list(read_tcia_manifest(demo_root / "DEMO-RICORD-1B.tcia").series_uids)
    fake.fail_images = 2  # more than the one retry allowed
    report = pull_tcia(uids, tmp_path, client=NbiaClient(url, retries=1, backoff=0.001),
                       progress=False)  # fmt: skip
    fake.fail_images = 0
    assert report.series == len(uids) - 1
    assert len(report.failed) == 1
    assert "503 Service Unavailable after 1 retries" in report.failed[0][1]
    assert "run the same pull again" in report.format()
    assert not list(tmp_path.rglob(".part-*"))


def test_a_dead_api_says_cannot_connect(tmp_path: Path) -> None:
    client = NbiaClient("http://127.0.0.1:9/nbia-api/services/v4", retries=0)
    with pytest.raises(RepositoryError, match="cannot connect"):
        pull_tcia(["1.2.3.4"], tmp_path, client=client, progress=False)


def test_idc_without_idc_index_says_how_to_install_it() -> None:
    from teachingfiles.repository.idc import IdcSource, idc_available

    if idc_available():
        pytest.skip("idc-index is installed here")
    with pytest.raises(RepositoryError, match=r"pip install 'teachingfiles\[idc\]'"):
        IdcSource()
