"""RICORD's label sets, as its MD.ai exports define them.

The names, scopes and modes follow the real exports (see ``shared/RICORD.md``);
ids are stable made-up ones of MD.ai's shape, since the demo cannot copy the real
ones. The authoring tools offer these labels by default.
"""

from __future__ import annotations

import hashlib

from teachingfiles.repository.mdai import Label, LabelGroup
from teachingfiles.vocabulary import AnnotationMode, Appearance, Finding, LabelScope, Severity

__all__ = [
    "COLLECTION_1A",
    "COLLECTION_1B",
    "COLLECTION_1C",
    "RADIOGRAPH_GROUP_NAMES",
    "mdai_id",
    "ricord_1a_label_groups",
    "ricord_1c_label_groups",
]

COLLECTION_1A = "MIDRC-RICORD-1A"
COLLECTION_1B = "MIDRC-RICORD-1B"
COLLECTION_1C = "MIDRC-RICORD-1C"

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def mdai_id(prefix: str, *parts: str) -> str:
    """Make a stable MD.ai-shaped id (``L_2l2P0B``) derived from ``parts``."""
    digest = int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:8], "big")
    chars = []
    for _ in range(6):
        digest, rem = divmod(digest, len(_ALPHABET))
        chars.append(_ALPHABET[rem])
    return f"{prefix}_{''.join(chars)}"


_FINDING_COLORS = {
    Finding.INFECTIOUS_OPACITY: "#ff5722",
    Finding.INFECTIOUS_TIB: "#ffc107",
    Finding.ATELECTASIS: "#03a9f4",
    Finding.OTHER_NONINFECTIOUS_OPACITY: "#9c27b0",
    Finding.NONINFECTIOUS_NODULE: "#4caf50",
    Finding.INFECTIOUS_CAVITY: "#e91e63",
}
_FINDING_DESCRIPTIONS = {
    Finding.INFECTIOUS_OPACITY: "Ground glass or consolidative opacity attributed to infection",
    Finding.INFECTIOUS_TIB: "Tree-in-bud opacities or centrilobular micronodules",
    Finding.ATELECTASIS: "Subsegmental, segmental or lobar atelectasis",
    Finding.OTHER_NONINFECTIOUS_OPACITY: "Opacity not attributed to infection (e.g. fibrosis)",
    Finding.NONINFECTIOUS_NODULE: "Nodule or mass not attributed to infection",
    Finding.INFECTIOUS_CAVITY: "Cavity within infectious consolidation",
}
_APPEARANCE_COLORS = {
    Appearance.TYPICAL: "#d32f2f",
    Appearance.INDETERMINATE: "#f57c00",
    Appearance.ATYPICAL: "#7b1fa2",
    Appearance.NEGATIVE: "#388e3c",
}
_OTHER_1A_STUDY_LABELS = (
    ("Infectious lung disease", "#5d4037"),
    ("Effusion", "#0288d1"),
    ("Lymphadenopathy", "#689f38"),
    ("Emphysema", "#455a64"),
    ("Image quality inadequate for evaluation", "#9e9e9e"),
)

#: Reader label groups of the 1c export: three readers, an adjudicator, two spare.
RADIOGRAPH_GROUP_NAMES: tuple[str, ...] = (
    "Reader 1",
    "Reader 2",
    "Reader 3",
    "Adjudication",
    "Reader 4",
    "Reader 5",
)


def ricord_1a_label_groups() -> tuple[LabelGroup, ...]:
    """Return the 1a (CT) label group: instance polygons and study-level labels."""
    gid = mdai_id("G", "1a")
    labels = [
        Label(
            id=mdai_id("L", "1a", finding.value),
            name=finding.value,
            scope=LabelScope.INSTANCE,
            mode=AnnotationMode.FREEFORM,
            color=_FINDING_COLORS[finding],
            description=_FINDING_DESCRIPTIONS[finding],
            type="local",
            group_id=gid,
            group_name="Default group",
        )
        for finding in Finding
    ]
    labels += [
        Label(
            id=mdai_id("L", "1a", appearance.ct_label),
            name=appearance.ct_label,
            scope=LabelScope.STUDY,
            color=_APPEARANCE_COLORS[appearance],
            description=f"RSNA consensus CT category: {appearance.value}",
            group_id=gid,
            group_name="Default group",
        )
        for appearance in Appearance
    ]
    labels += [
        Label(
            id=mdai_id("L", "1a", name),
            name=name,
            scope=LabelScope.STUDY,
            color=color,
            group_id=gid,
            group_name="Default group",
        )
        for name, color in _OTHER_1A_STUDY_LABELS
    ]
    return (LabelGroup(id=gid, name="Default group", labels=tuple(labels)),)


def ricord_1c_label_groups() -> tuple[LabelGroup, ...]:
    """Return the 1c (radiograph) label groups: six groups of the same eight study labels."""
    groups = []
    for name in RADIOGRAPH_GROUP_NAMES:
        gid = mdai_id("G", "1c", name)
        names: list[tuple[str, str, str]] = [
            (Appearance.NEGATIVE.radiograph_label, _APPEARANCE_COLORS[Appearance.NEGATIVE],
             "No lung opacities"),
            (Appearance.ATYPICAL.radiograph_label, _APPEARANCE_COLORS[Appearance.ATYPICAL],
             "Pneumothorax, effusion, lobar consolidation, nodules, cavitation"),
            (Appearance.INDETERMINATE.radiograph_label,
             _APPEARANCE_COLORS[Appearance.INDETERMINATE],
             "Absence of typical findings AND unilateral, central or upper lung predominant"),
            (Appearance.TYPICAL.radiograph_label, _APPEARANCE_COLORS[Appearance.TYPICAL],
             "Multifocal bilateral, peripheral opacities, lower lung predominant"),
            ("Invalid Study", "#9e9e9e", "Not a frontal chest radiograph or not readable"),
            (Severity.MILD.label, "#fff176", "Opacities in 1-2 lung zones"),
            (Severity.MODERATE.label, "#ffb74d", "Opacities in 3-4 lung zones"),
            (Severity.SEVERE.label, "#e57373", "Opacities in more than 4 lung zones"),
        ]  # fmt: skip
        labels = tuple(
            Label(
                id=mdai_id("L", "1c", name, label_name),
                name=label_name,
                scope=LabelScope.STUDY,
                color=color,
                description=description,
                group_id=gid,
                group_name=name,
            )
            for label_name, color, description in names
        )
        groups.append(LabelGroup(id=gid, name=name, labels=labels))
    return tuple(groups)
