"""The demo teaching set: "COVID-19 chest imaging: the RSNA categories".

:func:`write_demo_teaching_sets` writes it, after the demo repository is built, to
``<root>/teaching-sets/``. Its cases point at the demo's studies by their
StudyInstanceUIDs (read from the download's ``metadata.csv``) and its key slices
at the slices the MD.ai polygons outline, so the manifest resolves against the
repository with no further work.

The synthetic cases say so in their text and carry ``synthetic: true``; their
histories are invented for teaching and say that too. The real images of
``PYDICOM-DATA`` are presented as what their headers say they are, without any
invented history.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from os import PathLike
from pathlib import Path

from teachingfiles.cases.case import Difficulty, KeyImage, Reference, TeachingCase
from teachingfiles.cases.teaching_set import TeachingSet
from teachingfiles.demo._demo_questions import demo_questions
from teachingfiles.demo.specs import (
    CtStudySpec,
    RadiographStudySpec,
    ct_specs,
    radiograph_specs,
)
from teachingfiles.errors import RepositoryError
from teachingfiles.repository.mdai import read_mdai
from teachingfiles.repository.nbia import MetadataRow, metadata_date, read_metadata_csv
from teachingfiles.vocabulary import Appearance, LabelScope

__all__ = ["DEMO_SET_FILE", "demo_teaching_set", "write_demo_teaching_sets"]

DEMO_SET_FILE = "covid19-rsna-categories.yaml"

SIMPSON = Reference(
    "Simpson S, Kay FU, Abbara S, et al. Radiological Society of North America Expert "
    "Consensus Statement on Reporting Chest CT Findings Related to COVID-19. Radiology: "
    "Cardiothoracic Imaging 2020;2(2):e200152.",
    doi="10.1148/ryct.2020200152",
)
LITMANOVICH = Reference(
    "Litmanovich DE, Chung M, Kirkbride RR, Kicska G, Kanne JP. Review of Chest Radiograph "
    "Findings of COVID-19 Pneumonia and Suggested Reporting Language. J Thorac Imaging "
    "2020;35(6):354-360.",
    doi="10.1097/RTI.0000000000000541",
)
RICORD = Reference(
    "Tsai EB, Simpson S, Lungren MP, et al. The RSNA International COVID-19 Open Radiology "
    "Database (RICORD). Radiology 2021;299(1):E204-E213.",
    doi="10.1148/radiol.2021203957",
)
WG04 = Reference(
    "NEMA WG04 compressed image sample set, as shipped by the pydicom-data package.",
    url="https://github.com/pydicom/pydicom-data",
)

_SYN_CT = (
    "SYNTHETIC: a computer-generated chest CT from the teachingfiles demo "
    "(DEMO-RICORD-1A, shaped like RSNA RICORD 1a); the history is invented for teaching."
)
_SYN_CXR = (
    "SYNTHETIC: a computer-generated chest radiograph from the teachingfiles demo "
    "(DEMO-RICORD-1C, shaped like RSNA RICORD 1c), read by three demo readers; the "
    "history is invented for teaching."
)

_CT_TP = (
    (
        "Typical (CT): peripheral, bilateral ground-glass opacities with or without "
        "consolidation or intralobular lines (crazy paving); multifocal rounded ground glass; "
        "reversed halo or other signs of organising pneumonia."
    ),
    (
        "Indeterminate (CT): no typical features, and ground glass that is multifocal, diffuse, "
        "perihilar or unilateral, or a few very small non-rounded, non-peripheral opacities."
    ),
    (
        "Atypical (CT): isolated lobar or segmental consolidation without ground glass, discrete "
        "small nodules (centrilobular, tree-in-bud), cavitation, or smooth septal thickening "
        "with pleural effusion."
    ),
)
_CXR_TP = (
    "Typical (radiograph): multifocal, bilateral, peripheral opacities, lower-lung predominant.",
    (
        "Indeterminate (radiograph): no typical findings, and opacities that are unilateral, "
        "central or upper-lung predominant."
    ),
    (
        "Atypical (radiograph): pneumothorax, pleural effusion, lobar consolidation, solitary "
        "or multiple nodules or masses, cavitation."
    ),
)
_SEVERITY_TP = (
    (
        "RICORD's readers graded airspace disease by the number of involved lung zones (six "
        "zones, three a side): mild 1-2, moderate 3-4, severe more than 4."
    ),
)

# ---------------------------------------------------------------- CT cases
# (patient number in DEMO-RICORD-1A, case id, title, history, findings, reasoning, difficulty)
# Case ids are neutral numbers: an id like "ct-typical" would give the answer away.
_CT_TEXT: dict[int, tuple[str, str, str, str, str, Difficulty]] = {
    1: ("ct-01", "Typical appearance: peripheral ground glass",
        ("Fever, dry cough and myalgia for six days; SARS-CoV-2 RT-PCR positive. "
        "CT requested for worsening breathlessness."),
        ("Bilateral, predominantly peripheral and posterior ground-glass opacities in the "
        "lower lobes, without lymphadenopathy or effusion."),
        ("Peripheral, bilateral ground glass is the signature of the typical category: it "
        "mirrors the organising pneumonia pattern of lung injury seen in COVID-19."),
        Difficulty.INTRODUCTORY),
    2: ("ct-02", "Typical appearance: crazy paving",
        "Eight days of fever and cough, now hypoxic on room air; RT-PCR positive.",
        ("Peripheral ground glass with superimposed interlobular and intralobular lines "
        "(crazy paving) in both lower lobes."),
        ("Crazy paving within peripheral ground glass keeps the study typical; it tends to "
        "appear in the second week as the disease progresses."),
        Difficulty.INTERMEDIATE),
    3: ("ct-03", "Typical appearance: ground glass with consolidation",
        "Ten days of illness with rising oxygen requirement; RT-PCR positive.",
        "Bilateral peripheral ground glass with areas of consolidation in the lower lobes.",
        ("Consolidation mixed with peripheral ground glass is still typical; isolated lobar "
        "consolidation without ground glass would be atypical."),
        Difficulty.INTERMEDIATE),
    4: ("ct-04", "Indeterminate appearance",
        "Cough and low-grade fever; RT-PCR positive. Known chronic kidney disease.",
        "Ground-glass opacity without a peripheral or rounded predominance.",
        ("Ground glass that is neither peripheral nor rounded, without other typical signs, "
        "is indeterminate: many infections and non-infectious processes look like this."),
        Difficulty.INTERMEDIATE),
    5: ("ct-05", "Indeterminate appearance",
        "Breathlessness after a week of fever; RT-PCR positive.",
        "Ground-glass opacity with a central, perihilar distribution.",
        ("Perihilar or diffuse ground glass lacks the peripheral distribution of the typical "
        "pattern; the differential includes oedema and other viral pneumonias."),
        Difficulty.ADVANCED),
    6: ("ct-06", "Atypical appearance: lobar consolidation",
        "Sudden fever with rigors and productive cough; RT-PCR positive.",
        "Lobar consolidation with air bronchograms, without ground glass elsewhere.",
        ("Isolated lobar or segmental consolidation without ground glass is atypical for "
        "COVID-19 and suggests bacterial pneumonia, even in a patient who tests positive."),
        Difficulty.INTRODUCTORY),
    7: ("ct-07", "Atypical appearance: cavitation",
        "Fever, night sweats and haemoptysis; RT-PCR positive.",
        "Consolidation containing a cavity.",
        ("Cavitation is not a feature of COVID-19 pneumonia: think of mycobacteria, "
        "necrotising bacterial pneumonia, septic emboli or fungal infection."),
        Difficulty.INTERMEDIATE),
    8: ("ct-08", "Atypical appearance: tree-in-bud",
        "Cough for three weeks; RT-PCR positive.",
        "Centrilobular nodules with a branching tree-in-bud pattern.",
        ("Tree-in-bud nodules indicate small-airway (endobronchial) infection and point away "
        "from COVID-19: bacterial bronchiolitis, aspiration, mycobacteria."),
        Difficulty.INTERMEDIATE),
    9: ("ct-09", "Negative for pneumonia",
        "Fever and sore throat for two days; RT-PCR positive.",
        "Clear lungs: no ground glass, consolidation or nodules.",
        ("A positive test with a normal CT is common early in the illness; CT is not a "
        "screening test for infection."),
        Difficulty.INTRODUCTORY),
}  # fmt: skip

# ---------------------------------------------------------------- radiograph cases
# keyed by (patient number, study date) in DEMO-RICORD-1C: case id, history
_CXR_TEXT: dict[tuple[int, dt.date], tuple[str, str]] = {
    (1, dt.date(2020, 4, 6)): ("cxr-02",
        "Four days after a first radiograph, now on 4 L/min of oxygen; RT-PCR positive."),
    (2, dt.date(2020, 4, 15)): ("cxr-03",
        "Admitted from the emergency department with oxygen saturation of 84% on air."),
    (3, dt.date(2020, 5, 3)): ("cxr-05",
        "Seven days of fever and cough; RT-PCR positive."),
    (4, dt.date(2020, 5, 12)): ("cxr-06",
        "Cough and anosmia; RT-PCR positive."),
    (6, dt.date(2020, 6, 1)): ("cxr-08",
        "Fever and breathlessness; RT-PCR positive."),
    (7, dt.date(2020, 6, 16)): ("cxr-10",
        "Deteriorating in hospital a week after admission; RT-PCR positive."),
    (10, dt.date(2020, 7, 13)): ("cxr-13",
        "Pleuritic chest pain and breathlessness; RT-PCR positive."),
    (14, dt.date(2020, 10, 2)): ("cxr-18",
        "Mild cough; RT-PCR positive; radiograph requested before discharge."),
}  # fmt: skip


def _uid_rows(root: Path) -> dict[tuple[str, str], tuple[MetadataRow, Path]]:
    """Map (Subject ID, Study Date) to the metadata row and its download folder."""
    found: dict[tuple[str, str], tuple[MetadataRow, Path]] = {}
    for csv in sorted(root.glob("manifest-*/metadata.csv")):
        for row in read_metadata_csv(csv):
            found.setdefault((row.subject_id, row.study_date), (row, csv.parent))
    if not found:
        raise RepositoryError(f"{root}: no manifest-*/metadata.csv; build the demo first")
    return found


def _slice_order(folder: Path) -> dict[str, int]:
    """SOPInstanceUID -> index along the slice normal (as the catalog sorts them)."""
    import pydicom

    rows = []
    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        z = float(ds.ImagePositionPatient[2]) if "ImagePositionPatient" in ds else 0.0
        rows.append((z, int(ds.get("InstanceNumber", 0)), str(ds.SOPInstanceUID)))
    return {sop: i for i, (_, _, sop) in enumerate(sorted(rows))}


def _polygon_slices(root: Path) -> dict[str, dict[str, list[tuple[str, float]]]]:
    """Per study: per label, (SOP UID, outlined area) of every instance polygon."""
    out: dict[str, dict[str, list[tuple[str, float]]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted((root / "annotations").glob("*.json")):
        project = read_mdai(path)
        labels = project.label_map()
        for a in project.annotations():
            label = labels.get(a.label_id)
            if label is None or label.scope is not LabelScope.INSTANCE or not a.sop_uid:
                continue
            pts = a.vertices
            area = 0.5 * abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2)
                                 in zip(pts, pts[1:] + pts[:1], strict=True)))  # fmt: skip
            out[a.study_uid][label.name].append((a.sop_uid, area))
    return out


def _ct_case(spec: CtStudySpec, row: MetadataRow, download: Path,
             polygons: dict[str, list[tuple[str, float]]]) -> TeachingCase:  # fmt: skip
    cid, title, history, findings, reasoning, difficulty = _CT_TEXT[spec.patient.number]
    key_images: list[KeyImage] = []
    if polygons:
        order = _slice_order(row.folder(download))
        _label, outlines = max(polygons.items(), key=lambda kv: sum(a for _, a in kv[1]))
        sop, _ = max(outlines, key=lambda sa: sa[1])
        index = order[sop]
        shown = tuple(sorted(n for n, items in polygons.items() if any(s == sop for s, _ in items)))
        key_images.append(KeyImage(row.series_uid, index, preset="lung", annotations=shown,
                                   caption=f"Slice {index + 1}: {findings}"))  # fmt: skip
    else:
        key_images.append(KeyImage(row.series_uid, None, preset="lung", caption=findings))
    sex = "woman" if spec.patient.sex == "F" else "man"
    return TeachingCase(
        id=cid,
        title=title,
        study_uid=row.study_uid,
        collection=row.collection,
        patient_id=row.subject_id,
        series_uid=row.series_uid,
        synthetic=True,
        source=_SYN_CT,
        history=f"{spec.age}-year-old {sex}. {history} (Synthetic case.)",
        findings=findings,
        diagnosis=f"RSNA CT category: {spec.appearance.value}",
        category=spec.appearance,
        reasoning=reasoning,
        differential=_CT_DIFFERENTIAL[spec.appearance],
        teaching_points=_CT_TP,
        references=(SIMPSON, RICORD),
        difficulty=difficulty,
        tags=("CT", "COVID-19", spec.appearance.value, spec.variant, "synthetic"),
        key_images=tuple(key_images),
    )


_CT_DIFFERENTIAL: dict[Appearance, tuple[str, ...]] = {
    Appearance.TYPICAL: ("COVID-19 pneumonia", "other viral pneumonia", "organising pneumonia",
                         "drug toxicity"),
    Appearance.INDETERMINATE: ("COVID-19 pneumonia", "other viral or atypical pneumonia",
                               "pulmonary oedema", "diffuse alveolar haemorrhage"),
    Appearance.ATYPICAL: ("bacterial pneumonia", "mycobacterial or fungal infection",
                          "aspiration", "septic emboli"),
    Appearance.NEGATIVE: ("no pneumonia on CT",),
}  # fmt: skip


def _cxr_case(spec: RadiographStudySpec, row: MetadataRow, cid: str, history: str) -> TeachingCase:
    sex = "woman" if spec.patient.sex == "F" else "man"
    grade = "" if spec.severity is None else f", {spec.severity.value} airspace disease"
    reads = "; ".join(
        f"reader {i + 1}: {r.appearance.value}" + (f", {r.severity.value}" if r.severity else "")
        for i, r in enumerate(spec.reads)
    )
    return TeachingCase(
        id=cid,
        title=f"Radiograph: {spec.appearance.value}{grade}",
        study_uid=row.study_uid,
        collection=row.collection,
        patient_id=row.subject_id,
        series_uid=row.series_uid,
        synthetic=True,
        source=_SYN_CXR,
        history=f"{spec.age}-year-old {sex}, {spec.view} radiograph. {history} (Synthetic case.)",
        findings=_CXR_FINDINGS[spec.appearance],
        diagnosis=f"RSNA radiograph category: {spec.appearance.value}{grade}",
        category=spec.appearance,
        severity=spec.severity,
        reasoning=_CXR_REASONING[spec.appearance] + f" The three readers' calls: {reads}.",
        teaching_points=_CXR_TP + (_SEVERITY_TP if spec.severity else ()),
        references=(LITMANOVICH, RICORD),
        difficulty=Difficulty.INTERMEDIATE if spec.disagreement else Difficulty.INTRODUCTORY,
        tags=("radiograph", "COVID-19", spec.appearance.value, "synthetic"),
        key_images=(KeyImage(row.series_uid, 0, caption=_CXR_FINDINGS[spec.appearance]),),
    )


_CXR_FINDINGS = {
    Appearance.TYPICAL: "Bilateral, peripheral, lower-zone predominant opacities.",
    Appearance.INDETERMINATE: "Opacities without the typical peripheral, bilateral, basal "
    "distribution (unilateral, central or upper zone).",
    Appearance.ATYPICAL: "A finding outside the COVID-19 pattern (effusion, lobar "
    "consolidation, nodules or cavitation).",
    Appearance.NEGATIVE: "No lung opacity.",
}
_CXR_REASONING = {
    Appearance.TYPICAL: "Multifocal bilateral peripheral opacities with a lower-zone "
    "predominance fit the typical radiograph pattern.",
    Appearance.INDETERMINATE: "Without typical findings, a unilateral, central or upper-zone "
    "distribution is indeterminate.",
    Appearance.ATYPICAL: "Effusion, lobar consolidation, nodules and cavitation are atypical "
    "and should prompt another diagnosis.",
    Appearance.NEGATIVE: "No opacity: negative for pneumonia on the radiograph, which does "
    "not exclude infection.",
}


def _real_cases(rows: dict[tuple[str, str], tuple[MetadataRow, Path]]) -> list[TeachingCase]:
    cases = []
    for row, _ in rows.values():
        if row.collection != "PYDICOM-DATA":
            continue
        if row.subject_id.endswith("RG1"):
            cases.append(TeachingCase(
                id="real-01", title="Real chest radiograph: multiple "
                "rounded opacities", study_uid=row.study_uid, collection=row.collection,
                patient_id=row.subject_id, series_uid=row.series_uid, synthetic=False,
                source="REAL: a chest radiograph (CR) from the NEMA WG04 sample set, shipped "
                "by pydicom-data. No clinical history or diagnosis comes with it.",
                history="No clinical history is available for this real image.",
                findings="Multiple rounded opacities in both lungs.",
                diagnosis="Not recorded with the image.",
                reasoning="Multiple rounded (nodular) opacities are listed among the atypical "
                "radiograph findings for COVID-19.",
                differential=("metastases", "septic emboli", "granulomatous disease"),
                teaching_points=_CXR_TP[2:], references=(WG04, LITMANOVICH),
                difficulty=Difficulty.INTERMEDIATE, tags=("radiograph", "real"),
                key_images=(KeyImage(row.series_uid, 0, caption="The whole radiograph."),),
            ))  # fmt: skip
        elif row.subject_id.endswith("RG3"):
            cases.append(TeachingCase(
                id="real-02", title="Real radiograph: non-ossifying fibroma of the "
                "distal tibia", study_uid=row.study_uid, collection=row.collection,
                patient_id=row.subject_id, series_uid=row.series_uid, synthetic=False,
                source="REAL: a radiograph (CR) of the tibia from the NEMA WG04 sample set, "
                "shipped by pydicom-data. No clinical history comes with it; its "
                "StudyDescription names the lesion (shown on reveal).",
                history="No clinical history is available for this real image.",
                diagnosis="Non-ossifying fibroma of the distal tibia (from the study "
                "description).",
                reasoning="The label comes from the file's own StudyDescription: "
                "'Non-ossifying fibroma of distal tibia'.",
                teaching_points=(("Non-ossifying fibroma: an eccentric, cortically based, "
                                 "lucent metaphyseal lesion with a thin sclerotic, often "
                                 "scalloped rim, in children and adolescents; a 'do not "
                                 "touch' lesion."),),
                references=(WG04,), difficulty=Difficulty.INTRODUCTORY,
                tags=("radiograph", "real", "bone"),
                key_images=(KeyImage(row.series_uid, 0, caption="The whole radiograph."),),
            ))  # fmt: skip
    return cases


def demo_teaching_set(root: str | PathLike[str]) -> TeachingSet:
    """Build the demo teaching set for the demo repository at ``root``."""
    base = Path(root)
    rows = _uid_rows(base)
    polygons = _polygon_slices(base)
    cases: list[TeachingCase] = []
    for ct in ct_specs():
        key = (ct.patient.patient_id, metadata_date(ct.study_date))
        if ct.covid_positive and ct.patient.number in _CT_TEXT and key in rows:
            row, download = rows[key]
            cases.append(_ct_case(ct, row, download, polygons.get(row.study_uid, {})))
    for cxr in radiograph_specs():
        text = _CXR_TEXT.get((cxr.patient.number, cxr.study_date))
        key = (cxr.patient.patient_id, metadata_date(cxr.study_date))
        if text and key in rows:
            cases.append(_cxr_case(cxr, rows[key][0], *text))
    cases += _real_cases(rows)
    have = {c.id for c in cases}
    questions = [q for q in demo_questions() if q.case is None or q.case in have]
    return TeachingSet(
        title="COVID-19 chest imaging: the RSNA categories",
        id="covid19-rsna-categories",
        version="1.0",
        author="teachingfiles demo (synthetic cases written for teaching)",
        audience="radiology residents and medical students",
        licence="CC BY 4.0 (text); images: synthetic CC0, pydicom-data MIT",
        description=(
            "The RSNA consensus categories for COVID-19 on chest CT (Simpson et al. 2020) and "
            "on radiographs (Litmanovich et al. 2020), with airspace disease severity. The "
            "CT and radiograph cases are SYNTHETIC images made by teachingfiles and say so; "
            "two real radiographs from pydicom-data are shown as they are."
        ),
        cases=tuple(cases),
        questions=tuple(questions),
    )


def write_demo_teaching_sets(root: Path, *, out_dir: Path | None = None) -> list[Path]:
    """Write the demo teaching set(s) to ``root/teaching-sets/`` (or ``out_dir``).

    Returns
    -------
    list of Path
        The manifests written.
    """
    target = Path(out_dir) if out_dir is not None else Path(root) / "teaching-sets"
    return [demo_teaching_set(root).save(target / DEMO_SET_FILE)]
