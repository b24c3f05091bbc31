"""Find the browser-side files (ES modules and CSS) of the widgets.

In an installed wheel they live in ``teachingfiles/_static`` (pyproject force-includes
the top-level ``widgets`` folder there); in an editable install or a checkout they
are read from the repository's ``widgets/`` folder.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from teachingfiles.errors import RepositoryError

__all__ = ["PRELUDE", "static_module", "static_path", "static_text"]

_PACKAGE = Path(__file__).resolve().parents[1]
_CANDIDATES = (_PACKAGE / "_static", _PACKAGE.parent / "widgets")
#: Browser files every widget module starts with (a module loaded from a string
#: cannot import its neighbours, so shared code is put in front of it).
PRELUDE: tuple[str, ...] = ("_resync.js",)


def static_path(name: str) -> Path:
    """Return the path of the browser file ``name`` (e.g. ``"viewer.js"``).

    Raises
    ------
    RepositoryError
        If neither the wheel's ``_static`` folder nor the checkout's ``widgets``
        folder holds the file (a broken install).
    """
    for folder in _CANDIDATES:
        path = folder / name
        if path.is_file():
            return path
    tried = ", ".join(str(folder / name) for folder in _CANDIDATES)
    raise RepositoryError(
        f"the widget file {name!r} is missing (looked at {tried}); reinstall teachingfiles "
        "or run from a checkout that has the top-level widgets/ folder"
    )


@cache
def static_text(name: str) -> str:
    """Return the text of the browser file ``name`` (read once per process)."""
    return static_path(name).read_text(encoding="utf-8")


@cache
def static_module(name: str) -> str:
    """Return the ES module ``name`` with the shared :data:`PRELUDE` in front of it."""
    return "\n".join([*(static_text(p) for p in PRELUDE), static_text(name)])
