"""The :class:`Repository`: a folder of DICOM files and its catalog, browsed from Python.

Example
-------
>>> repo = Repository.open("demo")              # indexes on first use
>>> [c.name for c in repo.collections()]
['DEMO-RICORD-1A', 'DEMO-RICORD-1B', 'DEMO-RICORD-1C', 'PYDICOM-DATA']
>>> typical = repo.studies(appearance="typical", reader_agreement="unanimous")
>>> series = repo.series(typical[0].study_uid)
>>> files = [i.path for i in repo.instances(series[0].series_uid)]
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, func, literal_column, select

from teachingfiles.errors import NotFoundError, RepositoryError
from teachingfiles.repository import catalog as cat
from teachingfiles.repository.clinical import ClinicalRow
from teachingfiles.repository.readers import (
    check_agreement,
    consensus,
    make_reader_label,
    matches,
    votes,
)
from teachingfiles.repository.records import (
    AnnotationRecord,
    CollectionInfo,
    IndexReport,
    Instance,
    LabelRecord,
    ReaderLabel,
    Series,
    SkippedFile,
    Study,
    parse_modality,
)
from teachingfiles.repository.scan import scan
from teachingfiles.vocabulary import Appearance, Finding, Modality, Severity

__all__ = ["CATALOG_DIR", "Repository"]

_Summary = tuple[tuple[CollectionInfo, ...], dict[str, int], tuple[SkippedFile, ...]]

#: Where the catalog lives by default, under the repository root.
CATALOG_DIR = ".teachingfiles"
_CATALOG_NAME = "catalog.sqlite"


class Repository:
    """A folder of DICOM files (any layout) with its SQLite catalog.

    Use :meth:`open`; the constructor is for code that already holds an engine.
    """

    def __init__(self, root: Path, catalog: Path, engine: Engine) -> None:
        self.root = root
        self.catalog = catalog
        self._engine = engine

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        path: str | PathLike[str],
        *,
        catalog: str | PathLike[str] | None = None,
        index: bool | None = None,
    ) -> Repository:
        """Open the repository at ``path``.

        Parameters
        ----------
        path
            The folder holding the DICOM files and side files.
        catalog
            The catalog file; default ``<path>/.teachingfiles/catalog.sqlite``.
        index
            ``True``: bring the catalog up to date now; ``False``: never index here;
            ``None`` (default): index only if there is no catalog yet (or an empty one).

        Raises
        ------
        RepositoryError
            If ``path`` is not a folder.
        CatalogError
            If the catalog file is not a usable SQLite catalog.
        """
        root = Path(path).expanduser().resolve()
        if not root.is_dir():
            raise RepositoryError(
                f"{root}: not a folder; expected a folder of DICOM files "
                "(a TCIA download, an IDC download, a PACS export, the demo)"
            )
        cpath = (
            Path(catalog).expanduser().resolve() if catalog else root / CATALOG_DIR / _CATALOG_NAME
        )
        repo = cls(root, cpath, cat.open_catalog(cpath))
        if index or (index is None and repo._never_indexed()):
            repo.index()
        return repo

    def _never_indexed(self) -> bool:
        """Whether no index run has filled the catalog (new, or rebuilt for a new schema)."""
        with self._engine.connect() as conn:
            return conn.execute(select(cat.files.c.path).limit(1)).first() is None

    def close(self) -> None:
        """Release the catalog's connections."""
        self._engine.dispose()

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Repository({str(self.root)!r}, catalog={str(self.catalog)!r})"

    # ------------------------------------------------------------------ indexing
    def index(self, progress: bool = False, workers: int | None = None) -> IndexReport:
        """Scan the folder and bring the catalog up to date (only what changed is read).

        Parameters
        ----------
        progress
            Show a tqdm progress bar on stderr (only when stderr is a terminal).
        workers
            Header-reading processes; default ``min(2, cpu count)``.
        """
        start = time.perf_counter()
        result = scan(
            self._engine, self.root, workers=workers, progress=progress, exclude=[self.catalog]
        )
        summary = None if result.modified else self._load_summary()
        if summary is None:
            summary = self._summary()
            self._save_summary(summary)
        collections, totals, skipped = summary
        return IndexReport(
            root=self.root,
            catalog=self.catalog,
            collections=collections,
            skipped=skipped,
            new=result.new,
            changed=result.changed,
            unchanged=result.unchanged,
            removed=result.removed,
            seconds=time.perf_counter() - start,
            side_files=result.side_files,
            **totals,
        )

    def _summary(self) -> _Summary:
        """Count collections, totals and skipped files in the catalog."""
        collections = tuple(self.collections())
        with self._engine.connect() as conn:

            def count(table: Table) -> int:
                return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

            totals = {
                name: count(table)
                for name, table in (("patients", cat.patients), ("studies", cat.studies),
                                    ("series", cat.series), ("instances", cat.instances),
                                    ("annotations", cat.mdai_annotations))
            }  # fmt: skip
        return collections, totals, tuple(self.skipped())

    def _save_summary(self, summary: _Summary) -> None:
        collections, totals, skipped = summary
        text = json.dumps(
            {
                "collections": [
                    [c.name, c.patients, c.studies, c.series, c.instances, c.annotations,
                     [str(m) for m in c.modalities]]
                    for c in collections
                ],
                "totals": totals,
                "skipped": [[s.path, s.reason, s.kind] for s in skipped],
            }
        )  # fmt: skip
        with self._engine.begin() as conn:
            conn.execute(cat.meta.delete().where(cat.meta.c.key == "summary"))
            conn.execute(cat.meta.insert().values(key="summary", value=text))

    def _load_summary(self) -> _Summary | None:
        """Load the summary saved by the last index run that changed the catalog.

        A re-index that changed nothing reports it instead of counting again.
        """
        with self._engine.connect() as conn:
            text = conn.execute(
                select(cat.meta.c.value).where(cat.meta.c.key == "summary")
            ).scalar_one_or_none()
        if text is None:
            return None
        raw = json.loads(text)
        collections = tuple(
            CollectionInfo(name, p, st, se, i, a, tuple(parse_modality(m) or m for m in mods))
            for name, p, st, se, i, a, mods in raw["collections"]
        )
        skipped = tuple(SkippedFile(p, r, k) for p, r, k in raw["skipped"])
        return collections, dict(raw["totals"]), skipped

    # ------------------------------------------------------------------ browsing
    def collections(self) -> list[CollectionInfo]:
        """Every collection with its counts, by name."""
        s, i, a, st = cat.series, cat.instances, cat.mdai_annotations, cat.studies
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(
                    s.c.collection,
                    func.count(func.distinct(s.c.patient_id)),
                    func.count(func.distinct(s.c.study_uid)),
                    func.count(func.distinct(s.c.series_uid)),
                    func.count(i.c.path),
                    func.group_concat(func.distinct(s.c.modality)),
                )
                .select_from(s.join(i, i.c.series_uid == s.c.series_uid))
                .group_by(s.c.collection)
            ).all()
            ann: dict[str, int] = dict(
                conn.execute(
                    select(st.c.collection, func.count(a.c.id))
                    .select_from(a.join(st, st.c.study_uid == a.c.study_uid))
                    .group_by(st.c.collection)
                ).all()
            )
        out = []
        for name, n_pat, n_st, n_se, n_in, mods in rows:
            modalities = tuple(
                m for m in (parse_modality(x) for x in sorted((mods or "").split(","))) if m
            )
            out.append(
                CollectionInfo(name, n_pat, n_st, n_se, n_in, int(ann.get(name, 0)), modalities)
            )
        return sorted(out, key=lambda c: c.name)

    def studies(
        self,
        *,
        collection: str | None = None,
        modality: Modality | str | None = None,
        appearance: Appearance | str | None = None,
        severity: Severity | str | None = None,
        finding: Finding | str | None = None,
        text: str | None = None,
        reader_agreement: str = "any",
    ) -> list[Study]:
        """Studies matching every filter given, by collection, patient and date.

        Parameters
        ----------
        collection
            Collection name (case-insensitive).
        modality
            A modality any series of the study has (``"CT"``, ``Modality.CR``).
        appearance, severity
            The RSNA category / airspace disease grade given by the readers, under
            ``reader_agreement`` (see :mod:`teachingfiles.repository.readers`).
        finding
            An instance-level finding annotated in the study (``Finding`` or its name).
        text
            Case-insensitive text found in the study or series descriptions, the
            patient id, the label names or the clinical exam description.
        reader_agreement
            ``"any"``, ``"majority"`` or ``"unanimous"``.

        Raises
        ------
        UsageError
            If ``reader_agreement`` is not one of the three.
        ValueError
            If ``appearance``, ``severity`` or ``modality`` names no member.
        """
        check_agreement(reader_agreement)
        want_app = None if appearance is None else Appearance.parse(appearance)
        want_sev = None if severity is None else Severity.parse(severity)
        want_mod = None if modality is None else parse_modality(str(modality))
        studies = self._all_studies()
        labels = self._labels_by_study()
        found = self._findings_by_study() if finding is not None else {}
        haystack = self._text_by_study() if text else {}
        want_finding = _finding_name(finding) if finding is not None else None
        out = []
        for study in studies:
            lab = labels.get(study.study_uid, [])
            if collection and (study.collection or "").lower() != collection.lower():
                continue
            if want_mod is not None and want_mod not in study.modalities:
                continue
            if want_app is not None and not matches(lab, want_app, reader_agreement):
                continue
            if want_sev is not None and not matches(lab, want_sev, reader_agreement):
                continue
            if want_finding is not None and want_finding not in found.get(study.study_uid, ()):
                continue
            if text and text.lower() not in haystack.get(study.study_uid, ""):
                continue
            out.append(study)
        return out

    def study(self, uid: str) -> Study:
        """Return the study with this StudyInstanceUID.

        Raises
        ------
        NotFoundError
            If the catalog has no such study (the message names the uid).
        """
        for study in self._all_studies(uid):
            return study
        raise NotFoundError(
            f"no study with StudyInstanceUID {uid!r} in the catalog of {self.root}; "
            "check the uid, or run 'teachingfiles index' if files were added"
        )

    def series(self, study_uid: str) -> list[Series]:
        """List the series of a study, by SeriesNumber.

        Raises
        ------
        NotFoundError
            If the catalog has no such study.
        """
        s, i = cat.series, cat.instances
        n = select(func.count()).where(i.c.series_uid == s.c.series_uid).scalar_subquery()
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(s, n.label("n")).where(s.c.study_uid == study_uid)
                .order_by(s.c.series_number, s.c.series_uid)
            ).all()  # fmt: skip
        if not rows:
            self.study(study_uid)  # raises NotFoundError for an unknown study
        return [
            Series(
                series_uid=r.series_uid,
                study_uid=r.study_uid,
                modality=parse_modality(r.modality),
                description=r.description,
                series_number=r.series_number,
                body_part=r.body_part,
                manufacturer=r.manufacturer,
                collection=r.collection,
                n_instances=r.n,
                frame_of_reference_uid=r.frame_of_reference_uid,
            )
            for r in rows
        ]

    def instances(self, series_uid: str) -> list[Instance]:
        """List the images of a series along the slice normal, else by InstanceNumber.

        Raises
        ------
        NotFoundError
            If the catalog has no such series.
        """
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(cat.instances).where(cat.instances.c.series_uid == series_uid)
            ).all()
        if not rows:
            raise NotFoundError(
                f"no series with SeriesInstanceUID {series_uid!r} in the catalog of "
                f"{self.root}; list a study's series with repo.series(study_uid)"
            )
        return _sorted_instances([Instance.from_row(r, self.root) for r in rows])

    def annotations(
        self, study_uid: str, *, series_uid: str | None = None
    ) -> list[AnnotationRecord]:
        """List the MD.ai annotations of a study (of one series if ``series_uid`` is given)."""
        a, lab = cat.mdai_annotations, cat.mdai_labels
        query = (
            select(a, lab.c.name, lab.c.color, lab.c.scope, lab.c.mode, lab.c.group_name)
            .select_from(a.join(lab, lab.c.label_id == a.c.label_id))
            .where(a.c.study_uid == study_uid)
            .order_by(a.c.series_uid, a.c.sop_uid, a.c.id)
        )
        if series_uid is not None:
            query = query.where(a.c.series_uid == series_uid)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [AnnotationRecord.from_row(r) for r in rows]

    def labels(self) -> list[LabelRecord]:
        """List every MD.ai label the repository's JSON files define, file by file, in order."""
        lab = cat.mdai_labels
        query = select(lab).order_by(lab.c.source, literal_column("rowid"))
        with self._engine.connect() as conn:
            return [LabelRecord.from_row(r) for r in conn.execute(query).all()]

    def reader_labels(self, study_uid: str) -> list[ReaderLabel]:
        """List the study-level labels of a study, one per reader and label, by reader."""
        return self._labels_by_study(study_uid).get(study_uid, [])

    def appearance_votes(self, study_uid: str) -> dict[Appearance, int]:
        """How many readers gave each RSNA category (every category present, 0 if none)."""
        counts = votes(self.reader_labels(study_uid), Appearance)
        return {a: counts.get(a, 0) for a in Appearance}

    def clinical(self, study_uid: str) -> ClinicalRow | None:
        """Return the clinical sheet row of a study (linked by Anon Study UID), if any."""
        with self._engine.connect() as conn:
            r = conn.execute(
                select(cat.clinical).where(cat.clinical.c.study_uid == study_uid)
            ).first()
        if r is None:
            return None
        return ClinicalRow(
            mrn=r.mrn, age=r.age, exam_description=r.exam_description, sex=r.sex,
            study_uid=r.study_uid, image_count=r.image_count, modality=r.modality,
            result=r.result, specimen_source=r.specimen_source, study_date=r.study_date,
            symptomatic=r.symptomatic, row=r.row, sheet=r.sheet,
        )  # fmt: skip

    def skipped(self) -> list[SkippedFile]:
        """Files under the root that were not indexed, with the reason, by path."""
        f = cat.files
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(f.c.path, f.c.reason, f.c.kind)
                .where(f.c.status == "skipped")
                .order_by(f.c.path)
            ).all()
        return [SkippedFile(p, r or "", k or "unknown") for p, r, k in rows]

    # ------------------------------------------------------------------ helpers
    def _all_studies(self, uid: str | None = None) -> list[Study]:
        st, p, s, i, a = (cat.studies, cat.patients, cat.series, cat.instances,
                          cat.mdai_annotations)  # fmt: skip
        n_series = select(func.count()).where(s.c.study_uid == st.c.study_uid).scalar_subquery()
        mods = (
            select(func.group_concat(func.distinct(s.c.modality)))
            .where(s.c.study_uid == st.c.study_uid)
            .scalar_subquery()
        )
        n_inst = (
            select(func.count())
            .select_from(i.join(s, s.c.series_uid == i.c.series_uid))
            .where(s.c.study_uid == st.c.study_uid)
            .scalar_subquery()
        )
        n_ann = select(func.count()).where(a.c.study_uid == st.c.study_uid).scalar_subquery()
        query = (
            select(st, p.c.patient_name, p.c.sex, n_series.label("n_series"),
                   mods.label("mods"), n_inst.label("n_inst"), n_ann.label("n_ann"))
            .select_from(st.outerjoin(p, p.c.patient_id == st.c.patient_id))
            .order_by(st.c.collection, st.c.patient_id, st.c.study_date, st.c.study_uid)
        )  # fmt: skip
        if uid is not None:
            query = query.where(st.c.study_uid == uid)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        labels = self._labels_by_study(uid)
        return [_study(r, labels.get(r.study_uid, [])) for r in rows]

    def _labels_by_study(self, uid: str | None = None) -> dict[str, list[ReaderLabel]]:
        a, lab = cat.mdai_annotations, cat.mdai_labels
        query = (
            select(a.c.study_uid, a.c.created_by, lab.c.group_name, lab.c.name, lab.c.label_id)
            .select_from(a.join(lab, lab.c.label_id == a.c.label_id))
            .where(lab.c.scope == "STUDY")
            .order_by(a.c.study_uid, lab.c.group_name, a.c.created_by, lab.c.name)
        )
        if uid is not None:
            query = query.where(a.c.study_uid == uid)
        out: dict[str, list[ReaderLabel]] = defaultdict(list)
        with self._engine.connect() as conn:
            for study_uid, by, group, name, label_id in conn.execute(query):
                out[study_uid].append(
                    make_reader_label(
                        created_by=by, group_name=group, label_name=name, label_id=label_id
                    )
                )
        for labels in out.values():
            labels.sort(key=lambda lab: (lab.is_adjudication, lab.reader, lab.label_name))
        return dict(out)

    def _findings_by_study(self) -> dict[str, set[str]]:
        a, lab = cat.mdai_annotations, cat.mdai_labels
        out: dict[str, set[str]] = defaultdict(set)
        with self._engine.connect() as conn:
            for study_uid, name in conn.execute(
                select(a.c.study_uid, lab.c.name)
                .select_from(a.join(lab, lab.c.label_id == a.c.label_id))
                .where(lab.c.scope != "STUDY")
                .distinct()
            ):
                out[study_uid].add(name.lower())
        return out

    def _text_by_study(self) -> dict[str, str]:
        parts: dict[str, list[str]] = defaultdict(list)
        st, s, c = cat.studies, cat.series, cat.clinical
        a, lab = cat.mdai_annotations, cat.mdai_labels
        queries: Sequence[Any] = (
            select(st.c.study_uid, st.c.description),
            select(st.c.study_uid, st.c.patient_id),
            select(s.c.study_uid, s.c.description),
            select(c.c.study_uid, c.c.exam_description),
            select(a.c.study_uid, lab.c.name)
            .select_from(a.join(lab, lab.c.label_id == a.c.label_id))
            .distinct(),
        )
        with self._engine.connect() as conn:
            for query in queries:
                for uid, value in conn.execute(query):
                    if value:
                        parts[uid].append(str(value))
        return {uid: "\n".join(v).lower() for uid, v in parts.items()}


