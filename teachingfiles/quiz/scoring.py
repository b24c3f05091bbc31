"""Scoring rules, as pure functions of the answer and the key.

Every function returns a :class:`Score`: a value in ``[0, 1]`` and a sentence
saying why. Geometry follows MD.ai: ``(x, y)`` in pixels, x the column, y the row;
``slice`` is the index in the series sorted along the slice normal.

Point-in-polygon (a point on the outline counts as inside) and box IoU come from
:mod:`teachingfiles.cases.geometry`. The edit distance is hand-written: the
standard library has none, and ``difflib`` ratios do not count typos.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from teachingfiles.cases.geometry import box_iou, point_in_polygon
from teachingfiles.vocabulary import Appearance, Severity

__all__ = [
    "Box",
    "Region",
    "Score",
    "box_iou",
    "edit_distance",
    "normalize_text",
    "point_in_polygon",
    "score_box",
    "score_category",
    "score_choices",
    "score_click",
    "score_free_text",
    "score_severity",
    "typo_allowance",
    "voxel_from_view",
]

Point = tuple[float, float]
#: ``(x, y, width, height)`` in pixels, MD.ai's bbox.
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Score:
    """A score in ``[0, 1]`` and the reason, in a sentence for the learner."""

    value: float
    message: str

    @property
    def correct(self) -> bool:
        """Full credit."""
        return self.value >= 1.0

    @property
    def partial(self) -> bool:
        """Some credit, not full."""
        return 0.0 < self.value < 1.0


@dataclass(frozen=True)
class Region:
    """A reference annotation on one slice: a polygon or a box, with its label.

    ``vertices`` holds the polygon (closed implicitly); a box is stored as its four
    corners with ``mode="bbox"``. ``slice`` is the 0-based slice index.
    """

    label: str
    slice: int
    vertices: tuple[Point, ...]
    mode: str = "polygon"
    color: str = "#ff5722"
    sop_uid: str | None = None

    @classmethod
    def from_box(cls, label: str, slice_index: int, box: Box, **kw: str | None) -> Region:
        """Make a region from MD.ai's ``{x, y, width, height}``."""
        x, y, w, h = box
        corners = ((x, y), (x + w, y), (x + w, y + h), (x, y + h))
        return cls(label, slice_index, corners, mode="bbox", **kw)  # type: ignore[arg-type]

    @property
    def bounds(self) -> Box:
        """The bounding box ``(x, y, width, height)``."""
        xs = [p[0] for p in self.vertices]
        ys = [p[1] for p in self.vertices]
        return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, for drawing the reference in the feedback."""
        return {
            "label": self.label,
            "slice": self.slice,
            "mode": self.mode,
            "color": self.color,
            "vertices": [list(p) for p in self.vertices],
            "sop_uid": self.sop_uid,
        }


# ------------------------------------------------------------------ geometry


def voxel_from_view(
    view: str, u: float, v: float, index: float, n_slices: int, *, slice_scale: float = 1.0
) -> tuple[float, float, float]:
    """Map a click on a reformatted view to ``(x, y, slice)`` in the axial series.

    Conventions (radiological display, head at the top): ``axial`` shows slice
    ``index`` with ``u`` = column, ``v`` = row; ``coronal`` shows image row ``index``
    with ``u`` = column and ``v`` counting slices from the top (the last, most
    superior slice), stretched by ``slice_scale`` display pixels per slice;
    ``sagittal`` shows image column ``index`` with ``u`` = row and ``v`` as for
    coronal.

    Example
    -------
    >>> voxel_from_view("coronal", 100, 0, 250, 64)
    (100.0, 250.0, 63.0)
    """
    if view == "axial":
        return (float(u), float(v), float(index))
    if slice_scale <= 0:
        raise ValueError(f"slice_scale must be positive, got {slice_scale}")
    z = (n_slices - 1) - v / slice_scale
    if view == "coronal":
        return (float(u), float(index), z)
    if view == "sagittal":
        return (float(index), float(u), z)
    raise ValueError(f"unknown view {view!r}; expected 'axial', 'coronal' or 'sagittal'")


# ------------------------------------------------------------------ text


def normalize_text(text: str) -> str:
    """Lower case, accents and punctuation dropped, runs of spaces made one.

    Example
    -------
    >>> normalize_text("  Ground-glass   Opacity! ")
    'ground glass opacity'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", " ", plain.lower()).strip()


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): typos as single edits."""
    if a == b:
        return 0
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def typo_allowance(answer: str) -> int:
    """How many typos an accepted answer of this length tolerates: 0, 1 or 2.

    Up to 4 characters none (``"NOF"`` must be exact), up to 10 one, longer two.
    """
    n = len(answer.replace(" ", ""))
    return 0 if n <= 4 else (1 if n <= 10 else 2)


# ------------------------------------------------------------------ rules


def score_choices(selected: Iterable[int], correct: Iterable[int], n_choices: int) -> Score:
    """Single best or multiple answers: full credit for exactly the right set.

    With several right answers each right pick earns a share and each wrong pick
    takes one away (never below 0), so ticking everything earns nothing.
    """
    chosen, right = set(selected), set(correct)
    if chosen == right:
        return Score(1.0, "Correct.")
    if len(right) == 1:
        return Score(0.0, "Not the best answer.")
    hits, wrong = len(chosen & right), len(chosen - right)
    value = max(0.0, (hits - wrong) / len(right))
    missed = len(right - chosen)
    return Score(
        value,
        f"{hits} of {len(right)} right answers chosen, {wrong} wrong, {missed} missed.",
    )


def score_category(answer: Appearance, truth: Appearance) -> Score:
    """Score the RSNA category: right or wrong."""
    if answer is truth:
        return Score(1.0, f"Correct: {truth.value}.")
    return Score(0.0, f"You said {answer.value}; the reference category is {truth.value}.")


def score_severity(answer: Severity, truth: Severity) -> Score:
    """Score an ordinal grade: full credit when equal, half credit one step off."""
    steps = abs(answer.rank - truth.rank)
    if steps == 0:
        return Score(1.0, f"Correct: {truth.value}.")
    if steps == 1:
        return Score(
            0.5, f"One step off: you said {answer.value}, the reference is {truth.value} "
            "(half credit)."
        )  # fmt: skip
    return Score(0.0, f"You said {answer.value}; the reference grade is {truth.value}.")


def _nearby(regions: Iterable[Region], slice_index: float, tolerance: int) -> list[Region]:
    nearest = round(slice_index)
    return [r for r in regions if abs(r.slice - nearest) <= tolerance]


def score_click(
    point: Point, slice_index: float, regions: Sequence[Region], *, slice_tolerance: int = 0
) -> Score:
    """Right when the point falls inside (or on the edge of) a region on that slice.

    ``slice_tolerance`` accepts regions drawn up to that many slices away (an
    annotator outlines a finding on some slices, not on every one).
    """
    if not regions:
        raise ValueError("no reference regions to score a click against")
    for region in _nearby(regions, slice_index, slice_tolerance):
        if point_in_polygon(point, region.vertices):
            where = "on this slice" if region.slice == round(slice_index) else "near this slice"
            return Score(1.0, f"Correct: inside the {region.label} outlined {where}.")
    slices = sorted({r.slice for r in regions})
    return Score(
        0.0,
        f"Not inside an outlined finding; the reference regions are on slices "
        f"{_ranges(slices)} (0-based).",
    )


def score_box(
    box: Box,
    slice_index: float,
    regions: Sequence[Region],
    *,
    threshold: float = 0.5,
    slice_tolerance: int = 0,
) -> Score:
    """Right when the box overlaps a region's bounds with IoU >= ``threshold``."""
    if not regions:
        raise ValueError("no reference regions to score a box against")
    candidates = _nearby(regions, slice_index, slice_tolerance)
    best = max((box_iou(box, r.bounds) for r in candidates), default=0.0)
    if best >= threshold:
        return Score(1.0, f"Correct: overlap (IoU) {best:.2f} >= {threshold:.2f}.")
    if not candidates:
        return Score(0.0, "No outlined finding on this slice; compare with the reference.")
    return Score(0.0, f"Best overlap (IoU) {best:.2f}, below {threshold:.2f}.")


def score_free_text(answer: str, accepted: Sequence[str], *, max_typos: int | None = None) -> Score:
    """Right when the answer matches an accepted answer, tolerant of case, spacing, typos."""
    said = normalize_text(answer)
    if not said:
        return Score(0.0, "No answer given.")
    for option in accepted:
        want = normalize_text(option)
        allowance = typo_allowance(want) if max_typos is None else max_typos
        distance = edit_distance(said, want)
        if distance <= allowance:
            note = "" if distance == 0 else f" (accepted despite {distance} typo(s))"
            return Score(1.0, f"Correct: {option}{note}.")
    return Score(0.0, f"Not an accepted answer; expected {accepted[0]}.")


def _ranges(values: Sequence[int]) -> str:
    parts: list[str] = []
    start = prev = None
    for v in [*values, None]:
        if v is not None and prev is not None and v == prev + 1:
            prev = v
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = v
    return ", ".join(parts)
