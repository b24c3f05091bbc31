"""Small pieces the dashboards share: the stylesheet, HTML tables, figures as images."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import ipywidgets  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["chart_html", "failure", "figure_html", "html_table", "message", "style", "stylesheet"]


def stylesheet() -> str:
    """Return the dashboards' CSS (``teachingfiles/dashboards/style.css``): light and dark."""
    return files("teachingfiles.dashboards").joinpath("style.css").read_text(encoding="utf-8")


def style() -> Any:
    """Return an (invisible) widget that puts the stylesheet on the page; display it first."""
    return ipywidgets.HTML(f"<style>{stylesheet()}</style>", layout=ipywidgets.Layout(height="0"))


def html_table(header: Sequence[str], rows: Sequence[Sequence[Any]], numeric: int = 1) -> str:
    """Return an HTML table; columns from index ``numeric`` on are right-aligned numbers."""

    def cell(tag: str, i: int, value: Any) -> str:
        cls = ' class="num"' if i >= numeric else ""
        return f"<{tag}{cls}>{html.escape(str(value))}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def figure_html(fig: Figure, alt: str) -> str:
    """Return a matplotlib figure as an inline PNG ``<img>`` (no file, nothing fetched)."""
    return (
        f'<img alt="{html.escape(alt)}" style="max-width:100%" '
        f'src="data:image/png;base64,{_png_b64(fig)}">'
    )


def _png_b64(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def chart_html(light: Figure, dark: Figure, alt: str) -> str:
    """Return a chart drawn twice as one ``<picture>``: the browser picks light or dark.

    The dark scheme's version is chosen by ``prefers-color-scheme``, as the stylesheet
    is, so a chart never glares white on a dark page. Both are inline PNGs.
    """
    return (
        '<picture><source media="(prefers-color-scheme: dark)" '
        f'srcset="data:image/png;base64,{_png_b64(dark)}">'
        f'<img alt="{html.escape(alt)}" style="max-width:100%" '
        f'src="data:image/png;base64,{_png_b64(light)}"></picture>'
    )


def message(text: str, kind: str = "muted") -> str:
    """Return a status line in the dashboards' colours (muted, good, warn, bad)."""
    return f'<div class="tfd-{kind}">{html.escape(text)}</div>'


def failure(what: str, error: Exception) -> Any:
    """Return a card saying the dashboard cannot open, why, and where to fix it.

    Parameters
    ----------
    what
        What failed, as the user sees it (``"The quiz cannot open"``).
    error
        The exception; its message names the file or setting at fault.
    """
    return ipywidgets.HTML(
        '<div class="tfd-card tfd-failure">'
        f'<div class="tfd-bad">{html.escape(what)}.</div>'
        f"<p>{html.escape(str(error))}</p>"
        '<p class="tfd-muted">If you run the server: check the repository and gradebook given '
        "to <code>teachingfiles serve</code> (<code>--repository</code>, "
        "<code>--gradebook</code>, or <code>TEACHINGFILES_REPOSITORY</code> and "
        "<code>TEACHINGFILES_GRADEBOOK</code>), then reload this page.</p></div>"
    )