def _finding_name(finding: Finding | str) -> str:
    try:
        return Finding.parse(finding).value.lower()
    except ValueError:
        return str(finding).strip().lower()


def _study(r: Any, labels: list[ReaderLabel]) -> Study:
    modalities = tuple(
        m for m in (parse_modality(x) for x in sorted((r.mods or "").split(","))) if m
    )
    return Study(
        study_uid=r.study_uid, patient_id=r.patient_id, collection=r.collection,
        study_date=r.study_date, study_time=r.study_time, description=r.description,
        accession_number=r.accession_number, patient_name=r.patient_name,
        patient_sex=r.sex, patient_age=r.patient_age, modalities=modalities,
        n_series=r.n_series, n_instances=r.n_inst, n_annotations=r.n_ann,
        appearance=consensus(labels, Appearance), severity=consensus(labels, Severity),
    )  # fmt: skip


def _sorted_instances(items: list[Instance]) -> list[Instance]:
    """Order along the slice normal when every instance has a position and orientation."""
    first = items[0].image_orientation
    if (
        first is not None
        and len(first) == 6
        and all(it.image_position is not None and len(it.image_position) == 3 for it in items)
    ):
        r, c = first[:3], first[3:]
        normal = (r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0])

        def along(it: Instance) -> tuple[float, int, str]:
            pos = it.image_position or (0.0, 0.0, 0.0)
            d = sum(n * p for n, p in zip(normal, pos, strict=True))
            return d, it.instance_number or 0, str(it.path)

        return sorted(items, key=along)
    return sorted(items, key=lambda it: (it.instance_number is None, it.instance_number or 0,
                                         str(it.path)))  # fmt: skip
