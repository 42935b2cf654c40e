"""gnnrec.app.insights: top lists and single predictions for display, explanations (bounded for long
profiles), where GNN and k-NN disagree, graph hops."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from gnnrec.app import insights, ratings_io, toplist


# -- recommendations, explanations, disagreements ------------------------------------------------------------
def test_top_table_and_prediction(rec):
    res = insights.recommend(rec, {50: 5, 181: 4, 1: 1}, top=7, min_raters=30)
    for model in ("gnn", "knn"):
        t = toplist.top_table(res, model)
        assert len(t) == 7 and (t["raters"] >= 30).all() and t["predicted"].between(1, 5).all()
        assert not set(t["movie"]) & {50, 181, 1}
        top = res.top[model]  # the list's own rows, its text columns as text
        assert t["title"].tolist() == top["title"].tolist() and t["genres"].tolist() == top["genres"].tolist()
        assert t["genre"].tolist() == [toplist.short_genres(g) for g in top["genres"]]
        assert t["predicted"].tolist() == top[model].round(2).tolist() and t["movie"].tolist() == top["movie"].tolist()
        assert str(t["title"].dtype) == str(top["title"].dtype) and isinstance(t.index, pd.RangeIndex)
    assert set(t.columns) >= {"title", "genres", "predicted"}
    p = insights.predict_movie(rec, {50: 5, 181: 4}, 181)
    assert p["rated"] == 4 and 1 <= p["gnn"] <= 5 and 1 <= p["knn"] <= 5 and p["raters"] > 100
    assert insights.predict_movie(rec, {50: 5}, 172)["rated"] is None


def test_top_arrow_is_the_top_table_as_streamlit_sends_it(rec):
    """The Recommend page sends :func:`toplist.top_arrow` to ``st.dataframe``: the same columns,
    types and values as pandas' conversion of :func:`toplist.top_table` (which it replaced), on
    many profiles, a missing year (NaN: null) and a fallback included."""
    rng = np.random.default_rng(7)
    for _ in range(40):
        ratings = {int(m): int(rng.integers(1, 6)) for m in rng.choice(np.arange(1, 1683), int(rng.integers(1, 30)),
                                                                          replace=False)}
        res = insights.recommend(rec, ratings, top=int(rng.integers(5, 31)), min_raters=int(rng.choice([0, 5, 50])))
        for model in ("gnn", "knn"):
            want = pa.Table.from_pandas(toplist.top_table(res, model), preserve_index=False)
            assert toplist.top_arrow(res, model).equals(want)
    res = insights.recommend(rec, {50: 5, 181: 4}, top=5)
    top = res.top["gnn"].assign(year=[np.nan, 1977.0, 1980.0, 1983.0, 1999.0], gnn_fallback=[False, True] + [False] * 3)
    res = dataclasses.replace(res, top={**res.top, "gnn": top})
    got = toplist.top_arrow(res, "gnn")
    assert got.equals(pa.Table.from_pandas(toplist.top_table(res, "gnn"), preserve_index=False))
    assert got.column("year").null_count == 1 and got.column("fallback").to_pylist()[:2] == [False, True]


@pytest.mark.parametrize("knn", ["baseline", "plain"])
def test_why_knn_adds_up_exactly_in_plain_words(rec, knn):
    ratings = {50: 5, 181: 4, 1: 2, 174: 5, 98: 2}
    w = insights.why(rec, ratings, 172, "knn", knn)
    assert w.reached and w.additive and len(w.table) > 0 and (w.table["weight"] > 0).all()
    assert w.baseline == pytest.approx(sum(v for _, v in w.parts))
    assert w.baseline + w.table["effect"].sum() == pytest.approx(w.raw, abs=1e-9)
    assert w.prediction == pytest.approx(insights.predict_movie(rec, ratings, 172, knn)["knn"])
    assert w.table["weight"].sum() == pytest.approx(1.0)
    assert "The Empire Strikes Back" in w.summary and f"{w.raw:.2f}" in w.summary and "add up exactly" in w.summary
    assert ("everyone's average rating" in w.summary) == (knn == "baseline")
    assert w.table["your rating"].iloc[0].count("★") == int(ratings[int(w.table["movie"].iloc[0])])


def test_why_says_when_a_prediction_is_clipped(rec):
    """A k-NN prediction over 5 before clipping: the sentence gives both numbers and says why."""
    ratings = {50: 5, 172: 5, 181: 5, 174: 5, 210: 5, 1: 1}
    res = insights.recommend(rec, ratings, top=30, min_raters=0)
    over = [m for m in res.top["knn"]["movie"] if insights.why(rec, ratings, int(m), "knn").clipped]
    assert over, "no clipped prediction among the top 30"
    w = insights.why(rec, ratings, int(over[0]), "knn")
    assert w.raw > 5 and w.prediction == 5.0
    assert f"exactly, up to rounding): {w.raw:.2f}. That is above 5, so the lists show 5.00" in w.summary
    assert "clipped to the 1-5 star scale" in w.summary


def test_why_gnn_is_leave_one_out_and_honest_when_nothing_reaches(rec):
    ratings = {50: 5, 181: 4, 1: 2}
    w = insights.why(rec, ratings, 172, "gnn")
    theirs = rec.explain(ratings, 172, "gnn")
    assert w.reached and not w.additive and "Leave-one-out" in w.summary and "need not add up" in w.how
    assert np.allclose(w.table.set_index("movie")["effect"].sort_index(),  # through the graph, your bias apart
                       theirs.set_index("movie")["via_graph"].sort_index(), atol=1e-5)
    assert w.baseline == pytest.approx(sum(v for _, v in w.parts))
    isolated = int(np.flatnonzero(np.diff(rec.gnn.graph.shift.indptr) == 0)[0]) + 1
    far = insights.why(rec, {isolated: 5}, 172, "gnn")
    assert not far.reached and far.table.empty and "Leave-one-out" not in far.summary
    assert f"None of your rated movies lies within {rec.gnn.receptive_field()} hops" in far.summary
    assert f"{far.prediction:.2f}" in far.summary


def test_why_is_bounded_for_a_long_profile(rec, data):
    many = ratings_io.user_ratings(data, 405)  # 737 ratings
    big = insights.why(rec, many, 50, "gnn")  # bounded work: how long it takes is bench/app_speed.py's business
    assert len(big.table) == insights.EXPLAIN_MAX and f"{insights.EXPLAIN_MAX} of your {len(many)}" in big.how
    with pytest.raises(ValueError):
        insights.why(rec, {50: 5}, 172, "svd")


def test_disagreements_sorted_located_and_only_where_both_predict(rec):
    res = insights.recommend(rec, {50: 5, 181: 4, 1: 1}, top=10, min_raters=20)
    d = insights.disagreements(rec, res, n=8, min_raters=60)
    assert len(d) == 8
    diffs = d["gnn − knn"].abs().tolist()
    assert diffs == sorted(diffs, reverse=True)
    assert d["closest rated movie"].str.contains("Star Wars|Return of the Jedi|Toy Story").all()
    p = res.predictions.set_index("movie").loc[d["movie"]]
    assert not p["gnn_fallback"].any() and not p["knn_fallback"].any()  # no mean-only row
    assert (d["raters"] >= 60).all() and (d["hops from your ratings"] >= 0).all()
    rated = np.array([50, 181, 1]) - 1
    for kind, sim in (("baseline", rec.knn_model("baseline").sim), ("plain", rec.knn.corr)):
        dk = insights.disagreements(rec, insights.recommend(rec, {50: 5, 181: 4, 1: 1}, top=10, min_raters=20, knn=kind),
                                    n=8, min_raters=60)
        assert len(dk) == 8
        for movie, shown in zip(dk["movie"], dk["its similarity"], strict=True):  # the k-NN in use, positive only
            best = float(np.max(sim[movie - 1, rated]))
            assert shown == pytest.approx(round(best, 2)) if best > 0 else pd.isna(shown)
    one = insights.recommend(rec, {1373: 5}, top=10, min_raters=0)  # a one-rater movie: hardly anything reaches
    assert len(insights.disagreements(rec, one, n=12)) <= int((~one.predictions["gnn_fallback"]).sum())


SCIFI = {50: 5, 172: 5, 181: 5, 195: 5, 183: 5, 313: 1}  # Star Wars, Empire, Jedi, Terminator, Alien; Titanic 1


def test_why_signs_read_as_the_heading_says_and_your_bias_is_its_own_line(rec):
    """GNN: "+0.34" under "effect of this rating" means the prediction is 0.34 higher because of it
    (through the graph); your bias is a labelled line, so the 1-star Titanic no longer tops an
    unrelated film's reasons through it unsaid. k-NN: the bias line is part of the exact sum."""
    w = insights.why(rec, SCIFI, 316, "gnn")  # As Good As It Gets: no sci-fi
    t = insights.why_table(w)
    assert w.effect_label == "effect of this rating"
    assert t["title"].iloc[0] == insights.BIAS_LINE and t["effect"].iloc[0] == f"{w.bias:+.2f}"
    x = rec.vector(SCIFI)
    _, offset = rec.gnn.encode(x)
    assert w.bias == pytest.approx(float(offset[0, 315]) - float(rec.gnn.item_means[315]), abs=1e-6)
    for row, shown in zip(w.table.itertuples(), t["effect"].iloc[1:], strict=True):
        y = x.copy()
        y[0, row.movie - 1] = 0
        graph_with = rec.gnn.estimate(x, np.array([315]))[0, 0] - float(rec.gnn.encode(x)[1][0, 315])
        graph_without = rec.gnn.estimate(y, np.array([315]))[0, 0] - float(rec.gnn.encode(y)[1][0, 315])
        assert float(shown) == pytest.approx(graph_with - graph_without, abs=0.0051)  # with minus without
    assert w.table["title"].iloc[0] != "Titanic"  # before: Titanic, -0.33, all of it through your bias
    assert "Your ★☆☆☆☆ for Titanic pulls it down most: without it your bias would be" in w.summary
    side = "above" if w.bias >= 0 else "below"  # a negative bias read "run above" before
    assert f"Your bias, {w.bias:+.2f}: your ratings run {abs(w.bias):.2f} {side} the movies' means" in w.summary
    assert re.search(r"\(the movie's mean rating[^)]*: \d\.\d\d, your bias: [+-]\d\.\d\d\)", w.summary), w.summary
    k = insights.why(rec, SCIFI, 174, "knn")
    kt = insights.why_table(k)
    assert k.effect_label == "adds" and list(kt["title"][:2]) == ["the movie's baseline", insights.BIAS_LINE]
    assert float(kt["effect"].iloc[1]) == pytest.approx(rec.knn_baseline.user_bias(x)[0], abs=0.0051)
    assert sum(float(e) for e in kt["effect"].iloc[:-1]) == pytest.approx(float(kt["effect"].iloc[-1]), abs=0.006 * len(kt))


