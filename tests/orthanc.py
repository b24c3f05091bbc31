"""A throwaway Orthanc DICOMweb server for tests and benchmarks (Debian ``orthanc`` +
``orthanc-dicomweb``).

:func:`orthanc_server` writes a JSON configuration into a temporary folder (storage
and index there, ``RemoteAccessAllowed`` false, free HTTP and DICOM ports, the DICOM
server disabled, no DICOM modalities or peers, the DICOMweb plugin enabled), starts
``Orthanc`` in its own process group, waits until ``/system`` answers on 127.0.0.1,
yields an :class:`Orthanc` handle and stops the server by its process id at the end.
It skips with the reason when Orthanc or the plugin is not installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

_PLUGIN_CANDIDATES = (
    "/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
    "/usr/lib/orthanc/libOrthancDicomWeb.so",
)


def orthanc_binary() -> str | None:
    """The ``Orthanc`` executable, if installed."""
    return shutil.which("Orthanc") or (
        "/usr/sbin/Orthanc" if Path("/usr/sbin/Orthanc").exists() else None
    )


def dicomweb_plugin() -> str | None:
    """The DICOMweb plugin's shared library (``dpkg -L orthanc-dicomweb``), if installed."""
    for path in _PLUGIN_CANDIDATES:
        if Path(path).exists():
            return path
    found = sorted(Path("/usr/lib/orthanc").glob("libOrthancDicomWeb.so*"))
    return str(found[0]) if found else None


def missing_reason() -> str | None:
    """Why Orthanc cannot run here (``None`` if it can)."""
    if orthanc_binary() is None:
        return "Orthanc is not installed (Debian package 'orthanc')"
    if dicomweb_plugin() is None:
        return "the Orthanc DICOMweb plugin is not installed (Debian package 'orthanc-dicomweb')"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Orthanc:
    """A running Orthanc: its REST root, DICOMweb root, process id and folder."""

    url: str
    pid: int
    folder: Path

    @property
    def dicomweb(self) -> str:
        """The DICOMweb root (QIDO/WADO/STOW)."""
        return f"{self.url}/dicom-web"

    def upload(self, paths: Iterable[Path], threads: int = 2) -> int:
        """Upload DICOM files through the REST API (``POST /instances``); the count stored."""

        def post(path: Path) -> int:
            with requests.Session() as session:
                r = session.post(f"{self.url}/instances", data=path.read_bytes(), timeout=30)
                r.raise_for_status()
            return 1

        files = list(paths)
        with ThreadPoolExecutor(threads) as pool:
            return sum(pool.map(post, files))

    def delete_patient(self, patient_id: str) -> None:
        """Delete one patient (found by PatientID) and everything under it."""
        found = requests.post(
            f"{self.url}/tools/find",
            json={"Level": "Patient", "Query": {"PatientID": patient_id}},
            timeout=10,
        ).json()
        for pid in found:
            requests.delete(f"{self.url}/patients/{pid}", timeout=30).raise_for_status()

    def clear(self) -> None:
        """Delete every patient (so a test starts from an empty server)."""
        for pid in requests.get(f"{self.url}/patients", timeout=10).json():
            requests.delete(f"{self.url}/patients/{pid}", timeout=30).raise_for_status()


def _config(folder: Path, http_port: int, dicom_port: int, plugin: str) -> dict[str, object]:
    return {
        "Name": "teachingfiles-tests",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "StorageCompression": False,
        "HttpServerEnabled": True,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "SslEnabled": False,
        "DicomServerEnabled": False,
        "DicomPort": dicom_port,
        "DicomModalities": {},
        "OrthancPeers": {},
        "DicomAlwaysAllowEcho": False,
        "DicomAlwaysAllowStore": False,
        "SaveJobs": False,
        "HttpThreadsCount": 8,
        "Plugins": [plugin],
        "DicomWeb": {
            "Enable": True,
            "Root": "/dicom-web/",
            "EnableWado": True,
            "WadoRoot": "/wado",
            "Ssl": False,
            "StudiesMetadata": "Full",
            "SeriesMetadata": "Full",
            "Servers": {},
        },
    }


@contextlib.contextmanager
def orthanc_server() -> Iterator[Orthanc]:
    """Start Orthanc on loopback in a temporary folder; yield it; stop it by its pid."""
    import pytest

    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    folder = Path(tempfile.mkdtemp(prefix="tf-orthanc-"))
    try:
        with _running(folder) as server:
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _running(folder: Path) -> Iterator[Orthanc]:
    binary, plugin = orthanc_binary(), dicomweb_plugin()
    assert binary and plugin
    http_port, dicom_port = _free_port(), _free_port()
    config = folder / "orthanc.json"
    config.write_text(json.dumps(_config(folder, http_port, dicom_port, plugin), indent=1))
    log = (folder / "orthanc.log").open("wb")
    proc = subprocess.Popen(
        [binary, str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
        start_new_session=True,  # its own process group, killed as one at the end
    )
    url = f"http://127.0.0.1:{http_port}"
    try:
        _wait_ready(url, proc, folder / "orthanc.log")
        yield Orthanc(url=url, pid=proc.pid, folder=folder)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Orthanc exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{url}/system", timeout=1).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"Orthanc did not answer {url}/system within 30 s")


@contextlib.contextmanager
def standalone() -> Iterator[Orthanc]:
    """Like :func:`orthanc_server` without pytest (for the benchmark)."""
    reason = missing_reason()
    if reason:
        raise RuntimeError(reason)
    folder = Path(tempfile.mkdtemp(prefix="tf-orthanc-"))
    try:
        with _running(folder) as server:
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)
