"""DICOM Segmentation (SEG) objects mapped onto the slices of a volume.

Each frame of a SEG belongs to one segment (Segment Identification Sequence ->
Referenced Segment Number) and one source slice, found by the SOP Instance UID
in Derivation Image -> Source Image Sequence, else by Plane Position (Patient)
matched to the volume's slice positions. Binary and fractional segmentations
are supported (fractional frames are thresholded at half their maximum).
Written by hand on pydicom because highdicom is not a dependency; the lookup is
a few attributes deep, as PS3.3 A.51 lays it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from teachingfiles.dicom.pixels import decode, read_dataset
from teachingfiles.dicom.volume import Volume
from teachingfiles.errors import DicomError, NotFoundError

__all__ = ["Segment", "read_segments"]


@dataclass(frozen=True)
class Segment:
    """One segment of a SEG on a volume: its number, label, colour and mask.

    ``mask`` has the volume's shape ``(slice, row, column)``.
    """

    number: int
    label: str
    mask: npt.NDArray[np.bool_]
    color: str = "#ff0000"


def _frame_slice(ds: Dataset, frame: int, volume: Volume) -> int:
    group = ds.PerFrameFunctionalGroupsSequence[frame]
    for deriv in group.get("DerivationImageSequence") or ():
        for src in deriv.get("SourceImageSequence") or ():
            uid = src.get("ReferencedSOPInstanceUID")
            if uid:
                number = src.get("ReferencedFrameNumber")
                try:
                    return volume.index_of(str(uid), None if number is None else int(number) - 1)
                except NotFoundError:
                    continue
    pos_seq = group.get("PlanePositionSequence")
    if pos_seq and "ImagePositionPatient" in pos_seq[0]:
        pos = np.asarray([float(v) for v in pos_seq[0].ImagePositionPatient])
        dist = volume.positions @ volume.normal
        k = int(np.argmin(np.abs(dist - pos @ volume.normal)))
        if abs(dist[k] - pos @ volume.normal) < max(0.5 * volume.spacing[0], 0.01):
            return k
    raise NotFoundError(
        f"SEG frame {frame + 1} refers to no slice of this volume (neither its source "
        "image UID nor its plane position matches); is the SEG for another series?"
    )


def read_segments(source: str | PathLike[str] | Dataset, volume: Volume) -> list[Segment]:
    """Read the segments of a DICOM SEG as masks over ``volume``.

    Raises
    ------
    DicomError
        If the object is not a SEG or lacks the per-frame references.
    NotFoundError
        If a frame refers to no slice of the volume.
    """
    ds = read_dataset(source)
    path = None if isinstance(source, Dataset) else str(source)
    if ds.get("Modality") != "SEG" or "SegmentSequence" not in ds:
        raise DicomError(
            f"not a segmentation: Modality is {ds.get('Modality')!r} and a SEG needs "
            "a Segment Sequence",
            path=path,
            tag="Modality",
        )
    if "PerFrameFunctionalGroupsSequence" not in ds:
        raise DicomError(
            "SEG without Per-frame Functional Groups: its frames cannot be placed",
            path=path,
            tag="PerFrameFunctionalGroupsSequence",
        )
    frames = decode(ds, path=path)
    if frames.ndim == 2:
        frames = frames[None]
    segments: dict[int, npt.NDArray[np.bool_]] = {}
    fractional = str(ds.get("SegmentationType", "BINARY")).upper() == "FRACTIONAL"
    scale = float(ds.get("MaximumFractionalValue") or 255)
    for f in range(frames.shape[0]):
        group = ds.PerFrameFunctionalGroupsSequence[f]
        number = int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        k = _frame_slice(ds, f, volume)
        mask = segments.setdefault(number, np.zeros(volume.shape, bool))
        frame = frames[f]
        mask[k] |= (frame >= scale / 2) if fractional else (frame > 0)
    out = []
    for item in ds.SegmentSequence:
        number = int(item.SegmentNumber)
        label = str(item.get("SegmentLabel") or f"segment {number}")
        out.append(Segment(number, label, segments.get(number, np.zeros(volume.shape, bool))))
    return out
