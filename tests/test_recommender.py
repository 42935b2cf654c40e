"""Tests for gnnrec.recommender: input validation, recommendations from the committed all-movies model
(predictions, top lists, filters), explanations (k-NN additivity, GNN leave-one-out) and the
receptive-field fallback."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gnnrec import graph as graph_mod
from gnnrec import store
from gnnrec.gnn import GNNPredictor, GNNPredictorConfig
from gnnrec.graph import GraphConfig
from gnnrec.recommender import Recommender, format_result, parse_ratings

USER = {50: 5, 181: 4, 1: 2}  # Star Wars 5, Return of the Jedi 4, Toy Story 2


# -- parse_ratings --------------------------------------------------------------------------------
@pytest.mark.parametrize("ratings, message", [
    ({}, "no ratings given"),
    ([], "no ratings given"),
    ({0: 5}, "unknown movie id 0"),
    ({1683: 5}, "unknown movie id 1683"),
    ({-1: 5}, "unknown movie id -1"),
    ({"abc": 5}, "movie id 'abc' is not an integer"),
    ({"5.0": 5}, "movie id '5.0' is not an integer"),
    ({50.0: 5}, "movie id 50.0 is not an integer"),
    ({None: 5}, "movie id None is not an integer"),
    ({True: 5}, "movie id True is not an integer"),
    ({50: 0}, "rating 0 of movie 50 is outside 1-5"),
    ({50: 6}, "rating 6 of movie 50 is outside 1-5"),
    ({50: 0.99}, "rating 0.99 of movie 50 is outside 1-5"),
    ({50: -3}, "rating -3 of movie 50 is outside 1-5"),
    ({50: float("nan")}, "rating nan of movie 50 is outside 1-5"),
    ({50: float("inf")}, "rating inf of movie 50 is outside 1-5"),
    ({50: "x"}, "rating 'x' of movie 50 is not a number"),
    ({50: None}, "rating None of movie 50 is not a number"),
    ({50: True}, "rating True of movie 50 is not a number"),
    ({50: False}, "rating False of movie 50 is not a number"),
    ({50: "9"}, "rating '9' of movie 50 is outside 1-5"),
    ([(50, 5), (50, 4)], "movie 50 is rated twice"),
    ([("50", 5), (50, 4)], "movie 50 is rated twice"),
    ([(50, 5, 1)], r"\(50, 5, 1\) is not a \(movie id, rating\) pair"),
    ([50], "50 is not a .movie id, rating. pair"),
], ids=repr)
def test_parse_ratings_errors(ratings, message):
    with pytest.raises(ValueError, match=message):
        parse_ratings(ratings)


def test_parse_ratings_valid():
    assert parse_ratings({50: 5, "181": "4", np.int64(1): 2.5}) == {50: 5.0, 181: 4.0, 1: 2.5}
    assert parse_ratings([(1682, 1), ("1", 5.0)]) == {1682: 1.0, 1: 5.0}
    assert parse_ratings(((m, r) for m, r in [(7, 3)])) == {7: 3.0}
    out = parse_ratings({"50": np.float32(4.5)})
    assert out == {50: 4.5} and all(type(k) is int and type(v) is float for k, v in out.items())


def test_parse_ratings_huge_int():
    with pytest.raises(ValueError, match="of movie 50"):
        parse_ratings({50: 10 ** 400})


def test_parse_ratings_numpy_bool():
    with pytest.raises(ValueError, match="of movie 50"):
        parse_ratings({50: np.True_})


# -- recommend ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rec(movielens):
    return Recommender.load(data=movielens)


@pytest.fixture(scope="module")
def result(rec):
    return rec.recommend(USER, top=10)


@pytest.mark.integration
def test_recommender_uses_committed_model(rec, movielens):
    assert rec.checkpoint.name == "all-movies" and rec.gnn.config.target is None
    assert rec.checkpoint.data_fingerprint == movielens.fingerprint()


@pytest.mark.integration
def test_predictions_cover_unrated_movies(result):
    p = result.predictions
    assert len(p) == 1679
    assert p["movie"].is_unique and not p["movie"].isin(USER).any()
    assert set(p.columns) >= {"movie", "title", "year", "genres", "n_raters", "gnn", "knn",
                              "gnn_fallback", "knn_fallback"}
    for name in ("gnn", "knn"):
        assert p[name].between(1, 5).all() and p[name].notna().all()
    assert result.ratings == {50: 5.0, 181: 4.0, 1: 2.0} and result.model == "all-movies"


@pytest.mark.integration
def test_predictions_match_models(rec, result):
    x = np.zeros((1, 1682), dtype=np.float32)
    for m, r in USER.items():
        x[0, m - 1] = r
    movies = result.predictions["movie"].to_numpy() - 1
    g, k = rec.gnn.predict(x), rec.knn_baseline.predict(x)  # the k-NN side: k-NN with baselines by default
    np.testing.assert_allclose(result.predictions["gnn"], np.clip(g.values[0, movies], 1, 5))
    np.testing.assert_allclose(result.predictions["knn"], np.clip(k.values[0, movies], 1, 5))
    np.testing.assert_array_equal(result.predictions["gnn_fallback"], g.fallback[0, movies])
    np.testing.assert_array_equal(result.predictions["n_raters"], rec.data.n_raters()[movies])
    plain = rec.recommend(USER, top=10, knn="plain")
    np.testing.assert_allclose(plain.predictions["knn"], rec.knn.predict(x).values[0, movies])
    np.testing.assert_array_equal(plain.predictions["knn_fallback"], rec.knn.predict(x).fallback[0, movies])
    assert result.knn == "baseline" and plain.knn == "plain"


@pytest.mark.integration
def test_knn_baseline_fallback_marks_movies_no_rating_reaches(rec):
    """With baselines the k-NN never falls back to a mean: where no rating of yours is a positively
    similar neighbour it predicts the baseline, and ``knn_fallback`` marks exactly those movies."""
    res = rec.recommend(USER, top=5)
    p = res.predictions
    sim = rec.knn_baseline.sim[np.ix_(p["movie"].to_numpy() - 1, np.array(sorted(USER)) - 1)]
    np.testing.assert_array_equal(p["knn_fallback"], ~(sim > 0).any(1))
    assert p["knn_fallback"].any() and not p["knn_fallback"].all()
    x = user_vector(USER)
    m = p.loc[p["knn_fallback"], "movie"].iloc[0]
    base, parts, raw = rec.baseline(USER, int(m), "knn")
    assert math.isnan(raw) and p.loc[p["movie"] == m, "knn"].item() == pytest.approx(np.clip(base, 1, 5))
    assert base == pytest.approx(sum(parts.values())) and set(parts) == {"overall", "movie", "you"}
    assert rec.knn_baseline.estimate(x, np.array([m - 1]))[0, 0] == pytest.approx(base)


@pytest.mark.integration
def test_titles_read_naturally_and_hidden_movies_leave_the_lists(rec, result):
    p = result.predictions.set_index("movie")
    assert p.at[127, "title"] == "The Godfather" and p.at[172, "title"] == "The Empire Strikes Back"
    assert p.at[127, "genres"] == "Action, Crime, Drama"
    assert rec.title(127) == "The Godfather (1972)"
    hide = list(result.top["gnn"]["movie"][:3]) + list(result.top["knn"]["movie"][:2])
    res = rec.recommend(USER, top=10, exclude=hide)
    for name in ("gnn", "knn"):
        assert not res.top[name]["movie"].isin(hide).any() and len(res.top[name]) == 10
    assert len(res.predictions) == len(result.predictions)  # hidden from the lists, still predicted


@pytest.mark.integration
def test_top_lists(result):
    p = result.predictions
    both = set(result.top["gnn"]["movie"]) & set(result.top["knn"]["movie"])
    assert result.ranked_by == "ranking"  # the GNN list is the ranking GNN's (tested below)
    for name, by in (("gnn", "gnn_rank"), ("knn", "knn")):
        top = result.top[name]
        assert len(top) == 10
        assert (np.diff(top[by].to_numpy()) <= 0).all()  # best first
        assert not top["movie"].isin(USER).any()
        assert top[by].iloc[0] == p[by].max()
        assert top[by].iloc[-1] >= p[by].nlargest(10).iloc[-1]
        assert list(top["agree"]) == [m in both for m in top["movie"]]
        assert list(top.index) == list(range(10))


@pytest.mark.integration
def test_gnn_list_is_the_ranking_gnns_own_list(rec, result):
    """The page's GNN list is what the ranking GNN lists through its own API (same order, same ties),
    and its stars are the rating GNN's clipped prediction."""
    x = rec.vector(USER)
    own = rec.ranker.recommend(x, 10)[0] + 1
    assert list(result.top["gnn"]["movie"]) == list(own)
    stars = rec.gnn.predict(x).values[0, own - 1]
    np.testing.assert_allclose(result.top["gnn"]["gnn"].to_numpy(), stars)


