"""The forms of the authoring widget: draw tools, case fields, the question editor.

Plain, labelled ipywidgets controls (so the keyboard reaches every one) that
:class:`~teachingfiles.widgets.authoring_view.AuthoringView` wires to its
:class:`~teachingfiles.cases.authoring.AuthoringSession`.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets  # type: ignore[import-untyped]

from teachingfiles.cases._authoring_drawing import describe
from teachingfiles.cases._drafts import AuthoredAnnotation
from teachingfiles.cases.case import Difficulty, KeyImage, TeachingCase
from teachingfiles.quiz.questions import Question
from teachingfiles.vocabulary import Appearance, QuestionKind, Severity

__all__ = [
    "NONE",
    "STYLE",
    "TOOLS",
    "WIDTHS",
    "QuestionEditor",
    "button",
    "case_fields",
    "draw_tools",
    "drawing_options",
    "field_value",
    "heading",
    "key_text",
    "study_label",
    "text_field",
]

TOOLS = (
    ("Inspect", "inspect"),
    ("Box", "box"),
    ("Polygon", "polygon"),
    ("Point", "point"),
    ("Freehand", "freehand"),
)
STYLE = """<style>
.tfa { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2933; }
.tfa-bar { align-items: center; gap: 6px; padding: 6px 8px; background: #f5f7f9;
  border: 1px solid #d9dee3; border-radius: 6px; }
.tfa-title { font-weight: 600; font-size: 15px; margin-right: 12px; }
.tfa-panel { border: 1px solid #d9dee3; border-radius: 6px; padding: 8px; gap: 4px; }
.tfa-heading { font-size: 12px; text-transform: uppercase; letter-spacing: .04em;
  color: #5f6b76; margin: 4px 0 2px; }
.tfa-status { font-size: 13px; }
.tfa-status .ok { color: #2e7d32; } .tfa-status .bad { color: #c62828; }
.tfa-status ul { margin: 2px 0 0 18px; padding: 0; }
</style>"""
NONE = "—"
WIDTHS = {"description_width": "112px"}


def heading(text: str) -> ipywidgets.HTML:
    label = ipywidgets.HTML(html.escape(text))
    label.add_class("tfa-heading")
    return label


def text_field(description: str, *, area: bool = False, placeholder: str = "") -> Any:
    cls = ipywidgets.Textarea if area else ipywidgets.Text
    widget = cls(
        description=description,
        placeholder=placeholder,
        style=WIDTHS,
        layout=ipywidgets.Layout(width="98%", height="64px" if area else None),
    )
    return widget


def button(label: str, tooltip: str, css: str, style: str = "") -> ipywidgets.Button:
    button = ipywidgets.Button(
        description=label,
        tooltip=tooltip,
        button_style=style,
        layout=ipywidgets.Layout(width="auto"),
    )
    button.add_class(css)
    return button


def study_label(study: Any) -> str:
    mods = "/".join(str(getattr(m, "value", m)) for m in study.modalities)
    call = study.appearance.value if study.appearance is not None else "no call"
    return f"{study.collection} · {study.patient_id} · {mods} · {call}"


def case_fields() -> dict[str, Any]:
    """Return one labelled control per case field, in reading order."""
    lists = "one per line"
    return {
        "title": text_field("Title"),
        "history": text_field("History", area=True),
        "findings": text_field("Findings", area=True),
        "diagnosis": text_field("Diagnosis"),
        "category": ipywidgets.Dropdown(
            options=[NONE, *(a.value for a in Appearance)], description="Category", style=WIDTHS
        ),
        "severity": ipywidgets.Dropdown(
            options=[NONE, *(s.value for s in Severity)], description="Severity", style=WIDTHS
        ),
        "reasoning": text_field("Reasoning", area=True),
        "differential": text_field("Differential", area=True, placeholder=lists),
        "discussion": text_field("Discussion", area=True),
        "teaching_points": text_field("Teaching points", area=True, placeholder=lists),
        "references": text_field("References", area=True, placeholder=lists),
        "difficulty": ipywidgets.Dropdown(
            options=[d.value for d in Difficulty], description="Difficulty", style=WIDTHS
        ),
        "tags": text_field("Tags", placeholder="comma-separated"),
        "source": text_field("Source"),
        "synthetic": ipywidgets.Checkbox(description="Synthetic images", indent=False),
    }


class QuestionEditor(ipywidgets.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """The question list and the fields of one question (every kind)."""

    def __init__(self, labels: list[str]) -> None:
        self.list = ipywidgets.Select(
            description="Questions", rows=4, style=WIDTHS, layout=ipywidgets.Layout(width="98%")
        )
        self.kind = ipywidgets.Dropdown(
            options=[k.value for k in QuestionKind], description="Kind", style=WIDTHS
        )
        self.prompt = text_field("Prompt", area=True)
        self.choices = text_field("Choices", area=True, placeholder="one per line")
        self.answers = text_field(
            "Answer(s)", area=True, placeholder="right choice(s) or accepted answers, one per line"
        )
        self.labels = ipywidgets.SelectMultiple(
            options=labels, description="Labels", rows=3, style=WIDTHS,
            layout=ipywidgets.Layout(width="98%"),
        )  # fmt: skip
        self.explanation = text_field("Explanation", area=True)
        self.buttons = {
            "add": button("Add question", "Add a new question to this case", "tfa-add-q", "info"),
            "update": button("Update", "Save the edits to the selected question", "tfa-update-q"),
            "delete": button("Delete", "Delete the selected question", "tfa-delete-q", "danger"),
        }
        super().__init__([
            self.list, self.kind, self.prompt, self.choices, self.answers, self.labels,
            self.explanation, ipywidgets.HBox(list(self.buttons.values())),
        ])  # fmt: skip

    def load(self, q: Question) -> None:
        """Show a question's fields."""
        self.kind.value = q.kind.value
        self.prompt.value = q.prompt
        self.choices.value = "\n".join(q.choices)
        self.answers.value = "\n".join(q.answers)
        self.labels.value = tuple(n for n in q.labels if n in self.labels.options)
        self.explanation.value = q.explanation

    def values(self) -> dict[str, Any]:
        """Return the fields as :meth:`AuthoringSession.edit_question` takes them."""
        kind = QuestionKind.parse(self.kind.value)
        out: dict[str, Any] = {
            "prompt": self.prompt.value,
            "explanation": self.explanation.value,
            "answers": self.answers.value,
        }
        if kind in (QuestionKind.SINGLE_BEST, QuestionKind.MULTIPLE):
            out["choices"] = self.choices.value
        if kind in (QuestionKind.CLICK, QuestionKind.BOX):
            out["labels"] = list(self.labels.value)
        return out


def field_value(case: TeachingCase | None, name: str) -> Any:
    """Return what the control of case field ``name`` shows for ``case``."""
    if case is None:
        return {
            "category": NONE,
            "severity": NONE,
            "difficulty": "intermediate",
            "synthetic": False,
        }.get(name, "")
    value = getattr(case, name)
    if name in ("category", "severity"):
        return NONE if value is None else value.value
    if name == "difficulty":
        return value.value
    if name == "references":
        return "\n".join(r.citation for r in value)
    if name == "tags":
        return ", ".join(value)
    if name in ("differential", "teaching_points"):
        return "\n".join(value)
    return value


def draw_tools(labels: list[str]) -> tuple[Any, Any]:
    """Return the draw tool buttons (inspect, box, polygon, point, freehand) and label picker.

    Every tool works on the axial, coronal and sagittal views; what a shape drawn
    on a reformat becomes is said in the tooltips.
    """
    across = " (on coronal/sagittal: stored on each axial slice it crosses)"
    tool = ipywidgets.ToggleButtons(
        options=TOOLS,
        value="inspect",
        description="Draw",
        tooltips=[
            "Drag: window/level",
            "Drag a box" + across,
            "Click vertices, Enter to close" + across,
            "Click a point (on coronal/sagittal: on the axial slice under it)",
            "Press, drag around, release" + across,
        ],
        style={"description_width": "40px", "button_width": "84px"},
    )
    tool.add_class("tfa-tools")
    label = ipywidgets.Dropdown(
        options=labels,
        value=labels[0] if labels else None,
        description="Label",
        style={"description_width": "40px"},
        layout=ipywidgets.Layout(width="340px"),
    )
    return tool, label


def drawing_options(annotations: tuple[AuthoredAnnotation, ...]) -> list[tuple[str, str]]:
    """Return the annotation list's entries: one per drawing (a reformat's strips as one).

    E.g. ``("Typical · box · slice 31", id)`` or ``("Typical · box · coronal image
    257 → 11 axial boxes, slices 44-54", id of the first)``.
    """
    groups: dict[str, list[AuthoredAnnotation]] = {}
    for a in annotations:
        groups.setdefault(a.group or a.id, []).append(a)
    return [
        (f"{members[0].label} · {members[0].kind.value} · {describe(members)}", members[0].id)
        for members in groups.values()
    ]


def key_text(key: KeyImage) -> str:
    """Return e.g. ``"axial · slice 33 · lung · Both lungs"`` (slices counted from 1)."""
    parts = [key.view.value, "" if key.slice is None else f"slice {key.slice + 1}"]
    parts += [key.preset or "", key.caption]
    return " · ".join(p for p in parts if p)