@pytest.mark.parametrize("knn", ["baseline", "plain"])
def test_disagreements_rest_on_enough_ratings_and_say_how_many(rec, knn):
    """The sci-fi fan's table (issue 21): before, all 12 rows had k-NN about 1.0 from one weakly
    similar 1-star Titanic. Now every row's k-NN prediction rests on at least MIN_SUPPORT of the
    ratings with total similarity at least MIN_SIMILARITY, the table says how much, and the rows
    are the largest |GNN - k-NN| among those, checked against plain NumPy."""
    res = insights.recommend(rec, SCIFI, top=10, min_raters=50, knn=knn)
    d = insights.disagreements(rec, res, n=12, min_raters=50)
    model = rec.knn_model(knn)
    x = np.zeros((1, 1682), dtype=np.float32)
    rated = np.array(sorted(SCIFI)) - 1  # (R,)
    x[0, rated] = [SCIFI[m + 1] for m in rated]
    movies = np.arange(1682)
    sim = np.asarray(model.sim[:, rated], dtype=np.float64)  # (N, R)
    sim[movies[:, None] == rated[None, :]] = -np.inf
    kth = -np.sort(-sim, axis=1)[:, model.k - 1:model.k] if len(rated) > model.k else -np.inf
    w = np.where((sim >= kth) & (sim > 0), sim, 0.0)  # the k-NN's neighbours among the ratings
    count, total = (w > 0).sum(1), w.sum(1)
    g = rec.gnn.estimate(x, movies)[0]  # (N,) NaN where none reaches
    k = model.estimate(x, movies)[0]
    ok = (np.isfinite(g) & (count >= insights.MIN_SUPPORT) & (total >= insights.MIN_SIMILARITY)
          & (rec.n_raters >= 50) & ~np.isin(movies, rated))
    diff = np.clip(g, 1, 5) - np.clip(k, 1, 5)
    cand = np.flatnonzero(ok)
    want = cand[np.argsort(-np.abs(diff[cand]), kind="stable")[:12]] + 1
    assert len(d) == 12 and list(d["movie"]) == list(want)
    m = d["movie"].to_numpy() - 1
    assert (d["k-NN rests on"].to_numpy() == count[m]).all() and (d["k-NN rests on"] >= insights.MIN_SUPPORT).all()
    np.testing.assert_allclose(d["their similarity"], total[m].round(2))
    np.testing.assert_allclose(d["knn"], np.clip(k[m], 1, 5).round(2))
    np.testing.assert_allclose(d["gnn"], np.clip(g[m], 1, 5).round(2))
    np.testing.assert_allclose(d["gnn − knn"], diff[m].round(2), atol=1e-9)
    for col in ("gnn", "knn", "gnn − knn", "their similarity", "its similarity"):
        assert (d[col] == d[col].round(2)).all()  # two decimals everywhere
    assert not (d["knn"] < 1.2).all()  # not the one-rating artefact: all about 1.0 from Titanic
    if knn == "baseline":
        assert (d["gnn − knn"] < 0).any() and (d["gnn − knn"] > 0).any()  # disagreements both ways
    short = insights.disagreements(rec, insights.recommend(rec, {50: 5, 181: 4}, knn=knn), n=12)
    assert short.empty  # two ratings cannot give three neighbours