@pytest.mark.integration
def test_a_missing_ranking_gnn_falls_back_to_the_rating_order(tmp_path, movielens):
    import shutil

    from gnnrec.app import catalog
    from gnnrec.store import models_dir

    shutil.copy(models_dir() / "all-movies.pt", tmp_path / "all-movies.pt")  # no ranking/ folder
    r = catalog.load_recommender("all-movies", movielens, tmp_path)
    assert r.ranker is None and "no ranking model" in r.ranker_error
    res = r.recommend(USER, top=10)
    assert res.ranked_by == "rating" and (np.diff(res.top["gnn"]["gnn_estimate"].to_numpy()) <= 0).all()
    with pytest.raises(ValueError, match="no ranking GNN"):
        r.explain_listing(USER, 1)


@pytest.mark.integration
def test_explain_listing_ranks_agree_with_the_list(rec, result):
    """The explanation's rank is the movie's place in the list, and 'without it' is the rank the
    list would give with that rating removed (recomputed through the ranker's own lists)."""
    x = rec.vector(USER)[0]
    for place, movie in enumerate(result.top["gnn"]["movie"][:3], start=1):
        rank, df = rec.explain_listing(USER, int(movie))
        assert rank == place
        row = df.iloc[0]
        without = {m: r for m, r in USER.items() if m != row["movie"]}
        x2 = rec.vector(without)
        x2[0, int(row["movie"]) - 1] = 0
        order = list(rec.ranker.recommend(x2, 1682, allowed=x == 0)[0] + 1)
        assert order.index(int(movie)) + 1 == row["rank_without"]
        assert (df["score_effect"].diff().dropna() <= 0).all()


