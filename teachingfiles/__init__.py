"""teachingfiles: radiology teaching cases and quizzes from open image repositories.

The subpackages follow the data flow: :mod:`teachingfiles.repository` (sources and
the catalog), :mod:`teachingfiles.dicom` (headers, pixels, volumes),
:mod:`teachingfiles.cases`, :mod:`teachingfiles.quiz`, :mod:`teachingfiles.widgets`
and :mod:`teachingfiles.demo` (the built-in demo repository).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
