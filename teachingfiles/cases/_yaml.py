"""Reading a YAML manifest with the line of every field, and typed field access.

PyYAML's compose step keeps a ``start_mark`` on every node; walking the node tree
beside the constructed data maps each field path (``("cases", 2, "history")``) to
its 1-based line, so a validation error can name the file, the line and the field.
Construction uses PyYAML's ``SafeLoader`` (no arbitrary objects).

:class:`Fields` reads typed values out of one mapping of the document and records
every problem instead of stopping at the first, so ``teachingfiles validate`` can
list them all.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml

from teachingfiles.errors import ManifestError

__all__ = ["Document", "Fields", "parse_yaml"]

FieldPath = tuple[str | int, ...]
_E = TypeVar("_E")


def dotted(path: FieldPath) -> str:
    """``("cases", 2, "history")`` -> ``"cases[2].history"``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


@dataclass
class Document:
    """A parsed manifest: its data, the line of every field, and the problems found."""

    path: str
    data: Any
    lines: dict[FieldPath, int]
    errors: list[ManifestError] = field(default_factory=list)

    def line(self, path: FieldPath) -> int | None:
        """Return the line of ``path``, or of its nearest parent that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    def error(self, path: FieldPath, message: str) -> None:
        """Record a problem at ``path``."""
        self.errors.append(
            ManifestError(
                f"{dotted(path)}: {message}",
                path=self.path,
                line=self.line(path),
                field=dotted(path),
            )
        )

    def fields(self, path: FieldPath = ()) -> Fields:
        """Typed access to the mapping at ``path`` (an error if it is not a mapping)."""
        value: Any = self.data
        for part in path:
            value = value[part]
        if not isinstance(value, Mapping):
            self.error(path, f"expected a mapping of keys to values, got {_kind(value)}")
            value = {}
        return Fields(self, path, value)


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, path: str) -> Document:
    """Parse YAML text, keeping each field's line; syntax errors become problems."""
    # libyaml's parser (when PyYAML was built with it) gives the same nodes and marks,
    # about ten times faster: the dashboards parse every set when they open.
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        doc = Document(path, None, {})
        doc.errors.append(
            ManifestError(
                f"not valid YAML: {exc.problem or exc.context}; check indentation, colons "
                "and quotes around text that contains ': ' or starts with a special character",
                path=path,
                line=line,
            )
        )
        return doc
    except yaml.YAMLError as exc:
        doc = Document(path, None, {})
        doc.errors.append(ManifestError(f"not valid YAML: {exc}", path=path))
        return doc
    finally:
        loader.dispose()
    doc = Document(path, data, {})
    if node is not None:
        _walk(node, (), doc)
    return doc


def _walk(node: yaml.Node, path: FieldPath, doc: Document) -> None:
    doc.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                doc.lines[(*path, key)] = key_node.start_mark.line + 1
                doc.error((*path, key), "appears twice; keep one (YAML keeps only the last)")
            seen.add(key)
            _walk(value_node, (*path, key), doc)
            doc.lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), doc)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    names = {str: "text", bool: "true/false", int: "a number", float: "a number"}
    for typ, name in names.items():
        if type(value) is typ:
            return f"{name} {value!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


class Fields:
    """Typed, recorded access to one mapping of a :class:`Document`.

    Every getter returns a usable default after recording a problem, so parsing
    goes on and all problems are reported together.
    """

    def __init__(self, doc: Document, path: FieldPath, data: Mapping[str, Any]) -> None:
        self.doc = doc
        self.path = path
        self.data = data

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def error(self, key: str | None, message: str) -> None:
        """Record a problem with ``key`` (or with the mapping itself)."""
        self.doc.error(self.path if key is None else (*self.path, key), message)

    def allow(self, *keys: str) -> None:
        """Report every key not in ``keys``, suggesting the closest allowed one."""
        for key in self.data:
            if str(key) not in keys:
                close = difflib.get_close_matches(str(key), keys, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                allowed = ", ".join(sorted(keys))
                self.error(str(key), f"unknown key{hint} (allowed here: {allowed})")

    def _get(self, key: str, required: bool) -> Any:
        value = self.data.get(key)
        if value is None and required:
            self.error(key, "is required" if key not in self.data else "is empty; give a value")
        return value

    def text(self, key: str, *, required: bool = False, default: str = "") -> str:
        """Read a text field (numbers are accepted and turned into text)."""
        value = self._get(key, required)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(key, f"expected text, got {_kind(value)}")
            return default
        return str(value).strip()

    def optional_text(self, key: str) -> str | None:
        """Read a text field that may be absent (``None`` then)."""
        return self.text(key) or None

    def text_list(self, key: str, *, required: bool = False) -> tuple[str, ...]:
        """Read a list of texts (a single text is accepted as a list of one)."""
        value = self._get(key, required)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value.strip(),)
        if not isinstance(value, list):
            self.error(key, f"expected a list of texts, got {_kind(value)}")
            return ()
        out = []
        for index, item in enumerate(value):
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                out.append(str(item).strip())
            else:
                self.doc.error((*self.path, key, index), f"expected text, got {_kind(item)}")
        return tuple(out)

    def number(
        self,
        key: str,
        *,
        default: float,
        integer: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        """Read a number within ``[minimum, maximum]``."""
        value = self._get(key, False)
        if value is None:
            return default
        ok = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok:
            want = "a whole number" if integer else "a number"
            self.error(key, f"expected {want}, got {_kind(value)}")
            return default
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.error(key, f"{value} is out of range [{minimum}, {maximum}]")
            return default
        return float(value)

    def integer(self, key: str, *, default: int | None = None, minimum: int = 0) -> int | None:
        """Read a whole number >= ``minimum``, or ``default`` when absent."""
        if self.data.get(key) is None:
            return default
        return int(self.number(key, default=default or 0, integer=True, minimum=minimum))

    def flag(self, key: str, *, default: bool = False) -> bool:
        """Read a true/false field."""
        value = self._get(key, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(key, f"expected true or false, got {_kind(value)}")
            return default
        return value

    def choice(self, key: str, parse: Callable[[str], _E], *, required: bool = False) -> _E | None:
        """Read a value converted by ``parse`` (an enum's ``parse``); its error is recorded."""
        value = self._get(key, required)
        if value is None:
            return None
        try:
            return parse(str(value))
        except ValueError as exc:
            self.error(key, str(exc))
            return None

    def mappings(self, key: str, *, required: bool = False) -> Iterator[Fields]:
        """Each mapping of a list of mappings."""
        value = self._get(key, required)
        if value is None:
            return
        if not isinstance(value, list):
            self.error(key, f"expected a list, got {_kind(value)}")
            return
        for index, item in enumerate(value):
            path = (*self.path, key, index)
            if isinstance(item, Mapping):
                yield Fields(self.doc, path, item)
            else:
                self.doc.error(path, f"expected a mapping of keys to values, got {_kind(item)}")
