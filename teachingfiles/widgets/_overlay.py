"""Annotations as the viewer draws them: small JSON shapes placed on slices.

Each shape becomes ``{"slice", "label", "color", "kind", "points"}`` with points as
``[x, y]`` pixels (x the column, MD.ai's convention). Accepted inputs: dicts in that
form (``vertices`` or MD.ai ``data`` work too, ``sop_uid`` instead of ``slice``), and
MD.ai :class:`~teachingfiles.repository.mdai.Annotation` objects, whose label colour
and name come from a ``labels`` mapping of label id to MD.ai ``Label``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from teachingfiles.errors import UsageError

__all__ = ["DEFAULT_COLORS", "normalize_annotations"]

DEFAULT_COLORS = ("#ff8c00", "#00c8ff", "#ff3ea5", "#7cfc00", "#ffd700", "#b388ff")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _points_from_data(data: Mapping[str, Any]) -> tuple[str, list[list[float]]]:
    if "vertices" in data:
        return "polygon", [[float(x), float(y)] for x, y in data["vertices"]]
    if {"x", "y", "width", "height"} <= set(data):
        x, y = float(data["x"]), float(data["y"])
        return "box", [[x, y], [x + float(data["width"]), y + float(data["height"])]]
    if {"x", "y"} <= set(data):
        return "point", [[float(data["x"]), float(data["y"])]]
    raise UsageError(f"annotation data {sorted(data)} has no vertices, box or point")


def _one(
    item: Any,
    position: int,
    labels: Mapping[str, Any],
    sop_index: Mapping[str, int],
    n_slices: int,
) -> dict[str, Any] | None:
    if isinstance(item, Mapping):
        raw: dict[str, Any] = dict(item)
    elif hasattr(item, "label_id") and hasattr(item, "data"):  # an MD.ai Annotation
        raw = {"label_id": item.label_id, "data": item.data, "sop_uid": item.sop_uid}
        if getattr(item, "frame_number", None):
            raw["frame"] = item.frame_number
    else:
        raise UsageError(
            f"annotation {position} is a {type(item).__name__}; expected a dict "
            "(slice, label, points) or an MD.ai Annotation"
        )
    label = labels.get(str(raw.get("label_id", "")))
    name = str(raw.get("label") or getattr(label, "name", None) or raw.get("label_id") or "")
    color = str(raw.get("color") or getattr(label, "color", "") or "")
    if "points" in raw or "vertices" in raw:
        pts = raw["points"] if "points" in raw else raw["vertices"]
        kind = str(raw.get("kind", "polygon"))
        points = [[float(x), float(y)] for x, y in pts]
    elif raw.get("data"):
        kind, points = _points_from_data(raw["data"])
    else:
        return None  # a study or series label: nothing to draw
    if "slice" in raw:
        index = int(raw["slice"])
    elif raw.get("sop_uid") in sop_index:
        index = sop_index[raw["sop_uid"]]
    elif raw.get("sop_uid"):
        return None  # drawn on an image of another series
    else:
        index = 0
    if not 0 <= index < n_slices:
        raise UsageError(f"annotation {position} is on slice {index}; the stack has {n_slices}")
    if kind not in {"polygon", "box", "point", "line"}:
        raise UsageError(
            f"annotation {position} has kind {kind!r}; expected polygon/box/point/line"
        )
    return {"slice": index, "label": name, "color": color, "kind": kind, "points": points}


def normalize_annotations(
    items: Iterable[Any] | None,
    *,
    n_slices: int,
    sop_uids: Sequence[str] | None = None,
    labels: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Return the annotations as the viewer's JSON shapes, each with a colour.

    Annotations on images of other series (unknown SOP UID) and study-level labels
    are left out; labels without a valid ``#rrggbb`` colour get one from
    :data:`DEFAULT_COLORS`, the same for every shape of that label.

    Raises
    ------
    UsageError
        For an item that is neither a dict nor an MD.ai annotation, or a slice
        index outside the stack.
    """
    sop_index = {uid: i for i, uid in enumerate(sop_uids or ())}
    out: list[dict[str, Any]] = []
    palette: dict[str, str] = {}
    for position, item in enumerate(items or ()):
        shape = _one(item, position, labels or {}, sop_index, n_slices)
        if shape is None:
            continue
        if not _COLOR.match(shape["color"]):
            shape["color"] = palette.setdefault(
                shape["label"], DEFAULT_COLORS[len(palette) % len(DEFAULT_COLORS)]
            )
        out.append(shape)
    return out
