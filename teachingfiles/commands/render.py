"""``teachingfiles render``: write exactly what the viewer shows, as a PNG.

``teachingfiles render FILE-or-SERIES-FOLDER OUT.png [--preset NAME] [--window C,W]
[--slice N] [--frame N] [--view axial|coronal|sagittal] [--annotations [--mdai FILE]]``

The PNG is 8-bit grey (or RGB for colour images) at full resolution with no
decorations. Reformats whose pixels are not square are resampled vertically
(linear) to the aspect the viewer draws them at. Without ``--preset`` or
``--window`` the file's first window is used, else an automatic one. Slices and
frames count from 0. A refused image exits with status 1 and the reason on stderr.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from teachingfiles.errors import TeachingFilesWarning, UsageError

if TYPE_CHECKING:  # numpy loads only when an image is rendered
    import numpy as np
    import numpy.typing as npt

__all__ = ["register", "render"]


def register(subparsers: Any) -> None:
    """Add the ``render`` subcommand."""
    p = subparsers.add_parser(
        "render",
        help="write an image or series slice as the viewer shows it (PNG)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("source", type=Path, help="a DICOM file or a folder holding one series")
    p.add_argument("output", type=Path, help="the PNG to write")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--preset", help="lung, mediastinum, bone, soft_tissue or brain")
    group.add_argument("--window", help="centre and width as C,W (e.g. -600,1500)")
    p.add_argument("--slice", type=int, default=None, help="slice of the view (default: middle)")
    p.add_argument("--frame", type=int, default=None, help="frame of a multi-frame file (from 0)")
    p.add_argument("--view", default="axial", choices=("axial", "coronal", "sagittal"))
    p.add_argument("--annotations", action="store_true", help="draw the annotations")
    p.add_argument("--mdai", type=Path, default=None, help="MD.ai JSON export to take them from")
    p.set_defaults(func=_run)


def _series_files(folder: Path) -> list[Path]:
    import pydicom

    by_series: dict[str, list[Path]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(
                path, stop_before_pixels=True, specific_tags=["SeriesInstanceUID", "Rows"]
            )
        except Exception:  # not DICOM: skipped, as a folder may hold anything
            continue
        if "Rows" in ds:
            by_series.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append(path)
    if not by_series:
        raise UsageError(f"{folder}: no DICOM images in this folder")
    counts = Counter({uid: len(files) for uid, files in by_series.items()})
    uid, _ = counts.most_common(1)[0]
    if len(by_series) > 1:
        print(
            f"note: {folder} holds {len(by_series)} series; rendering the largest, {uid} "
            f"({counts[uid]} images)",
            file=sys.stderr,
        )
    return by_series[uid]


def _shapes(args: argparse.Namespace) -> list[Any]:
    if not args.annotations:
        return []
    if args.mdai is None:
        print("note: --annotations without --mdai FILE: no annotations to draw", file=sys.stderr)
        return []
    from teachingfiles.cases.geometry import Shape
    from teachingfiles.repository.mdai import read_mdai

    project = read_mdai(args.mdai)
    labels = project.label_map()
    shapes = []
    for ann in project.annotations():
        label = labels[ann.label_id]
        is_mask = label.mode is not None and label.mode.value == "mask"
        if not ann.data or not ann.sop_uid or is_mask:
            continue
        shapes.append(Shape.from_mdai(ann, mode=label.mode, color=label.color, name=label.name))
    return shapes


def render(args: argparse.Namespace) -> tuple[npt.NDArray[np.uint8], list[Any], float]:
    """Pixels, the annotations in view coordinates, and the vertical stretch applied."""
    from teachingfiles.cases.figures import _pieces, view_pixels
    from teachingfiles.dicom.pixels import DicomImage
    from teachingfiles.dicom.volume import Volume

    window = args.preset or args.window
    source: Any
    if args.source.is_dir():
        source = Volume.open(_series_files(args.source))
        index = args.slice
    else:
        if args.view != "axial":
            raise UsageError(
                f"--view {args.view} needs a series: pass the folder holding the series, "
                "not one file"
            )
        source = DicomImage.from_file(args.source)
        index = args.frame if args.frame is not None else args.slice
    pixels, spacing, _, k = view_pixels(source, index=index, view=args.view, window=window)
    drawn = [
        (shape, piece) for shape in _shapes(args) for piece in _pieces(source, shape, args.view, k)
    ]
    stretch = 1.0
    if spacing is not None and args.source.is_dir() and args.view != "axial":
        stretch = spacing[0] / spacing[1]
    if abs(stretch - 1.0) > 0.01:
        from scipy.ndimage import zoom

        factors = (stretch, 1.0) + ((1.0,) if pixels.ndim == 3 else ())
        pixels = zoom(pixels, factors, order=1, prefilter=False)
    if isinstance(source, Volume):
        source.close()
    return pixels, drawn, stretch


def _draw(pixels: npt.NDArray[np.uint8], drawn: list[Any], stretch: float) -> Any:
    import numpy as np
    from PIL import Image, ImageDraw

    img = Image.fromarray(np.ascontiguousarray(pixels))  # uint8: "L" or "RGB"
    if not drawn:
        return img
    img = img.convert("RGB")
    pen = ImageDraw.Draw(img)
    for shape, piece in drawn:
        pts = [(x, y * stretch) for x, y in piece]
        if len(pts) == 1 or (len(pts) == 2 and pts[0] == pts[1]):
            x, y = pts[0]
            pen.line([(x - 6, y), (x + 6, y)], fill=shape.color, width=2)
            pen.line([(x, y - 6), (x, y + 6)], fill=shape.color, width=2)
        elif shape.closed and len(pts) > 2:
            pen.polygon(pts, outline=shape.color, width=2)
        else:
            pen.line(pts, fill=shape.color, width=2)
    return img


def _run(args: argparse.Namespace) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TeachingFilesWarning)
        pixels, drawn, stretch = render(args)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    img = _draw(pixels, drawn, stretch)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    img.save(args.output, "PNG")
    mode = "RGB" if img.mode == "RGB" else "grey"
    print(f"{args.output}: {img.width}x{img.height} {mode}")
    return 0
