"""The engine of :mod:`teachingfiles.dicom.deid`: options, the profile walk, one file.

Private: import from :mod:`teachingfiles.dicom.deid`, which documents the behaviour.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import pydicom
from pydicom.charset import convert_encodings, encode_string
from pydicom.datadict import DicomDictionary  # type: ignore[attr-defined]  # not re-exported
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag
from pydicom.uid import DeflatedExplicitVRLittleEndian

from teachingfiles.dicom._deid_table import Action, annex_e
from teachingfiles.dicom._deid_values import (
    DUMMIES,
    Keys,
    clean_text,
    identifier_pattern,
    shift_date,
    shift_datetime,
)
from teachingfiles.dicom._deid_write import Tail, element_of, encode_items, write_deidentified
from teachingfiles.errors import UsageError

__all__ = [
    "ANNEX_E_EDITION",
    "SAFE_PRIVATE",
    "DeidOptions",
    "Deidentifier",
    "FileOutcome",
    "burned_in_reason",
]

#: The edition of PS3.15 whose Table E.1-1 the shipped data follows.
ANNEX_E_EDITION: str = annex_e().edition

#: Private attributes kept under Retain Safe Private: (group, creator, element byte)
#: -> meaning. A short list from PS3.15 Table E.3.10-1 (diffusion and PET scaling
#: values that carry no identity and that teaching with MR/PET needs).
SAFE_PRIVATE: dict[tuple[int, str, int], str] = {
    (0x0019, "SIEMENS MR HEADER", 0x0C): "B_value",
    (0x0019, "SIEMENS MR HEADER", 0x0D): "DiffusionDirectionality",
    (0x0019, "SIEMENS MR HEADER", 0x0E): "DiffusionGradientDirection",
    (0x0019, "SIEMENS MR HEADER", 0x27): "B_matrix",
    (0x0043, "GEMS_PARM_01", 0x39): "Slop_int_6...slop_int_9 (b-value)",
    (0x2001, "Philips Imaging DD 001", 0x03): "Diffusion B-Factor",
    (0x2001, "Philips Imaging DD 001", 0x04): "Diffusion Direction",
    (0x7053, "Philips PET Private Group", 0x00): "SUV Factor",
    (0x7053, "Philips PET Private Group", 0x09): "Activity Concentration Scale Factor",
}

_SQ_TAGS = frozenset(tag for tag, entry in DicomDictionary.items() if entry[0] == "SQ")
_TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC", "PN"})
_PATIENT_ID = 0x00100020
_ACQUISITION_CONTEXT = 0x00400555
#: File meta attributes that name machines or carry anything private: removed.
_META_REMOVED = (0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102)
_IDENTIFYING = (
    "PatientName", "PatientID", "OtherPatientIDs", "OtherPatientNames", "PatientBirthDate",
    "PatientBirthName", "PatientMotherBirthName", "PatientAddress", "PatientTelephoneNumbers",
    "MedicalRecordLocator", "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
    "ReferringPhysicianName", "PerformingPhysicianName", "NameOfPhysiciansReadingStudy",
    "OperatorsName", "RequestingPhysician", "AccessionNumber", "StudyID", "StationName",
    "DeviceSerialNumber", "IssuerOfPatientID",
)  # fmt: skip
_BURNED_MODALITIES = frozenset({"US", "SC", "XC", "DOC", "OT", "ES", "GM"})
_BURNED_SOP_PREFIXES = (
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture family (single and multi-frame)
    "1.2.840.10008.5.1.4.1.1.104",  # encapsulated PDF, CDA, STL ...
    "1.2.840.10008.5.1.4.1.1.6.",  # ultrasound
    "1.2.840.10008.5.1.4.1.1.3.1",  # ultrasound multi-frame
    "1.2.840.10008.5.1.4.1.1.77.1",  # visible light (photographs, video, endoscopy)
)
_DICOMDIR = "1.2.840.10008.1.3.10"

#: CID 7050 "De-identification Method": option -> (code value, meaning).
_CODES: dict[str, tuple[str, str]] = {
    "basic": ("113100", "Basic Application Confidentiality Profile"),
    "clean_pixels": ("113101", "Clean Pixel Data Option"),
    "retain_safe_private": ("113111", "Retain Safe Private Option"),
    "retain_uids": ("113110", "Retain UIDs Option"),
    "retain_device_identity": ("113109", "Retain Device Identity Option"),
    "retain_institution_identity": ("113112", "Retain Institution Identity Option"),
    "retain_patient_characteristics": ("113108", "Retain Patient Characteristics Option"),
    "retain_full_dates": ("113106", "Retain Longitudinal Temporal Information Full Dates Option"),
    "retain_modified_dates": (
        "113107",
        "Retain Longitudinal Temporal Information Modified Dates Option",
    ),
    "clean_descriptors": ("113105", "Clean Descriptors Option"),
}


@dataclass(frozen=True)
class DeidOptions:
    """The PS3.15 options applied on top of the Basic Profile (all off by default).

    Parameters
    ----------
    retain_modified_dates
        Shift every date of a patient by the patient's one offset (intervals kept).
    retain_full_dates
        Keep dates as they are (only for data that may carry real dates).
    retain_patient_characteristics
        Keep age, sex, size, weight, ethnic group, smoking and pregnancy status.
    clean_descriptors
        Keep descriptions and comments, cleaned of the file's identifying values.
    retain_device_identity, retain_institution_identity
        Keep station, serial numbers; institution name and address.
    retain_uids
        Keep the original UIDs (then nothing needs a secret for UIDs).
    retain_safe_private
        Keep the private attributes listed in :data:`SAFE_PRIVATE`.
    """

    retain_modified_dates: bool = False
    retain_full_dates: bool = False
    retain_patient_characteristics: bool = False
    clean_descriptors: bool = False
    retain_device_identity: bool = False
    retain_institution_identity: bool = False
    retain_uids: bool = False
    retain_safe_private: bool = False

    def __post_init__(self) -> None:
        if self.retain_modified_dates and self.retain_full_dates:
            raise UsageError("choose retain_modified_dates or retain_full_dates, not both")

    @classmethod
    def educator(cls) -> DeidOptions:
        """Return the teaching preset: shifted dates, patient characteristics, clean descriptors."""
        return cls(
            retain_modified_dates=True,
            retain_patient_characteristics=True,
            clean_descriptors=True,
        )

    def enabled(self) -> list[str]:
        """Return the names of the options that are on."""
        return [name for name, on in asdict(self).items() if on]

    def columns(self) -> frozenset[str]:
        """Return the Annex E table columns these options select."""
        names = {
            "retain_modified_dates": "rtn_long_modif_dates",
            "retain_full_dates": "rtn_long_full_dates",
            "retain_patient_characteristics": "rtn_pat_chars",
            "clean_descriptors": "clean_desc",
            "retain_device_identity": "rtn_dev_id",
            "retain_institution_identity": "rtn_inst_id",
            "retain_uids": "rtn_uids",
            "retain_safe_private": "rtn_safe_priv",
        }
        return frozenset(names[n] for n in self.enabled())


@dataclass
class FileOutcome:
    """What happened to one input file.

    ``status`` is ``"written"``, ``"held"`` (burned-in text suspected: blank regions
    or confirm), ``"skipped"`` (not DICOM, or a DICOMDIR) or ``"failed"``.
    ``uids`` and ``patient`` are the audit's: they never go into the output.
    """

    source: str
    status: str
    output: str | None = None
    reason: str = ""
    patient: dict[str, Any] = field(default_factory=dict)
    uids: dict[str, str] = field(default_factory=dict)


def burned_in_reason(ds: Dataset) -> str | None:
    """Why this image may carry burned-in text, or ``None`` when nothing suggests it."""
    if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
        return "Burned In Annotation is YES"
    modality = str(ds.get("Modality", "")).upper()
    if modality in _BURNED_MODALITIES:
        return f"modality {modality} often carries burned-in text"
    sop = str(ds.get("SOPClassUID", ""))
    if sop.startswith(_BURNED_SOP_PREFIXES):
        name = getattr(pydicom.uid.UID(sop), "name", sop)
        return f"SOP class {name} (secondary capture, document or photograph)"
    return None


class Deidentifier:
    """Applies the profile to datasets and files; one per process.

    Parameters
    ----------
    secret
        The project secret for the keyed hash (see :func:`load_secret`).
    options
        The PS3.15 options.
    """

    def __init__(self, secret: bytes, options: DeidOptions | None = None) -> None:
        self.options = options or DeidOptions()
        self.keys = Keys(secret)
        table = annex_e()
        cols = self.options.columns()
        self._actions = table.actions(cols)
        self._repeating = table.repeating(cols)
        self._vrs = {r.value: r.vr.split(" ")[0] for r in table.rows if "x" not in r.tag}
        self._x_or_z = frozenset(r.value for r in table.rows if r.basic == "X/Z")
        self._method = self._method_values(table.edition)
        self._codes = {imp: encode_items(self._method_codes(), imp) for imp in (False, True)}

    # ------------------------------------------------------------------ dataset
    def deidentify_dataset(self, ds: Dataset, outcome: FileOutcome | None = None) -> FileOutcome:
        """De-identify ``ds`` in place (file meta included); return the audit record."""
        out = outcome or FileOutcome(source="", status="written")
        original_id = str(ds.get("PatientID", "") or "").strip()
        key = original_id or str(ds.get("PatientName", "") or "") or str(ds.get("StudyInstanceUID"))
        implicit, _ = ds.original_encoding
        ctx = _Context(
            pseudonym=self.keys.pseudonym(key),
            shift=self.keys.shift_days(key),
            identifiers=_identifiers(ds) if self.options.clean_descriptors else [],
            uids=out.uids,
            encodings=convert_encodings(ds.get("SpecificCharacterSet") or "ISO_IR 6"),
            implicit=bool(implicit),
        )
        self._walk(ds, ctx)
        meta = getattr(ds, "file_meta", None)
        if meta is not None:
            for tag in _META_REMOVED:
                if tag in meta:
                    del meta[tag]
            self._walk(meta, ctx)
            if "SOPInstanceUID" in ds:
                meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        # the record of what was done, set as raw elements (the writer copies them)
        _put(ds, 0x00100020, "LO", [ctx.pseudonym], ctx)
        _put(ds, 0x00100010, "PN", ["ANON^" + ctx.pseudonym[5:]], ctx)
        _put(ds, 0x00120062, "CS", ["YES"], ctx)
        _put(ds, 0x00120063, "LO", self._method, ctx)
        codes = self._codes[ctx.implicit]
        ds[0x00120064] = RawDataElement(
            BaseTag(0x00120064), "SQ", len(codes), codes, 0, ctx.implicit, True
        )
        if self.options.retain_modified_dates:
            temporal = "MODIFIED"
        elif self.options.retain_full_dates:
            temporal = "UNMODIFIED"
        else:
            temporal = "REMOVED"
        _put(ds, 0x00280303, "CS", [temporal], ctx)
        out.patient = {"original_id": original_id, "pseudonym": ctx.pseudonym}
        if self.options.retain_modified_dates:
            out.patient["date_shift_days"] = ctx.shift
        return out

    def _walk(self, ds: Dataset, ctx: _Context) -> None:
        for tag in list(ds.keys()):
            t = int(tag)
            group = t >> 16
            if group & 1:
                if not self._safe_private(ds, t):
                    del ds[tag]
                continue
            if t & 0xFFFF == 0 and group != 2:  # group lengths: retired, and now wrong
                del ds[tag]
                continue
            action = self._actions.get(t)
            if action is None and 0x5000 <= group <= 0x60FF:
                action = next((a for m, v, a in self._repeating if t & m == v), None)
            if action is None or action is Action.KEEP:
                if t in _SQ_TAGS or (t not in DicomDictionary and ds.get_item(tag).VR == "SQ"):
                    for item in ds[tag].value or ():
                        self._walk(item, ctx)
                continue
            self._apply(ds, t, action, ctx)

    def _apply(self, ds: Dataset, t: int, action: Action, ctx: _Context) -> None:
        if action is Action.REMOVE:
            del ds[t]
            return
        vr = self._vrs.get(t) or ds[t].VR
        if vr == "SQ":
            if action is Action.ZERO and t in self._x_or_z and t != _ACQUISITION_CONTEXT:
                # X/Z sequences are Type 3 where they occur (Referenced Study Sequence ...):
                # an empty one would be invalid, so they are removed
                del ds[t]
            elif action is Action.ZERO:
                ds[t] = DataElement(t, "SQ", DicomSequence())
            else:  # D, U, C on a sequence: walk its items with the same profile
                for item in ds[t].value or ():
                    self._walk(item, ctx)
            return
        if action is Action.UID:
            if vr == "UI":
                _put(ds, t, vr, [self._uid(v, ctx) for v in _strings(ds, t)], ctx)
            else:
                _put(ds, t, vr, [], ctx)
        elif action is Action.ZERO:
            _put(ds, t, vr, [], ctx)
        elif action is Action.DUMMY:
            value = ctx.pseudonym if t == _PATIENT_ID else DUMMIES.get(vr)
            if value is None and vr in ("US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"):
                ds[t] = DataElement(t, vr, 0)
            else:
                _put(ds, t, vr, [] if value is None else [value], ctx)
        else:  # Action.CLEAN
            self._clean(ds, t, vr, ctx)

    def _clean(self, ds: Dataset, t: int, vr: str, ctx: _Context) -> None:
        if vr == "DA":
            _put(ds, t, vr, [shift_date(v, ctx.shift) for v in _strings(ds, t)], ctx)
        elif vr == "DT":
            _put(ds, t, vr, [shift_datetime(v, ctx.shift) for v in _strings(ds, t)], ctx)
        elif vr in _TEXT_VRS:
            value = ds[t].value  # decoded with the file's character set
            if value in (None, ""):
                return
            values = value if isinstance(value, MultiValue | list) else [value]
            _put(ds, t, vr, [ctx.clean(str(v)) for v in values], ctx)
        # TM and the rest: whole-day shifts keep times; other values have nothing to clean

    def _uid(self, old: str, ctx: _Context) -> str:
        new = self.keys.uid(old)
        ctx.uids[old.strip("\0 ")] = new
        return new

    def _safe_private(self, ds: Dataset, t: int) -> bool:
        if not self.options.retain_safe_private:
            return False
        group, elem = t >> 16, t & 0xFFFF
        if 0x10 <= elem <= 0xFF:  # a private creator: kept if it owns a safe element
            creator = str(ds[t].value).strip()
            return any(g == group and c == creator for g, c, _ in SAFE_PRIVATE)
        if elem < 0x1000:
            return False
        creator_tag = (group << 16) | (elem >> 8)
        if creator_tag not in ds:
            return False
        creator = str(ds[creator_tag].value).strip()
        return (group, creator, elem & 0xFF) in SAFE_PRIVATE

    def _method_values(self, edition: str) -> list[str]:
        from teachingfiles import __version__

        values = [f"teachingfiles {__version__}", f"DICOM PS3.15 {edition} Annex E Basic Profile"]
        values += [_CODES[name][1][:64] for name in self.options.enabled()]
        return values

    def _method_codes(self) -> DicomSequence:
        items = []
        for name in ["basic", *self.options.enabled()]:
            code, meaning = _CODES[name]
            item = Dataset()
            item.CodeValue = code
            item.CodingSchemeDesignator = "DCM"
            item.CodeMeaning = meaning
            items.append(item)
        return DicomSequence(items)

    # ------------------------------------------------------------------ files
    def deidentify_file(
        self,
        source: str | PathLike[str],
        out_dir: str | PathLike[str],
        *,
        confirm_burned_in: bool = False,
        blank: Sequence[tuple[int, int, int, int]] = (),
    ) -> FileOutcome:
        """De-identify one file into ``out_dir`` (named by its new UIDs).

        Returns the outcome; a file that is not DICOM is ``skipped``, one likely to
        carry burned-in text is ``held`` unless ``blank`` regions (x, y, width,
        height in pixels, applied to every frame) are given or ``confirm_burned_in``.
        """
        outcome = FileOutcome(source=str(source), status="written")
        try:
            ds, tail = _read_header(Path(source))
        except Exception as exc:  # anything pydicom cannot read is reported, not raised
            outcome.status, outcome.reason = "skipped", f"not DICOM ({exc})"
            return outcome
        meta = getattr(ds, "file_meta", None)
        if meta is not None and str(meta.get("MediaStorageSOPClassUID", "")) == _DICOMDIR:
            outcome.status, outcome.reason = "skipped", "a DICOMDIR (rebuild it, never copy it)"
            return outcome
        reason = burned_in_reason(ds)
        if reason and not (confirm_burned_in or blank):
            outcome.status = "held"
            outcome.reason = f"{reason}: blank the text regions or confirm the image is clean"
            return outcome
        try:
            if reason and blank:
                ds, tail = pydicom.dcmread(source), None
                _blank(ds, blank)
            self.deidentify_dataset(ds, outcome)
            target = _output_path(Path(out_dir), ds)
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_suffix(".part")
            write_deidentified(ds, part, tail)  # zeroes the preamble: it can carry anything
            part.replace(target)
        except Exception as exc:  # one bad file never stops a run: it is reported
            outcome.status, outcome.reason = "failed", f"{type(exc).__name__}: {exc}"
            return outcome
        outcome.output = str(target.relative_to(out_dir))
        return outcome


@dataclass
class _Context:
    pseudonym: str
    shift: int
    identifiers: list[str]
    uids: dict[str, str]
    encodings: list[str]
    implicit: bool
    _pattern: re.Pattern[str] | None = None

    def clean(self, text: str) -> str:
        if self._pattern is None and self.identifiers:
            self._pattern = identifier_pattern(self.identifiers)
        return clean_text(text, self._pattern)


def _strings(ds: Dataset, t: int) -> list[str]:
    """Return the values of an ASCII element (UI, DA, DT), read from its raw bytes when raw."""
    elem = element_of(ds, t)
    if isinstance(elem, RawDataElement):
        text = (elem.value or b"").decode("ascii", "replace").strip("\0 ")
        return [v.strip("\0 ") for v in text.split("\\")] if text else []
    value = ds[t].value
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, MultiValue | list) else [str(value)]


def _put(ds: Dataset, t: int, vr: str, values: list[str], ctx: _Context) -> None:
    """Set an element as raw bytes (cheaper than a DataElement; the writer copies them)."""
    text = "\\".join(values)
    raw = text.encode("ascii") if text.isascii() else encode_string(text, ctx.encodings)
    if len(raw) % 2:
        raw += b"\0" if vr == "UI" else b" "
    ds[t] = RawDataElement(BaseTag(t), vr, len(raw), raw, 0, ctx.implicit, True)


def _identifiers(ds: Dataset) -> list[str]:
    found: set[str] = set()
    for keyword in _IDENTIFYING:
        value = ds.get(keyword)
        values = value if isinstance(value, MultiValue | list) else [value]
        for v in values:
            text = str(v or "").strip()
            if text:
                found.add(text)
                found.update(p for p in text.replace("^", " ").split() if len(p) >= 3)
    return sorted(found)


def _read_header(path: Path) -> tuple[Dataset, Tail | None]:
    """Read all but the pixel data; say where the pixel data lies if it ends the file.

    The pixel data element is then copied byte for byte by the writer, never read
    into Python. When anything follows it (trailing padding, signatures) or the
    encoding is unusual, the whole file is read and walked instead.
    """
    with path.open("rb") as fh:
        ds = pydicom.dcmread(fh, stop_before_pixels=True)
        if ds.file_meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
            # pydicom inflates the whole stream: the file position says nothing about
            # where the pixel data lies, so read the whole file.
            return pydicom.dcmread(path), None
        start = fh.tell()
        size = os.fstat(fh.fileno()).st_size
        if start >= size:
            return ds, None
        head = fh.read(12)
        fh.seek(size - 8)
        last = fh.read(8)
    implicit, little = ds.original_encoding
    if not little or head[:4] != b"\xe0\x7f\x10\x00" or implicit is None:
        return pydicom.dcmread(path), None
    if implicit:
        length = int.from_bytes(head[4:8], "little")
        value_at = start + 8
    else:
        length = int.from_bytes(head[8:12], "little")
        value_at = start + 12
    if length == 0xFFFFFFFF:
        fits = last == b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    else:
        fits = value_at + length == size
    if not fits:
        return pydicom.dcmread(path), None
    return ds, Tail(path, start, size - start)


def _blank(ds: Dataset, regions: Sequence[tuple[int, int, int, int]]) -> None:
    arr = ds.pixel_array.copy()
    low = arr.min()
    for x, y, w, h in regions:
        if arr.ndim == 2 or (arr.ndim == 3 and int(ds.get("SamplesPerPixel", 1)) > 1):
            arr[y : y + h, x : x + w] = low
        else:
            arr[:, y : y + h, x : x + w] = low
    photometric = str(ds.PhotometricInterpretation)
    if photometric.startswith("YBR"):
        photometric = "RGB"  # pydicom decodes YBR to RGB
    ds.set_pixel_data(arr, photometric, int(ds.BitsStored))
    ds.BurnedInAnnotation = "NO"


def _output_path(out_dir: Path, ds: Dataset) -> Path:
    tags = (0x00100020, 0x0020000D, 0x0020000E, 0x00080018)  # patient, study, series, SOP
    parts = [(_strings(ds, t) or ["unknown"])[0] for t in tags]
    return out_dir.joinpath(*parts[:3], f"{parts[3]}.dcm")