@pytest.mark.integration
def test_min_raters_filters(rec, result):
    cut = int(result.top["gnn"]["n_raters"].min()) + 1  # leaves out at least one movie of the unfiltered GNN list
    res = rec.recommend(USER, top=10, min_raters=cut)
    assert len(res.predictions) == 1679  # predictions stay complete; only the lists are filtered
    eligible = res.predictions[res.predictions["n_raters"] >= cut]
    for name in ("gnn", "knn"):
        top = res.top[name]
        assert (top["n_raters"] >= cut).all()
        by = "gnn_rank" if name == "gnn" else "knn_estimate"  # the GNN list is the ranking GNN's
        assert list(top["movie"]) == list(eligible.nlargest(10, by)["movie"])  # no ties here
    assert list(res.top["gnn"]["movie"]) != list(result.top["gnn"]["movie"])


SCIFI = {50: 5, 172: 5, 181: 5, 195: 5, 183: 5, 313: 1}  # Star Wars, Empire, Jedi, Terminator, Alien; Titanic 1


def reference_order(est: np.ndarray, support: np.ndarray, n_raters: np.ndarray, movies: np.ndarray) -> np.ndarray:
    """The lists' order in plain NumPy: estimate, then support, then raters (all descending), then id."""
    return movies[np.lexsort((movies, -n_raters, -support, -est))]


