"""Authoring a teaching set: cases, key images, drawn annotations and questions.

An :class:`AuthoringSession` works over a :class:`~teachingfiles.repository.Repository`
and a draft file. Every change (a case's text, a key image, a shape drawn, a
question) is written to the draft at once (atomically, see :mod:`._drafts`), so a
kernel restart loses nothing: a new session on the same draft path picks up
exactly where the last one stopped.

Studies come from the catalog (:meth:`AuthoringSession.add_case`) or from a
folder of the educator's own DICOM, de-identified into the repository with
:func:`teachingfiles.dicom.deid.deidentify` and indexed
(:meth:`AuthoringSession.import_folder`).

Shapes are drawn on an acquired slice (:meth:`AuthoringSession.draw`) or on any
image of an axial, coronal or sagittal view
(:meth:`AuthoringSession.draw_in_view`): MD.ai keeps an annotation on one
acquired image, so a shape drawn on a reformat becomes one annotation per slice
it crosses, kept together as one drawing (the drawing methods live in
:mod:`._authoring_drawing`, the geometry in :mod:`._authoring_planes`).

Drawn annotations are kept as MD.ai annotations: :meth:`AuthoringSession.publish_annotations`
writes them to ``REPO/annotations/authored-<set id>.json`` with
:func:`~teachingfiles.repository.mdai.write_mdai` and re-indexes. The catalog finds
MD.ai JSON by content, so key images and click/box questions then resolve
against them exactly as against RICORD's own. Their labels form their own group
(``"Authored"``, instance scope, one label per name and shape), so they never
count as a reader's study-level call.

Example
-------
>>> session = AuthoringSession(repo, "drafts/my-set.json", title="My first set")
>>> case = session.add_case(repo.studies(collection="DEMO-RICORD-1A")[0].study_uid)
>>> session.edit_case(case.id, history="Fever and cough for five days.")
>>> session.draw(case.id, "box", [[100, 120], [160, 170]], slice=20,
...              label="Infectious opacity")
>>> strips = session.draw_in_view(case.id, "box", [[100, 20], [160, 40]],
...                               view="coronal", index=256, label="Infectious opacity")
>>> session.add_question("box", case=case.id, prompt="Box the opacity.")
>>> session.save()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from teachingfiles.cases._authoring_drawing import DrawingMixin
from teachingfiles.cases._authoring_parts import (
    AUTHORED_PREFIX,
    LISTS,
    OPTIONAL_TEXT,
    QUESTION_FIELDS,
    SET_FIELDS,
    TEXT,
    ImportResult,
    authored_project,
    convert_case_field,
    convert_question_field,
    default_labels,
    import_folder,
    lines,
    name_case,
)
from teachingfiles.cases._drafts import (
    AuthoredAnnotation,
    Draft,
    DrawKind,
    LabelChoice,
    read_draft,
    write_draft,
)
from teachingfiles.cases.case import KeyImage, TeachingCase, View
from teachingfiles.cases.teaching_set import TeachingSet, check_manifest
from teachingfiles.errors import ManifestError, NotFoundError, UsageError
from teachingfiles.quiz.questions import Question, QuestionKind
from teachingfiles.repository.mdai import MdaiProject, write_mdai

if TYPE_CHECKING:
    from teachingfiles.dicom.deid import DeidOptions
    from teachingfiles.quiz.resolve import Quiz
    from teachingfiles.repository import Repository

__all__ = [
    "AUTHORED_PREFIX",
    "AuthoredAnnotation",
    "AuthoringSession",
    "DrawKind",
    "ImportResult",
    "LabelChoice",
    "default_labels",
]


class AuthoringSession(DrawingMixin):
    """Write a teaching set over a repository, saved to a draft as you go.

    Parameters
    ----------
    repository
        Where the studies are (and where authored annotations and the set are saved).
    draft
        The draft file (JSON). If it exists the session restores it exactly;
        otherwise a new set is started and the draft written at once.
    title, set_id
        For a new set: its title and id (default: a slug of the title).
    labels
        The label set offered for drawing (default :func:`default_labels`).
    output
        Where :meth:`save` writes the YAML (default
        ``REPO/teaching-sets/<set id>.yaml``).
    """

    def __init__(
        self,
        repository: Repository,
        draft: str | PathLike[str],
        *,
        title: str = "Untitled teaching set",
        set_id: str | None = None,
        labels: Iterable[LabelChoice | str] | None = None,
        output: str | PathLike[str] | None = None,
    ) -> None:
        self.repository = repository
        self.draft_path = Path(draft)
        if self.draft_path.exists():
            self._draft = read_draft(self.draft_path)
            if labels is not None:
                self._draft = replace(self._draft, labels=self._label_choices(labels))
        else:
            ts = TeachingSet(title=title, id=set_id or "")
            chosen = default_labels(repository) if labels is None else self._label_choices(labels)
            self._draft = Draft(ts, labels=chosen)
        if output is not None:
            self._draft = replace(self._draft, output=str(output))
        self._save_draft()

    # ---------------------------------------------------------------- state
    @property
    def teaching_set(self) -> TeachingSet:
        """The set as it stands (possibly incomplete; see :meth:`validate`)."""
        return self._draft.teaching_set

    @property
    def cases(self) -> tuple[TeachingCase, ...]:
        """The cases, in order."""
        return self.teaching_set.cases

    @property
    def questions(self) -> tuple[Question, ...]:
        """The questions, in order."""
        return self.teaching_set.questions

    @property
    def labels(self) -> tuple[LabelChoice, ...]:
        """The label set offered for drawing."""
        return self._draft.labels

    @property
    def output(self) -> Path:
        """Where :meth:`save` writes the manifest."""
        if self._draft.output:
            return Path(self._draft.output)
        return self.repository.root / "teaching-sets" / f"{self.teaching_set.set_id}.yaml"

    @property
    def annotations_path(self) -> Path:
        """Where the authored annotations go as MD.ai JSON."""
        name = f"{AUTHORED_PREFIX}{self.teaching_set.set_id}.json"
        return self.repository.root / "annotations" / name

    def case(self, case_id: str) -> TeachingCase:
        """Return the case with this id.

        Raises
        ------
        NotFoundError
            Naming the cases there are.
        """
        for case in self.cases:
            if case.id == case_id:
                return case
        ids = ", ".join(c.id for c in self.cases) or "none yet"
        raise NotFoundError(f"no case {case_id!r} in the draft; cases: {ids}")

    def question(self, question_id: str) -> Question:
        """Return the question with this id (``NotFoundError`` naming the ids)."""
        for q in self.questions:
            if q.id == question_id:
                return q
        ids = ", ".join(q.id for q in self.questions) or "none yet"
        raise NotFoundError(f"no question {question_id!r} in the draft; questions: {ids}")

    def label(self, name: str) -> LabelChoice:
        """Return the label called ``name`` (case-insensitive) from the label set.

        Raises
        ------
        UsageError
            Naming the labels on offer.
        """
        for choice in self.labels:
            if choice.name.lower() == name.strip().lower():
                return choice
        offered = ", ".join(c.name for c in self.labels) or "none"
        raise UsageError(f"no label {name!r} in the label set; labels: {offered}")

    # ---------------------------------------------------------------- saving
    def _label_choices(self, labels: Iterable[LabelChoice | str]) -> tuple[LabelChoice, ...]:
        known = {c.name.lower(): c for c in default_labels(self.repository)}
        return tuple(
            c if isinstance(c, LabelChoice) else known.get(c.lower(), LabelChoice(c))
            for c in labels
        )

    def _save_draft(self) -> None:
        write_draft(self._draft, self.draft_path)

    def _set(self, **changes: Any) -> None:
        self._draft = replace(self._draft, teaching_set=replace(self.teaching_set, **changes))
        self._save_draft()

    def _replace_case(self, case_id: str, new: TeachingCase) -> None:
        self.case(case_id)
        self._set(cases=tuple(new if c.id == case_id else c for c in self.cases))

    def set_info(self, **info: str) -> TeachingSet:
        """Set the set's title, id, author, audience, licence, version or description."""
        unknown = sorted(set(info) - set(SET_FIELDS))
        if unknown:
            raise UsageError(f"set_info got {', '.join(unknown)}; it takes {', '.join(SET_FIELDS)}")
        self._set(**{k: str(v) for k, v in info.items()})
        return self.teaching_set

    # ---------------------------------------------------------------- studies
    def import_folder(
        self,
        folder: str | PathLike[str],
        *,
        secret: bytes | None = None,
        options: DeidOptions | None = None,
        confirm_burned_in: bool = False,
        audit: str | PathLike[str] | None = None,
    ) -> ImportResult:
        """De-identify a folder of DICOM into the repository and index it.

        See :func:`._authoring_parts.import_folder` (``secret`` defaults to
        :func:`~teachingfiles.dicom.deid.load_secret`, ``options`` to
        ``DeidOptions.educator()``); the result lists the new StudyInstanceUIDs.
        """
        return import_folder(
            self.repository,
            folder,
            secret=secret,
            options=options,
            confirm_burned_in=confirm_burned_in,
            audit=audit,
        )

    # ---------------------------------------------------------------- cases
    def add_case(
        self, study_uid: str, *, case_id: str | None = None, title: str = "", **text: Any
    ) -> TeachingCase:
        """Start a case on a study of the catalog (collection, patient, series filled in).

        Raises
        ------
        NotFoundError
            If the study is not in the repository.
        UsageError
            If ``case_id`` is already used.
        """
        study = self.repository.study(study_uid)
        series = self.repository.series(study_uid)
        used = {c.id for c in self.cases}
        if case_id is None:
            n = len(self.cases) + 1
            while f"case-{n}" in used:
                n += 1
            case_id = f"case-{n}"
        elif case_id in used:
            raise UsageError(f"case id {case_id!r} is already used; choose another")
        case = TeachingCase(
            id=case_id,
            title=title or f"Case {len(self.cases) + 1}",
            study_uid=study.study_uid,
            collection=study.collection,
            patient_id=study.patient_id,
            series_uid=series[0].series_uid if series else None,
        )
        self._set(cases=(*self.cases, case))
        return self.edit_case(case_id, **text) if text else case

    def edit_case(self, case_id: str, **changes: Any) -> TeachingCase:
        """Change any text field of a case (strings are converted: ``category="typical"``).

        Lists (``differential``, ``teaching_points``, ``tags``, ``references``) take a
        sequence or text with one item per line. Renaming (``id=``) carries the
        questions and annotations along.

        Raises
        ------
        UsageError
            For a field a case does not have, or one edited elsewhere.
        ValueError
            For a category, severity or difficulty that names no member.
        """
        case = self.case(case_id)
        settable = {*TEXT, *OPTIONAL_TEXT, *LISTS, "id", "synthetic", "category",
                    "severity", "difficulty", "references"}  # fmt: skip
        unknown = sorted(set(changes) - settable)
        if unknown:
            raise UsageError(
                f"edit_case({case_id!r}) got {', '.join(unknown)}; editable fields: "
                f"{', '.join(sorted(settable))} (key images: add_key_image)"
            )
        new = replace(case, **{k: convert_case_field(k, v) for k, v in changes.items()})
        if new.id != case_id:
            if not new.id or any(c.id == new.id for c in self.cases):
                raise UsageError(f"case id {new.id!r} is empty or already used; choose another")
            self._rename_case(case_id, new.id)
        self._replace_case(case_id, new)
        return new

    def _rename_case(self, old: str, new: str) -> None:
        questions = tuple(replace(q, case=new) if q.case == old else q for q in self.questions)
        anns = tuple(replace(a, case=new) if a.case == old else a for a in self.annotations)
        self._draft = replace(
            self._draft,
            annotations=anns,
            teaching_set=replace(self.teaching_set, questions=questions),
        )

    def remove_case(self, case_id: str) -> None:
        """Remove a case with its annotations (questions about it are kept, to re-point)."""
        self.case(case_id)
        self._draft = replace(
            self._draft, annotations=tuple(a for a in self.annotations if a.case != case_id)
        )
        self._set(cases=tuple(c for c in self.cases if c.id != case_id))

    # ---------------------------------------------------------------- key images
    def add_key_image(
        self,
        case_id: str,
        *,
        slice: int | None = None,
        series_uid: str | None = None,
        view: View | str = View.AXIAL,
        preset: str | None = None,
        caption: str = "",
        annotations: Sequence[str] | None = None,
    ) -> KeyImage:
        """Add a key image to a case.

        ``annotations`` (label names drawn on reveal) defaults to the labels of the
        shapes drawn on that series of the case.
        """
        case = self.case(case_id)
        series = series_uid or case.series_uid
        if annotations is None:
            names = {a.label: None for a in self.annotations_of(case_id) if a.series_uid == series}
            annotations = tuple(names)
        if slice is not None:
            self._instance(series, slice, case)
        image = KeyImage(
            series_uid=series_uid if series_uid != case.series_uid else None,
            slice=slice,
            view=View.parse(view),
            preset=preset or None,
            annotations=tuple(annotations),
            caption=caption,
        )
        self._replace_case(case_id, replace(case, key_images=(*case.key_images, image)))
        return image

    def edit_key_image(self, case_id: str, index: int, **changes: Any) -> KeyImage:
        """Change a key image's slice, view, preset, caption or annotations."""
        case = self.case(case_id)
        old = self._key(case, index)
        if "view" in changes:
            changes["view"] = View.parse(changes["view"])
        if "annotations" in changes:
            changes["annotations"] = lines(changes["annotations"])
        try:
            new = replace(old, **changes)
        except TypeError as exc:
            raise UsageError(f"edit_key_image: {exc}; fields: slice, series_uid, view, "
                             "preset, caption, annotations") from None  # fmt: skip
        images = list(case.key_images)
        images[index] = new
        self._replace_case(case_id, replace(case, key_images=tuple(images)))
        return new

    def remove_key_image(self, case_id: str, index: int) -> None:
        """Remove key image ``index`` of a case."""
        case = self.case(case_id)
        self._key(case, index)
        images = tuple(k for i, k in enumerate(case.key_images) if i != index)
        self._replace_case(case_id, replace(case, key_images=images))

    @staticmethod
    def _key(case: TeachingCase, index: int) -> KeyImage:
        if not 0 <= index < len(case.key_images):
            raise UsageError(
                f"case {case.id!r} has {len(case.key_images)} key images; no key image {index}"
            )
        return case.key_images[index]

    # ---------------------------------------------------------------- questions
    def add_question(
        self,
        kind: QuestionKind | str,
        *,
        question_id: str | None = None,
        case: str | None = None,
        prompt: str = "",
        **details: Any,
    ) -> Question:
        """Add a question of any kind (see :class:`~teachingfiles.quiz.questions.Question`).

        ``choices``, ``answers``, ``labels``, ``teaching_points`` take a sequence or
        text with one item per line.
        """
        used = {q.id for q in self.questions}
        if question_id is None:
            n = len(self.questions) + 1
            while f"q{n}" in used:
                n += 1
            question_id = f"q{n}"
        elif question_id in used:
            raise UsageError(f"question id {question_id!r} is already used; choose another")
        if case is not None:
            self.case(case)
        q = Question(id=question_id, kind=QuestionKind.parse(kind), prompt=prompt, case=case)
        self._set(questions=(*self.questions, q))
        return self.edit_question(question_id, **details) if details else q

    def edit_question(self, question_id: str, **changes: Any) -> Question:
        """Change any field of a question (``kind``, ``prompt``, ``choices``, ``answers`` ...)."""
        old = self.question(question_id)
        unknown = sorted(set(changes) - {*QUESTION_FIELDS, "id"})
        if unknown:
            raise UsageError(
                f"edit_question({question_id!r}) got {', '.join(unknown)}; fields: "
                f"{', '.join(QUESTION_FIELDS)}"
            )
        new = replace(old, **{k: convert_question_field(k, v) for k, v in changes.items()})
        if new.case is not None:
            self.case(new.case)
        if new.id != question_id and any(q.id == new.id for q in self.questions):
            raise UsageError(f"question id {new.id!r} is already used; choose another")
        self._set(questions=tuple(new if q.id == question_id else q for q in self.questions))
        return new

    def remove_question(self, question_id: str) -> None:
        """Remove a question."""
        self.question(question_id)
        self._set(questions=tuple(q for q in self.questions if q.id != question_id))

    # ---------------------------------------------------------------- publishing
    def mdai_project(self) -> MdaiProject:
        """Return the authored annotations as an MD.ai export (one label per name and shape)."""
        return authored_project(self.teaching_set, self.annotations, self.labels)

    def publish_annotations(self) -> Path:
        """Write the authored annotations as MD.ai JSON in the repository and re-index.

        An earlier file of this draft (under an old set id) is removed.
        """
        path = self.annotations_path
        write_mdai(self.mdai_project(), path)
        old = self._draft.published
        if old and Path(old) != path:
            Path(old).unlink(missing_ok=True)
        self._draft = replace(self._draft, published=str(path))
        self._save_draft()
        self.repository.index()
        return path

    def validate(self, *, repository: bool = True) -> list[ManifestError]:
        """Every problem, as ``teachingfiles validate --repository`` reports them.

        The manifest is checked as it would be saved (schema, fields, question
        kinds); with ``repository`` the annotations are published first and every
        case resolved (studies, series, slices, annotation labels, click/box truth).
        Problems about a case name its id.
        """
        from teachingfiles.quiz.resolve import resolve

        text = self.teaching_set.to_yaml()
        check = check_manifest(self.output, text=text)
        errors = [name_case(self.cases, e) for e in check.errors]
        if check.teaching_set is not None and repository:
            self.publish_annotations()
            errors += resolve(check.teaching_set, self.repository, strict=False).problems
        return errors

    def save(self, path: str | PathLike[str] | None = None) -> Path:
        """Validate, then write the manifest YAML (and publish the annotations).

        Raises
        ------
        ManifestError
            Listing every problem; nothing is written then.
        """
        if path is not None:
            self._draft = replace(self._draft, output=str(path))
            self._save_draft()
        errors = self.validate()
        if errors:
            listing = "\n".join(f"  {e}" for e in errors)
            raise ManifestError(
                f"{len(errors)} problem(s) in the teaching set; fix them and save again:\n"
                f"{listing}",
                path=self.output,
                line=errors[0].line,
                field=errors[0].field,
            )
        return self.teaching_set.save(self.output)

    def resolve(self) -> Quiz:
        """Resolve the set against the repository (annotations published first)."""
        from teachingfiles.quiz.resolve import resolve

        self.publish_annotations()
        return resolve(self.teaching_set, self.repository, strict=False)

    def preview_case(self, case_id: str) -> TeachingCase:
        """Return the case as a learner meets it: resolved, with the readers' calls."""
        self.case(case_id)
        return self.resolve().cases[case_id]
