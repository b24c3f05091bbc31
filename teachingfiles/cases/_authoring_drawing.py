"""Drawing on a case's images: the shapes part of an authoring session.

:class:`DrawingMixin` holds every rule about drawn annotations (placing them on
an image of the series, relabelling, moving, deleting); :class:`AuthoringSession
<teachingfiles.cases.authoring.AuthoringSession>` mixes it in beside its cases,
key images and questions. Shapes drawn on the acquired slices land as drawn
(:meth:`DrawingMixin.draw`); shapes drawn on a coronal or sagittal reformat
become one annotation per acquired slice they cross
(:meth:`DrawingMixin.draw_in_view`, geometry in :mod:`._authoring_planes`),
kept together as one drawing.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from teachingfiles.cases._drafts import AuthoredAnnotation, Draft, DrawKind, as_points
from teachingfiles.errors import NotFoundError, UsageError
from teachingfiles.vocabulary import View

if TYPE_CHECKING:
    from teachingfiles.cases._drafts import LabelChoice
    from teachingfiles.cases.case import TeachingCase
    from teachingfiles.dicom.volume import Volume
    from teachingfiles.repository import Repository

__all__ = ["DrawingMixin", "describe"]

_NEED = {DrawKind.BOX: 2, DrawKind.POINT: 1}


def _checked(
    kind: DrawKind | str, points: Sequence[Sequence[float]]
) -> tuple[DrawKind, tuple[tuple[float, float], ...]]:
    """Parse the kind and points; a box becomes its top-left and bottom-right corners."""
    shape = DrawKind.parse(kind)
    pts = as_points(points)
    need = _NEED.get(shape, 3)
    if len(pts) < need:
        raise UsageError(f"a {shape.value} needs at least {need} points, got {len(pts)}")
    if shape is DrawKind.BOX:
        (x0, y0), (x1, y1) = pts[0], pts[-1]
        pts = ((min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1)))
    return shape, pts


def describe(annotations: Sequence[AuthoredAnnotation]) -> str:
    """Say where a drawing lies, slices counted from 1.

    E.g. ``"slice 31"``, or ``"coronal image 256 → 12 axial boxes, slices 20-31"``.
    """
    first = annotations[0]
    if first.drawn_on is None:
        return f"slice {first.slice + 1}"
    view, image = first.drawn_on
    slices = sorted({a.slice + 1 for a in annotations})
    span = f"slice {slices[0]}" if len(slices) == 1 else f"slices {slices[0]}-{slices[-1]}"
    noun = {"box": "boxes", "point": "points", "polygon": "outlines", "freehand": "outlines"}
    count = len(annotations)
    what = first.kind.value if count == 1 else noun[first.kind.value]
    return f"{view} image {image + 1} → {count} axial {what}, {span}"


class DrawingMixin:
    """Drawn annotations of an authoring session (mixed into ``AuthoringSession``)."""

    repository: Repository
    _draft: Draft

    if TYPE_CHECKING:  # provided by AuthoringSession

        def case(self, case_id: str) -> TeachingCase: ...

        def label(self, name: str) -> LabelChoice: ...

        def _save_draft(self) -> None: ...

    @property
    def annotations(self) -> tuple[AuthoredAnnotation, ...]:
        """Every shape drawn, in drawing order."""
        return self._draft.annotations

    def annotations_of(self, case_id: str) -> tuple[AuthoredAnnotation, ...]:
        """Return the shapes drawn on a case, in drawing order."""
        return tuple(a for a in self.annotations if a.case == case_id)

    def drawing(self, annotation_id: str) -> tuple[AuthoredAnnotation, ...]:
        """Return every annotation drawn with this one (its group), or just it.

        Raises
        ------
        NotFoundError
            If the draft has no such annotation.
        """
        one = self._annotation(annotation_id)
        if not one.group:
            return (one,)
        return tuple(a for a in self.annotations if a.group == one.group)

    def _instance(self, series_uid: str | None, slice: int, case: TeachingCase) -> str:
        if series_uid is None:
            raise UsageError(f"case {case.id!r} has no series to draw on; set its series_uid")
        instances = self.repository.instances(series_uid)
        if not 0 <= slice < len(instances):
            raise UsageError(
                f"case {case.id!r}: slice {slice} is outside the series' "
                f"{len(instances)} images (0 to {len(instances) - 1})"
            )
        return str(instances[slice].sop_instance_uid)

    def _add(self, *annotations: AuthoredAnnotation) -> None:
        self._draft = replace(self._draft, annotations=(*self.annotations, *annotations))
        self._save_draft()

    def draw(
        self,
        case_id: str,
        kind: DrawKind | str,
        points: Sequence[Sequence[float]],
        *,
        slice: int,
        label: str,
        series_uid: str | None = None,
    ) -> AuthoredAnnotation:
        """Add a shape drawn on slice ``slice`` of the case's series with a label.

        Parameters
        ----------
        kind
            ``"box"`` (two corners), ``"polygon"`` or ``"freehand"`` (three or more
            vertices), ``"point"`` (one).
        points
            ``[[x, y], ...]`` pixels, x the column.
        slice
            The image's index in the series as the repository lists it (along the
            slice normal).

        Raises
        ------
        UsageError
            For an unknown kind or label, too few points, or a slice off the series.
        """
        case = self.case(case_id)
        shape, pts = _checked(kind, points)
        choice = self.label(label)
        series = series_uid or case.series_uid
        sop = self._instance(series, slice, case)
        assert series is not None
        ann = _annotation_of(case, choice.name, shape, series, int(slice), sop, pts)
        self._add(ann)
        return ann

    def draw_in_view(
        self,
        case_id: str,
        kind: DrawKind | str,
        points: Sequence[Sequence[float]],
        *,
        view: View | str,
        index: int,
        label: str,
        volume: Volume | None = None,
        series_uid: str | None = None,
    ) -> tuple[AuthoredAnnotation, ...]:
        """Add a shape drawn on image ``index`` of an axial, coronal or sagittal view.

        On the axial view (the acquired slices, as the viewer shows them) this is
        :meth:`draw` on that slice. On a coronal or sagittal image the shape is
        stored as MD.ai stores shapes, on the acquired images: a point on the
        slice under it; a box or outline as the one-pixel-deep strip it covers on
        each slice whose centre line it crosses (see :mod:`._authoring_planes`).
        Those annotations form one drawing (same ``group``, ``drawn_on`` set), which
        :meth:`relabel` and :meth:`delete_annotation` treat as one.

        Parameters
        ----------
        view, index
            The view and its image the shape was drawn on (the viewer's ``view``
            and ``index``).
        points
            ``[[x, y], ...]`` in that image's pixels (x the column).
        volume
            The series as the viewer holds it (its geometry is read; no pixels).
            Default: opened from the repository's files.

        Returns
        -------
        tuple of AuthoredAnnotation
            One per acquired slice, in slice order.

        Raises
        ------
        UsageError
            For an unknown kind, label or view, too few points, or an image off the view.
        """
        from teachingfiles.cases._authoring_planes import to_acquired
        from teachingfiles.dicom.reformat import plan_view
        from teachingfiles.dicom.volume import Volume

        case = self.case(case_id)
        shape, pts = _checked(kind, points)
        choice = self.label(label)
        plane = View.parse(view)
        series = series_uid or case.series_uid
        if series is None:
            raise UsageError(f"case {case.id!r} has no series to draw on; set its series_uid")
        instances = self.repository.instances(series)
        vol = volume or Volume.open([i.path for i in instances], background=False)
        try:
            plan = None if plane is View.AXIAL else plan_view(vol, plane)
            count = vol.shape[0] if plan is None else plan.count
            if not 0 <= index < count:
                raise UsageError(
                    f"case {case.id!r}: {plane.value} image {index} does not exist "
                    f"(0 to {count - 1})"
                )
            if plan is None:
                placed = [(int(index), pts)]
            else:
                placed = [(p.slice, p.points) for p in to_acquired(plan, index, shape, pts)]
            sops = [str(vol.sop_uids[k]) for k, _ in placed]
        finally:
            if volume is None:
                vol.close()
        order = {str(inst.sop_instance_uid): n for n, inst in enumerate(instances)}
        group = "" if plan is None else f"D_tf{secrets.token_hex(5)}"
        drawn_on = None if plan is None else (plane.value, int(index))
        made = tuple(
            _annotation_of(
                case,
                choice.name,
                shape,
                series,
                order[sop],
                sop,
                as_points(p),
                group=group,
                drawn_on=drawn_on,
            )
            for (_, p), sop in zip(placed, sops, strict=True)
        )
        self._add(*made)
        return made

    def _annotation(self, annotation_id: str) -> AuthoredAnnotation:
        for a in self.annotations:
            if a.id == annotation_id:
                return a
        raise NotFoundError(f"no annotation {annotation_id!r} in the draft")

    def _swap(self, changed: dict[str, AuthoredAnnotation | None]) -> None:
        kept = (changed.get(a.id, a) for a in self.annotations)
        self._draft = replace(self._draft, annotations=tuple(a for a in kept if a is not None))
        self._save_draft()

    def relabel(self, annotation_id: str, label: str) -> AuthoredAnnotation:
        """Give an annotation (with the rest of its drawing) another label from the label set."""
        name = self.label(label).name
        members = self.drawing(annotation_id)
        self._swap({a.id: replace(a, label=name) for a in members})
        return self._annotation(annotation_id)

    def move_annotation(self, annotation_id: str, slice: int) -> AuthoredAnnotation:
        """Move an annotation to another slice of its series (same pixels).

        Raises
        ------
        UsageError
            For a slice off the series, or one of the strips of a shape drawn on
            a coronal or sagittal image (their places follow from the drawing).
            A point drawn on a reformat moves, and is then an axial point.
        """
        old = self._annotation(annotation_id)
        if len(self.drawing(annotation_id)) > 1:
            where = describe(self.drawing(annotation_id))
            raise UsageError(
                f"annotation {annotation_id!r} is part of a shape drawn on the {where}; "
                "it cannot move alone: delete the drawing and draw it again"
            )
        sop = self._instance(old.series_uid, slice, self.case(old.case))
        new = replace(old, slice=int(slice), sop_uid=sop, group="", drawn_on=None)
        self._swap({annotation_id: new})
        return new

    def delete_annotation(self, annotation_id: str) -> None:
        """Delete an annotation (with the rest of its drawing)."""
        self._swap({a.id: None for a in self.drawing(annotation_id)})

    def color_of(self, label: str) -> str:
        """Return the colour of a label (grey for a name no longer in the label set)."""
        try:
            return self.label(label).color
        except UsageError:
            return "#9e9e9e"


def _annotation_of(
    case: TeachingCase,
    label: str,
    kind: DrawKind,
    series: str,
    slice: int,
    sop: str,
    points: Any,
    **extra: Any,
) -> AuthoredAnnotation:
    """Return a new authored annotation of ``case`` on one image (a fresh MD.ai-style id)."""
    return AuthoredAnnotation(
        id=f"A_tf{secrets.token_hex(5)}",
        case=case.id,
        label=label,
        kind=kind,
        study_uid=case.study_uid,
        series_uid=series,
        slice=slice,
        sop_uid=sop,
        points=points,
        **extra,
    )