@pytest.mark.integration
@pytest.mark.parametrize("knn", ["baseline", "plain"])
def test_lists_are_ranked_by_the_estimate_before_clipping(rec, knn):
    """A sci-fi fan's k-NN list: many movies clip to 5.00, yet the list follows the estimates
    (A Close Shave, 5.28 before clipping, first; Jean de Florette, 5.03, out), not catalogue order."""
    res = rec.recommend(SCIFI, top=10, min_raters=50, knn=knn)
    x = user_vector(SCIFI)
    movies = np.arange(1, 1683)
    unrated = ~np.isin(movies, list(SCIFI)) & (rec.n_raters >= 50)
    model = rec.knn_model(knn)
    k_est = model.estimate(x, movies - 1)[0]
    k_est = np.where(np.isnan(k_est), model.item_means, k_est)  # the fallback, where the k-NN cannot predict
    s = np.where((movies - 1)[:, None] == np.array(sorted(SCIFI))[None, :] - 1, -np.inf,
                 model.sim[:, np.array(sorted(SCIFI)) - 1].astype(np.float64))  # (N, R) never the movie itself
    s = np.where(graph_mod.top_k_mask(s, model.k) & (s > 0), s, 0.0)
    support = (s > 0).sum(1)
    want = reference_order(k_est[unrated], support[unrated], rec.n_raters[unrated], movies[unrated])[:10]
    assert list(res.top["knn"]["movie"]) == list(want)
    np.testing.assert_allclose(res.top["knn"]["knn_estimate"], k_est[want - 1])
    np.testing.assert_allclose(res.top["knn"]["knn"], np.clip(k_est[want - 1], 1, 5))
    np.testing.assert_array_equal(res.top["knn"]["knn_support"], support[want - 1])
    np.testing.assert_allclose(res.top["knn"]["knn_similarity"], s.sum(1)[want - 1])
    if knn == "baseline":
        assert (res.top["knn"]["knn"] == 5.0).sum() >= 5  # many ties at 5.00 shown ...
        assert res.top["knn"]["movie"].iloc[0] == 408 and 165 not in set(res.top["knn"]["movie"])  # ... ranked
    g_est = rec.gnn.estimate(x, movies - 1)[0]
    reached = np.isfinite(g_est)
    g_est = np.where(reached, g_est, rec.gnn.item_means)
    want = reference_order(g_est[unrated], reached[unrated].astype(int), rec.n_raters[unrated], movies[unrated])[:10]
    rating_only = Recommender(rec.data, rec.checkpoint)  # without the ranking GNN: the rating GNN orders its list
    res = rating_only.recommend(SCIFI, top=10, min_raters=50, knn=knn)
    assert res.ranked_by == "rating" and list(res.top["gnn"]["movie"]) == list(want)


@pytest.mark.integration
def test_equal_estimates_go_by_support_then_raters(rec):
    """Fallbacks at equal means (movies nobody's ratings reach, shown at their mean rating): the
    tie rule decides, movie ids only last."""
    res = rec.recommend({1373: 5}, top=30, min_raters=0, knn="plain")  # a one-rater movie: almost nothing reached
    p = res.predictions
    est, sup, n = p["knn_estimate"].to_numpy(), p["knn_support"].to_numpy(), p["n_raters"].to_numpy()
    want = reference_order(est, sup, n, p["movie"].to_numpy())[:30]
    assert list(res.top["knn"]["movie"]) == list(want)
    top = res.top["knn"]
    tied = top[top.duplicated("knn_estimate", keep=False)]
    assert len(tied) >= 2  # ties happen here, so the rule is exercised
    for _, group in tied.groupby("knn_estimate"):
        keys = list(zip(-group["knn_support"], -group["n_raters"], group["movie"]))
        assert keys == sorted(keys)


@pytest.mark.integration
def test_changing_a_rating_changes_predictions(rec, result):
    other = rec.recommend({**USER, 50: 1}, top=10)
    for name in ("gnn", "knn"):
        assert not np.allclose(other.predictions[name], result.predictions[name])
    assert other.ratings[50] == 1.0


@pytest.mark.integration
def test_recommend_errors(rec):
    with pytest.raises(ValueError, match="top=0"):
        rec.recommend(USER, top=0)
    with pytest.raises(ValueError, match="rating 7 of movie 50"):
        rec.recommend({50: 7})


@pytest.mark.integration
def test_format_result(result):
    text = format_result(result)
    assert "Top 10 by GNN" in text and "Top 10 by KNN" in text
    for name in ("gnn", "knn"):
        for row in result.top[name].itertuples():
            assert f"{row.title} ({row.year}) [id {row.movie}]" in text
    assert "[id 50]" not in text


@pytest.mark.integration
def test_target_model_refused(movielens):
    # refused from its config alone, before any use: an untrained target predictor is enough
    ckpt = store.Checkpoint(name="t", predictor=GNNPredictor(GNNPredictorConfig(target=26)),
                            graph_config=GraphConfig(), metrics={}, data_fingerprint=movielens.fingerprint(),
                            created="", extra={})
    with pytest.raises(ValueError, match="'t' predicts only movie 27.*--task all"):
        Recommender(movielens, ckpt)


# -- explain --------------------------------------------------------------------------------------
def user_vector(ratings: dict) -> np.ndarray:
    x = np.zeros((1, 1682), dtype=np.float32)
    for m, r in ratings.items():
        x[0, m - 1] = r
    return x


