"""The exceptions and warnings raised by teachingfiles.

Every error says what failed, where (the file, the tag keyword, the case id, the
line), what was expected and, where it can, how to fix it. Each also subclasses the
matching built-in, so ``except ValueError`` keeps working for callers who do not
know this tree::

    TeachingFilesError (Exception)
    ├── DicomError (ValueError)                a DICOM file cannot be used
    │   ├── InvalidDicomError                  not DICOM, truncated, broken header
    │   ├── MissingPixelDataError              a DICOM object without an image
    │   └── DecodeError                        pixels that cannot be decoded
    ├── FormatError (ValueError)               a side file is malformed:
    │                                          metadata.csv, MD.ai JSON, clinical
    │                                          sheet, .tcia manifest, YAML manifest
    │   └── ManifestError                      a teaching set manifest is invalid
    ├── RepositoryError (OSError)              a repository cannot be opened or read
    │   └── CatalogError                       the catalog database is unusable
    ├── NotFoundError (LookupError)            no such collection, study, series, case
    └── UsageError (TypeError)                 an API was called the wrong way

    TeachingFilesWarning (UserWarning)         something odd that does not stop work
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "CatalogError",
    "DecodeError",
    "DicomError",
    "FormatError",
    "InvalidDicomError",
    "ManifestError",
    "MissingPixelDataError",
    "NotFoundError",
    "RepositoryError",
    "TeachingFilesError",
    "TeachingFilesWarning",
    "UsageError",
]


def _where(path: str | PathLike[str] | None, line: int | None = None) -> str:
    if path is None:
        return ""
    text = str(path)
    if line is not None:
        text += f", line {line}"
    return f"{text}: "


class TeachingFilesError(Exception):
    """Base class of every error raised by teachingfiles."""


class DicomError(TeachingFilesError, ValueError):
    """A DICOM file cannot be used.

    Parameters
    ----------
    message
        What is wrong and what to do about it.
    path
        The file concerned, named first in the message.
    tag
        The keyword of the offending attribute, if one is to blame.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike[str] | None = None,
        tag: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.tag = tag
        self.reason = message
        super().__init__(f"{_where(path)}{message}")


class InvalidDicomError(DicomError):
    """The file is not DICOM, is truncated, or its header cannot be parsed."""


class MissingPixelDataError(DicomError):
    """The file is DICOM but carries no image (Pixel Data is absent)."""


class DecodeError(DicomError):
    """The pixel data cannot be decoded (transfer syntax, photometric, plugin)."""


class FormatError(TeachingFilesError, ValueError):
    """A side file (CSV, JSON, spreadsheet, manifest) does not have the expected form.

    Parameters
    ----------
    message
        What is wrong and what was expected.
    path
        The file concerned.
    line
        The 1-based line (or spreadsheet row) where the problem is, if known.
    field
        The column, key or field at fault, if known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike[str] | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        self.reason = message
        super().__init__(f"{_where(path, line)}{message}")


class ManifestError(FormatError):
    """A teaching set manifest is invalid (its file, line and field are named)."""


class RepositoryError(TeachingFilesError, OSError):
    """A repository cannot be opened or read."""


class CatalogError(RepositoryError):
    """The catalog database is missing, locked, or of an unknown schema."""


class NotFoundError(TeachingFilesError, LookupError):
    """No collection, patient, study, series, instance or case of that identifier."""


class UsageError(TeachingFilesError, TypeError):
    """An API was called with arguments it does not accept."""


class TeachingFilesWarning(UserWarning):
    """Something odd that does not stop the work (it is also reported)."""
