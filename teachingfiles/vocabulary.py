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
    "Severity",
]


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


class _ParseMixin(StrEnum):
    @classmethod
    def _aliases(cls) -> dict[str, Self]:
        return {}

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
        raise ValueError(f"{value!r} is not a {cls.__name__}; expected one of {choices}")


class Modality(_ParseMixin):
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


class Appearance(_ParseMixin):
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


class Severity(_ParseMixin):
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


class LabelScope(_ParseMixin):
    """Where an MD.ai label applies (the JSON spells these in upper case)."""

    STUDY = "STUDY"
    SERIES = "SERIES"
    INSTANCE = "INSTANCE"


class AnnotationMode(_ParseMixin):
    """How an MD.ai annotation's ``data`` is shaped."""

    BBOX = "bbox"
    POLYGON = "polygon"
    FREEFORM = "freeform"
    LINE = "line"
    LOCATION = "location"
    MASK = "mask"


class Finding(_ParseMixin):
    """The instance-scope finding labels of RICORD 1a (polygons on CT slices)."""

    INFECTIOUS_OPACITY = "Infectious opacity"
    INFECTIOUS_TIB = "Infectious TIB/micronodules"
    ATELECTASIS = "Atelectasis"
    OTHER_NONINFECTIOUS_OPACITY = "Other noninfectious opacity"
    NONINFECTIOUS_NODULE = "Noninfectious nodule/mass"
    INFECTIOUS_CAVITY = "Infectious cavity"
