"""The authoring draft: what an educator has typed and drawn, saved as they go.

A draft is one JSON file holding the teaching set in its manifest form (the same
dict :meth:`TeachingSet.to_dict` writes, so a draft and a manifest never drift
apart), the annotations drawn so far (:class:`AuthoredAnnotation`), the label set
offered for drawing (:class:`LabelChoice`) and where the set is saved. It is
written atomically (a temporary file in the same folder, then ``os.replace``) so
a kernel that dies mid-write leaves the previous draft whole.

A draft may be incomplete (a question without its answer yet): it is read back
leniently, with the manifest parser collecting problems instead of raising;
:meth:`AuthoringSession.validate <teachingfiles.cases.authoring.AuthoringSession.validate>`
reports them.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from os import PathLike
from pathlib import Path
from typing import Any

from teachingfiles.cases._yaml import Document
from teachingfiles.cases.teaching_set import TeachingSet
from teachingfiles.errors import FormatError, UsageError
from teachingfiles.vocabulary import AnnotationMode

__all__ = [
    "DRAFT_FORMAT",
    "AuthoredAnnotation",
    "Draft",
    "DrawKind",
    "LabelChoice",
    "as_points",
    "read_draft",
    "write_draft",
]

DRAFT_FORMAT = "teachingfiles-authoring-draft"
_DRAFT_VERSION = 1


class DrawKind(StrEnum):
    """The shapes an educator can draw, and the MD.ai annotation mode each becomes."""

    BOX = "box"
    POLYGON = "polygon"
    POINT = "point"
    FREEHAND = "freehand"

    @property
    def mdai_mode(self) -> AnnotationMode:
        """The MD.ai ``annotationMode`` of this shape."""
        return {
            DrawKind.BOX: AnnotationMode.BBOX,
            DrawKind.POLYGON: AnnotationMode.POLYGON,
            DrawKind.POINT: AnnotationMode.LOCATION,
            DrawKind.FREEHAND: AnnotationMode.FREEFORM,
        }[self]

    @classmethod
    def parse(cls, value: DrawKind | str) -> DrawKind:
        """Accept the enum or its name (``"box"``, ``"Freehand"``)."""
        if isinstance(value, DrawKind):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            names = ", ".join(k.value for k in cls)
            raise UsageError(f"cannot draw a {value!r}; expected one of {names}") from None


@dataclass(frozen=True)
class LabelChoice:
    """A label offered for drawing: its name (as the repository spells it) and colour."""

    name: str
    color: str = "#ff5722"
    description: str = ""

    def as_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"name": self.name, "color": self.color, "description": self.description}


@dataclass(frozen=True)
class AuthoredAnnotation:
    """One shape drawn by the educator on one image of a case.

    ``points`` are ``(x, y)`` pixels, x the column (MD.ai's convention): a box is
    its two corners (top-left, bottom-right), a point one pair, a polygon or a
    freehand outline its vertices. ``slice`` is the 0-based index in the series
    sorted along the slice normal; ``sop_uid`` the image it lies on.

    A shape drawn on a coronal or sagittal image becomes one annotation per
    acquired slice it crosses (see :mod:`._authoring_planes`); those share a
    ``group`` id and say where they were drawn: ``drawn_on`` is ``(view, image
    index)``, e.g. ``("coronal", 255)``. Both are empty for a shape drawn on the
    acquired slice itself.
    """

    id: str
    case: str
    label: str
    kind: DrawKind
    study_uid: str
    series_uid: str
    slice: int
    sop_uid: str
    points: tuple[tuple[float, float], ...]
    group: str = ""
    drawn_on: tuple[str, int] | None = None

    def mdai_data(self) -> dict[str, Any]:
        """Return the MD.ai ``data``: ``{x, y, width, height}``, ``{vertices}`` or ``{x, y}``."""
        if self.kind is DrawKind.BOX:
            (x0, y0), (x1, y1) = self.points[0], self.points[-1]
            return {"x": min(x0, x1), "y": min(y0, y1), "width": abs(x1 - x0),
                    "height": abs(y1 - y0)}  # fmt: skip
        if self.kind is DrawKind.POINT:
            return {"x": self.points[0][0], "y": self.points[0][1]}
        return {"vertices": [[x, y] for x, y in self.points]}

    def shape(self, color: str) -> dict[str, Any]:
        """Return the viewer's overlay shape (placed by ``sop_uid``)."""
        kind = {"box": "box", "point": "point"}.get(self.kind.value, "polygon")
        return {"sop_uid": self.sop_uid, "label": self.label, "color": color, "kind": kind,
                "points": [[x, y] for x, y in self.points]}  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """JSON form (for the draft); ``group`` and ``drawn_on`` only when set."""
        out: dict[str, Any] = {
            "id": self.id, "case": self.case, "label": self.label, "kind": self.kind.value,
            "study": self.study_uid, "series": self.series_uid, "slice": self.slice,
            "sop": self.sop_uid, "points": [[x, y] for x, y in self.points],
        }  # fmt: skip
        if self.group:
            out["group"] = self.group
        if self.drawn_on is not None:
            out["drawn_on"] = {"view": self.drawn_on[0], "image": self.drawn_on[1]}
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AuthoredAnnotation:
        """Read the JSON form back."""
        return cls(
            id=str(raw["id"]),
            case=str(raw["case"]),
            label=str(raw["label"]),
            kind=DrawKind.parse(raw["kind"]),
            study_uid=str(raw["study"]),
            series_uid=str(raw["series"]),
            slice=int(raw["slice"]),
            sop_uid=str(raw["sop"]),
            points=tuple((float(x), float(y)) for x, y in raw["points"]),
            group=str(raw.get("group") or ""),
            drawn_on=(
                (str(raw["drawn_on"]["view"]), int(raw["drawn_on"]["image"]))
                if raw.get("drawn_on")
                else None
            ),
        )


@dataclass(frozen=True)
class Draft:
    """Everything an authoring session holds, as saved in the draft file."""

    teaching_set: TeachingSet
    annotations: tuple[AuthoredAnnotation, ...] = ()
    labels: tuple[LabelChoice, ...] = ()
    output: str | None = None
    published: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        """Return the draft file's JSON object."""
        return {
            "format": DRAFT_FORMAT,
            "version": _DRAFT_VERSION,
            "manifest": self.teaching_set.to_dict(),
            "annotations": [a.as_dict() for a in self.annotations],
            "labels": [lab.as_dict() for lab in self.labels],
            "output": self.output,
            "published": self.published,
        }


def _lenient_set(manifest: Mapping[str, Any], path: str) -> TeachingSet:
    # The manifest parser records problems instead of raising; a draft may be
    # incomplete, so the set is read with its problems kept for validate().
    from teachingfiles.cases.teaching_set import _parse_set

    return _parse_set(Document(path=path, data=dict(manifest), lines={}))


def read_draft(path: str | PathLike[str]) -> Draft:
    """Read a draft file.

    Raises
    ------
    FormatError
        If the file is not JSON or not an authoring draft (naming the file).
    """
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"the draft is not valid JSON ({exc.msg}); restore it from a backup or "
            "start a new draft under another name",
            path=p,
            line=exc.lineno,
        ) from exc
    if not isinstance(raw, dict) or raw.get("format") != DRAFT_FORMAT:
        raise FormatError(
            f"not an authoring draft: expected a JSON object with format {DRAFT_FORMAT!r}",
            path=p,
        )
    try:
        teaching_set = _lenient_set(raw["manifest"], str(p))
        annotations = tuple(AuthoredAnnotation.from_dict(a) for a in raw.get("annotations", []))
        labels = tuple(
            LabelChoice(str(lab["name"]), str(lab.get("color") or "#ff5722"),
                        str(lab.get("description") or ""))
            for lab in raw.get("labels", [])
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"the draft is damaged: {exc!r}", path=p) from exc
    return Draft(teaching_set, annotations, labels, raw.get("output"), raw.get("published"))


def write_draft(draft: Draft, path: str | PathLike[str]) -> Path:
    """Write the draft atomically: a temporary file beside it, then a rename."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(draft.to_json(), indent=1, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def as_points(points: Sequence[Sequence[float]]) -> tuple[tuple[float, float], ...]:
    """Normalise ``[[x, y], ...]`` to a tuple of float pairs (rounded to 0.01 px)."""
    return tuple((round(float(p[0]), 2), round(float(p[1]), 2)) for p in points)