def test_graph_hops():
    import scipy.sparse as sp

    s = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]], dtype=float))
    assert insights.graph_hops(s, [0]).tolist() == [0, 1, 2, -1]
    assert insights.graph_hops(s, [0], max_hops=1).tolist() == [0, 1, -1, -1]
    assert insights.graph_hops(s, []).tolist() == [-1, -1, -1, -1]
    one_way = sp.csr_matrix(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=float))  # 0 -> 1 -> 2
    assert insights.graph_hops(one_way, [0]).tolist() == [0, 1, 2]
    assert insights.graph_hops(one_way, [2]).tolist() == [-1, -1, 0]


def _old_graph_hops(shift, sources, max_hops=8):
    """The breadth-first search graph_hops was before SciPy's dijkstra (kept as the reference)."""
    import scipy.sparse as sp

    hops = np.full(shift.shape[0], -1, dtype=np.int64)
    pattern = sp.csr_matrix(shift != 0, dtype=np.int32)
    frontier = np.zeros(shift.shape[0], dtype=bool)
    frontier[np.asarray(sources, dtype=np.int64)] = True
    hops[frontier] = 0
    for h in range(1, max_hops + 1):
        frontier = ((pattern @ frontier.astype(np.int32)) > 0) & (hops < 0)
        if not frontier.any():
            break
        hops[frontier] = h
    return hops


def test_graph_hops_equal_the_old_search_on_the_real_graph(rec):
    shift = rec.gnn.graph.shift
    rng = np.random.default_rng(0)
    far = 0
    for trial in range(40):
        sources = rng.choice(shift.shape[0], size=int(rng.integers(1, 30)), replace=False)
        max_hops = [0, 1, 2, 3, 8][trial % 5]
        got = insights.graph_hops(shift, sources, max_hops)
        np.testing.assert_array_equal(got, _old_graph_hops(shift, sources, max_hops))
        far += int((got < 0).sum())
    assert far > 0  # some runs stop at max_hops, so the limit is exercised
