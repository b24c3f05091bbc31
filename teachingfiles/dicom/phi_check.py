"""PHI check: search de-identified files for every identifying value of the originals.

:func:`verify` reads the originals and gathers what identifies someone in them (the
values of every attribute the PS3.15 Annex E profile does not keep, at any depth:
names and their parts, IDs, addresses, institution, UIDs, dates), then searches every
element of every output file (sequences and private data included) and the file's
raw bytes outside the pixel data (preamble, undecodable private blocks, anything
after the pixel data). Any hit is reported with the file, where it was found and
which original attribute it came from.

Output files are paired with their original by a hash of the pixel data (which a
de-identifier passes through), so dates are checked against the file's own
original: a shifted date may by chance equal another patient's real date. Texts
and UIDs are checked against all originals. Files whose pixels changed (blanked
regions) are checked against every original's dates.

Pixel data is not searched for text: images that may carry burned-in text are
held back by :func:`teachingfiles.dicom.deid.burned_in_reason` instead.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from teachingfiles.dicom._deid_table import Action, annex_e
from teachingfiles.dicom._deid_write import element_of
from teachingfiles.dicom.deid import DeidOptions, iter_files

__all__ = ["Identifiers", "PhiHit", "PhiReport", "dciodvfy_errors", "verify"]

_TEXT_VRS = frozenset({"PN", "LO", "SH", "LT", "ST", "UT", "UC", "AE", "UR"})
_UID_RUN = re.compile(rb"[0-9][0-9.]{8,63}")
_DATE_RUN = re.compile(rb"(?<![0-9])(?:1[89]|20)[0-9]{6}")
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
_MIN_TEXT = 4


@dataclass(frozen=True)
class PhiHit:
    """One identifying value found in an output file.

    ``where`` is the element path (``"AnatomicRegionSequence[0].(0029,1011)"``) or
    ``"raw bytes at <offset>"``; ``source`` is the original attribute it came from.
    """

    file: str
    where: str
    value: str
    source: str


@dataclass
class Identifiers:
    """Identifying values of one or more original files: value -> attribute it came from."""

    texts: dict[str, str] = field(default_factory=dict)
    uids: dict[str, str] = field(default_factory=dict)
    dates: dict[str, str] = field(default_factory=dict)

    def update(self, other: Identifiers) -> None:
        """Add another file's identifiers."""
        self.texts.update(other.texts)
        self.uids.update(other.uids)
        self.dates.update(other.dates)

    @classmethod
    def from_dataset(cls, ds: Dataset, options: DeidOptions | None = None) -> Identifiers:
        """Gather what the profile would not keep, at any depth (private data skipped)."""
        opts = options or DeidOptions()
        actions = annex_e().actions(opts.columns())
        out = cls()
        for path, t, vr, value in _elements(ds):
            action = actions.get(t)
            if t >> 16 & 1 or action is None or action is Action.KEEP or not value:
                continue
            name = pydicom.datadict.keyword_for_tag(t) or f"({t >> 16:04X},{t & 0xFFFF:04X})"
            where = f"{name} at {path}" if path else name
            if vr == "UI":
                out.uids.update(dict.fromkeys(_split(value), where))
            elif vr in ("DA", "DT"):
                out.dates.update({v[:8]: where for v in _split(value) if len(v) >= 8})
            elif vr in _TEXT_VRS and action is not Action.CLEAN:
                for v in _split(value):
                    out._add_text(v, where, vr)
        return out

    def _add_text(self, value: str, where: str, vr: str) -> None:
        text = value.strip().upper()
        if len(text) >= _MIN_TEXT and not text.replace(".", "").isdigit():
            self.texts[text] = where
        if vr == "PN":
            for part in re.split(r"[\^= ]+", text):
                if len(part) >= _MIN_TEXT:
                    self.texts[part] = where

    def pattern(self) -> re.Pattern[bytes] | None:
        """One pattern matching any identifying text, in latin-1 bytes, case-blind."""
        words = sorted(self.texts, key=len, reverse=True)
        if not words:
            return None
        return re.compile(b"|".join(re.escape(w.encode("latin-1", "replace")) for w in words),
                          re.IGNORECASE)  # fmt: skip


