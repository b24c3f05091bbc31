"""Handouts: a teaching case or a whole set as one self-contained HTML file.

The page reads like a teaching file an educator would print: each case with its
history, its key images and its questions first (no answers, no annotations),
then an Answers section with the findings, the category and its reasoning, the
teaching points and references, the key images again with the annotations drawn
(matplotlib, :func:`~teachingfiles.cases.figures.key_image_figure`) and every
question's answer and explanation. Images are embedded as PNG data, the style is
inline, nothing is fetched from anywhere: the file can be mailed, shared or printed
(the Answers start on a new page).

Example
-------
>>> write_handout("teaching-sets/covid.yaml", "covid-handout.html")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import replace
from html import escape
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from teachingfiles.cases.case import KeyImage, ReadSummary, TeachingCase
from teachingfiles.cases.teaching_set import TeachingSet
from teachingfiles.errors import NotFoundError, TeachingFilesError, UsageError

if TYPE_CHECKING:
    from teachingfiles.quiz.questions import Question
    from teachingfiles.repository import Repository

__all__ = ["handout_html", "write_handout"]

_STYLE = """
body{font-family:Georgia,serif;max-width:52em;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #999;margin-top:2em}
.meta{color:#555}.synthetic{background:#fff3cd;padding:.3em .6em;border-left:4px solid #e0a800}
figure{display:inline-block;margin:.5em;vertical-align:top;max-width:22em}
figure img{width:100%;background:#000}figcaption{font-size:.9em;color:#444}
.missing{color:#a00;font-style:italic}ol.choices{list-style:upper-alpha}
.answers{page-break-before:always;break-before:page}
ul.readers{list-style:none;padding-left:1em}ul.readers li[title]{cursor:help}
.adjudicator{font-weight:bold}
@media print{body{margin:0;max-width:none}figure{page-break-inside:avoid}}
"""


def _p(label: str, text: str) -> str:
    return f"<p><b>{escape(label)}:</b> {escape(text)}</p>" if text else ""


def _list(label: str, items: Sequence[str]) -> str:
    if not items:
        return ""
    body = "".join(f"<li>{escape(i)}</li>" for i in items)
    return f"<p><b>{escape(label)}:</b></p><ul>{body}</ul>"


def _readers(reads: ReadSummary | None) -> str:
    """Render the readers' calls ("Reader 1: typical"), the adjudicator marked, the agreement.

    The annotators' MD.ai ids are kept in each line's ``title`` (shown on hover).
    """
    if reads is None or not reads.calls:
        return ""

    def line(call: Any, name: str, cls: str = "") -> str:
        title = f' title="MD.ai user {escape(call.reader_id)}"' if call.reader_id else ""
        said = ", ".join(p.value for p in (call.appearance, call.severity) if p) or "no call"
        return f"<li{cls}{title}>{escape(name)}: {escape(said)}</li>"

    items = [line(c, c.reader) for c in reads.calls]
    if reads.adjudication is not None:
        items.append(line(reads.adjudication, "Adjudicator", ' class="adjudicator"'))
    agreement = escape(reads.agreement()[:1].upper() + reads.agreement()[1:])
    return f'<p><b>Readers:</b> {agreement}.</p><ul class="readers">{"".join(items)}</ul>'


def _shapes(repo: Repository, case: TeachingCase, series: str, names: Sequence[str]) -> list[Any]:
    from teachingfiles.cases.geometry import Shape
    from teachingfiles.repository.mdai import Annotation

    shapes = []
    for rec in repo.annotations(case.study_uid, series_uid=series):
        if not rec.data or not rec.sop_uid or (names and rec.label_name not in names):
            continue
        if rec.mode is not None and rec.mode.value == "mask":
            continue
        ann = Annotation(
            id=rec.annotation_id,
            label_id=rec.label_id,
            study_uid=rec.study_uid,
            series_uid=rec.series_uid,
            sop_uid=rec.sop_uid,
            frame_number=rec.frame_number,
            data=rec.data,
        )
        try:
            shapes.append(
                Shape.from_mdai(
                    ann, mode=rec.mode, color=rec.color or "#ffcc00", name=rec.label_name
                )
            )
        except ValueError:  # a shape without usable geometry is left out, not fatal
            continue
    return shapes


def _image(repo: Repository, case: TeachingCase, key: KeyImage, *, reveal: bool) -> str:
    """Return a ``<figure>`` with the key image as PNG data, or a note saying why not."""
    from teachingfiles.cases.figures import key_image_figure
    from teachingfiles.dicom.pixels import DicomImage
    from teachingfiles.dicom.volume import Volume

    series = key.series_uid or case.series_uid
    source: Any = None
    try:
        if series is None:
            found = repo.series(case.study_uid)
            if not found:
                raise NotFoundError(f"study {case.study_uid} has no series")
            series = found[0].series_uid
        paths = [i.path for i in repo.instances(series)]
        source = DicomImage.from_file(paths[0]) if len(paths) == 1 else Volume.open(paths)
        shapes = _shapes(repo, case, series, key.annotations) if reveal else []
        fig = key_image_figure(
            source,
            index=key.slice,
            view=key.view.value,
            window=key.preset,
            shapes=shapes,
            legend=reveal,
            width_inches=4.5,
        )
        buf = io.BytesIO()
        fig.savefig(buf, format="png", facecolor=fig.get_facecolor())
    except (TeachingFilesError, OSError, ValueError) as exc:
        return f'<p class="missing">Image not available ({escape(str(exc))}).</p>'
    finally:
        if isinstance(source, Volume):
            source.close()
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    caption = escape(key.caption) if reveal and key.caption else ""
    # the caption often names the finding: before the answers the alt text says nothing
    alt = escape(key.caption or f"key image of {case.title}") if reveal else "key image"
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _answer(q: Question, case: TeachingCase | None) -> str:
    kind = q.kind.value
    if q.answers:
        return "; ".join(q.answers)
    if kind == "category" and case is not None and case.category is not None:
        return case.category.value
    if kind == "severity" and case is not None and case.severity is not None:
        return case.severity.value
    if kind in ("click", "box"):
        labels = ", ".join(q.labels) if q.labels else "any annotated finding"
        return f"the annotated region ({labels}): see the key images above"
    return "see the case discussion"


def _question(q: Question, number: int, *, reveal: bool, case: TeachingCase | None) -> str:
    out = f"<p><b>Q{number}.</b> {escape(q.prompt)}</p>"
    if q.choices:
        out += '<ol class="choices">' + "".join(f"<li>{escape(c)}</li>" for c in q.choices)
        out += "</ol>"
    if reveal:
        out += _p("Answer", _answer(q, case)) + _p("Explanation", q.explanation)
        out += _list("Teaching points", q.teaching_points)
    return out


def _case_front(repo: Repository, n: int, case: TeachingCase, questions: list[Question]) -> str:
    note = (
        f'<p class="synthetic">{escape(case.source or "Synthetic images.")}</p>'
        if case.synthetic
        else _p("Source", case.source)
    )
    images = "".join(_image(repo, case, k, reveal=False) for k in case.key_images)
    asked = "".join(_question(q, i + 1, reveal=False, case=case) for i, q in enumerate(questions))
    return f"<section><h2>Case {n}</h2>{note}{_p('History', case.history)}{images}{asked}</section>"


def _case_back(repo: Repository, n: int, case: TeachingCase, questions: list[Question]) -> str:
    category = case.category.value if case.category else ""
    if case.severity is not None:
        category += f" (airspace disease: {case.severity.value})"
    refs = [
        r.citation + (f" doi:{r.doi}" if r.doi else "") + (f" {r.url}" if r.url else "")
        for r in case.references
    ]
    parts = [
        f"<h3>Case {n}: {escape(case.title)}</h3>",
        _p("Findings", case.findings),
        _p("Diagnosis", case.diagnosis),
        _p("Category", category),
        _p("Reasoning", case.reasoning),
        _readers(case.reads),
        _list("Differential", case.differential),
        _p("Discussion", case.discussion),
        _list("Teaching points", case.teaching_points),
        _list("References", refs),
        "".join(_image(repo, case, k, reveal=True) for k in case.key_images),
        "".join(_question(q, i + 1, reveal=True, case=case) for i, q in enumerate(questions)),
    ]
    return "<section>" + "".join(parts) + "</section>"


def handout_html(
    ts: TeachingSet, repo: Repository, *, case_ids: Sequence[str] | None = None
) -> str:
    """Return the handout of a teaching set (or of the cases named) as one HTML page."""
    from teachingfiles.quiz.resolve import resolve

    cases = [c for c in ts.cases if case_ids is None or c.id in case_ids]
    if case_ids is not None and len(cases) != len(set(case_ids)):
        unknown = sorted(set(case_ids) - {c.id for c in cases})
        known = ", ".join(c.id for c in ts.cases)
        raise NotFoundError(
            f"no case {', '.join(unknown)} in the teaching set {ts.title!r}; its cases are: {known}"
        )
    # the readers' calls come from the repository's labels (problems show as missing images)
    resolved = resolve(replace(ts, cases=tuple(cases), questions=()), repo, strict=False).cases
    cases = [resolved.get(c.id, c) for c in cases]
    by_case = {c.id: [q for q in ts.questions if q.case == c.id] for c in cases}
    general = [q for q in ts.questions if q.case is None] if case_ids is None else []
    meta = " · ".join(x for x in (ts.author, ts.audience, ts.licence) if x)
    head = f'<h1>{escape(ts.title)}</h1><p class="meta">{escape(meta)}</p>'
    if ts.description:
        head += f"<p>{escape(ts.description)}</p>"
    front = "".join(_case_front(repo, i + 1, c, by_case[c.id]) for i, c in enumerate(cases))
    if general:
        front += (
            "<section><h2>Questions</h2>"
            + "".join(_question(q, i + 1, reveal=False, case=None) for i, q in enumerate(general))
            + "</section>"
        )
    back = "".join(_case_back(repo, i + 1, c, by_case[c.id]) for i, c in enumerate(cases))
    if general:
        back += (
            "<section><h3>Questions</h3>"
            + "".join(_question(q, i + 1, reveal=True, case=None) for i, q in enumerate(general))
            + "</section>"
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(ts.title)}</title><style>{_STYLE}</style></head><body>"
        f'{head}{front}<div class="answers"><h2>Answers</h2>{back}</div></body></html>\n'
    )


def write_handout(
    manifest: str | PathLike[str] | TeachingSet,
    out: str | PathLike[str],
    *,
    repo: str | PathLike[str] | None = None,
    case_ids: Sequence[str] | None = None,
) -> Path:
    """Write the handout of a teaching set (a manifest path or a loaded set) to ``out``.

    ``repo`` defaults to the folder above ``teaching-sets/`` when the manifest lies
    there, else the manifest's folder (required when a loaded set is given).
    """
    from teachingfiles.repository import Repository

    if isinstance(manifest, TeachingSet):
        if repo is None:
            raise UsageError("write_handout: pass repo= with a loaded TeachingSet")
        ts, root = manifest, Path(repo)
    else:
        src = Path(manifest)
        ts = TeachingSet.from_yaml(src)
        default = src.parent.parent if src.parent.name == "teaching-sets" else src.parent
        root = Path(repo) if repo else default
    with Repository.open(root) as repository:
        page = handout_html(ts, repository, case_ids=case_ids)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target
