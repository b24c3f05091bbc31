"""The questions of the demo teaching set (see :mod:`teachingfiles.demo.teaching_set`).

Twenty questions over the demo's cases, using every question kind: the RSNA
category on CT and radiographs (truth from the demo's reader labels), severity
grades (with the readers' split shown in the feedback), clicking and boxing the
outlined opacity on CT, single best and multiple answers, and free text.
"""

from __future__ import annotations

from teachingfiles.quiz.questions import Question, QuestionKind

__all__ = ["demo_questions"]

K = QuestionKind
_CAT_CT = "Which RSNA CT category fits this study best?"
_CAT_CXR = "Which RSNA radiograph category fits this study best?"
_SEV = "How would you grade the airspace disease: mild, moderate or severe?"


def demo_questions() -> list[Question]:
    """Return the demo set's questions, in the order they are asked."""
    return [
        Question(
            "q01", K.CATEGORY, _CAT_CT, case="ct-01",
            explanation="Bilateral, peripheral ground glass in the lower lobes: typical.",
            teaching_points=("Peripheral + bilateral + ground glass = typical.",),
        ),
        Question(
            "q02", K.CLICK, "Click on the ground-glass opacity.", case="ct-01",
            slice_tolerance=2,
            explanation="The outlined region is the peripheral ground glass; a click within "
            "two slices of an outline counts.",
            teaching_points=(("Ground glass: hazy increased attenuation through which vessels "
                             "and bronchi remain visible."),),
        ),
        Question(
            "q03", K.FREE_TEXT, "Name the pattern of ground glass with superimposed "
            "interlobular and intralobular lines seen in this case.",
            case="ct-02",
            answers=("crazy paving", "crazy-paving pattern", "crazy paving pattern"),
            explanation="Crazy paving: ground glass with superimposed septal and intralobular "
            "lines, like irregular paving stones. Within peripheral ground glass it is typical.",
            teaching_points=(("Crazy paving is not specific: also alveolar proteinosis, "
                             "oedema, haemorrhage, other pneumonias."),),
        ),
        Question(
            "q04", K.BOX, "Draw a box around the largest outlined opacity on the key slice.",
            case="ct-03", slice_tolerance=1,
            explanation="A box counts when it overlaps the reference outline's bounds with "
            "an intersection over union of at least 0.5.",
        ),
        Question(
            "q05", K.CATEGORY, _CAT_CT, case="ct-04",
            explanation="Ground glass without a peripheral or rounded predominance and "
            "without other typical features is indeterminate.",
        ),
        Question(
            "q06", K.SINGLE_BEST, "What makes this study atypical for COVID-19?",
            case="ct-06",
            choices=("Isolated lobar consolidation without ground glass",
                     "Bilateral peripheral ground glass", "Crazy paving",
                     "Reversed halo sign"),
            answers=("Isolated lobar consolidation without ground glass",),
            explanation="Lobar or segmental consolidation without ground glass is atypical; "
            "the other three are typical features.",
            teaching_points=(("Atypical findings should prompt an alternative diagnosis, "
                             "even with a positive test."),),
        ),
        Question(
            "q07", K.CATEGORY, _CAT_CT, case="ct-07",
            explanation="Cavitation is an atypical feature.",
        ),
        Question(
            "q08", K.MULTIPLE, "Which of these are TYPICAL CT features in the RSNA consensus?",
            choices=("Peripheral, bilateral ground-glass opacities",
                     "Multifocal ground glass of rounded morphology",
                     "Reversed halo sign or other signs of organising pneumonia",
                     "Tree-in-bud nodules", "Cavitation",
                     "Smooth septal thickening with pleural effusion"),
            answers=("Peripheral, bilateral ground-glass opacities",
                     "Multifocal ground glass of rounded morphology",
                     "Reversed halo sign or other signs of organising pneumonia"),
            explanation="The three typical features follow the organising pneumonia pattern; "
            "tree-in-bud, cavitation and septal thickening with effusion are atypical.",
            topic="typical",
        ),
        Question(
            "q09", K.CATEGORY, _CAT_CT, case="ct-08",
            explanation="Centrilobular tree-in-bud nodules are atypical: small-airway "
            "infection.",
        ),
        Question(
            "q10", K.CATEGORY, _CAT_CT, case="ct-09",
            explanation="No CT features of pneumonia: negative, whatever the test result.",
        ),
        Question(
            "q11", K.CATEGORY, _CAT_CXR, case="cxr-05",
            explanation="Bilateral peripheral lower-zone opacities: typical.",
        ),
        Question(
            "q12", K.SEVERITY, _SEV, case="cxr-03",
            explanation="Opacities in more than four of the six lung zones: severe.",
        ),
        Question(
            "q13", K.SEVERITY, _SEV, case="cxr-02",
            explanation="The readers split between moderate and severe; the adjudicator "
            "called it moderate. A grade one step off earns half credit.",
        ),
        Question(
            "q14", K.CATEGORY, _CAT_CXR, case="cxr-06",
            explanation="Two readers called it typical, one indeterminate; the adjudicator "
            "agreed with typical. Mild disease is where readers disagree most.",
        ),
        Question(
            "q15", K.CATEGORY, _CAT_CXR, case="cxr-13",
            explanation="A pleural effusion is an atypical radiograph finding.",
        ),
        Question(
            "q16", K.SINGLE_BEST, "Why is this radiograph indeterminate rather than typical?",
            case="cxr-08",
            choices=("The opacities lack the bilateral, peripheral, lower-zone distribution",
                     "There is a pleural effusion", "There is a cavity",
                     "The lungs are clear"),
            answers=("The opacities lack the bilateral, peripheral, lower-zone distribution",),
            explanation="Indeterminate means opacities without the typical distribution and "
            "without atypical findings.",
        ),
        Question(
            "q17", K.SEVERITY, _SEV, case="cxr-10",
            explanation="Extensive opacities in more than four zones: severe.",
        ),
        Question(
            "q18", K.CATEGORY, _CAT_CXR, case="cxr-18",
            explanation="No opacity: negative for pneumonia on the radiograph.",
        ),
        Question(
            "q19", K.SINGLE_BEST, "This is a REAL radiograph with no history. If multiple "
            "rounded opacities like these were seen in a patient tested for COVID-19, which "
            "radiograph category would they fall into?",
            case="real-01",
            choices=("Typical", "Indeterminate", "Atypical", "Negative for pneumonia"),
            answers=("Atypical",), shuffle=False,
            explanation="Solitary or multiple nodules or masses are atypical radiograph "
            "findings; the image's own diagnosis is not recorded.",
            topic="atypical",
        ),
        Question(
            "q20", K.FREE_TEXT, "This REAL radiograph's study description names a common "
            "benign, eccentric, cortically based lucent lesion of the distal tibial "
            "metaphysis. Which lesion?",
            case="real-02",
            answers=("non-ossifying fibroma", "nonossifying fibroma", "NOF",
                     "fibroxanthoma"),
            explanation="Non-ossifying fibroma, as the file's StudyDescription states.",
            topic="bone",
        ),
    ]  # fmt: skip
