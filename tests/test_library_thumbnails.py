"""The case library's thumbnails are drawn once and kept beside the catalog."""

from __future__ import annotations

import os
from pathlib import Path

from _minirepo import build

from teachingfiles.dashboards.library import study_thumbnail
from teachingfiles.repository import CATALOG_DIR, Repository


def test_thumbnails_are_kept_and_redrawn_when_the_image_changes(tmp_path: Path) -> None:
    mini = build(tmp_path / "repo")
    with Repository.open(mini.root) as repo:
        study = repo.study(mini.ct_studies[0])
        first = study_thumbnail(repo, study, window="lung")
        assert first is not None and first[:2] == b"\xff\xd8"  # a JPEG
        kept = sorted((mini.root / CATALOG_DIR / "thumbnails").glob("*.jpg"))
        assert len(kept) == 1 and kept[0].read_bytes() == first
        # the kept file is what a later visitor gets, without decoding the image
        kept[0].write_bytes(b"\xff\xd8 kept")
        assert study_thumbnail(repo, study, window="lung") == b"\xff\xd8 kept"
        # another window or size is another thumbnail
        assert study_thumbnail(repo, study, window="mediastinum") not in (None, first)
        assert len(list(kept[0].parent.glob("*.jpg"))) == 2
        # an image file that changed is drawn again
        series = repo.series(study.study_uid)[0]
        items = repo.instances(series.series_uid)
        middle = Path(items[len(items) // 2].path)
        st = middle.stat()
        os.utime(middle, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        assert study_thumbnail(repo, study, window="lung") == first
        # and nothing the index would list as a skipped file
        report = repo.index()
        assert not [s for s in report.skipped if CATALOG_DIR in str(s)]
