"""gnnrec.app.insights: top lists and single predictions for display, explanations (bounded for long
profiles), where GNN and k-NN disagree, graph hops."""

from __future__ import annotations

import time

import numpy as np
import pytest

from gnnrec.app import insights, ratings_io


# -- recommendations, explanations, disagreements ------------------------------------------------------------
def test_top_table_and_prediction(rec):
    res = insights.recommend(rec, {50: 5, 181: 4, 1: 1}, top=7, min_raters=30)
    for model in ("gnn", "knn"):
        t = insights.top_table(res, model)
        assert len(t) == 7 and (t["raters"] >= 30).all() and t["predicted"].between(1, 5).all()
        assert not set(t["movie"]) & {50, 181, 1}
    p = insights.predict_movie(rec, {50: 5, 181: 4}, 181)
    assert p["rated"] == 4 and 1 <= p["gnn"] <= 5 and 1 <= p["knn"] <= 5 and p["raters"] > 100
    assert insights.predict_movie(rec, {50: 5}, 172)["rated"] is None


def test_explain_matches_the_recommender_and_is_bounded(rec, data):
    ratings = {50: 5, 181: 4, 1: 2}
    ours, note = insights.explain(rec, ratings, 172, "gnn")
    theirs = rec.explain(ratings, 172, "gnn")
    assert "removed" in note
    assert np.allclose(ours.set_index("movie")["effect"].sort_index(), theirs.set_index("movie")["effect"].sort_index(),
                       atol=1e-5)
    knn, note = insights.explain(rec, ratings, 172, "knn")
    assert (knn["weight"] > 0).all() and "mean" in note
    many = ratings_io.user_ratings(data, 405)  # 737 ratings
    t0 = time.perf_counter()
    big, note = insights.explain(rec, many, 50, "gnn")
    assert len(big) == insights.EXPLAIN_MAX and f"{insights.EXPLAIN_MAX} of your {len(many)}" in note
    assert time.perf_counter() - t0 < 30
    with pytest.raises(ValueError):
        insights.explain(rec, ratings, 172, "svd")


def test_disagreements_sorted_and_located(rec):
    res = insights.recommend(rec, {50: 5, 181: 4, 1: 1}, top=10, min_raters=20)
    d = insights.disagreements(rec, res, n=8)
    assert len(d) == 8
    diffs = d["gnn − knn"].abs().tolist()
    assert diffs == sorted(diffs, reverse=True)
    assert d["closest rated movie"].str.contains("Star Wars|Return of the Jedi|Toy Story").all()


def test_graph_hops():
    import scipy.sparse as sp

    s = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]], dtype=float))
    assert insights.graph_hops(s, [0]).tolist() == [0, 1, 2, -1]
