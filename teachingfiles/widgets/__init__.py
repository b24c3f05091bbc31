"""The Python side of the notebook widgets (the browser side lives in ``widgets/``).

:class:`StackViewer` scrolls, windows and zooms through CT and radiograph series and
reports clicks and drawn shapes back to Python. :class:`QuizView` runs a quiz session
beside it (question, answer controls, feedback, summary) and :class:`CaseView` shows a
teaching case as an unknown with a Reveal button.
"""

from teachingfiles.widgets._source import ArraySource, SliceSource, as_source
from teachingfiles.widgets.authoring_view import AuthoringView
from teachingfiles.widgets.case_view import CaseView
from teachingfiles.widgets.quiz_view import QuizView
from teachingfiles.widgets.viewer import StackViewer

__all__ = [
    "ArraySource",
    "AuthoringView",
    "CaseView",
    "QuizView",
    "SliceSource",
    "StackViewer",
    "as_source",
]
