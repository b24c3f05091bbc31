"""The demo's case table: every synthetic patient and study, written down once.

The demo mirrors RSNA RICORD (see ``shared/RICORD.md``): ``DEMO-RICORD-1A`` holds
COVID-19 positive chest CTs with per-slice polygons and study labels,
``DEMO-RICORD-1B`` COVID-19 negative chest CTs without annotations, and
``DEMO-RICORD-1C`` chest radiographs read by three readers (with honest
disagreement and an adjudication on the disputed studies). ``PYDICOM-DATA`` holds
real images copied from the ``pydicom-data`` package (see :mod:`.real_images`).

Nothing here is random at build time: seeds, ages, dates and reads are fixed so the
demo is the same, byte for byte, on every machine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from teachingfiles.vocabulary import Appearance, Modality, Severity

__all__ = [
    "COLLECTION_1A",
    "COLLECTION_1B",
    "COLLECTION_1C",
    "COLLECTION_REAL",
    "DEMO_COLLECTIONS",
    "CtStudySpec",
    "Patient",
    "RadiographStudySpec",
    "Read",
    "ct_specs",
    "radiograph_specs",
]

COLLECTION_1A = "DEMO-RICORD-1A"
COLLECTION_1B = "DEMO-RICORD-1B"
COLLECTION_1C = "DEMO-RICORD-1C"
COLLECTION_REAL = "PYDICOM-DATA"

#: The demo's collections, in the order they are built and listed.
DEMO_COLLECTIONS: tuple[str, ...] = (COLLECTION_1A, COLLECTION_1B, COLLECTION_1C, COLLECTION_REAL)


@dataclass(frozen=True)
class Patient:
    """A synthetic patient: collection, site and number make the PatientID.

    Example
    -------
    >>> Patient(COLLECTION_1A, "SYN001", 1, "F", 1966).patient_id
    'DEMO-RICORD-1A-SYN001-000001'
    """

    collection: str
    site: str
    number: int
    sex: str  # "M" or "F", as DICOM PatientSex
    birth_year: int

    @property
    def patient_id(self) -> str:
        """The PatientID, RICORD style: collection, site, six-digit number."""
        return f"{self.collection}-{self.mrn}"

    @property
    def mrn(self) -> str:
        """``Anon MRN`` of the clinical sheet: the PatientID without the collection."""
        return f"{self.site}-{self.number:06d}"

    @property
    def patient_name(self) -> str:
        """A name that says what the patient is, e.g. ``SYNTHETIC^CASE 1A-01``."""
        return f"SYNTHETIC^CASE {self.collection[-2:]}-{self.number:02d}"

    def age_at(self, date: dt.date) -> int:
        """Age in whole years on ``date`` (birthdays fall on 1 January)."""
        return date.year - self.birth_year


@dataclass(frozen=True)
class Read:
    """One reader's study labels on a radiograph: a category and, unless negative, a grade."""

    appearance: Appearance
    severity: Severity | None

    @classmethod
    def of(cls, appearance: str, severity: str | None = None) -> Read:
        """Build a read from label text, converting at the boundary."""
        return cls(
            Appearance.parse(appearance), None if severity is None else Severity.parse(severity)
        )


@dataclass(frozen=True)
class CtStudySpec:
    """One synthetic chest CT study (one axial series)."""

    patient: Patient
    study_date: dt.date
    appearance: Appearance
    variant: str
    seed: int
    covid_positive: bool
    symptomatic: str | None = None  # 1b's extra column ("Yes"/"No")
    specimen_source: str = "Nasopharyngeal swab"

    @property
    def age(self) -> int:
        """Age at the study."""
        return self.patient.age_at(self.study_date)


@dataclass(frozen=True)
class RadiographStudySpec:
    """One synthetic frontal chest radiograph study and its three (or four) reads.

    ``appearance``/``severity`` are what the generator draws (the ground truth of the
    pixels); ``reads`` are what the three readers labelled, and ``adjudication`` the
    adjudicator's label where they disagreed.
    """

    patient: Patient
    study_date: dt.date
    appearance: Appearance
    severity: Severity | None
    variant: str
    seed: int
    modality: Modality  # CR or DX
    photometric: str  # "MONOCHROME1" or "MONOCHROME2"
    view: str  # "AP" or "PA"
    reads: tuple[Read, Read, Read]
    adjudication: Read | None = None
    size: int = 1024
    specimen_source: str = "Nasopharyngeal swab"

    @property
    def age(self) -> int:
        """Age at the study."""
        return self.patient.age_at(self.study_date)

    @property
    def disagreement(self) -> bool:
        """Whether the three readers did not all give the same labels."""
        return len(set(self.reads)) > 1


