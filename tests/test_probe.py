"""What the hostile-input probe of issue 21 found, each held here where no closer test file fits:
Compare with hostile files in ``results/`` (AppTest: real files, a real FIFO and device link)."""

from __future__ import annotations

import re

import pytest
from helpers import ROOT, app_folders
from streamlit.testing.v1 import AppTest
from test_results import hostile

APP = str(ROOT / "app.py")


@pytest.fixture
def folders(tmp_path, monkeypatch):
    return app_folders(tmp_path, monkeypatch)


def test_compare_names_each_hostile_results_file_and_still_shows_the_good_one(folders):
    """A FIFO, a link to /dev/zero, 100,000-deep nesting, a 5,000-digit integer, a file over the
    limit: each one a note ("Skipped a results file: NAME ..."), no error box, and the good
    evaluation still listed and drawn. (The FIFO used to hang the page, deep nesting and the
    integer to put an error box on it for every visitor.)"""
    whys = hostile(folders["results"])
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    notes = re.sub(r"\\(.)", r"\1", " | ".join(str(w.value) for w in at.warning))
    for name, why in whys.items():
        assert f"Skipped a results file: {name}" in notes and why in notes, (name, notes)
    pick = at.selectbox(key="cmp_file")
    assert len(pick.options) == 1 and pick.value.endswith("synthetic.json")
    assert len(at.get("plotly_chart")) >= 2  # the good file's RMSE bars and scatter
