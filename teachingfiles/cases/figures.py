"""Key-image figures with matplotlib (Agg), and fast JPEG thumbnails.

:func:`key_image_figure` draws one slice or image as the viewer shows it, with a
window, its annotations in their label colours, a legend, a scale bar and the
orientation letters at the edges: for handouts, static HTML exports and case
pages. :func:`thumbnail_jpeg` makes small JPEGs for a case library without
matplotlib (Pillow, ~1 ms a slice).

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas, never
pyplot, so no display is needed and nothing leaks between calls.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from teachingfiles.cases.geometry import Shape, place_shape, shape_in_view
from teachingfiles.dicom.pixels import DicomImage
from teachingfiles.dicom.presets import WindowPreset, auto_window, file_windows
from teachingfiles.dicom.reformat import View, orientation_letters, plan_view
from teachingfiles.dicom.voi import Window, apply_window
from teachingfiles.dicom.volume import Volume
from teachingfiles.errors import NotFoundError

if TYPE_CHECKING:  # matplotlib loads on the first figure (0.5-2 s of a dashboard's start)
    from matplotlib.figure import Figure

__all__ = [
    "key_image_figure",
    "resolve_window",
    "save_figure",
    "thumbnail_jpeg",
    "view_pixels",
]

Point = tuple[float, float]
_OPPOSITE = {"L": "R", "R": "L", "A": "P", "P": "A", "H": "F", "F": "H", "S": "I", "I": "S"}


def resolve_window(
    window: Window | WindowPreset | str | None, values: npt.NDArray[Any], ds: Any = None
) -> Window:
    """Turn a window argument into a :class:`Window`.

    ``None`` means the file's first window, else an automatic one; a string is a
    preset name (``"lung"``) or ``"C,W"``.
    """
    if isinstance(window, Window):
        return window
    if isinstance(window, WindowPreset):
        return window.window
    if isinstance(window, str):
        if "," in window:
            return Window.parse(window)
        return WindowPreset.parse(window).window
    windows = file_windows(ds) if ds is not None else []
    return windows[0] if windows else auto_window(values)


def view_pixels(
    source: Volume | DicomImage,
    *,
    index: int | None = None,
    view: View | str = View.AXIAL,
    window: Window | WindowPreset | str | None = None,
) -> tuple[npt.NDArray[np.uint8], tuple[float, float] | None, dict[str, str], int]:
    """Compute the 8-bit pixels of one image as the viewer shows them.

    Returns
    -------
    pixels
        ``uint8`` grey ``(rows, cols)`` or RGB ``(rows, cols, 3)``.
    spacing
        mm per pixel ``(row, column)``; None when the file does not say.
    letters
        Orientation letters at ``left``, ``right``, ``top``, ``bottom`` (may be empty).
    index
        The image index used (the middle one when ``index`` is None).
    """
    if isinstance(source, DicomImage):
        frame = 0 if index is None else index
        ds = source.dataset
        if source.is_color:
            return source.display(frame), _image_spacing(ds), _image_letters(ds), frame
        values = source.values(frame)
        if window is None and ds.get("VOILUTSequence"):
            return source.display(frame), _image_spacing(ds), _image_letters(ds), frame
        win = resolve_window(window, values, None) if window is not None else None
        if win is None:
            wins = source.windows(frame)
            win = wins[0] if wins else auto_window(values)
        invert = source.photometric == "MONOCHROME1"
        pixels = apply_window(values, win, invert=invert)
        return pixels, _image_spacing(ds), _image_letters(ds), frame
    plan = plan_view(source, view)
    k = plan.count // 2 if index is None else index
    img = plan.image_of(source, k)
    first = source.headers[0]
    win = resolve_window(window, img, first.dataset) if window is not None else None
    if win is None:
        win = _volume_window(source, img)
    invert = first.photometric == "MONOCHROME1"
    return (
        apply_window(img, win, invert=invert),
        (plan.spacing[1], plan.spacing[2]),
        orientation_letters(source, plan),
        k,
    )


def _volume_window(volume: Volume, img: npt.NDArray[Any]) -> Window:
    header = volume.headers[len(volume.headers) // 2]
    if header.dataset is not None:
        wins = file_windows(header.dataset)
    elif header.path:
        import pydicom

        wins = file_windows(pydicom.dcmread(header.path, stop_before_pixels=True))
    else:
        wins = []
    return wins[0] if wins else auto_window(img)


def _image_spacing(ds: Any) -> tuple[float, float] | None:
    value = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    try:
        spacing = (float(value[0]), float(value[1]))
    except (TypeError, ValueError, IndexError):
        return None
    return spacing if min(spacing) > 0 else None  # some CR write 0\\0: unknown


def _image_letters(ds: Any) -> dict[str, str]:
    value = ds.get("PatientOrientation")
    if value and len(value) == 2 and all(value):
        right, down = str(value[0]), str(value[1])

        def flip(text: str) -> str:
            return "".join(_OPPOSITE.get(c, c) for c in text)

        return {"right": right, "left": flip(right), "bottom": down, "top": flip(down)}
    return {}


def _nice_length(width_mm: float) -> float:
    target = width_mm / 5
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500):
        if step >= target:
            return float(step)
    return 1000.0


def key_image_figure(
    source: Volume | DicomImage,
    *,
    index: int | None = None,
    view: View | str = View.AXIAL,
    window: Window | WindowPreset | str | None = None,
    shapes: Sequence[Shape] = (),
    legend: bool = True,
    scale_bar: bool = True,
    orientation: bool = True,
    title: str | None = None,
    width_inches: float = 6.0,
    dpi: int = 100,
) -> Figure:
    """Draw a figure of one image with its annotations, legend, scale bar and letters.

    Parameters
    ----------
    source
        A volume (any view) or a single image (``index`` is then the frame).
    index
        Slice of the view (default: the middle one), or frame.
    view
        Axial, coronal or sagittal (volumes only).
    window
        A :class:`Window`, a preset or its name, ``"C,W"``, or None for the file's.
    shapes
        Annotations; those not on this image are left out.
    legend, scale_bar, orientation
        Which decorations to draw.

    Example
    -------
    >>> fig = key_image_figure(vol, index=120, window="lung", shapes=shapes)
    >>> save_figure(fig, "key.png")
    """
    pixels, spacing, letters, k = view_pixels(source, index=index, view=view, window=window)
    rows, cols = pixels.shape[:2]
    aspect = 1.0 if spacing is None else spacing[0] / spacing[1]
    height = width_inches * rows * aspect / cols
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_inches, height), dpi=dpi, facecolor="black")
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(pixels, cmap="gray", vmin=0, vmax=255, aspect=aspect, interpolation="nearest")
    ax.set_axis_off()
    drawn = _draw_shapes(ax, source, shapes, view, k)
    if legend and drawn:
        handles = [
            ax.plot([], [], color=color, linewidth=2, label=name)[0]
            for name, color in drawn.items()
        ]
        ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.6)
    if scale_bar and spacing is not None:
        _scale_bar(ax, cols, rows, spacing)
    if orientation and letters:
        _letters(ax, letters)
    if title:
        ax.text(0.01, 0.99, title, transform=ax.transAxes, color="white", va="top", fontsize=10)
    return fig


def _draw_shapes(
    ax: Any, source: Volume | DicomImage, shapes: Sequence[Shape], view: View | str, k: int
) -> dict[str, str]:
    drawn: dict[str, str] = {}
    for shape in shapes:
        pieces = _pieces(source, shape, view, k)
        for piece in pieces:
            pts = np.asarray(piece, float)
            if len(pts) == 1 or (np.allclose(pts[0], pts[-1]) and len(pts) == 2):
                ax.plot(pts[:1, 0], pts[:1, 1], "+", color=shape.color, markersize=12, mew=2)
            else:
                if shape.closed and len(pts) > 2:
                    pts = np.vstack([pts, pts[:1]])
                ax.plot(pts[:, 0], pts[:, 1], color=shape.color, linewidth=1.5)
        if pieces:
            drawn[shape.name or shape.label_id or shape.mode.value] = shape.color
    return drawn


def _pieces(
    source: Volume | DicomImage, shape: Shape, view: View | str, k: int
) -> list[list[Point]]:
    if isinstance(source, DicomImage):
        uid = source.dataset.get("SOPInstanceUID")
        if shape.sop_uid and uid and shape.sop_uid != uid:
            return []
        if shape.frame not in (None, k) and source.number_of_frames > 1:
            return []
        return [list(shape.points)]
    try:
        slice_index = place_shape(shape, source)
    except NotFoundError:
        return []
    return shape_in_view(shape, slice_index, plan_view(source, view), k)


def _scale_bar(ax: Any, cols: int, rows: int, spacing: tuple[float, float]) -> None:
    length_mm = _nice_length(cols * spacing[1])
    length_px = length_mm / spacing[1]
    x0, y0 = cols * 0.04, rows * 0.95
    ax.plot([x0, x0 + length_px], [y0, y0], color="white", linewidth=3, solid_capstyle="butt")
    label = f"{length_mm / 10:g} cm" if length_mm >= 10 else f"{length_mm:g} mm"
    ax.text(
        x0 + length_px / 2,
        y0 - rows * 0.015,
        label,
        color="white",
        ha="center",
        va="bottom",
        fontsize=8,
    )


def _letters(ax: Any, letters: dict[str, str]) -> None:
    style = {"color": "yellow", "fontsize": 12, "fontweight": "bold", "transform": ax.transAxes}
    places = {
        "left": (0.01, 0.5, "left", "center"),
        "right": (0.99, 0.5, "right", "center"),
        "top": (0.5, 0.99, "center", "top"),
        "bottom": (0.5, 0.01, "center", "bottom"),
    }
    for side, (x, y, ha, va) in places.items():
        if letters.get(side):
            ax.text(x, y, letters[side], ha=ha, va=va, **style)


def save_figure(fig: Figure, path: str | PathLike[str], *, dpi: int | None = None) -> Path:
    """Write a figure as PNG (or any format matplotlib knows from the suffix)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi or fig.dpi, facecolor=fig.get_facecolor())
    return out


def thumbnail_jpeg(
    pixels: npt.NDArray[np.uint8], *, size: int = 256, quality: int = 85, aspect: float = 1.0
) -> bytes:
    """Encode a JPEG thumbnail of 8-bit pixels, longest side ``size`` (Pillow, no matplotlib).

    ``aspect`` is the pixel height/width ratio (a reformat's), applied while
    resizing.
    """
    from PIL import Image

    arr = np.ascontiguousarray(pixels)
    img = Image.fromarray(arr)  # uint8 (r, c) is "L", (r, c, 3) is "RGB"
    w, h = img.size
    h_mm = h * aspect
    scale = size / max(w, h_mm)
    target = (max(1, round(w * scale)), max(1, round(h_mm * scale)))
    img = img.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=False)
    return buf.getvalue()