def _p(collection: str, site: str, number: int, sex: str, birth_year: int) -> Patient:
    return Patient(collection, site, number, sex, birth_year)


def ct_specs() -> tuple[CtStudySpec, ...]:
    """List the CT studies: ten in ``DEMO-RICORD-1A`` (positive), four in ``-1B``."""
    a, b = COLLECTION_1A, COLLECTION_1B
    t = Appearance.TYPICAL
    i = Appearance.INDETERMINATE
    x = Appearance.ATYPICAL
    n = Appearance.NEGATIVE
    d = dt.date
    positives = [
        CtStudySpec(_p(a, "SYN001", 1, "F", 1966), d(2020, 4, 3), t, "ggo", 101, True),
        CtStudySpec(_p(a, "SYN001", 2, "M", 1959), d(2020, 4, 11), t, "crazy-paving", 102, True),
        CtStudySpec(_p(a, "SYN002", 3, "M", 1973), d(2020, 5, 2), t, "consolidation", 103, True),
        CtStudySpec(_p(a, "SYN002", 4, "F", 1950), d(2020, 5, 19), i, "perihilar", 104, True),
        CtStudySpec(_p(a, "SYN001", 5, "M", 1944), d(2020, 6, 7), i, "unilateral", 105, True),
        CtStudySpec(_p(a, "SYN003", 6, "M", 1982), d(2020, 6, 21), x, "lobar", 106, True),
        CtStudySpec(_p(a, "SYN003", 7, "M", 1954), d(2020, 7, 9), x, "cavity", 107, True),
        CtStudySpec(_p(a, "SYN002", 8, "F", 1991), d(2020, 8, 14), x, "tree-in-bud", 108, True),
        CtStudySpec(_p(a, "SYN001", 9, "F", 1975), d(2020, 9, 1), n, "clear", 109, True),
        CtStudySpec(_p(a, "SYN003", 10, "F", 1952), d(2020, 9, 23), x, "effusion", 110, True),
    ]
    negatives = [
        CtStudySpec(_p(b, "SYN001", 1, "M", 1962), d(2020, 3, 28), n, "clear", 201, False,
                    symptomatic="Yes"),
        CtStudySpec(_p(b, "SYN002", 2, "F", 1987), d(2020, 4, 22), n, "nodule", 202, False,
                    symptomatic="No"),
        CtStudySpec(_p(b, "SYN002", 3, "F", 1948), d(2020, 6, 30), n, "clear", 203, False,
                    symptomatic="Yes"),
        CtStudySpec(_p(b, "SYN003", 4, "M", 1970), d(2020, 10, 5), n, "clear", 204, False,
                    symptomatic="Yes"),
    ]  # fmt: skip
    return (*positives, *negatives)


