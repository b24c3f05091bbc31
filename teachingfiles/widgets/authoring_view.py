"""The authoring widget: write a teaching set beside the viewer, saved as you type.

:class:`AuthoringView` is a thin face over
:class:`~teachingfiles.cases.authoring.AuthoringSession` (which holds every rule
and saves the draft on each change), composed of ipywidgets and the
:class:`~teachingfiles.widgets.viewer.StackViewer`:

* a study picker from the catalog, and "import folder" (de-identified into the
  repository, then indexed);
* the case's text fields (every field of a teaching case);
* the viewer with a draw toolbar (box, polygon, point, freehand, and the label),
  on the axial, coronal and sagittal views alike: a shape drawn on a reformat is
  stored, as MD.ai keeps annotations, on each acquired (axial) slice it crosses,
  and the status line says where it went;
* the list of the case's annotations (show, relabel, move to the slice on
  screen, delete) and of its key images (add the slice, view and window on screen);
* a question editor for every question kind;
* Preview (the case as a learner meets it, :class:`~.case_view.CaseView` in
  unknown mode), Validate (every problem, naming case and field) and Save (YAML).

Every control is a native, labelled form control, so the whole view works from
the keyboard (Tab between controls; the viewer's own keys when it has focus).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import Any

import ipywidgets  # type: ignore[import-untyped]

from teachingfiles.cases._authoring_drawing import describe
from teachingfiles.cases.authoring import AuthoringSession
from teachingfiles.cases.case import TeachingCase
from teachingfiles.errors import TeachingFilesError
from teachingfiles.widgets._authoring_forms import (
    NONE,
    STYLE,
    WIDTHS,
    QuestionEditor,
    button,
    case_fields,
    draw_tools,
    drawing_options,
    field_value,
    heading,
    key_text,
    study_label,
    text_field,
)
from teachingfiles.widgets._overlay import normalize_annotations
from teachingfiles.widgets._quiz_media import Shot, VolumeCache, viewer_for
from teachingfiles.widgets.case_view import CaseView
from teachingfiles.widgets.viewer import StackViewer

__all__ = ["AuthoringView"]

_log = logging.getLogger(__name__)


class AuthoringView(ipywidgets.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Author a teaching set: cases, key images, annotations, questions; saved as you go.

    Parameters
    ----------
    session
        The authoring session (its draft is saved on every change).
    case_id
        The case to open first (default: the first case of the draft).

    Example
    -------
    >>> session = AuthoringSession(repo, "drafts/my-set.json")  # doctest: +SKIP
    >>> AuthoringView(session)  # doctest: +SKIP
    """

    def __init__(self, session: AuthoringSession, *, case_id: str | None = None) -> None:
        super().__init__()
        self.add_class("tfa")
        self.session = session
        self._volumes = VolumeCache(session.repository, size=2)
        self._loading = False
        self.viewer: StackViewer | None = None
        self.status = ipywidgets.HTML()
        self.status.add_class("tfa-status")
        self._build_header()
        self._build_studies()
        self._build_case_fields()
        self._build_drawing()
        self._build_questions()
        self._image_box = ipywidgets.Box(layout=ipywidgets.Layout(width="100%", min_height="200px"))
        self.preview_box = ipywidgets.VBox()
        left = ipywidgets.VBox(
            [self._image_box, self._tools_box, self._annotations_box, self._keys_box],
            layout=ipywidgets.Layout(flex="3 1 480px", min_width="0"),
        )
        tabs = ipywidgets.Tab([self._case_box, self._questions_box, self._studies_box])
        for i, title in enumerate(("Case", "Questions", "Studies")):
            tabs.set_title(i, title)
        right = ipywidgets.VBox([tabs], layout=ipywidgets.Layout(flex="2 1 380px", min_width="0"))
        body = ipywidgets.HBox(
            [left, right],
            layout=ipywidgets.Layout(
                flex_flow="row wrap", align_items="flex-start", grid_gap="12px", width="100%"
            ),
        )
        self.children = (ipywidgets.HTML(STYLE), self._header, self.status, body, self.preview_box)
        first = case_id or (session.cases[0].id if session.cases else None)
        self._refresh_cases(first)

    # ---------------------------------------------------------------- building
    def _build_header(self) -> None:
        self.set_title = ipywidgets.Text(
            value=self.session.teaching_set.title,
            description="Set title",
            style=WIDTHS,
            layout=ipywidgets.Layout(width="340px"),
        )
        self.set_title.observe(self._guard(self._on_set_title), "value")
        self.validate_button = button("Validate", "Check the set (V)", "tfa-validate")
        self.preview_button = button("Preview", "The case as a learner sees it", "tfa-preview")
        self.save_button = button("Save", "Write the teaching set YAML", "tfa-save", "primary")
        self.validate_button.on_click(self._guard(lambda _b: self.validate()))
        self.preview_button.on_click(self._guard(lambda _b: self.preview()))
        self.save_button.on_click(self._guard(lambda _b: self.save()))
        title = ipywidgets.HTML("Authoring")
        title.add_class("tfa-title")
        self._header = ipywidgets.HBox(
            [title, self.set_title, self.validate_button, self.preview_button, self.save_button],
            layout=ipywidgets.Layout(flex_flow="row wrap"),
        )
        self._header.add_class("tfa-bar")

    def _build_studies(self) -> None:
        self.study = ipywidgets.Dropdown(
            description="Study", style=WIDTHS, layout=ipywidgets.Layout(width="98%")
        )
        self._refresh_studies()
        add = button("Add case", "Start a case on this study", "tfa-add-case", "info")
        add.on_click(self._guard(lambda _b: self.add_case()))
        self.folder = text_field("Folder", placeholder="/path/to/your/dicom")
        self.confirm_burned_in = ipywidgets.Checkbox(
            description="Images checked for burned-in text", indent=False
        )
        imp = button(
            "Import and de-identify", "De-identify the folder into the repository", "tfa-import"
        )
        imp.on_click(self._guard(lambda _b: self.import_folder()))
        self._studies_box = ipywidgets.VBox(
            [
                heading("From the catalog"),
                self.study,
                add,
                heading("Your own DICOM (de-identified on import)"),
                self.folder,
                self.confirm_burned_in,
                imp,
            ]
        )

    def _build_case_fields(self) -> None:
        self.case_select = ipywidgets.Dropdown(
            description="Case",
            style=WIDTHS,
            layout=ipywidgets.Layout(flex="1 1 auto", width="auto"),
        )
        self.case_select.observe(self._guard(self._on_case_select), "value")
        remove = button("Remove case", "Remove this case and its annotations", "tfa-remove-case")
        remove.on_click(self._guard(lambda _b: self._remove_case()))
        self.fields = case_fields()
        for name, widget in self.fields.items():
            widget.observe(self._guard(self._field_saver(name)), "value")
        self._case_box = ipywidgets.VBox(
            [ipywidgets.HBox([self.case_select, remove]), *self.fields.values()]
        )

    def _build_questions(self) -> None:
        self.questions = QuestionEditor([c.name for c in self.session.labels])
        self.questions.list.observe(self._guard(self._on_question_select), "value")
        for action, widget in self.questions.buttons.items():
            widget.on_click(self._guard(lambda _b, a=action: self._question_action(a)))
        self._questions_box = self.questions

    def _on_question_select(self, change: dict[str, Any]) -> None:
        if change["new"] is not None:
            self.questions.load(self.session.question(str(change["new"])))

    def _build_drawing(self) -> None:
        self.tool, self.label = draw_tools([c.name for c in self.session.labels])
        self.tool.observe(self._guard(self._on_tool), "value")
        self._tools_box = ipywidgets.VBox([self.tool, self.label])
        self._tools_box.add_class("tfa-panel")
        self.annotation_list = ipywidgets.Select(
            description="Annotations", rows=4, style=WIDTHS, layout=ipywidgets.Layout(width="100%")
        )
        self.annotation_list.observe(self._guard(self._on_annotation_select), "value")
        relabel = button("Relabel", "Give it the label chosen above", "tfa-relabel")
        move = button("Move here", "Move it to the slice on screen", "tfa-move")
        delete = button("Delete", "Delete the annotation", "tfa-delete", "danger")
        relabel.on_click(self._guard(lambda _b: self._annotation_action("relabel")))
        move.on_click(self._guard(lambda _b: self._annotation_action("move")))
        delete.on_click(self._guard(lambda _b: self._annotation_action("delete")))
        self._annotations_box = ipywidgets.VBox(
            [self.annotation_list, ipywidgets.HBox([relabel, move, delete])]
        )
        self._annotations_box.add_class("tfa-panel")
        self.caption = text_field("Caption", placeholder="what this image shows")
        add_key = button("Add key image", "The slice, view and window on screen", "tfa-add-key")
        add_key.on_click(self._guard(lambda _b: self.add_key_image()))
        self.key_list = ipywidgets.Select(
            description="Key images", rows=3, style=WIDTHS, layout=ipywidgets.Layout(width="100%")
        )
        self.key_list.observe(self._guard(self._on_key_select), "value")
        remove_key = button("Remove key image", "Remove the selected key image", "tfa-rm-key")
        remove_key.on_click(self._guard(lambda _b: self._remove_key()))
        self._keys_box = ipywidgets.VBox(
            [self.caption, ipywidgets.HBox([add_key, remove_key]), self.key_list]
        )
        self._keys_box.add_class("tfa-panel")

    # ---------------------------------------------------------------- plumbing
    def _guard(self, fn: Callable[..., Any]) -> Callable[..., None]:
        """Run a handler, showing any error in the status line (never only in the log)."""

        def run(*args: Any) -> None:
            if self._loading:
                return
            try:
                fn(*args)
            except TeachingFilesError as exc:
                self._say(str(exc), ok=False)
            except Exception as exc:  # shown in the widget, not swallowed
                _log.exception("authoring action failed")
                self._say(f"{type(exc).__name__}: {exc}", ok=False)

        return run

    def _say(self, message: str, *, ok: bool = True, items: list[str] | None = None) -> None:
        listing = "".join(f"<li>{html.escape(i)}</li>" for i in items or ())
        css = "ok" if ok else "bad"
        self.status.value = f'<span class="{css}" role="status">{html.escape(message)}</span>' + (
            f"<ul>{listing}</ul>" if listing else ""
        )

    @property
    def case_id(self) -> str | None:
        """The case on screen."""
        value = self.case_select.value
        return None if value is None else str(value)

    def _case(self) -> TeachingCase:
        if self.case_id is None:
            raise TeachingFilesError("no case yet: pick a study and press 'Add case'")
        return self.session.case(self.case_id)

    def _refresh_studies(self) -> None:
        studies = self.session.repository.studies()
        self.study.options = [(study_label(s), s.study_uid) for s in studies]

    def _refresh_cases(self, select: str | None) -> None:
        self._loading = True
        try:
            self.case_select.options = [(f"{c.id}: {c.title}", c.id) for c in self.session.cases]
            self.case_select.value = select
        finally:
            self._loading = False
        self._load_case()

    # ---------------------------------------------------------------- cases
    def _on_set_title(self, change: dict[str, Any]) -> None:
        self.session.set_info(title=str(change["new"]))

    def _on_case_select(self, _change: dict[str, Any]) -> None:
        self._load_case()

    def _load_case(self) -> None:
        self._loading = True
        try:
            case = None if self.case_id is None else self.session.case(self.case_id)
            for name, widget in self.fields.items():
                widget.value = field_value(case, name)
        finally:
            self._loading = False
        self._show_viewer()
        self._refresh_lists()

    def _field_saver(self, name: str) -> Callable[[dict[str, Any]], None]:
        def save(change: dict[str, Any]) -> None:
            if self.case_id is None:
                return
            value = change["new"]
            if name in ("category", "severity") and value == NONE:
                value = None
            if name == "tags" and isinstance(value, str):
                value = value.replace(",", "\n")
            if name == "references":  # keep the DOI and URL of citations left as they were
                known = {r.citation: r for r in self._case().references}
                value = [known.get(line.strip(), line) for line in str(value).splitlines()]
            self.session.edit_case(self.case_id, **{name: value})
            if name == "title":
                self._relabel_case_option()

        return save

    def _relabel_case_option(self) -> None:
        self._loading = True
        try:
            current = self.case_select.value
            self.case_select.options = [(f"{c.id}: {c.title}", c.id) for c in self.session.cases]
            self.case_select.value = current
        finally:
            self._loading = False

    def add_case(self, study_uid: str | None = None) -> TeachingCase:
        """Start a case on the study picked (or ``study_uid``) and show it."""
        uid = study_uid or self.study.value
        if not uid:
            raise TeachingFilesError("pick a study first (the Studies tab)")
        case = self.session.add_case(str(uid))
        self._refresh_cases(case.id)
        self._say(f"Added {case.id} on study {case.study_uid}.")
        return case

    def _remove_case(self) -> None:
        case = self._case()
        self.session.remove_case(case.id)
        self._refresh_cases(self.session.cases[0].id if self.session.cases else None)
        self._say(f"Removed {case.id}.")

    def import_folder(self, folder: str | None = None) -> None:
        """De-identify a folder into the repository; its studies join the picker."""
        path = folder or self.folder.value.strip()
        if not path:
            raise TeachingFilesError("type the folder holding your DICOM files first")
        self._say(f"De-identifying {path} ...")
        result = self.session.import_folder(path, confirm_burned_in=self.confirm_burned_in.value)
        self._refresh_studies()
        if result.study_uids:
            self.study.value = result.study_uids[0]
        summary = result.report.summary()
        held = [f"{o['source']}: {o['reason']}" for o in summary["not_written"]]
        self._say(
            f"{summary['written']} file(s) de-identified into the repository, "
            f"{len(result.study_uids)} study(ies); {len(held)} not written.",
            ok=not held,
            items=held,
        )

    # ---------------------------------------------------------------- viewer
    def _show_viewer(self) -> None:
        old = self.viewer
        self.viewer = None
        if self.case_id is None:
            self._image_box.children = (
                ipywidgets.HTML("<p>No case yet: pick a study in the <b>Studies</b> tab.</p>"),
            )
        else:
            case = self._case()
            if case.series_uid is None:
                raise TeachingFilesError(f"case {case.id!r} has no series to show")
            volume = self._volumes.get(case.series_uid)
            key = case.key_images[0] if case.key_images else None
            drawn = self.session.annotations_of(case.id)
            start = (
                key.slice if key and key.slice is not None else (drawn[0].slice if drawn else None)
            )
            shot = Shot(case.series_uid, start, key.preset if key else None)
            viewer = viewer_for(volume, shot, mode=str(self.tool.value))
            viewer.layout.width = "100%"
            viewer.on_shape(self._guard(self._on_shape))
            viewer.on_click(self._guard(self._on_click))
            self.viewer = viewer
            self._image_box.children = (viewer,)
            self._refresh_overlay()
        if old is not None:
            old.close()

    def _refresh_overlay(self, selected: str | None = None) -> None:
        if self.viewer is None or self.case_id is None:
            return
        volume = self._volumes.get(self._case().series_uid or "")
        chosen = {a.id for a in self.session.drawing(selected)} if selected else set()
        shapes = [
            a.shape("#ffffff" if a.id in chosen else self.session.color_of(a.label))
            for a in self.session.annotations_of(self.case_id)
        ]
        self.viewer.annotations = normalize_annotations(
            shapes, n_slices=volume.shape[0], sop_uids=volume.sop_uids
        )

    def _repo_slice(self, viewer_index: int) -> int:
        """Return the repository's slice index of the viewer's slice (matched by SOP UID)."""
        case = self._case()
        volume = self._volumes.get(case.series_uid or "")
        sop = str(volume.sop_uids[viewer_index])
        order = [
            i.sop_instance_uid for i in self.session.repository.instances(case.series_uid or "")
        ]
        return order.index(sop) if sop in order else viewer_index

    def _on_tool(self, change: dict[str, Any]) -> None:
        if self.viewer is not None:
            self.viewer.mode = str(change["new"])

    def _on_shape(self, event: dict[str, Any]) -> None:
        self._draw(str(event["kind"]), event["points"], event)

    def _on_click(self, event: dict[str, Any]) -> None:
        if self.tool.value == "point":
            self._draw("point", [event["pixel"]], event)

    def _draw(self, kind: str, points: list[list[float]], event: dict[str, Any]) -> None:
        """Store a shape drawn on the view on screen (a reformat's goes to the axial slices)."""
        if not self.label.value:
            raise TeachingFilesError("choose a label first")
        case = self._case()
        made = self.session.draw_in_view(
            case.id,
            kind,
            points,
            view=str(event.get("view", "axial")),
            index=int(event["slice"]),
            label=str(self.label.value),
            volume=self._volumes.get(case.series_uid or ""),
        )
        self._refresh_lists()
        self._refresh_overlay()
        where = describe(made)
        if made[0].drawn_on is None:
            self._say(f"{kind} '{made[0].label}' drawn on {where} (saved to the draft).")
        else:  # MD.ai keeps shapes on acquired images: say where this one went
            self._say(
                f"{kind} '{made[0].label}' drawn on the {where} (saved to the draft). "
                "MD.ai keeps annotations on the acquired images: press 'a' for the axial "
                "view to see them."
            )

    # ---------------------------------------------------------------- lists
    def _refresh_lists(self) -> None:
        self._loading = True
        try:
            anns = self.session.annotations_of(self.case_id) if self.case_id else ()
            self.annotation_list.options = drawing_options(anns)
            self.annotation_list.value = None
            keys = self.session.case(self.case_id).key_images if self.case_id else ()
            self.key_list.options = [(key_text(k), i) for i, k in enumerate(keys)]
            self.key_list.value = None
            self.questions.list.options = [
                (f"{q.id} · {q.kind.value} · {q.prompt[:40]}", q.id)
                for q in self.session.questions
                if q.case in (None, self.case_id)
            ]
            self.questions.list.value = None
        finally:
            self._loading = False

    def _on_annotation_select(self, change: dict[str, Any]) -> None:
        if change["new"] is None or self.viewer is None:
            return
        ann = next(a for a in self.session.annotations if a.id == change["new"])
        self._loading = True
        try:
            self.label.value = ann.label if ann.label in self.label.options else self.label.value
        finally:
            self._loading = False
        volume = self._volumes.get(ann.series_uid)
        if ann.drawn_on is not None and ann.drawn_on[0] in self.viewer.views:
            self.viewer.view = ann.drawn_on[0]  # back to the image it was drawn on
            self.viewer.index = ann.drawn_on[1]
        elif ann.sop_uid in volume.sop_uids:
            self.viewer.view = "axial"
            self.viewer.index = list(volume.sop_uids).index(ann.sop_uid)
        self._refresh_overlay(selected=ann.id)

    def _annotation_action(self, action: str) -> None:
        ann_id = self.annotation_list.value
        if ann_id is None:
            raise TeachingFilesError("select an annotation in the list first")
        if action == "relabel":
            self.session.relabel(str(ann_id), str(self.label.value))
        elif action == "move" and self.viewer is not None:
            one = len(self.session.drawing(str(ann_id))) == 1  # else the session refuses
            if self.viewer.view != "axial" and one:
                raise TeachingFilesError(
                    "'Move here' moves to the axial slice on screen: press 'a' for the "
                    "axial view, scroll to the slice, then press it again"
                )
            target = self._repo_slice(self.viewer.index) if one else 0
            self.session.move_annotation(str(ann_id), target)
        elif action == "delete":
            self.session.delete_annotation(str(ann_id))
        self._refresh_lists()
        self._refresh_overlay()
        self._say(f"Annotation {action}d." if action != "move" else "Annotation moved.")

    def add_key_image(self) -> None:
        """Add the slice, view and window on screen as a key image of the case."""
        case = self._case()
        if self.viewer is None:
            raise TeachingFilesError("no image on screen")
        axial = self.viewer.view == "axial"
        self.session.add_key_image(
            case.id,
            slice=self._repo_slice(self.viewer.index) if axial else None,
            view=self.viewer.view,
            preset=self.viewer.preset or None,
            caption=self.caption.value,
        )
        self.caption.value = ""
        self._refresh_lists()
        self._say("Key image added.")

    def _on_key_select(self, change: dict[str, Any]) -> None:
        if change["new"] is None or self.viewer is None:
            return
        key = self._case().key_images[int(change["new"])]
        if key.view.value in self.viewer.views:
            self.viewer.view = key.view.value
        if key.slice is not None and key.view.value == "axial":
            self.viewer.index = key.slice
        if key.preset:
            self.viewer.apply_preset(key.preset)

    def _remove_key(self) -> None:
        if self.key_list.value is None:
            raise TeachingFilesError("select a key image in the list first")
        self.session.remove_key_image(self._case().id, int(self.key_list.value))
        self._refresh_lists()

    # ---------------------------------------------------------------- questions
    def _question_action(self, action: str) -> None:
        selected = self.questions.list.value
        if action == "add":
            q = self.session.add_question(
                self.questions.kind.value, case=self.case_id, **self.questions.values()
            )
            message = f"Question {q.id} added."
        elif selected is None:
            raise TeachingFilesError("select a question in the list first")
        elif action == "update":
            changes = {"kind": self.questions.kind.value, "choices": (), "labels": ()}
            self.session.edit_question(str(selected), **{**changes, **self.questions.values()})
            message = f"Question {selected} updated."
        else:
            self.session.remove_question(str(selected))
            message = f"Question {selected} deleted."
        self._refresh_lists()
        self._say(message)

    # ---------------------------------------------------------------- checks
    def validate(self) -> list[str]:
        """Check the set as ``teachingfiles validate --repository`` would; show the problems."""
        errors = [str(e) for e in self.session.validate()]
        if errors:
            self._say(f"{len(errors)} problem(s):", ok=False, items=errors)
        else:
            self._say("Valid: every case and question resolves against the repository.")
        return errors

    def save(self) -> None:
        """Validate and write the teaching set YAML (problems are shown instead)."""
        if self.validate():
            return
        path = self.session.save()
        self._say(f"Saved {path}.")

    def preview(self) -> CaseView:
        """Open the case below as a learner meets it (unknown mode, Reveal to check)."""
        case = self.session.preview_case(self._case().id)
        view = CaseView(case, self.session.repository)
        close = button("Close preview", "Back to authoring", "tfa-close-preview")
        close.on_click(lambda _b: self._close_preview())
        self._close_preview()
        top = ipywidgets.HBox([heading("Learner preview"), close])
        top.layout.align_items = "center"
        self.preview_box.children = (top, view)
        self._say(f"Preview of {case.id} below (as an unknown).")
        return view

    def _close_preview(self) -> None:
        for child in self.preview_box.children:
            child.close()
        self.preview_box.children = ()

    def close(self) -> None:
        """Close the widgets and the series kept open."""
        self._close_preview()
        if self.viewer is not None:
            self.viewer.close()
        self._volumes.close()
        super().close()
