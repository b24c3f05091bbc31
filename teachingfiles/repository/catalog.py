"""The catalog: a SQLite file next to the data (SQLAlchemy 2 Core schema).

Tables follow the DICOM hierarchy (patients, studies, series, instances) plus what
was merged from side files (``metadata.csv`` rows, MD.ai labels and annotations,
clinical rows) and a ``files`` table that remembers every file seen (size and
mtime in nanoseconds, and why it was skipped) so a re-index reads only what changed.

Example
-------
>>> engine = open_catalog("data/.teachingfiles/catalog.sqlite")
>>> with engine.connect() as conn:
...     conn.execute(select(series.c.modality)).all()
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    select,
)
from sqlalchemy.exc import SQLAlchemyError

from teachingfiles.errors import CatalogError

__all__ = [
    "SCHEMA_VERSION",
    "clinical",
    "csv_series",
    "files",
    "instances",
    "mdai_annotations",
    "mdai_labels",
    "meta",
    "metadata",
    "open_catalog",
    "patients",
    "series",
    "studies",
]

#: Bumped whenever a table changes; an older catalog is rebuilt from scratch.
SCHEMA_VERSION = "1"

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", Text),
)

#: Every file under the root: DICOM instances, side files and skipped files.
files = Table(
    "files",
    metadata,
    Column("path", String, primary_key=True),  # relative to the root, '/' separated
    Column("size", Integer, nullable=False),
    Column("mtime_ns", Integer, nullable=False),
    Column("status", String, nullable=False),  # instance | side | skipped
    Column("kind", String),  # skipped: empty, not-dicom, ...; side: mdai, clinical, ...
    Column("reason", Text),
)

patients = Table(
    "patients",
    metadata,
    Column("patient_id", String, primary_key=True),
    Column("patient_name", String),
    Column("sex", String),
    Column("collection", String, index=True),
)

studies = Table(
    "studies",
    metadata,
    Column("study_uid", String, primary_key=True),
    Column("patient_id", String, index=True),
    Column("study_date", String),
    Column("study_time", String),
    Column("description", String),
    Column("accession_number", String),
    Column("patient_age", String),
    Column("institution_name", String),
    Column("collection", String, index=True),
)

series = Table(
    "series",
    metadata,
    Column("series_uid", String, primary_key=True),
    Column("study_uid", String, index=True),
    Column("modality", String),
    Column("description", String),
    Column("series_number", Integer),
    Column("series_date", String),
    Column("body_part", String),
    Column("manufacturer", String),
    Column("model_name", String),
    Column("frame_of_reference_uid", String),
    Column("tcia_collection", String),  # from the CTP private block (0013,1010)
    Column("patient_id", String),
    Column("collection", String, index=True),  # resolved: csv > CTP > prefix > (none)
)

instances = Table(
    "instances",
    metadata,
    Column("path", String, primary_key=True),  # also in files; deleted together
    Column("sop_instance_uid", String, index=True),
    Column("series_uid", String, nullable=False),
    Column("sop_class_uid", String),
    Column("transfer_syntax", String),
    Column("file_size", Integer),
    Column("mtime_ns", Integer),
    Column("instance_number", Integer),
    Column("rows", Integer),
    Column("columns", Integer),
    Column("number_of_frames", Integer),
    Column("samples_per_pixel", Integer),
    Column("photometric_interpretation", String),
    Column("bits_allocated", Integer),
    Column("bits_stored", Integer),
    Column("pixel_representation", Integer),
    Column("pixel_spacing", String),  # backslash-separated as in DICOM
    Column("imager_pixel_spacing", String),
    Column("slice_thickness", Float),
    Column("slice_location", Float),
    Column("image_position", String),
    Column("image_orientation", String),
    Column("window_center", String),
    Column("window_width", String),
    Column("rescale_intercept", Float),
    Column("rescale_slope", Float),
    Column("view_position", String),
    Column("pixel_tag", Integer),
    Column("pixel_offset", Integer),
    Column("pixel_length", Integer),
)
Index("ix_instances_series", instances.c.series_uid)

#: One row per series of every ``metadata.csv`` found under the root.
csv_series = Table(
    "csv_series",
    metadata,
    Column("series_uid", String, primary_key=True),
    Column("collection", String),
    Column("subject_id", String),
    Column("study_uid", String),
    Column("file_location", String),  # relative to the root
    Column("number_of_images", Integer),
    Column("source", String),
)

mdai_labels = Table(
    "labels",
    metadata,
    Column("label_id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("scope", String),
    Column("mode", String),
    Column("color", String),
    Column("description", Text),
    Column("group_id", String),
    Column("group_name", String),
    Column("source", String),
)

mdai_annotations = Table(
    "annotations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("annotation_id", String, index=True),
    Column("label_id", String, index=True),
    Column("study_uid", String, index=True),
    Column("series_uid", String, index=True),
    Column("sop_uid", String),
    Column("frame_number", Integer),
    Column("data", Text),  # MD.ai's geometry as JSON text
    Column("height", Integer),
    Column("width", Integer),
    Column("note", Text),
    Column("created_by", String),
    Column("created_at", String),
    Column("dataset_id", String),
    Column("source", String),
)

clinical = Table(
    "clinical",
    metadata,
    Column("study_uid", String, primary_key=True),
    Column("mrn", String),
    Column("age", Integer),
    Column("exam_description", String),
    Column("sex", String),
    Column("image_count", Integer),
    Column("modality", String),
    Column("result", String),
    Column("specimen_source", String),
    Column("study_date", String),
    Column("symptomatic", String),
    Column("row", Integer),
    Column("sheet", String),
    Column("source", String),
)


def _pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def open_catalog(path: str | PathLike[str], *, create: bool = True) -> Engine:
    """Open (and create, or rebuild if its schema is old) the catalog at ``path``.

    Raises
    ------
    CatalogError
        If the file cannot be opened as SQLite (the message names it and says to
        delete it so the next ``teachingfiles index`` rebuilds it).
    """
    p = Path(path)
    if not create and not p.exists():
        raise CatalogError(f"{p}: no catalog here; run 'teachingfiles index' on the folder first")
    p.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{p}")
    event.listen(engine, "connect", _pragmas)
    try:
        with engine.begin() as conn:
            version = None
            if engine.dialect.has_table(conn, "meta"):
                row = conn.execute(select(meta.c.value).where(meta.c.key == "schema")).first()
                version = row[0] if row else None
            if version not in (None, SCHEMA_VERSION):
                metadata.drop_all(conn)
            metadata.create_all(conn)
            if version != SCHEMA_VERSION:
                conn.execute(meta.delete().where(meta.c.key == "schema"))
                conn.execute(meta.insert().values(key="schema", value=SCHEMA_VERSION))
    except SQLAlchemyError as exc:
        engine.dispose()
        raise CatalogError(
            f"{p}: not a usable catalog ({getattr(exc, 'orig', None) or exc}); "
            "delete the file and index again"
        ) from exc
    return engine