def radiograph_specs() -> tuple[RadiographStudySpec, ...]:
    """List the ``DEMO-RICORD-1C`` radiographs: 18 studies of 14 patients (4 followed up).

    Readers disagree on six studies (category splits such as typical versus
    indeterminate, and grade splits such as moderate versus severe); those carry an
    adjudication, as 143 of RICORD 1c's studies do.
    """
    c = COLLECTION_1C
    d = dt.date
    cr, dx = Modality.CR, Modality.DX
    m1, m2 = "MONOCHROME1", "MONOCHROME2"
    r = Read.of

    def agree(read: Read) -> tuple[Read, Read, Read]:
        return (read, read, read)

    def s(
        patient: Patient,
        date: dt.date,
        appearance: str,
        severity: str | None,
        variant: str,
        seed: int,
        modality: Modality,
        photometric: str,
        view: str,
        reads: tuple[Read, Read, Read] | None = None,
        adjudication: Read | None = None,
    ) -> RadiographStudySpec:
        truth = r(appearance, severity)
        return RadiographStudySpec(
            patient,
            date,
            truth.appearance,
            truth.severity,
            variant,
            seed,
            modality,
            photometric,
            view,
            reads or agree(truth),
            adjudication,
        )

    p1 = _p(c, "SYN001", 1, "M", 1958)
    p2 = _p(c, "SYN001", 2, "F", 1963)
    p3 = _p(c, "SYN002", 3, "M", 1949)
    p4 = _p(c, "SYN002", 4, "F", 1971)
    p5 = _p(c, "SYN003", 5, "M", 1966)
    p6 = _p(c, "SYN003", 6, "F", 1980)
    p7 = _p(c, "SYN001", 7, "M", 1939)
    p8 = _p(c, "SYN002", 8, "F", 1955)
    p9 = _p(c, "SYN003", 9, "M", 1977)
    p10 = _p(c, "SYN001", 10, "F", 1968)
    p11 = _p(c, "SYN002", 11, "M", 1985)
    p12 = _p(c, "SYN003", 12, "F", 1946)
    p13 = _p(c, "SYN001", 13, "M", 1960)
    p14 = _p(c, "SYN002", 14, "F", 1993)
    return (
        # typical: mild, then worse on follow-up (same patient, same anatomy seed)
        s(p1, d(2020, 4, 2), "typical", "mild", "default", 301, cr, m1, "AP"),
        s(p1, d(2020, 4, 6), "typical", "moderate", "default", 301, cr, m1, "AP",
          reads=(r("typical", "moderate"), r("typical", "severe"), r("typical", "moderate")),
          adjudication=r("typical", "moderate")),
        s(p2, d(2020, 4, 15), "typical", "severe", "default", 302, dx, m2, "AP"),
        s(p2, d(2020, 4, 27), "typical", "moderate", "default", 302, dx, m2, "AP",
          reads=(r("typical", "moderate"), r("typical", "moderate"), r("typical", "severe")),
          adjudication=r("typical", "moderate")),
        s(p3, d(2020, 5, 3), "typical", "moderate", "consolidation", 303, cr, m2, "PA"),
        s(p4, d(2020, 5, 12), "typical", "mild", "default", 304, dx, m1, "PA",
          reads=(r("typical", "mild"), r("indeterminate", "mild"), r("typical", "mild")),
          adjudication=r("typical", "mild")),
        # indeterminate
        s(p5, d(2020, 5, 20), "indeterminate", "mild", "default", 305, cr, m2, "AP",
          reads=(r("indeterminate", "mild"), r("typical", "mild"), r("indeterminate", "mild")),
          adjudication=r("indeterminate", "mild")),
        s(p6, d(2020, 6, 1), "indeterminate", "moderate", "unilateral", 306, dx, m2, "PA"),
        s(p7, d(2020, 6, 9), "indeterminate", "moderate", "default", 307, cr, m1, "AP"),
        s(p7, d(2020, 6, 16), "indeterminate", "severe", "default", 307, cr, m1, "AP"),
        # atypical
        s(p8, d(2020, 6, 24), "atypical", "mild", "lobar", 308, dx, m2, "PA",
          reads=(r("atypical", "mild"), r("atypical", "mild"), r("indeterminate", "mild")),
          adjudication=r("atypical", "mild")),
        s(p9, d(2020, 7, 2), "atypical", "mild", "cavity", 309, cr, m2, "PA"),
        s(p10, d(2020, 7, 13), "atypical", "moderate", "effusion", 310, dx, m1, "AP"),
        s(p11, d(2020, 7, 28), "atypical", "mild", "nodules", 311, cr, m1, "PA"),
        # negative for pneumonia
        s(p12, d(2020, 8, 4), "negative", None, "default", 312, dx, m2, "PA"),
        s(p12, d(2020, 8, 19), "negative", None, "default", 315, dx, m2, "PA"),
        s(p13, d(2020, 9, 8), "negative", None, "default", 313, cr, m1, "AP",
          reads=(r("negative"), r("negative"), r("atypical", "mild")),
          adjudication=r("negative")),
        s(p14, d(2020, 10, 2), "negative", None, "default", 314, dx, m1, "PA"),
    )  # fmt: skip
