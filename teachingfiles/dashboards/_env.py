"""Where the dashboards find their repository, gradebook and learner.

``teachingfiles serve`` (and a JupyterHub or Binder launch) tells the dashboard
notebooks what to open through environment variables, so the notebooks carry no
paths:

``TEACHINGFILES_REPOSITORY``
    The repository folder (default: the demo repository, built on first use).
``TEACHINGFILES_GRADEBOOK``
    The gradebook's SQLAlchemy URL or SQLite path (default: ``gradebook.sqlite``
    next to the demo under the user's data folder).
``JUPYTERHUB_USER``
    Set by JupyterHub for each learner's server: the learner's name, which the
    dashboards then use instead of asking.
"""

from __future__ import annotations

import os
from pathlib import Path

from teachingfiles.commands.demo import default_demo_dir

__all__ = [
    "ENV_GRADEBOOK",
    "ENV_LEARNER",
    "ENV_REPOSITORY",
    "default_gradebook",
    "ensure_demo",
    "gradebook_url",
    "hub_learner",
    "repository_root",
    "teaching_sets",
]

ENV_REPOSITORY = "TEACHINGFILES_REPOSITORY"
ENV_GRADEBOOK = "TEACHINGFILES_GRADEBOOK"
ENV_LEARNER = "JUPYTERHUB_USER"


def ensure_demo(root: str | os.PathLike[str] | None = None) -> Path:
    """Return the demo repository folder, building and indexing it on first use.

    Parameters
    ----------
    root
        Where the demo lives (default :func:`~teachingfiles.commands.demo.default_demo_dir`).
        It is built when its ``.complete`` marker is missing, as ``teachingfiles demo`` does.
    """
    from teachingfiles.demo import build_demo
    from teachingfiles.repository import Repository

    folder = Path(root).expanduser() if root is not None else default_demo_dir()
    if not (folder / ".complete").exists():
        build_demo(folder)
    Repository.open(folder).close()  # indexes a demo that has no catalog yet
    return folder


def repository_root() -> Path:
    """Return the repository the dashboards show: ``$TEACHINGFILES_REPOSITORY``, else the demo."""
    given = os.environ.get(ENV_REPOSITORY)
    if given:
        return Path(given).expanduser()
    return ensure_demo()


def default_gradebook() -> str:
    """Return the default gradebook: ``gradebook.sqlite`` beside the default demo repository."""
    return str(default_demo_dir().parent / "gradebook.sqlite")


def gradebook_url() -> str:
    """Return the gradebook to use: ``$TEACHINGFILES_GRADEBOOK``, else :func:`default_gradebook`."""
    return os.environ.get(ENV_GRADEBOOK) or default_gradebook()


def hub_learner() -> str | None:
    """Return the learner's name when running under JupyterHub (``$JUPYTERHUB_USER``), else None."""
    name = os.environ.get(ENV_LEARNER, "").strip()
    return name or None


def teaching_sets(root: str | os.PathLike[str]) -> list[Path]:
    """Return the teaching set manifests of a repository (``teaching-sets/*.yaml``), sorted."""
    folder = Path(root) / "teaching-sets"
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
