"""Images for the case and quiz widgets: series from a repository, shapes, charts.

What :class:`~teachingfiles.widgets.quiz_view.QuizView` and
:class:`~teachingfiles.widgets.case_view.CaseView` share: opening a series of the
repository as a :class:`~teachingfiles.dicom.volume.Volume` (a few kept open, so
going back and forth between questions on the same study is instant), building the
:class:`~teachingfiles.widgets.viewer.StackViewer` on a key image, turning reference
regions, the learner's mark and the repository's annotations into the viewer's
overlay shapes, and drawing a matplotlib figure as a PNG data URL.

Nothing here decides what the browser may see: the callers add reference shapes
to a viewer only after the answer is committed (or the case revealed).
"""

from __future__ import annotations

import base64
import contextlib
import io
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from teachingfiles.errors import NotFoundError, UsageError
from teachingfiles.widgets._overlay import normalize_annotations
from teachingfiles.widgets.viewer import StackViewer

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from teachingfiles.cases.case import KeyImage, TeachingCase
    from teachingfiles.dicom.volume import Volume
    from teachingfiles.quiz.questions import ResolvedQuestion

__all__ = [
    "MARK_COLOR",
    "ImageRepository",
    "Shot",
    "VolumeCache",
    "aim",
    "case_shapes",
    "figure_data_url",
    "mark_shapes",
    "nearest_slice_with",
    "pick_image",
    "reference_shapes",
    "review_image",
    "review_thumbnail",
    "viewer_for",
]

MARK_COLOR = "#ffeb3b"
"""The learner's own click or box (yellow, apart from the reference colours)."""


class _Instance(Protocol):
    @property
    def path(self) -> Any: ...


class _Series(Protocol):
    @property
    def series_uid(self) -> str: ...


class _Annotation(Protocol):
    @property
    def label_name(self) -> str: ...
    @property
    def color(self) -> str | None: ...
    @property
    def sop_uid(self) -> str | None: ...
    @property
    def frame_number(self) -> int | None: ...
    @property
    def data(self) -> dict[str, Any] | None: ...


class ImageRepository(Protocol):
    """What the widgets need of a repository (``Repository`` provides it)."""

    def series(self, study_uid: str) -> Sequence[_Series]:
        """List a study's series."""
        ...

    def instances(self, series_uid: str) -> Sequence[_Instance]:
        """List a series' images (with their ``path``)."""
        ...

    def annotations(self, study_uid: str) -> Sequence[_Annotation]:
        """List a study's MD.ai annotations."""
        ...


@dataclass(frozen=True)
class Shot:
    """Which image to show: a series, a slice (``None``: the middle), a window preset."""

    series_uid: str
    slice: int | None = None
    preset: str | None = None
    view: str = "axial"


def pick_image(
    public_image: Mapping[str, Any] | None,
    case: TeachingCase | None,
    repository: ImageRepository,
) -> Shot | None:
    """Choose the image for a question or case from its (public) key image.

    The key image's series, else the case's main series, else the study's first
    series; ``None`` when there is no case and no image.
    """
    image = dict(public_image or {})
    series = image.get("series_uid") or (case.series_uid if case else None)
    if series is None and case is not None:
        try:
            found = repository.series(case.study_uid)
        except NotFoundError:
            return None
        series = found[0].series_uid if found else None
    if series is None:
        return None
    return Shot(
        series_uid=str(series),
        slice=None if image.get("slice") is None else int(image["slice"]),
        preset=image.get("preset") or None,
        view=str(image.get("view") or "axial"),
    )


