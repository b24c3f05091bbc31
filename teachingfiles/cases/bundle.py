"""Bundles: a teaching set and everything it needs in one zip, to publish and import.

A bundle holds::

    bundle.json                      index: format, set id and title, every file with
                                     its size and SHA-256 (nothing else may be present)
    manifest.yaml                    the teaching set, its UIDs and patient IDs
                                     replaced like the images'
    dicom/<patient>/<study>/<series>/<sop>.dcm
                                     the de-identified images the cases use
                                     (PS3.15 Annex E with the educator options)
    annotations/mdai.json            the repository's annotations on those studies,
                                     as MD.ai JSON (the public mdai client reads it)
    annotations/seg/<series>.dcm     area annotations as DICOM SEG (highdicom)

:func:`write_bundle` makes one; :func:`import_bundle` brings one into another
repository after checking every entry, and refuses anything unexpected: path
traversal, absolute paths, links, too many or too large files, files the index
does not list or whose checksum differs. Nothing is half-written: the files go to
a staging folder and are moved into place in one rename once all of them passed.

The mapping of old to new identifiers never goes into the bundle; it is written to
the audit file next to the zip.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path

from teachingfiles.cases._bundle_import import (
    BUNDLE_FORMAT,
    BundleLimits,
    ImportReport,
    import_bundle,
)
from teachingfiles.cases._bundle_seg import annotations_project, series_segmentation
from teachingfiles.cases.teaching_set import TeachingSet
from teachingfiles.dicom.deid import (
    ANNEX_E_EDITION,
    Deidentifier,
    DeidOptions,
    DeidReport,
    FileOutcome,
    write_audit,
)
from teachingfiles.errors import UsageError

__all__ = [
    "BUNDLE_FORMAT",
    "BundleLimits",
    "BundleReport",
    "ImportReport",
    "import_bundle",
    "write_bundle",
]


@dataclass
class BundleReport:
    """What :func:`write_bundle` wrote."""

    path: Path
    files: int
    studies: int
    images: int
    annotations: int
    segmentations: int
    audit: Path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _series_of(repo: object, ts: TeachingSet) -> dict[str, list[str]]:
    """Study UID -> the series the set uses (the main one, the key images', else all)."""
    from teachingfiles.repository import Repository

    assert isinstance(repo, Repository)
    wanted: dict[str, list[str]] = defaultdict(list)
    for case in ts.cases:
        uids = [case.series_uid] + [k.series_uid for k in case.key_images]
        chosen = [u for u in uids if u]
        if not chosen:
            chosen = [s.series_uid for s in repo.series(case.study_uid)]
        for uid in chosen:
            if uid not in wanted[case.study_uid]:
                wanted[case.study_uid].append(uid)
    return wanted


def _renamed(ts: TeachingSet, deid: Deidentifier, patients: dict[str, str]) -> TeachingSet:
    keys = deid.keys
    cases = []
    for case in ts.cases:
        images = tuple(
            replace(k, series_uid=keys.uid(k.series_uid) if k.series_uid else None)
            for k in case.key_images
        )
        cases.append(
            replace(
                case,
                study_uid=keys.uid(case.study_uid),
                series_uid=keys.uid(case.series_uid) if case.series_uid else None,
                patient_id=patients.get(case.study_uid, case.patient_id and "ANONYMIZED"),
                key_images=images,
            )
        )
    questions = tuple(
        replace(q, image=replace(q.image, series_uid=keys.uid(q.image.series_uid)))
        if q.image is not None and q.image.series_uid
        else q
        for q in ts.questions
    )
    return replace(ts, cases=tuple(cases), questions=questions)


def write_bundle(
    manifest: str | PathLike[str],
    out: str | PathLike[str],
    *,
    secret: bytes,
    repo: str | PathLike[str] | None = None,
    confirm_burned_in: bool = False,
    audit: str | PathLike[str] | None = None,
) -> BundleReport:
    """Write the bundle of a teaching set.

    Parameters
    ----------
    manifest
        The teaching set (YAML).
    out
        The zip to write (replaced only when the whole bundle is ready).
    secret
        The project secret for UIDs and pseudonyms
        (see :func:`~teachingfiles.dicom.deid.load_secret`).
    repo
        The repository the cases come from; default: the folder above
        ``teaching-sets/`` when the manifest lies there, else the manifest's folder.
    confirm_burned_in
        Include images flagged for possible burned-in text (you checked them);
        without it such images stop the bundle with a list of them.
    audit
        Where the old -> new mapping goes; default ``<out>.audit.json``.

    Raises
    ------
    UsageError
        When images are held back for burned-in text, or a case's images are missing.
    """
    from teachingfiles.repository import Repository

    src = Path(manifest)
    ts = TeachingSet.from_yaml(src)
    root = (
        Path(repo)
        if repo
        else (src.parent.parent if src.parent.name == "teaching-sets" else src.parent)
    )
    target = Path(out)
    audit_path = Path(audit) if audit else target.with_name(target.name + ".audit.json")
    deid = Deidentifier(secret, DeidOptions.educator())
    with (
        Repository.open(root) as repository,
        tempfile.TemporaryDirectory(prefix=".bundle-", dir=target.parent) as tmp,
    ):
        stage = Path(tmp)
        wanted = _series_of(repository, ts)
        outcomes: list[FileOutcome] = []
        images: dict[str, dict[str, Path]] = {}
        patients: dict[str, str] = {}
        for study, series_list in wanted.items():
            for series in series_list:
                instances = repository.instances(series)
                for inst in instances:
                    o = deid.deidentify_file(
                        inst.path, stage / "dicom", confirm_burned_in=confirm_burned_in
                    )
                    outcomes.append(o)
                    if o.output:
                        new_sop = Path(o.output).stem
                        images.setdefault(series, {})[new_sop] = stage / "dicom" / o.output
                        patients[study] = o.patient["pseudonym"]
        held = [o for o in outcomes if o.status != "written"]
        if held:
            listing = "; ".join(f"{o.source}: {o.status}: {o.reason}" for o in held[:10])
            raise UsageError(
                f"{src}: {len(held)} image(s) could not go into the bundle ({listing}). "
                "Check flagged images and pass confirm_burned_in (--confirm-burned-in), "
                "or remove those cases"
            )
        records = [r for study in wanted for r in repository.annotations(study)]
        project = annotations_project(records, deid.keys, ts.title)
        from teachingfiles.repository.mdai import write_mdai

        (stage / "annotations" / "seg").mkdir(parents=True)
        write_mdai(project, stage / "annotations" / "mdai.json")
        n_seg = 0
        for series, series_files in images.items():
            seg = series_segmentation(
                [r for r in records if r.series_uid == series], series_files, deid.keys, 900 + n_seg
            )
            if seg is not None:
                seg.save_as(stage / "annotations" / "seg" / f"{deid.keys.uid(series)}.dcm")
                n_seg += 1
        renamed = _renamed(ts, deid, patients)
        (stage / "manifest.yaml").write_text(renamed.to_yaml(), encoding="utf-8")
        files = sorted(p for p in stage.rglob("*") if p.is_file())
        index = {
            "format": BUNDLE_FORMAT,
            "set": {"id": ts.set_id, "title": ts.title},
            "deidentification": deid.options.enabled(),
            "files": {
                p.relative_to(stage).as_posix(): {"size": p.stat().st_size, "sha256": _sha256(p)}
                for p in files
            },
        }
        (stage / "bundle.json").write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
        part = target.with_name(target.name + ".part")
        with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            zf.write(stage / "bundle.json", "bundle.json")
            for p in files:
                zf.write(p, p.relative_to(stage).as_posix())
        part.replace(target)
    write_audit(DeidReport(outcomes, ANNEX_E_EDITION, deid.options.enabled()), audit_path)
    return BundleReport(
        path=target,
        files=len(files) + 1,
        studies=len(wanted),
        images=sum(len(v) for v in images.values()),
        annotations=len(records),
        segmentations=n_seg,
        audit=audit_path,
    )
