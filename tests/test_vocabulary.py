import pytest

from teachingfiles.vocabulary import (
    AnnotationMode,
    Appearance,
    Finding,
    LabelScope,
    Modality,
    Severity,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Typical Appearance", Appearance.TYPICAL),
        ("typical", Appearance.TYPICAL),
        ("  INDETERMINATE ", Appearance.INDETERMINATE),
        ("Indeterminate Appearance", Appearance.INDETERMINATE),
        ("Atypical", Appearance.ATYPICAL),
        ("Negative for Pneumonia", Appearance.NEGATIVE),
        ("negative for pneumonia", Appearance.NEGATIVE),
        (Appearance.NEGATIVE, Appearance.NEGATIVE),
    ],
)
def test_appearance_parse_accepts_ricord_labels(text, expected):
    assert Appearance.parse(text) is expected


def test_appearance_labels_round_trip_through_parse():
    for member in Appearance:
        assert Appearance.parse(member.ct_label) is member
        assert Appearance.parse(member.radiograph_label) is member


def test_appearance_parse_rejects_with_choices():
    with pytest.raises(
        ValueError, match=r"'probable' is not a Appearance; expected one of 'typical'"
    ):
        Appearance.parse("probable")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mild", Severity.MILD),
        ("moderate opacities", Severity.MODERATE),
        ("SEVERE", Severity.SEVERE),
    ],
)
def test_severity_parse_tolerates_suffixes(text, expected):
    assert Severity.parse(text) is expected


def test_severity_is_ordinal():
    assert [s.rank for s in Severity] == [0, 1, 2]
    assert Severity.parse(Severity.MILD.label) is Severity.MILD


def test_modality_and_modes():
    assert Modality.parse("cr").is_radiograph
    assert not Modality.parse("CT").is_radiograph
    assert LabelScope.parse("instance") is LabelScope.INSTANCE
    assert AnnotationMode.parse("Freeform") is AnnotationMode.FREEFORM
    assert Finding.parse("infectious opacity") is Finding.INFECTIOUS_OPACITY
    assert Finding.parse("Infectious TIB/micronodules") is Finding.INFECTIOUS_TIB
    with pytest.raises(ValueError, match="is not a Modality"):
        Modality.parse("XYZ")
