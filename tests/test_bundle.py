from __future__ import annotations

import io
import json
import shutil
import stat
import zipfile
from dataclasses import replace
from pathlib import Path

import pydicom
import pytest

from teachingfiles.cases.bundle import BundleLimits, import_bundle, write_bundle
from teachingfiles.cases.teaching_set import TeachingSet
from teachingfiles.cli import main
from teachingfiles.dicom._deid_values import Keys
from teachingfiles.dicom.phi_check import dciodvfy_errors
from teachingfiles.errors import FormatError, ManifestError, UsageError
from teachingfiles.repository import Repository
from teachingfiles.repository.mdai import read_mdai

SECRET = b"bundle-secret-0123456789abcdef"
SET_FILE = "covid19-rsna-categories.yaml"


@pytest.fixture(scope="module")
def source(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of the demo with a three-case teaching set (two CT, one radiograph)."""
    root = tmp_path_factory.mktemp("src") / "demo"
    shutil.copytree(demo_root, root)
    ts = TeachingSet.from_yaml(root / "teaching-sets" / SET_FILE)
    keep = [c for c in ts.cases if c.id.startswith("ct-")][:2]
    keep += [c for c in ts.cases if c.id.startswith("cxr-")][:1]
    ids = {c.id for c in keep}
    small = replace(
        ts,
        cases=tuple(keep),
        questions=tuple(q for q in ts.questions if getattr(q, "case", None) in ids),
    )
    manifest = small.save(root / "teaching-sets" / "small.yaml")
    return root, manifest


@pytest.fixture(scope="module")
def bundle(source: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "set.zip"
    write_bundle(source[1], out, secret=SECRET)
    return out


@pytest.mark.slow
def test_round_trip_between_two_repositories(
    source: tuple[Path, Path], bundle: Path, tmp_path: Path
) -> None:
    root, manifest = source
    original = TeachingSet.from_yaml(manifest)
    report = import_bundle(bundle, tmp_path / "other")
    assert report.path == tmp_path / "other" / "imported" / original.set_id
    imported = TeachingSet.from_yaml(report.manifest)
    keys = Keys(SECRET)
    assert [c.id for c in imported.cases] == [c.id for c in original.cases]
    assert [c.study_uid for c in imported.cases] == [keys.uid(c.study_uid) for c in original.cases]
    assert imported.questions == original.questions
    with Repository.open(root, index=False) as src, Repository.open(tmp_path / "other") as dst:
        for old, new in zip(original.cases, imported.cases, strict=True):
            study = dst.study(new.study_uid)
            assert study.patient_id == new.patient_id and study.patient_id.startswith("ANON-")
            assert study.patient_id != src.study(old.study_uid).patient_id
            before = {
                (a.label_name, a.data and json.dumps(a.data))
                for a in src.annotations(old.study_uid)
            }
            after = {
                (a.label_name, a.data and json.dumps(a.data))
                for a in dst.annotations(new.study_uid)
            }
            assert after == before
            for k in new.key_images:
                assert dst.instances(str(k.series_uid or new.series_uid))


@pytest.mark.slow
def test_bundle_contents_are_deidentified_and_valid(bundle: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        index = json.loads(zf.read("bundle.json"))
        assert set(index["files"]) == set(names) - {"bundle.json"}
        zf.extractall(tmp_path)
    assert not any(n.endswith("audit.json") for n in names)
    assert Path(str(bundle) + ".audit.json").exists()
    dicom = sorted((tmp_path / "dicom").rglob("*.dcm"))
    assert dicom
    for path in dicom[:: max(1, len(dicom) // 5)]:
        ds = pydicom.dcmread(path)
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    project = read_mdai(tmp_path / "annotations" / "mdai.json")
    sops = {Path(p).stem for p in dicom}
    drawn = [a for a in project.annotations() if a.sop_uid]
    assert drawn and all(a.sop_uid in sops for a in drawn)
    segs = sorted((tmp_path / "annotations" / "seg").glob("*.dcm"))
    assert segs
    seg = pydicom.dcmread(segs[0])
    assert seg.Modality == "SEG"
    refs = {
        item.ReferencedSOPInstanceUID
        for frame in seg.PerFrameFunctionalGroupsSequence
        for d in frame.DerivationImageSequence
        for item in d.SourceImageSequence
    }
    assert refs <= sops
    if shutil.which("dciodvfy"):
        assert dciodvfy_errors(segs[0]) == []


def test_mdai_client_reads_the_exported_annotations(bundle: Path, tmp_path: Path) -> None:
    mdai = pytest.importorskip("mdai")
    with zipfile.ZipFile(bundle) as zf:
        (tmp_path / "mdai.json").write_bytes(zf.read("annotations/mdai.json"))
    frames = mdai.common_utils.json_to_dataframe(str(tmp_path / "mdai.json"))
    assert len(frames["annotations"]) > 0
    assert {"StudyInstanceUID", "labelName", "data"} <= set(frames["annotations"].columns)


# ---------------------------------------------------------------- refused archives
def _rewrite(bundle: Path, out: Path, edit: dict[str, bytes | None], extra=()) -> Path:
    """Copy the bundle with entries replaced (bytes), dropped (None) or added (ZipInfo)."""
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename in edit:
                data = edit[info.filename]
                if data is not None:
                    dst.writestr(info.filename, data)
            else:
                dst.writestr(info, src.read(info.filename))
        for info, data in extra:
            dst.writestr(info, data)
    return out


def _index(bundle: Path) -> dict:
    with zipfile.ZipFile(bundle) as zf:
        return json.loads(zf.read("bundle.json"))


def _listed(bundle: Path, name: str, data: bytes) -> bytes:
    import hashlib

    index = _index(bundle)
    index["files"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return json.dumps(index).encode()


def _assert_refused(bundle: Path, repo: Path, match: str, **kwargs) -> None:
    with pytest.raises(FormatError, match=match):
        import_bundle(bundle, repo, **kwargs)
    assert not (repo / "imported").exists()
    leftovers = list((repo / ".teachingfiles").glob("import-*")) if repo.exists() else []
    assert leftovers == []


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("../evil.txt", r"path traversal \('\.\.'\) is refused"),
        ("dicom/../../evil.txt", r"path traversal"),
        ("/etc/evil.txt", "absolute paths are refused"),
        ("C:/evil.txt", "absolute paths are refused"),
        ("dicom\\evil.dcm", "backslash"),
        ("notes/readme.txt", "not a bundle file"),
    ],
)
def test_bad_names_are_refused(bundle: Path, tmp_path: Path, name: str, match: str) -> None:
    data = b"x"
    bad = _rewrite(bundle, tmp_path / "bad.zip", {"bundle.json": _listed(bundle, name, data)},
                   [(zipfile.ZipInfo(name), data)])  # fmt: skip
    _assert_refused(bad, tmp_path / "repo", match)


def test_links_are_refused(bundle: Path, tmp_path: Path) -> None:
    info = zipfile.ZipInfo("dicom/link.dcm")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    data = b"/etc/passwd"
    index = {"bundle.json": _listed(bundle, info.filename, data)}
    bad = _rewrite(bundle, tmp_path / "bad.zip", index, [(info, data)])
    _assert_refused(bad, tmp_path / "repo", "links are refused")


def test_unlisted_missing_and_altered_files_are_refused(bundle: Path, tmp_path: Path) -> None:
    extra = _rewrite(bundle, tmp_path / "extra.zip", {}, [(zipfile.ZipInfo("dicom/x.dcm"), b"x")])
    _assert_refused(extra, tmp_path / "r1", "entry 'dicom/x.dcm': not listed in bundle.json")
    victim = next(n for n in _index(bundle)["files"] if n.startswith("dicom/"))
    gone = _rewrite(bundle, tmp_path / "gone.zip", {victim: None})
    _assert_refused(gone, tmp_path / "r2", "listed in bundle.json but missing")
    altered = _rewrite(bundle, tmp_path / "alt.zip", {victim: b"DICM but not really"})
    _assert_refused(altered, tmp_path / "r3", "size or SHA-256 differs")


def test_too_many_too_large_and_bombs_are_refused(bundle: Path, tmp_path: Path) -> None:
    _assert_refused(bundle, tmp_path / "r1", "more than the limit of 3",
                    limits=BundleLimits(max_files=3))  # fmt: skip
    _assert_refused(bundle, tmp_path / "r2", "bytes unpacked, more than the limit",
                    limits=BundleLimits(max_bytes=1000))  # fmt: skip
    zeros = b"\0" * (4 * 2**20)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = (
                _listed(bundle, "dicom/zeros.dcm", zeros)
                if info.filename == "bundle.json"
                else src.read(info)
            )
            dst.writestr(info.filename, data)
        dst.writestr("dicom/zeros.dcm", zeros)
    _assert_refused(bomb, tmp_path / "r3", "zip bomb")


def test_not_a_bundle_and_bad_manifest_are_refused(bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    _assert_refused(tmp_path / "junk.zip", tmp_path / "r1", "not a zip archive")
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("manifest.yaml", "title: x\n")
    _assert_refused(plain, tmp_path / "r2", "no bundle.json")
    broken = b"title: [unclosed\n"
    edit = {"manifest.yaml": broken, "bundle.json": _listed(bundle, "manifest.yaml", broken)}
    bad = _rewrite(bundle, tmp_path / "m.zip", edit)
    with pytest.raises(ManifestError, match=r"manifest\.yaml"):
        import_bundle(bad, tmp_path / "r3")
    assert not (tmp_path / "r3" / "imported").exists()


def test_a_second_import_needs_replace(bundle: Path, tmp_path: Path) -> None:
    first = import_bundle(bundle, tmp_path / "repo")
    with pytest.raises(UsageError, match="was imported before; pass replace=True"):
        import_bundle(bundle, tmp_path / "repo")
    again = import_bundle(bundle, tmp_path / "repo", replace=True)
    assert again.path == first.path and again.files == first.files


@pytest.mark.slow
def test_cli_bundle_and_import(source: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    secret = tmp_path / "secret"
    secret.write_text("0123456789abcdef0123456789abcdef\n")
    out = tmp_path / "set.zip"
    assert main(["bundle", str(source[1]), str(out), "--secret-file", str(secret), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["studies"] == 3 and written["segmentations"] >= 1
    assert main(["import", str(out), str(tmp_path / "repo"), "--json"]) == 0
    imported = json.loads(capsys.readouterr().out)
    assert imported["studies_in_repository"] == 3
    bad = tmp_path / "bad.zip"
    bad.write_bytes(io.BytesIO(b"PK\x03\x04 broken").getvalue())
    assert main(["import", str(bad), str(tmp_path / "repo2")]) == 1
    assert "nothing was imported" in capsys.readouterr().err
