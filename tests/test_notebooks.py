"""Every notebook runs top to bottom (nbclient) against the demo repository.

The notebooks read the demo's folder from ``TEACHINGFILES_DEMO_DIR`` (the session's
``demo_root``); they are stored without outputs. Notebook 06 runs against a real
Orthanc (tests/orthanc.py) holding the demo radiographs when Orthanc is installed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
DASHBOARDS = sorted((ROOT / "notebooks" / "dashboards").glob("*.ipynb"))
ALL = NOTEBOOKS + DASHBOARDS


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT / "notebooks"))


@pytest.fixture
def notebook_env(demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TEACHINGFILES_DEMO_DIR", str(demo_root))
    monkeypatch.setenv("TEACHINGFILES_REPOSITORY", str(demo_root))
    monkeypatch.setenv("TEACHINGFILES_GRADEBOOK", str(tmp_path / "gradebook.sqlite"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("TEACHINGFILES_DICOMWEB_URL", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    return tmp_path


def run(path: Path, cwd: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return nb


def outputs_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def test_there_are_seven_numbered_notebooks_and_three_dashboards() -> None:
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07"]
    assert {p.name for p in DASHBOARDS} == {"quiz.ipynb", "library.ipynb", "gradebook.ipynb"}


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{_id(path)}: cell {cell.id} has stored outputs"
            assert cell.execution_count is None, f"{_id(path)}: cell {cell.id} has a count"
    assert nb.cells[0].cell_type == "markdown"


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in ALL if "06_" not in p.name], ids=_id)
def test_notebook_runs_top_to_bottom(path: Path, notebook_env: Path) -> None:
    nb = run(path, notebook_env)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)


@pytest.mark.slow
def test_notebook_07_reports_three_learners(notebook_env: Path) -> None:
    nb = run(ROOT / "notebooks" / "07_the_educators_gradebook.ipynb", notebook_env)
    text = outputs_text(nb)
    for learner in ("amara", "ben", "chen"):
        assert f"\n{learner} " in f"\n{text}"
    assert "learner,set_id,set_version,session_id,question_id" in text


@pytest.mark.slow
def test_notebook_06_without_a_server_explains_and_skips(notebook_env: Path) -> None:
    nb = run(ROOT / "notebooks" / "06_pulling_from_dicomweb.ipynb", notebook_env)
    text = outputs_text(nb)
    assert "TEACHINGFILES_DICOMWEB_URL is not set" in text
    assert text.count("skipped:") == 2


@pytest.fixture
def orthanc_with_radiographs(demo_root: Path) -> Iterator[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from orthanc import orthanc_server

    files = sorted((demo_root).glob("manifest-*/DEMO-RICORD-1C/**/*.dcm"))[:3]
    assert files
    with orthanc_server() as server:
        server.upload(files)
        yield server.dicomweb


@pytest.mark.slow
@pytest.mark.server
def test_notebook_06_pulls_from_orthanc(
    notebook_env: Path, orthanc_with_radiographs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEACHINGFILES_DICOMWEB_URL", orthanc_with_radiographs)
    nb = run(ROOT / "notebooks" / "06_pulling_from_dicomweb.ipynb", notebook_env)
    text = outputs_text(nb)
    assert "skipped" not in text
    assert "studies in the new repository" in text
    assert os.environ["TEACHINGFILES_DICOMWEB_URL"] == orthanc_with_radiographs
