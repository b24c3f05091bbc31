"""NBIA names, metadata.csv and .tcia manifests."""

import pytest

from teachingfiles.errors import FormatError
from teachingfiles.repository.nbia import (
    METADATA_COLUMNS,
    MetadataRow,
    TciaManifest,
    format_file_size,
    instance_file_name,
    metadata_date,
    parse_file_size,
    read_metadata_csv,
    read_tcia_manifest,
    series_folder_name,
    study_folder_name,
    write_metadata_csv,
    write_tcia_manifest,
)


def test_study_folder_names_follow_the_retriever():
    assert (
        study_folder_name("20020802", "CT CHEST WO CONTRAST", "1.2.840.113654.2.55.26970")
        == "08-02-2002-NA-CT CHEST WO CONTRAST-26970"
    )
    assert study_folder_name("20020802", "XR CHEST (AP)", "1.2.3.45678", with_na=False) == (
        "08-02-2002-XR CHEST AP-45678"
    )
    assert study_folder_name(None, "", "9.87654").startswith("NA-NA-NA-")


def test_series_folder_names_follow_the_retriever():
    assert (
        series_folder_name(3, "0.625mm bone alg", "1.2.3.26970")
        == "3.000000-0.625mm bone alg-26970"
    )
    assert (
        series_folder_name("2", "AP/PA & lat; (port) +", "1.2.28768")
        == "2.000000-APPA  lat port-28768"
    )
    assert series_folder_name(None, None, "1.2.3.28768") == "NA-28768"
    assert series_folder_name(1, None, "1.2.3.12345") == "1.000000-NA-12345"


def test_instance_names_and_sizes():
    assert instance_file_name(1, 7) == "1-007.dcm"
    assert format_file_size(163_310) == "163.31 KB"
    assert format_file_size(51_400_000) == "51.40 MB"
    assert parse_file_size("163.31 KB") == 163_310
    assert parse_file_size("12 B") == 12
    assert parse_file_size("lots") is None
    assert metadata_date("20200415") == "04-15-2020"


def _row(**kw) -> MetadataRow:
    values = dict(  # noqa: C408 - keyword form mirrors the dataclass fields
        series_uid="1.2.3.4",
        collection="DEMO-RICORD-1A",
        third_party_analysis="NO",
        data_description_uri="",
        subject_id="DEMO-RICORD-1A-SYN001-000001",
        study_uid="1.2.3",
        study_description="SYNTHETIC CT CHEST",
        study_date="04-15-2020",
        series_description="AXIAL, 5 mm",
        manufacturer="teachingfiles",
        modality="CT",
        sop_class_name="CT Image Storage",
        sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
        number_of_images=64,
        file_size="10.00 MB",
        file_location="./DEMO-RICORD-1A/DEMO-RICORD-1A-SYN001-000001/study/series",
        download_timestamp="2021-01-14T18:32:11.123",
    )
    values.update(kw)
    return MetadataRow(**values)


def test_metadata_csv_round_trip(tmp_path):
    rows = [_row(), _row(series_uid="1.2.3.5", number_of_images=1, modality="CR")]
    path = write_metadata_csv(rows, tmp_path / "metadata.csv")
    header = path.read_text().splitlines()[0]
    assert header.split(",") == list(METADATA_COLUMNS)
    assert len(METADATA_COLUMNS) == 17
    assert read_metadata_csv(path) == rows
    assert (
        rows[0].folder(tmp_path)
        == tmp_path / "DEMO-RICORD-1A/DEMO-RICORD-1A-SYN001-000001/study/series"
    )


def test_metadata_csv_errors_name_file_and_line(tmp_path):
    path = tmp_path / "metadata.csv"
    path.write_text("Series UID,Subject ID\n1.2,3\n")
    with pytest.raises(
        FormatError, match=r"metadata.csv, line 1: metadata.csv lacks column\(s\) 'Collection'"
    ):
        read_metadata_csv(path)
    write_metadata_csv([_row()], path)
    text = path.read_text().replace(",64,", ",sixty-four,")
    path.write_text(text)
    with pytest.raises(
        FormatError, match=r"line 2: 'Number of Images' is 'sixty-four', not a number"
    ):
        read_metadata_csv(path)


def test_tcia_manifest_round_trip(tmp_path):
    manifest = TciaManifest(
        series_uids=("1.2.3", "1.2.4"), databasket_id="manifest-1610656454899.tcia"
    )
    path = write_tcia_manifest(manifest, tmp_path / "demo.tcia")
    lines = path.read_text().splitlines()
    assert lines[5] == "ListOfSeriesToDownload="
    assert lines[0].startswith("downloadServerUrl=")
    assert read_tcia_manifest(path) == manifest


def test_tcia_manifest_errors(tmp_path):
    path = tmp_path / "bad.tcia"
    path.write_text("downloadServerUrl=x\nListOfSeriesToDownload=\n1.2.3\nnot-a-uid\n")
    with pytest.raises(
        FormatError, match=r"bad.tcia, line 4: 'not-a-uid' is not a SeriesInstanceUID"
    ):
        read_tcia_manifest(path)
    path.write_text("hello\n")
    with pytest.raises(FormatError, match="expected 'key=value' header lines"):
        read_tcia_manifest(path)
    path.write_text("a=b\n")
    with pytest.raises(FormatError, match="not a TCIA manifest"):
        read_tcia_manifest(path)
