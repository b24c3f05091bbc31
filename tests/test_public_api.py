"""The public names of each subpackage are deliberate: adding or dropping one is a decision.

Update these lists when the API changes on purpose (and say so in the changelog).
"""

import importlib

import pytest

PUBLIC = {
    "teachingfiles.errors": [
        "CatalogError", "DecodeError", "DicomError", "FormatError", "InvalidDicomError",
        "ManifestError", "MissingPixelDataError", "NotFoundError", "RepositoryError",
        "TeachingFilesError", "TeachingFilesWarning", "UsageError",
    ],
    "teachingfiles.vocabulary": [
        "AnnotationMode", "Appearance", "Finding", "LabelScope", "Modality", "ParsedEnum",
        "QuestionKind", "Severity", "View",
    ],
    "teachingfiles.demo": ["CollectionSummary", "DEMO_COLLECTIONS", "DemoSummary", "build_demo"],
    "teachingfiles.cases": [
        "AuthoringSession", "Difficulty", "KeyImage", "ManifestCheck", "ReadSummary",
        "ReaderCall", "Reference",
        "Shape", "TeachingCase", "TeachingSet", "View", "box_iou", "check_manifest",
        "mask_to_polygons", "place_shape", "point_in_polygon", "polygon_to_mask",
        "shape_in_view",
    ],
    "teachingfiles.quiz": [
        "AnswerKey", "AttemptRecord", "CaseSource", "Feedback", "Gradebook", "Mode", "Order",
        "Question", "QuestionKind", "Quiz", "QuizSession", "Region", "ResolvedQuestion",
        "ReviewItem", "Score", "SessionRecord", "Submission", "Summary", "TopicScore",
        "choice_order", "next_review", "resolve", "review_queue", "score_chart", "summarize",
    ],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_all_is_pinned(module):
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(PUBLIC[module])
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ names {name!r}, which it does not define"


@pytest.mark.parametrize(
    "module",
    ["teachingfiles.repository", "teachingfiles.dicom", "teachingfiles.widgets"],
)
def test_every_exported_name_exists(module):
    mod = importlib.import_module(module)
    assert mod.__all__, f"{module} has an empty __all__"
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ names {name!r}, which it does not define"
