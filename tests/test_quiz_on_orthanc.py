"""Issue 7 item 3: the same teaching set runs against Orthanc as against the folder.

The demo collection is loaded into a throwaway Orthanc, pulled back with
``pull_dicomweb`` into a new folder (the MD.ai exports and clinical sheets copied
beside it, as a TCIA user would), opened with ``Repository.open``; the demo
teaching set must resolve the same answer keys there, score the same answers the
same way, and show its cases in a ``CaseView``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from orthanc import Orthanc, orthanc_server

from teachingfiles.cases import TeachingSet
from teachingfiles.quiz import resolve
from teachingfiles.quiz.questions import QuestionKind, ResolvedQuestion
from teachingfiles.repository import Repository
from teachingfiles.repository.pull import pull_dicomweb
from teachingfiles.vocabulary import Appearance

pytestmark = [pytest.mark.server, pytest.mark.slow]

SET = "teaching-sets/covid19-rsna-categories.yaml"


@pytest.fixture(scope="module")
def pulled(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    dest = tmp_path_factory.mktemp("orthanc-pull") / "pulled"
    with orthanc_server() as server:
        _load(server, demo_root)
        report = pull_dicomweb(server.dicomweb, dest, progress=False)
    assert report.failed == ()
    for side in ("annotations", "clinical"):  # they travel beside the images
        shutil.copytree(demo_root / side, dest / side)
    yield dest


def _load(server: Orthanc, demo_root: Path) -> None:
    files = sorted(demo_root.glob("manifest-*/**/*.dcm"))
    assert server.upload(files) == len(files)


def _answers(q: ResolvedQuestion) -> list[Any]:
    """A right and a wrong answer of the question's kind, built from its key."""
    key = q.key
    if q.kind is QuestionKind.CATEGORY:
        assert key.appearance is not None
        wrong = next(a for a in Appearance if a is not key.appearance)
        return [key.appearance.value, wrong.value]
    if q.kind is QuestionKind.SEVERITY:
        assert key.severity is not None
        return [key.severity.value]
    if q.kind in (QuestionKind.CLICK, QuestionKind.BOX):
        region = key.regions[0]
        x, y, w, h = region.bounds
        if q.kind is QuestionKind.BOX:
            return [
                {"x": x, "y": y, "width": w, "height": h, "slice": region.slice},
                {"x": x + 3 * w, "y": y, "width": w, "height": h, "slice": region.slice},
            ]
        xs = [p[0] for p in region.vertices]
        ys = [p[1] for p in region.vertices]
        inside = {"x": sum(xs) / len(xs), "y": sum(ys) / len(ys), "slice": region.slice}
        return [inside, {"x": x - 5, "y": y - 5, "slice": region.slice}]
    return []  # choice and free-text questions do not depend on the images


def test_teaching_set_resolves_and_scores_the_same_on_orthanc_as_on_the_folder(
    demo_root: Path, pulled: Path
) -> None:
    ts = TeachingSet.from_yaml(demo_root / SET)
    with Repository.open(demo_root) as folder, Repository.open(pulled) as remote:
        on_folder, on_orthanc = resolve(ts, folder), resolve(ts, remote)
    # The two real pydicom-data studies carry no collection tag, so the pull names
    # their collection after the source; the study UIDs still resolve them.
    assert not on_orthanc.problems
    assert [q.id for q in on_orthanc.questions] == [q.id for q in on_folder.questions]
    scored: dict[QuestionKind, list[float]] = {}
    for mine, theirs in zip(on_orthanc.questions, on_folder.questions, strict=True):
        assert mine.key == theirs.key, mine.id
        for answer in _answers(theirs):
            got, want = mine.score(answer), theirs.score(answer)
            assert (got.score, got.message) == (want.score, want.message), (mine.id, answer)
            scored.setdefault(mine.kind, []).append(got.score)
    # the answers built above are right first, so each kind scored full credit somewhere
    for kind in (QuestionKind.CATEGORY, QuestionKind.CLICK, QuestionKind.BOX):
        assert kind in scored, f"the demo set has no {kind.value} question"
        assert max(scored[kind]) == 1.0, kind
        assert min(scored[kind]) < 1.0, kind


def test_case_view_opens_a_case_from_the_pulled_repository(demo_root: Path, pulled: Path) -> None:
    from teachingfiles.widgets import CaseView

    ts = TeachingSet.from_yaml(demo_root / SET)
    with Repository.open(pulled) as remote:
        quiz = resolve(ts, remote)
        case = next(iter(quiz.cases.values()))
        view = CaseView(case, remote)
        assert view.viewer is not None
        view.reveal()
