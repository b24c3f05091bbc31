"""The controlled vocabulary: modalities, RSNA categories, severity, annotation modes.

Strings from files and users are converted to these enums where they enter the
package (``Appearance.parse("Typical Appearance")``); inside, only enums are used.
Every enum's ``parse`` accepts the enum itself, its value, its name and the label
text RICORD uses, case-insensitively, and raises ``ValueError`` naming the choices.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Self

__all__ = [
    "AnnotationMode",
    "Appearance",
    "Finding",
    "LabelScope",
    "Modality",
    "ParsedEnum",
    "QuestionKind",
    "Severity",
    "View",
]


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


class ParsedEnum(StrEnum):
    """A string enum whose :meth:`parse` forgives case, spacing and known aliases.

    Subclasses may override ``_aliases`` (extra spellings) and ``_noun`` (the name
    used in the error message).
    """

    @classmethod
    def _aliases(cls) -> dict[str, Self]:
        return {}

    @classmethod
    def _noun(cls) -> str:
        return f"a {cls.__name__}"

    @classmethod
    def parse(cls, value: Self | str) -> Self:
        """Convert a string (or a member) to a member, tolerant of case and spacing.

        Raises
        ------
        ValueError
            If the text names no member; the message lists the accepted values.
        """
        if isinstance(value, cls):
            return value
        key = _norm(str(value))
        for member in cls:
            if key in (_norm(member.value), _norm(member.name)):
                return member
        aliases = {_norm(k): v for k, v in cls._aliases().items()}
        if key in aliases:
            return aliases[key]
        choices = ", ".join(repr(m.value) for m in cls)
        raise ValueError(f"{value!r} is not {cls._noun()}; expected one of {choices}")


class Modality(ParsedEnum):
    """DICOM modality codes the toolkit knows how to present."""

    CT = "CT"
    CR = "CR"
    DX = "DX"
    MR = "MR"
    US = "US"
    NM = "NM"
    PT = "PT"
    XA = "XA"
    RF = "RF"
    MG = "MG"
    OT = "OT"
    SC = "SC"
    SEG = "SEG"
    SR = "SR"

    @property
    def is_radiograph(self) -> bool:
        """Whether the modality is projection radiography (CR, DX)."""
        return self in (Modality.CR, Modality.DX)


class Appearance(ParsedEnum):
    """The RSNA consensus categories for COVID-19 imaging (CT and radiographs)."""

    TYPICAL = "typical"
    INDETERMINATE = "indeterminate"
    ATYPICAL = "atypical"
    NEGATIVE = "negative"

    @classmethod
    def _aliases(cls) -> dict[str, Self]:
        return {
            "Typical Appearance": cls.TYPICAL,
            "Indeterminate Appearance": cls.INDETERMINATE,
            "Atypical Appearance": cls.ATYPICAL,
            "Negative for Pneumonia": cls.NEGATIVE,
            "Negative for pneumonia": cls.NEGATIVE,
        }

    @property
    def ct_label(self) -> str:
        """The study label name used by RICORD 1a (CT), e.g. ``"Typical"``."""
        return "Negative for pneumonia" if self is Appearance.NEGATIVE else self.value.title()

    @property
    def radiograph_label(self) -> str:
        """The study label name used by RICORD 1c (radiographs)."""
        if self is Appearance.NEGATIVE:
            return "Negative for Pneumonia"
        return f"{self.value.title()} Appearance"


class Severity(ParsedEnum):
    """Airspace disease grade on radiographs (RICORD 1c), an ordinal scale."""

    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"

    @property
    def rank(self) -> int:
        """0 for mild, 1 for moderate, 2 for severe (for partial credit)."""
        return list(Severity).index(self)

    @property
    def label(self) -> str:
        """The label name as written in the MD.ai JSON, e.g. ``"Mild"``."""
        return self.value.title()

    @classmethod
    def parse(cls, value: Self | str) -> Self:
        """Accept ``"Mild"``, ``"mild opacities"``, ``"Moderate airspace disease"`` ..."""
        if isinstance(value, cls):
            return value
        first = _norm(str(value)).split(" ")[0] if str(value).strip() else ""
        return super().parse(first or str(value))


class LabelScope(ParsedEnum):
    """Where an MD.ai label applies (the JSON spells these in upper case)."""

    STUDY = "STUDY"
    SERIES = "SERIES"
    INSTANCE = "INSTANCE"


class AnnotationMode(ParsedEnum):
    """How an MD.ai annotation's ``data`` is shaped."""

    BBOX = "bbox"
    POLYGON = "polygon"
    FREEFORM = "freeform"
    LINE = "line"
    LOCATION = "location"
    MASK = "mask"


class Finding(ParsedEnum):
    """The instance-scope finding labels of RICORD 1a (polygons on CT slices)."""

    INFECTIOUS_OPACITY = "Infectious opacity"
    INFECTIOUS_TIB = "Infectious TIB/micronodules"
    ATELECTASIS = "Atelectasis"
    OTHER_NONINFECTIOUS_OPACITY = "Other noninfectious opacity"
    NONINFECTIOUS_NODULE = "Noninfectious nodule/mass"
    INFECTIOUS_CAVITY = "Infectious cavity"


class View(ParsedEnum):
    """The three orthogonal planes an image is shown in."""

    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"

    @classmethod
    def _aliases(cls) -> dict[str, Self]:
        return {"ax": cls.AXIAL, "cor": cls.CORONAL, "sag": cls.SAGITTAL, "transverse": cls.AXIAL}

    @classmethod
    def _noun(cls) -> str:
        return "a view"


class QuestionKind(ParsedEnum):
    """The kinds of question the kernel can score."""

    SINGLE_BEST = "single_best"
    MULTIPLE = "multiple"
    CATEGORY = "category"
    SEVERITY = "severity"
    CLICK = "click"
    BOX = "box"
    FREE_TEXT = "free_text"

    @classmethod
    def _aliases(cls) -> dict[str, Self]:
        return {
            "sba": cls.SINGLE_BEST,
            "single best answer": cls.SINGLE_BEST,
            "multiple answers": cls.MULTIPLE,
            "multiple answer": cls.MULTIPLE,
            "rsna category": cls.CATEGORY,
            "grade": cls.SEVERITY,
            "click the finding": cls.CLICK,
            "box the finding": cls.BOX,
            "text": cls.FREE_TEXT,
        }

    @classmethod
    def _noun(cls) -> str:
        return "a question kind"

    @property
    def needs_case(self) -> bool:
        """Whether the question must name a case (its truth comes from the images)."""
        return self in (
            QuestionKind.CATEGORY,
            QuestionKind.SEVERITY,
            QuestionKind.CLICK,
            QuestionKind.BOX,
        )