@pytest.mark.integration
@pytest.mark.parametrize("knn", ["baseline", "plain"])
@pytest.mark.parametrize("movie", [172, 96, 1682])
def test_explain_knn_additive(rec, movie, knn):
    """Both k-NNs are explained exactly: the baseline plus the rows' effects is the prediction
    (before clipping), for a movie the ratings reach and one they do not (1682)."""
    user = {**USER, 174: 5, 98: 2, 127: 4}
    ex = rec.explain(user, movie, model="knn", knn=knn)
    t = movie - 1
    model = rec.knn_model(knn)
    pred = model.predict(user_vector(user), [t]).values[0, 0]
    base, _, raw = rec.baseline(user, movie, "knn", knn=knn)
    assert pred == pytest.approx(np.clip(base + ex["effect"].sum(), 1, 5), abs=1e-6)
    if not math.isnan(raw):
        assert raw == pytest.approx(base + ex["effect"].sum(), abs=1e-9)
        assert raw == pytest.approx(model.estimate(user_vector(user), np.array([t]))[0, 0], abs=1e-9)
    assert sorted(ex["movie"]) == sorted(user) and list(ex["your_rating"]) == [user[m] for m in ex["movie"]]
    assert (np.diff(ex["effect"].abs().to_numpy()) <= 0).all()  # biggest effect first
    if ex["weight"].sum() > 0:
        assert ex["weight"].sum() == pytest.approx(1.0)
        assert (ex["weight"] >= 0).all()


@pytest.mark.integration
def test_explain_knn_nonzero(rec):
    ex = rec.explain(USER, 172, model="knn", knn="plain")  # The Empire Strikes Back, correlated with Star Wars
    assert (ex["effect"].abs() > 0).any()
    assert ex.loc[ex["movie"] == 50, "effect"].iloc[0] > 0  # a 5 for Star Wars pulls it up


@pytest.mark.integration
def test_explain_gnn_leave_one_out(rec):
    movie = 172
    ex = rec.explain(USER, movie, model="gnn")
    t = movie - 1
    x = user_vector(USER)
    base = rec.gnn.predict(x, [t]).values[0, 0]
    assert not rec.gnn.predict(x, [t]).fallback[0, 0]
    by_hand = {}
    for m in USER:
        y = x.copy()
        y[0, m - 1] = 0
        by_hand[m] = base - rec.gnn.predict(y, [t]).values[0, 0]
    assert sorted(ex["movie"]) == sorted(USER)
    for row in ex.itertuples():
        assert row.effect == pytest.approx(by_hand[row.movie], abs=1e-6)
        assert math.isnan(row.weight)
    assert (ex["effect"].abs() > 1e-6).any()  # the check above could fail
    assert (np.diff(ex["effect"].abs().to_numpy()) <= 0).all()


@pytest.mark.integration
def test_explain_gnn_splits_each_effect_into_your_bias_and_the_graph(rec):
    """Before clipping, each leave-one-out effect is the change of your bias (the offset of the
    input encoding, checked against its formula in NumPy) plus the change through the graph; the
    1-star Titanic moves every movie through your bias, hardly at all through the graph on an
    unrelated film (As Good As It Gets)."""
    ratings = {50: 5, 172: 5, 181: 5, 195: 5, 183: 5, 313: 1}
    ex = rec.explain(ratings, 316, model="gnn").set_index("movie")
    x = user_vector(ratings)
    rated = np.array(sorted(ratings)) - 1
    loo = np.repeat(x, len(rated), axis=0)  # (R, N) row j without rating j
    loo[np.arange(len(rated)), rated] = 0
    raw_all, raw = rec.gnn.estimate(x, np.array([315]))[0, 0], rec.gnn.estimate(loo, np.array([315]))[:, 0]
    mu, lam = rec.gnn.item_means, rec.gnn.config.user_damping
    assert rec.gnn.config.encoding.startswith("baseline")

    def bias(v):  # b_u = sum_j (r_j - mu_j) / (n_u + lambda_u)
        return ((v - mu) * (v > 0)).sum() / ((v > 0).sum() + lam)
    via_bias = np.array([bias(x[0]) - bias(row) for row in loo])  # (R,)
    np.testing.assert_allclose(ex.loc[rated + 1, "via_bias"], via_bias, atol=1e-5)
    np.testing.assert_allclose(ex.loc[rated + 1, "via_bias"] + ex.loc[rated + 1, "via_graph"], raw_all - raw, atol=1e-5)
    np.testing.assert_allclose(ex.loc[rated + 1, "effect"], np.clip(raw_all, 1, 5) - np.clip(raw, 1, 5), atol=1e-5)
    titanic = ex.loc[313]
    assert titanic["via_bias"] < -0.2 and abs(titanic["via_graph"]) < 0.05  # its effect: almost all through your bias
    assert rec.explain(ratings, 316, model="knn")[["via_bias", "via_graph"]].isna().all().all()