class VolumeCache:
    """Series opened as volumes, the last ``size`` kept open (least recently used out).

    Parameters
    ----------
    repository
        Where the series' files are listed.
    size
        How many volumes to keep; an evicted volume stops its background decoding.
    """

    def __init__(self, repository: ImageRepository, size: int = 3) -> None:
        self.repository = repository
        self.size = max(1, size)
        self._open: OrderedDict[str, Volume] = OrderedDict()

    def get(self, series_uid: str) -> Volume:
        """Return the volume of a series, opening it (headers now, pixels lazily).

        Raises
        ------
        NotFoundError
            If the repository lists no images for the series.
        """
        from teachingfiles.dicom.volume import Volume

        if series_uid in self._open:
            self._open.move_to_end(series_uid)
            return self._open[series_uid]
        paths = [inst.path for inst in self.repository.instances(series_uid)]
        if not paths:
            raise NotFoundError(f"series {series_uid} has no images in the repository")
        volume = Volume.open(paths)
        self._open[series_uid] = volume
        while len(self._open) > self.size:
            _, old = self._open.popitem(last=False)
            old.close()
        return volume

    def close(self) -> None:
        """Close every open volume."""
        while self._open:
            _, volume = self._open.popitem()
            volume.close()


def viewer_for(volume: Volume, shot: Shot, *, mode: str = "inspect") -> StackViewer:
    """Build the viewer on ``shot``: its slice (else the middle), preset and plane.

    A preset the viewer does not offer (a radiograph asked for ``lung``) falls back
    to the file's own window rather than failing the question.
    """
    n = volume.shape[0]
    index = n // 2 if shot.slice is None else min(max(int(shot.slice), 0), n - 1)
    viewer = StackViewer(volume, index=index, mode=mode)
    aim(viewer, shot, mode=mode)
    return viewer


def aim(viewer: StackViewer, shot: Shot, *, mode: str = "inspect") -> None:
    """Point an existing viewer at ``shot`` (same series): plane, slice, preset, mode.

    The overlay is cleared: whatever the previous question drew is not this one's.
    """
    with viewer.hold_sync():
        viewer.annotations = []
        viewer.mode = mode
        if shot.view in viewer.views and viewer.view != shot.view:
            viewer.view = shot.view
        n = viewer.shape[0]
        if shot.slice is not None and shot.view == "axial":
            viewer.index = min(max(int(shot.slice), 0), n - 1)
        if shot.preset:
            # e.g. "lung" on a radiograph: keep the image's own window
            with contextlib.suppress(UsageError):
                viewer.apply_preset(shot.preset)


