"""Dashboards served by Voila: the quiz, the case library and the gradebook.

The notebooks in ``notebooks/dashboards/`` stay a few lines long: each displays
one of the widgets here. Where they look for data is set by environment variables
(:mod:`teachingfiles.dashboards._env`): ``TEACHINGFILES_REPOSITORY``,
``TEACHINGFILES_GRADEBOOK`` and, under JupyterHub, ``JUPYTERHUB_USER`` for the
learner's name. ``style.css`` is the one stylesheet (light and dark), and
``voila/templates/teachingfiles`` a Voila template that fetches nothing from a CDN.
"""

from __future__ import annotations

from pathlib import Path

from teachingfiles.dashboards._env import (
    ENV_GRADEBOOK,
    ENV_LEARNER,
    ENV_REPOSITORY,
    default_gradebook,
    ensure_demo,
    gradebook_url,
    hub_learner,
    repository_root,
    teaching_sets,
)
from teachingfiles.dashboards._ui import stylesheet
from teachingfiles.dashboards.results import (
    ResultRow,
    attempts_csv,
    hardest,
    results_by,
    results_chart,
)

__all__ = [
    "ENV_GRADEBOOK",
    "ENV_LEARNER",
    "ENV_REPOSITORY",
    "TEMPLATE",
    "ResultRow",
    "attempts_csv",
    "default_gradebook",
    "ensure_demo",
    "gradebook_url",
    "hardest",
    "hub_learner",
    "jupyter_path",
    "repository_root",
    "results_by",
    "results_chart",
    "stylesheet",
    "teaching_sets",
]

#: The Voila template name (``--template=teachingfiles``) once :func:`jupyter_path` is on
#: ``JUPYTER_PATH``.
TEMPLATE = "teachingfiles"


def jupyter_path() -> Path:
    """Return the folder to add to ``JUPYTER_PATH`` for the ``teachingfiles`` Voila template."""
    return Path(__file__).resolve().parent
