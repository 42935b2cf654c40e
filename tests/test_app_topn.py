"""The app's top-N views through ``streamlit.testing.v1.AppTest``: Compare's List quality (top-N)
view of the committed top-N file, and the Neighbourhood page's choice of graph (the ranking GNN's
co-rating graph, or the correlations; disabled with a note when no ranking GNN is loaded)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from helpers import app_folders
from streamlit.testing.v1 import AppTest

from gnnrec.app import results

ROOT = Path(__file__).resolve().parent.parent
TOPN = ROOT / "results" / "topn-1-3.json"


@pytest.fixture
def folders(tmp_path, monkeypatch):
    return app_folders(tmp_path, monkeypatch)


def start(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    at.switch_page(page).run()
    clean(at)
    return at


def clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def frame_with(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_compare_shows_list_quality_from_the_saved_top_n_file(folders):
    at = start("pages/compare.py")
    at.radio(key="cmp_source").set_value("List quality (top-N)").run()
    clean(at)
    assert "No saved top-N results" in " ".join(i.value for i in at.info)  # none yet: says how to make one

    shutil.copy(TOPN, folders["results"] / TOPN.name)
    at.radio(key="cmp_source").set_value("Saved results").run()
    clean(at)
    assert all(not p.endswith(TOPN.name) for p in at.selectbox(key="cmp_file").options)  # not a rating evaluation
    at.radio(key="cmp_source").set_value("List quality (top-N)").run()
    clean(at)
    summary = json.loads(TOPN.read_text())["summary"]
    table = frame_with(at, "ndcg")
    assert sorted(table["label"]) == sorted(results.label(m, "topn") for m in summary) and len(table) == 10
    assert list(table["ndcg"]) == sorted((v["ndcg"]["mean"] for v in summary.values()), reverse=True)
    assert len(at.get("plotly_chart")) == 1
    assert "split 75/25 at random" in " ".join(c.value for c in at.caption)
    lists = frame_with(at, "rank")
    assert list(lists.columns) == ["rank", "ranking GNN", "EASE", "LightGCN (PyG)", "most popular",
                                   "rating GNN (by predicted rating)"] and len(lists) == 10

    at.number_input(key="topn_user").set_value(7).run()
    at.selectbox(key="topn_seed").set_value(2).run()
    at.multiselect(key="topn_models").set_value(["gnn", "knn_baseline"]).run()
    clean(at)
    held = frame_with(at, "found by")
    split = next(s for s in json.loads(TOPN.read_text())["splits"] if s["seed"] == 2)
    assert set(held["movie"]) == {m for u, m in split["test_pairs"] if u == 7}
    assert list(frame_with(at, "rank").columns) == ["rank", "ranking GNN", "k-NN + baselines"]
    hits = len(set(held["movie"]) & set(split["top"]["gnn"]["7"]))
    assert f"ranking GNN {hits}, k-NN + baselines" in " ".join(c.value for c in at.caption)


def test_neighbourhood_draws_the_co_rating_graph_of_the_ranking_gnn(folders, rec):
    at = start("pages/neighbourhood.py")
    radio = at.radio(key="nb_graph_kind")
    assert radio.value == "correlation" and not radio.disabled
    assert "correlation" in at.dataframe[0].value.columns
    radio.set_value("co-rating").run()
    clean(at)
    table = at.dataframe[0].value
    assert "weight" in table.columns and len(table) == 10
    shift = rec.ranker.shift
    assert all(abs(w - shift[49, m - 1]) < 1e-4 for m, w in zip(table["movie"], table["weight"]))  # Star Wars's links


def test_without_a_ranking_gnn_the_co_rating_graph_is_disabled_with_a_note(folders):
    shutil.rmtree(folders["models"] / "ranking")
    at = start("pages/neighbourhood.py")
    radio = at.radio(key="nb_graph_kind")
    assert radio.value == "correlation" and radio.disabled
    note = re.sub(r"\\(.)", r"\1", " ".join(c.value for c in at.caption))  # Markdown escapes removed
    assert "The co-rating graph is the ranking GNN's: no ranking GNN is loaded" in note and "--task topn" in note, note
    assert "correlation" in at.dataframe[0].value.columns
