"""Annotation geometry: MD.ai shapes, scoring helpers, masks, views, DICOM SEG."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, SegmentationStorage, generate_uid

from teachingfiles.cases.geometry import (
    Shape,
    box_iou,
    mask_to_polygons,
    place_shape,
    point_in_polygon,
    polygon_to_mask,
    shape_in_view,
)
from teachingfiles.dicom.reformat import plan_view
from teachingfiles.dicom.seg import read_segments
from teachingfiles.dicom.synthetic import write_ct_series
from teachingfiles.dicom.volume import Volume
from teachingfiles.errors import DicomError, NotFoundError
from teachingfiles.repository.mdai import Annotation
from teachingfiles.vocabulary import AnnotationMode


def _ann(data, sop="1.2.3", frame=None):
    return Annotation(id="A_1", label_id="L_1", study_uid="1.2", series_uid="1.2.9",
                      sop_uid=sop, frame_number=frame, data=data)  # fmt: skip


# --- mask_to_polygons: the behaviour it had before this issue -------------------
def test_mask_to_polygons_round_trips_through_polygon_to_mask():
    m = np.zeros((12, 12), bool)
    m[2:6, 3:8] = True
    m[7:11, 1:5] = True
    m[9:11, 2] = False  # a notch
    speck = m.copy()
    speck[0, 11] = True  # one pixel: below min_area, dropped
    exact = mask_to_polygons(speck, simplify=0)
    assert len(exact) == 2
    rebuilt = np.zeros_like(m)
    for poly in exact:
        rebuilt |= polygon_to_mask(poly, m.shape)
    np.testing.assert_array_equal(rebuilt, m)
    # simplifying keeps a subset of the exact vertices
    for simple, full in zip(mask_to_polygons(speck), exact, strict=True):
        assert set(simple) <= set(full) and len(simple) < len(full)
    assert mask_to_polygons(np.zeros((4, 4))) == []
    with pytest.raises(ValueError, match="mask must be 2-D"):
        mask_to_polygons(np.zeros(4))


# --- shapes from MD.ai -------------------------------------------------------
def test_shapes_from_every_mdai_mode():
    box = Shape.from_mdai(_ann({"x": 10, "y": 20, "width": 30, "height": 40}), mode="bbox")
    assert box.points == ((10, 20), (40, 20), (40, 60), (10, 60)) and box.closed
    assert box.box == (10, 20, 30, 40)
    poly = Shape.from_mdai(_ann({"vertices": [[0, 0], [4, 0], [4, 4], [0, 0]]}), mode="polygon")
    assert poly.points == ((0, 0), (4, 0), (4, 4))  # the repeated first vertex is dropped
    line = Shape.from_mdai(_ann({"vertices": [[0, 0], [9, 9]]}), mode=AnnotationMode.LINE)
    assert not line.closed and len(line.points) == 2
    free = Shape.from_mdai(_ann({"vertices": [[1, 1], [5, 1], [3, 4]]}), mode="freeform")
    assert free.closed
    point = Shape.from_mdai(_ann({"x": 3.5, "y": 7}))  # mode guessed from the data
    assert point.mode is AnnotationMode.LOCATION and point.points == ((3.5, 7.0),)


def test_shape_errors_name_the_annotation():
    with pytest.raises(ValueError, match=r"annotation A_1: data .* does not hold a bbox"):
        Shape.from_mdai(_ann({"x": 1}), mode="bbox")
    with pytest.raises(ValueError, match="no geometry"):
        Shape.from_mdai(_ann(None))


# --- scoring helpers ---------------------------------------------------------
def test_point_in_polygon_counts_inside_and_edge_but_not_outside():
    square = [(0, 0), (10, 0), (10, 10), (0, 10)]
    assert point_in_polygon((5, 5), square)
    assert point_in_polygon((10, 5), square)
    assert not point_in_polygon((10.5, 5), square)
    concave = [(0, 0), (10, 0), (10, 10), (5, 2), (0, 10)]
    assert not point_in_polygon((5, 8), concave) and point_in_polygon((2, 2), concave)
    assert not point_in_polygon((0, 0), [(0, 0), (1, 1)])


def test_box_iou():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert box_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_polygon_to_mask_takes_pixel_centres_and_clips_to_the_image():
    mask = polygon_to_mask([(0.5, 0.5), (3.5, 0.5), (3.5, 2.5), (0.5, 2.5)], (4, 6))
    expected = np.zeros((4, 6), bool)
    expected[1:3, 1:4] = True
    np.testing.assert_array_equal(mask, expected)
    assert polygon_to_mask([(-5, -5), (100, -5), (100, 100)], (3, 3)).sum() > 0
    assert not polygon_to_mask([(50, 50), (60, 50), (60, 60)], (3, 3)).any()


# --- shapes on volumes and reformats -------------------------------------------
@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    paths = write_ct_series(tmp_path_factory.mktemp("geo"), 6, 20, 30)
    vol = Volume.open(paths)
    vol.wait()
    return vol


def test_a_shape_finds_its_slice_and_shows_on_it_in_the_axial_view(volume):
    shape = Shape.from_mdai(_ann({"vertices": [[5, 5], [15, 5], [15, 12], [5, 12]]},
                                 sop=volume.sop_uids[3]), mode="polygon")  # fmt: skip
    assert place_shape(shape, volume) == 3
    plan = plan_view(volume, "axial")
    assert shape_in_view(shape, 3, plan, 3) == [list(shape.points)]
    assert shape_in_view(shape, 3, plan, 2) == []
    with pytest.raises(NotFoundError, match="not a slice of this volume"):
        place_shape(Shape(AnnotationMode.LOCATION, ((1, 1),), sop_uid="9.9"), volume)


def test_a_polygon_cuts_a_coronal_view_as_a_segment_on_its_slice_row(volume):
    shape = Shape(AnnotationMode.POLYGON, ((5, 5), (15, 5), (15, 12), (5, 12)), volume.sop_uids[3])
    plan = plan_view(volume, "coronal")
    (segment,) = shape_in_view(shape, 3, plan, 8)  # coronal image 8 = axial row 8
    # the segment runs from column 5 to 15, on the view row of slice 3
    row_of_slice_3 = plan.from_volume([3, 8, 0])[2]
    assert segment == [(5.0, row_of_slice_3), (15.0, row_of_slice_3)]
    assert shape_in_view(shape, 3, plan, 2) == []  # row 2 misses the polygon
    sag = plan_view(volume, "sagittal")
    (seg2,) = shape_in_view(shape, 3, sag, 10)
    xs = sorted(x for x, _ in seg2)
    assert xs == [5.0, 12.0]  # rows 5..12 of the slice, shown along the sagittal x


def test_a_point_appears_in_a_reformat_only_on_its_own_line(volume):
    point = Shape(AnnotationMode.LOCATION, ((7, 9),), volume.sop_uids[1])
    plan = plan_view(volume, "coronal")
    assert shape_in_view(point, 1, plan, 9) == [[(7.0, plan.from_volume([1, 9, 7])[2])] * 2]
    assert shape_in_view(point, 1, plan, 3) == []


# --- DICOM SEG ---------------------------------------------------------------
def _seg_for(volume, frames):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = SegmentationStorage
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "SEG"
    ds.SegmentationType = "BINARY"
    ds.Rows, ds.Columns = volume.shape[1:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 1
    ds.HighBit = ds.PixelRepresentation = 0
    ds.NumberOfFrames = len(frames)
    segs = []
    for number, label in ((1, "Infectious opacity"), (2, "Atelectasis")):
        item = Dataset()
        item.SegmentNumber, item.SegmentLabel = number, label
        segs.append(item)
    ds.SegmentSequence = Sequence(segs)
    groups = []
    for number, k, _mask, by_uid in frames:
        g = Dataset()
        ident = Dataset()
        ident.ReferencedSegmentNumber = number
        g.SegmentIdentificationSequence = Sequence([ident])
        if by_uid:
            src = Dataset()
            src.ReferencedSOPInstanceUID = volume.sop_uids[k]
            deriv = Dataset()
            deriv.SourceImageSequence = Sequence([src])
            g.DerivationImageSequence = Sequence([deriv])
        else:
            pos = Dataset()
            pos.ImagePositionPatient = [float(v) for v in volume.positions[k]]
            g.PlanePositionSequence = Sequence([pos])
        groups.append(g)
    ds.PerFrameFunctionalGroupsSequence = Sequence(groups)
    ds.PixelData = pydicom.pixels.pack_bits(np.stack([f[2] for f in frames]).astype(np.uint8))
    return ds


def test_seg_frames_land_on_their_slices_by_uid_or_by_position(volume):
    a = np.zeros(volume.shape[1:], bool)
    a[2:6, 3:9] = True
    b = np.zeros(volume.shape[1:], bool)
    b[10:12, 20:25] = True
    seg = _seg_for(volume, [(1, 2, a, True), (2, 4, b, False)])
    first, second = read_segments(seg, volume)
    assert (first.number, first.label, second.label) == (1, "Infectious opacity", "Atelectasis")
    np.testing.assert_array_equal(first.mask[2], a)
    assert first.mask.sum() == a.sum() and second.mask[4].sum() == b.sum()
    np.testing.assert_array_equal(second.mask[4], b)


def test_seg_errors(volume):
    ct = pydicom.dcmread(volume.headers[0].path)
    with pytest.raises(DicomError, match="not a segmentation: Modality is 'CT'"):
        read_segments(ct, volume)
    a = np.ones(volume.shape[1:], bool)
    seg = _seg_for(volume, [(1, 0, a, True)])
    seg.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[
        0
    ].ReferencedSOPInstanceUID = "1.2.3.4"
    with pytest.raises(NotFoundError, match="SEG frame 1 refers to no slice of this volume"):
        read_segments(seg, volume)
