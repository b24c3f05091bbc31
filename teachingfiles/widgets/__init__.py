"""The Python side of the notebook widgets (the browser side lives in ``widgets/``).

:class:`StackViewer` scrolls, windows and zooms through CT and radiograph series and
reports clicks and drawn shapes back to Python.
"""

from teachingfiles.widgets._source import ArraySource, SliceSource, as_source
from teachingfiles.widgets.viewer import StackViewer

__all__ = ["ArraySource", "SliceSource", "StackViewer", "as_source"]