def reference_shapes(reference: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Turn reference regions into viewer shapes.

    The items are :meth:`Region.as_dict <teachingfiles.quiz.scoring.Region.as_dict>`
    dicts; boxes become two corners, polygons keep their vertices.
    """
    shapes = []
    for region in reference:
        vertices = [[float(x), float(y)] for x, y in region["vertices"]]
        if region.get("mode") == "bbox":
            xs = [p[0] for p in vertices]
            ys = [p[1] for p in vertices]
            kind, points = "box", [[min(xs), min(ys)], [max(xs), max(ys)]]
        else:
            kind, points = "polygon", vertices
        shapes.append(
            {
                "slice": int(region["slice"]),
                "label": str(region.get("label", "")),
                "color": str(region.get("color") or "#ff5722"),
                "kind": kind,
                "points": points,
            }
        )
    return shapes


def mark_shapes(mark: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Return the learner's click (a point) or box as a viewer shape, ``your mark``."""
    if not mark:
        return []
    z = round(float(mark["slice"]))
    x, y = float(mark["x"]), float(mark["y"])
    if "width" in mark:
        points = [[x, y], [x + float(mark["width"]), y + float(mark["height"])]]
        kind = "box"
    else:
        points, kind = [[x, y]], "point"
    return [{"slice": z, "label": "your mark", "color": MARK_COLOR, "kind": kind, "points": points}]


def case_shapes(
    repository: ImageRepository,
    case: TeachingCase,
    key_image: KeyImage | None,
    volume: Volume,
) -> list[dict[str, Any]]:
    """Return the repository's annotations of ``case`` on ``volume`` as viewer shapes.

    Only labels the key image names (all of the study's, when it names none);
    annotations on other series are left out.
    """
    wanted = {name.lower() for name in (key_image.annotations if key_image else ())}
    try:
        found = repository.annotations(case.study_uid)
    except NotFoundError:
        return []
    items = [
        {"label": a.label_name, "color": a.color, "data": a.data, "sop_uid": a.sop_uid}
        for a in found
        if a.data and a.sop_uid and (not wanted or a.label_name.lower() in wanted)
    ]
    return normalize_annotations(items, n_slices=volume.shape[0], sop_uids=volume.sop_uids)


def nearest_slice_with(shapes: Sequence[Mapping[str, Any]], index: int) -> int | None:
    """Return the slice nearest ``index`` that holds a shape (``None`` without shapes)."""
    slices = np.asarray(sorted({int(s["slice"]) for s in shapes}), dtype=np.int64)
    if slices.size == 0:
        return None
    return int(slices[np.argmin(np.abs(slices - index))])


def _geometry_shape(shape: Mapping[str, Any], volume: Volume) -> Any:
    """Turn a viewer shape dict into a :class:`~teachingfiles.cases.geometry.Shape`."""
    from teachingfiles.cases.geometry import Shape
    from teachingfiles.vocabulary import AnnotationMode

    k = min(max(int(shape["slice"]), 0), volume.shape[0] - 1)
    points = [(float(x), float(y)) for x, y in shape["points"]]
    if shape["kind"] == "box":
        (x0, y0), (x1, y1) = points[0], points[-1]
        points = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        mode = AnnotationMode.BBOX
    elif shape["kind"] == "point":
        mode = AnnotationMode.LOCATION
    else:
        mode = AnnotationMode.POLYGON
    return Shape(
        mode=mode,
        points=tuple(points),
        sop_uid=volume.sop_uids[k],
        color=str(shape.get("color") or "#ff5722"),
        name=str(shape.get("label") or ""),
    )


def review_thumbnail(
    volume: Volume,
    shot: Shot,
    shapes: Sequence[Mapping[str, Any]],
    *,
    focus: int | None = None,
    width_inches: float = 3.2,
) -> tuple[str, int]:
    """Draw the image of a reviewed answer with its shapes as a PNG data URL (matplotlib).

    The slice is ``focus`` (the learner's mark) when a reference shape lies on it,
    else the reference slice nearest to it (or to the key image's slice), else the
    key image's slice. Returns the data URL and the 0-based slice drawn.
    """
    from teachingfiles.cases.figures import key_image_figure

    n = volume.shape[0]
    start = focus if focus is not None else (n // 2 if shot.slice is None else shot.slice)
    reference = [s for s in shapes if s.get("label") != "your mark"]
    nearest = nearest_slice_with(reference or shapes, start)
    index = min(max(start if nearest is None else nearest, 0), n - 1)
    window = shot.preset if shot.preset and n > 1 else None  # a CT preset on a CT only
    figure = key_image_figure(
        volume,
        index=index,
        window=window,
        shapes=[_geometry_shape(s, volume) for s in shapes],
        legend=True,
        scale_bar=False,
        width_inches=width_inches,
        dpi=80,
    )
    return figure_data_url(figure, dpi=80), index


def review_image(
    repository: ImageRepository,
    volumes: VolumeCache,
    question: ResolvedQuestion,
    public_image: Mapping[str, Any] | None,
    feedback: Mapping[str, Any],
) -> tuple[str, Shot, list[dict[str, Any]], int] | None:
    """Draw the image of a missed answer: its reference outlines and the learner's mark.

    The reference regions of a click or box question, else the case's annotations
    the key image names; plus the learner's mark. Returns the thumbnail's data URL,
    the shot, the shapes (for opening it in the viewer) and the slice drawn, or
    ``None`` when the question has no image.
    """
    shot = pick_image(public_image, question.case, repository)
    if shot is None:
        return None
    volume = volumes.get(shot.series_uid)
    shapes = reference_shapes(feedback.get("reference") or ())
    if not shapes and question.case is not None:
        case = question.case
        shapes = case_shapes(
            repository, case, case.key_images[0] if case.key_images else None, volume
        )
    mark = mark_shapes(feedback.get("mark"))
    focus = None if not mark else int(mark[0]["slice"])
    url, index = review_thumbnail(volume, shot, shapes + mark, focus=focus)
    return url, shot, shapes + mark, index


def figure_data_url(figure: Figure, *, dpi: int = 110) -> str:
    """Render a matplotlib figure as a ``data:image/png;base64,...`` URL (no file)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