@dataclass
class PhiReport:
    """What :func:`verify` found."""

    files: int
    originals: int
    hits: list[PhiHit]
    unpaired: int = 0
    unreadable: list[str] = field(default_factory=list)
    dciodvfy: dict[str, list[str]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """Whether no identifying value and no validation error was found."""
        return not self.hits and not any(self.dciodvfy.values()) and not self.unreadable

    def summary(self) -> dict[str, Any]:
        """JSON-ready: counts, the hits (which name the values found) and errors."""
        return {
            "files": self.files,
            "originals": self.originals,
            "phi_hits": len(self.hits),
            "files_with_hits": len({h.file for h in self.hits}),
            "unpaired": self.unpaired,
            "unreadable": self.unreadable,
            "hits": [h.__dict__ for h in self.hits],
            "dciodvfy_checked": len(self.dciodvfy),
            "dciodvfy_errors": sum(len(v) for v in self.dciodvfy.values()),
            "dciodvfy": {k: v for k, v in self.dciodvfy.items() if v},
        }


def _split(value: str) -> list[str]:
    return [v.strip("\0 ") for v in value.split("\\") if v.strip("\0 ")]


def _vr(t: int, elem: Any) -> str:
    if elem.VR:
        return str(elem.VR)
    try:
        return dictionary_VR(t).split(" ")[0]
    except KeyError:
        return "UN"


def _elements(ds: Dataset, path: str = "") -> Iterator[tuple[str, int, str, str]]:
    """Every element as (path, tag, VR, text); sequences walked, nothing decoded twice."""
    for tag in list(ds.keys()):
        t = int(tag)
        elem = element_of(ds, t)
        if elem is None:
            continue
        vr = _vr(t, elem)
        if vr == "SQ":
            try:
                items = ds[tag].value or []
            except Exception:  # a broken private sequence: left to the raw search
                continue
            name = pydicom.datadict.keyword_for_tag(t) or f"({t >> 16:04X},{t & 0xFFFF:04X})"
            for i, item in enumerate(items):
                yield from _elements(item, f"{path}{name}[{i}].")
            continue
        if t in _PIXEL_TAGS:
            continue
        if isinstance(elem, RawDataElement):
            raw = elem.value or b""
            if len(raw) > 65536:
                continue
            text = raw.decode("latin-1")
        else:
            value = elem.value
            text = "\\".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        yield path, t, vr, text


def _pixel_key(ds: Dataset) -> str | None:
    elem = element_of(ds, 0x7FE00010)
    if elem is None:
        return None
    value = elem.value if isinstance(elem, RawDataElement) else ds.PixelData
    return hashlib.blake2b(value or b"", digest_size=16).hexdigest()


def _read(path: Path) -> tuple[bytes, Dataset]:
    data = path.read_bytes()
    return data, pydicom.dcmread(io.BytesIO(data), force=True)


def _check(
    path: Path, data: bytes, ds: Dataset, every: Identifiers, own: Identifiers | None,
    pattern: re.Pattern[bytes] | None,
) -> list[PhiHit]:  # fmt: skip
    hits: list[PhiHit] = []
    dates = own.dates if own is not None else every.dates
    seen: set[str] = set()
    for where, t, vr, text in _elements(ds):
        label = (
            f"{where}{pydicom.datadict.keyword_for_tag(t) or f'({t >> 16:04X},{t & 0xFFFF:04X})'}"
        )
        found: list[tuple[str, str]] = []
        if vr == "UI":
            found += [(v, every.uids[v]) for v in _split(text) if v in every.uids]
        elif vr in ("DA", "DT"):
            found += [(v[:8], dates[v[:8]]) for v in _split(text) if v[:8] in dates]
        if pattern is not None and vr not in ("UI", "DA", "DT", "TM"):
            for m in pattern.finditer(text.encode("latin-1", "replace")):
                value = m.group().decode("latin-1").upper()
                found.append((value, every.texts.get(value, "text")))
        for value, source in found:
            seen.add(value)
            hits.append(PhiHit(str(path), label, value, source))
    hits += _raw_hits(path, data, ds, every, dates, pattern, seen)
    return hits


def _raw_hits(
    path: Path, data: bytes, ds: Dataset, every: Identifiers, dates: dict[str, str],
    pattern: re.Pattern[bytes] | None, seen: set[str],
) -> list[PhiHit]:  # fmt: skip
    pixel = element_of(ds, 0x7FE00010)
    if isinstance(pixel, RawDataElement) and pixel.value:
        start = pixel.value_tell
        spans = [(0, start), (start + len(pixel.value), len(data))]
    else:
        spans = [(0, len(data))]
    hits = []
    for lo, hi in spans:
        chunk = data[lo:hi]
        found: list[tuple[int, str, str]] = []
        for m in _UID_RUN.finditer(chunk):
            v = m.group().decode().rstrip(".")
            if v in every.uids:
                found.append((m.start(), v, every.uids[v]))
        for m in _DATE_RUN.finditer(chunk):
            v = m.group().decode()
            if v in dates:
                found.append((m.start(), v, dates[v]))
        if pattern is not None:
            for m in pattern.finditer(chunk):
                v = m.group().decode("latin-1").upper()
                found.append((m.start(), v, every.texts.get(v, "text")))
        hits += [
            PhiHit(str(path), f"raw bytes at {lo + off}", v, src)
            for off, v, src in found
            if v not in seen
        ]
    return hits


def dciodvfy_errors(path: str | PathLike[str]) -> list[str]:
    """Return the ``Error`` lines ``dciodvfy`` prints for a file ([] when it is not installed)."""
    exe = shutil.which("dciodvfy")
    if exe is None:
        return []
    run = subprocess.run([exe, str(path)], capture_output=True, text=True, check=False)
    text = run.stdout + run.stderr
    return [line.strip() for line in text.splitlines() if line.startswith("Error")]


def verify(
    originals: Iterable[str | PathLike[str]],
    outputs: Iterable[str | PathLike[str]],
    *,
    options: DeidOptions | None = None,
    validate: int = 0,
) -> PhiReport:
    """Search every output file for the originals' identifying values.

    Parameters
    ----------
    originals, outputs
        Files and folders: the data before and after de-identification.
    options
        The options the output was made with (values they keep are not counted).
    validate
        Also run ``dciodvfy`` on this many output files (``-1``: all).
    """
    every = Identifiers()
    by_pixels: dict[str, Identifiers] = {}
    count = 0
    for path in iter_files(originals):
        try:
            ds = pydicom.dcmread(path)
        except Exception:  # not DICOM: nothing to learn from it
            continue
        count += 1
        ids = Identifiers.from_dataset(ds, options)
        every.update(ids)
        key = _pixel_key(ds)
        if key is not None:
            by_pixels[key] = ids
    pattern = every.pattern()
    report = PhiReport(files=0, originals=count, hits=[])
    for path in iter_files(outputs):
        try:
            data, out = _read(path)
        except Exception:
            report.unreadable.append(str(path))
            continue
        report.files += 1
        key = _pixel_key(out)
        own = by_pixels.get(key) if key is not None else None
        report.unpaired += own is None
        report.hits += _check(path, data, out, every, own, pattern)
        if validate < 0 or len(report.dciodvfy) < validate:
            report.dciodvfy[str(path)] = dciodvfy_errors(path)
    return report
