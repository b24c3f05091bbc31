import pytest

from teachingfiles import errors


def test_every_error_is_a_teachingfiles_error_and_a_builtin():
    pairs = {
        errors.DicomError: ValueError,
        errors.InvalidDicomError: ValueError,
        errors.MissingPixelDataError: ValueError,
        errors.DecodeError: ValueError,
        errors.FormatError: ValueError,
        errors.ManifestError: ValueError,
        errors.RepositoryError: OSError,
        errors.CatalogError: OSError,
        errors.NotFoundError: LookupError,
        errors.UsageError: TypeError,
    }
    for cls, builtin in pairs.items():
        assert issubclass(cls, errors.TeachingFilesError)
        assert issubclass(cls, builtin)


def test_dicom_error_names_file_and_tag():
    err = errors.DecodeError("cannot decode", path="/x/1-001.dcm", tag="PixelData")
    assert str(err) == "/x/1-001.dcm: cannot decode"
    assert err.path == "/x/1-001.dcm"
    assert err.tag == "PixelData"
    assert err.reason == "cannot decode"


def test_format_error_names_file_and_line():
    err = errors.ManifestError("unknown key 'qestions'", path="set.yaml", line=12, field="qestions")
    assert str(err) == "set.yaml, line 12: unknown key 'qestions'"
    assert (err.line, err.field) == (12, "qestions")
    with pytest.raises(ValueError, match=r"set.yaml, line 12"):
        raise err