@pytest.mark.integration
def test_explain_gnn_in_chunks_and_only(rec, movielens, monkeypatch):
    """Many ratings go through in chunks with the same effects as one batch; ``only`` keeps rows."""
    from gnnrec import recommender as rec_mod

    r = movielens.ratings[movielens.ratings["user"] == 1]
    user = {int(m): int(v) for m, v in zip(r["movie"], r["rating"])}  # 272 ratings
    calls = []
    predict, estimate = rec.gnn.predict, rec.gnn.estimate
    monkeypatch.setattr(rec.gnn, "estimate", lambda x, *a, **k: calls.append(len(x)) or estimate(x, *a, **k))
    monkeypatch.setattr(rec_mod, "EXPLAIN_CHUNK", 100)
    raw, ex = rec.explain_gnn(user, 172)
    assert calls == [100, 100, 73]  # every rating, then each of the 272 left out: 273 rows in chunks of 100
    assert raw == pytest.approx(estimate(user_vector(user), np.array([171]))[0, 0], abs=1e-6)
    monkeypatch.setattr(rec.gnn, "estimate", estimate)
    x = user_vector(user)
    rated = np.array(sorted(user)) - 1
    loo = np.repeat(x, len(rated), axis=0)
    loo[np.arange(len(rated)), rated] = 0
    by_hand = predict(x, [171]).values[0, 0] - predict(loo, [171]).values[:, 0]
    np.testing.assert_allclose(ex.set_index("movie")["effect"].sort_index().to_numpy(), by_hand, atol=1e-6)
    some = ex.set_index("movie")
    few = rec.explain(user, 172, model="gnn", only=[50, 181, 1])
    assert sorted(few["movie"]) == [1, 50, 181]
    np.testing.assert_allclose(few.set_index("movie")["effect"], some.loc[few["movie"], "effect"], atol=1e-6)
    knn = rec.explain(user, 172, model="knn", only=[50, 181])
    assert sorted(knn["movie"]) == [50, 181]
    with pytest.raises(ValueError, match="only movies that were rated"):
        rec.explain(USER, 172, only=[2])


@pytest.mark.integration
def test_explain_errors(rec):
    with pytest.raises(ValueError, match="model='svd'"):
        rec.explain(USER, 172, model="svd")
    with pytest.raises(ValueError, match="unknown movie id 0"):
        rec.explain(USER, 0)
    with pytest.raises(ValueError, match="no ratings given"):
        rec.explain({}, 172)


# -- the receptive-field fallback -----------------------------------------------------------------
@pytest.mark.integration
def test_isolated_movie_gives_fallback(rec):
    s = rec.gnn.graph.shift
    isolated = np.flatnonzero(np.diff(s.indptr) == 0)
    assert len(isolated) > 0
    movie = int(isolated[0]) + 1
    res = rec.recommend({movie: 5}, top=5)
    p = res.predictions
    assert len(p) == 1681
    assert p["gnn_fallback"].all()
    # the fallback is the movie's mean rating
    np.testing.assert_allclose(p["gnn"], np.clip(rec.gnn.item_means[p["movie"] - 1], 1, 5))


@pytest.mark.integration
def test_fallback_outside_receptive_field(rec):
    """Rating only Star Wars: movies more than the receptive field's hops away fall back, the rest do not."""
    res = rec.recommend({50: 5}, top=5)
    p = res.predictions
    hops = rec.gnn.receptive_field()
    reach = set(graph_mod.neighbours(rec.gnn.graph.shift, [49], hops=hops) + 1)
    inside = p["movie"].isin(reach).to_numpy()
    assert inside.any() and (~inside).any()
    assert not p["gnn_fallback"][inside].any()
    assert p["gnn_fallback"][~inside].all()
