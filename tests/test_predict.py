"""Tests for gnnrec.predict: the predictor API (fallback, strict, index checks), ItemMean, ItemKNN
against hand-computed values and a brute-force loop, KNNBaseline against a plain loop of
Surprise's algorithm."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from gnnrec.graph import GraphConfig, ItemGraph
from gnnrec.predict import ItemKNN, ItemMean, KNNBaseline, PredictionImpossible, Predictions, Predictor

# Training ratings (U=3, N=5), 0 = not rated.
#   movie means: m0 = (4+2+3)/3 = 3, m1 = (2+4)/2 = 3, m2 = (5+3)/2 = 4, m3 = (1+3)/2 = 2,
#   m4 nobody -> global mean (4+2+5+2+4+1+3+3+3)/9 = 27/9 = 3
TRAIN = np.array([
    [4, 2, 5, 0, 0],
    [2, 4, 0, 1, 0],
    [3, 0, 3, 3, 0],
], dtype=float)
MEANS = np.array([3.0, 3.0, 4.0, 2.0, 3.0])

# Hand-written correlations (symmetric, zero diagonal); movie 4 correlates with nothing.
CORR = np.array([
    [0.0, 0.8, 0.5, -0.6, 0.0],
    [0.8, 0.0, 0.2, 0.4, 0.0],
    [0.5, 0.2, 0.0, 0.1, 0.0],
    [-0.6, 0.4, 0.1, 0.0, 0.0],
    [0.0, 0.0, 0.0, 0.0, 0.0],
], dtype=np.float32)


def hand_graph(corr: np.ndarray = CORR) -> ItemGraph:
    return ItemGraph(corr=corr, shift=sp.csr_matrix(corr), config=GraphConfig())


# -- ItemMean --------------------------------------------------------------------------------------
def test_item_mean_values_and_fallback():
    model = ItemMean().fit(TRAIN)
    assert model.global_mean == pytest.approx(3.0)
    user = np.array([[0, 5, 1, 4, 0], [1, 1, 1, 1, 1]], dtype=float)
    p = model.predict(user)
    assert isinstance(p, Predictions)
    np.testing.assert_allclose(p.values, np.tile(MEANS, (2, 1)))
    # movie 4 has no training rating: global mean, marked as fallback
    np.testing.assert_array_equal(p.fallback, np.tile([False, False, False, False, True], (2, 1)))
    # a subset of movies, in the order asked
    q = model.predict(user[0], [3, 0, 2])
    np.testing.assert_allclose(q.values, [[2.0, 3.0, 4.0]])
    assert not q.fallback.any()


def test_item_mean_global_mean_differs_from_default():
    train = np.array([[5, 0], [5, 0]], dtype=float)
    p = ItemMean().fit(train).predict(np.zeros(2), [1])
    assert p.values[0, 0] == 5.0 and p.fallback[0, 0]


def test_item_mean_strict_raises_for_unknown_movie():
    model = ItemMean().fit(TRAIN)
    with pytest.raises(PredictionImpossible):
        model.predict(np.zeros(5), [0, 4], strict=True)
    assert model.predict(np.zeros(5), [0, 1], strict=True).values.tolist() == [[3.0, 3.0]]


@pytest.mark.parametrize("movies", [[5], [0, 7], [-1], [2, -3]])
def test_movie_index_out_of_range(movies):
    for model in (ItemMean().fit(TRAIN), ItemKNN(k=2).fit(TRAIN, hand_graph())):
        with pytest.raises(ValueError, match="out of range"):
            model.predict(np.zeros(5), movies)


def test_prediction_impossible_is_caught_as_a_value_error():
    """Callers that handle bad input (ValueError) also handle an impossible prediction."""
    model = ItemKNN(k=2).fit(np.array([[5, 4, 1], [4, 5, 2]], dtype=float), ItemGraph.build(
        np.array([[5, 4, 1], [4, 5, 2]], dtype=float), GraphConfig(k=2)))
    with pytest.raises(ValueError, match="cannot predict"):
        model.predict(np.zeros(3), [0], strict=True)  # no ratings: nothing reaches movie 0


# -- ItemKNN: hand-computed ------------------------------------------------------------------------
USER = np.array([0, 5, 1, 4, 0], dtype=float)  # rated movies 1, 2, 3


def test_knn_hand_computed_k1():
    model = ItemKNN(k=1).fit(TRAIN, hand_graph())
    p = model.predict(USER, [0, 3])
    # movie 0, top-1 positive among rated {1: 0.8, 2: 0.5, 3: -0.6} is movie 1:
    #   3 + 0.8 * (5 - 3) / 0.8 = 5
    # movie 3 (the user's own rating of 3 is never used), top-1 among {1: 0.4, 2: 0.1} is movie 1:
    #   2 + 0.4 * (5 - 3) / 0.4 = 4
    np.testing.assert_allclose(p.values, [[5.0, 4.0]], atol=1e-6)
    assert not p.fallback.any()


@pytest.mark.parametrize("k", [2, 3, 40])
def test_knn_hand_computed_k2_and_more(k):
    model = ItemKNN(k=k).fit(TRAIN, hand_graph())
    p = model.predict(USER, [0, 3, 1])
    # movie 0: neighbours 1 (0.8) and 2 (0.5); movie 3 (w = -0.6) is never used
    #   3 + (0.8 * (5 - 3) + 0.5 * (1 - 4)) / (0.8 + 0.5) = 3 + 0.1 / 1.3
    m0 = 3.0 + (0.8 * 2.0 + 0.5 * -3.0) / 1.3
    # movie 3: neighbours 1 (0.4) and 2 (0.1): 2 + (0.4 * 2 + 0.1 * -3) / 0.5 = 3
    m3 = 2.0 + (0.4 * 2.0 + 0.1 * -3.0) / 0.5
    # movie 1 (rated by the user, excluded itself): neighbours 2 (0.2), 3 (0.4)
    #   3 + (0.2 * (1 - 4) + 0.4 * (4 - 2)) / 0.6
    m1 = 3.0 + (0.2 * -3.0 + 0.4 * 2.0) / 0.6
    np.testing.assert_allclose(p.values, [[m0, m3, m1]], atol=1e-6)
    assert m0 == pytest.approx(3.0769230769, abs=1e-9) and m3 == pytest.approx(3.0)


def test_knn_ties_at_kth_weight_kept():
    corr = CORR.copy()
    corr[0, 2] = corr[2, 0] = 0.8  # movies 1 and 2 now tie at 0.8 for movie 0
    model = ItemKNN(k=1).fit(TRAIN, hand_graph(corr))
    p = model.predict(USER, [0])
    expected = 3.0 + (0.8 * 2.0 + 0.8 * -3.0) / 1.6  # both kept
    assert p.values[0, 0] == pytest.approx(expected, abs=1e-6)


def test_knn_fallback_no_positive_neighbour():
    model = ItemKNN(k=5).fit(TRAIN, hand_graph())
    users = np.array([
        [0, 0, 0, 4, 0],  # rated only movie 3: w(0, 3) = -0.6 < 0
        [0, 5, 1, 4, 0],  # movie 4 correlates with nothing
        [0, 0, 0, 0, 0],  # rated nothing
    ], dtype=float)
    p = model.predict(users, [0, 4])
    np.testing.assert_array_equal(p.fallback, [[True, True], [False, True], [True, True]])
    assert p.values[0, 0] == 3.0 and p.values[2, 0] == 3.0  # item mean of movie 0
    np.testing.assert_allclose(p.values[:, 1], 3.0)  # movie 4: global mean
    assert p.values[1, 0] == pytest.approx(3.0 + 0.1 / 1.3, abs=1e-6)
    # estimate shows the impossibility as NaN
    est = model.estimate(users.astype(np.float32), np.array([0, 4]))
    assert np.isnan(est[0, 0]) and np.isnan(est[1, 1]) and np.isfinite(est[1, 0])


def test_knn_strict_raises():
    model = ItemKNN(k=5).fit(TRAIN, hand_graph())
    with pytest.raises(PredictionImpossible, match="movie index 0"):
        model.predict(np.array([0, 0, 0, 4, 0], dtype=float), [0], strict=True)
    # possible everywhere asked -> no exception, same values as non-strict
    a = model.predict(USER, [0, 3], strict=True)
    b = model.predict(USER, [0, 3])
    np.testing.assert_array_equal(a.values, b.values)


def test_knn_rejects_k0():
    with pytest.raises(ValueError):
        ItemKNN(k=0)


# -- ItemKNN against a brute-force loop on a real Pearson graph -------------------------------------
def knn_reference(train, corr, x, k):
    n = train.shape[1]
    rated_cols = train > 0
    glob = train[rated_cols].mean()
    mu = np.array([train[rated_cols[:, j], j].mean() if rated_cols[:, j].any() else glob for j in range(n)])
    out = np.full((x.shape[0], n), np.nan)
    for b in range(x.shape[0]):
        for t in range(n):
            cands = [(float(corr[t, j]), j) for j in range(n) if x[b, j] > 0 and j != t and corr[t, j] > 0]
            if not cands:
                continue
            cands.sort(reverse=True)
            kth = cands[min(k, len(cands)) - 1][0]
            chosen = [(w, j) for w, j in cands if w >= kth]
            num = sum(w * (x[b, j] - mu[j]) for w, j in chosen)
            den = sum(abs(w) for w, _ in chosen)
            out[b, t] = mu[t] + num / den
    return out, mu


@pytest.mark.parametrize("k", [1, 3, 10])
def test_knn_matches_brute_force(k):
    rng = np.random.default_rng(k)
    train = rng.integers(1, 6, size=(40, 12)).astype(float)
    train[rng.random(train.shape) < 0.5] = 0
    train[:, 11] = 0  # a movie nobody rated
    graph = ItemGraph.build(train, GraphConfig(k=3))
    users = rng.integers(1, 6, size=(6, 12)).astype(float)
    users[rng.random(users.shape) < 0.6] = 0
    users[0] = 0
    model = ItemKNN(k=k).fit(train, graph)
    p = model.predict(users)
    ref, mu = knn_reference(train, graph.corr, users, k)
    np.testing.assert_array_equal(p.fallback, np.isnan(ref))
    np.testing.assert_allclose(p.values, np.clip(np.where(np.isnan(ref), mu, ref), 1, 5), atol=1e-5)  # predict clips
    np.testing.assert_allclose(model.estimate(users, np.arange(12)), ref, atol=1e-5)  # estimate does not
    assert (~p.fallback).sum() > 10  # most entries were really predicted


def test_knn_never_uses_the_targets_own_rating():
    # a correlation matrix with self-correlation 1 on the diagonal (as np.corrcoef gives):
    # predicting movie 1 for a user who rated it must still ignore that rating
    corr = CORR.copy()
    np.fill_diagonal(corr, 1.0)
    model = ItemKNN(k=1).fit(TRAIN, hand_graph(corr))
    user = np.array([0, 2, 1, 4, 0], dtype=float)
    p = model.predict(user, [1])
    # top-1 among the other rated movies {2: 0.2, 3: 0.4} is movie 3: 3 + 0.4 * (4 - 2) / 0.4 = 5
    # (using its own rating would give 3 + 1 * (2 - 3) / 1 = 2)
    assert p.values[0, 0] == pytest.approx(5.0, abs=1e-6)
    assert not p.fallback[0, 0]


# -- KNNBaseline ------------------------------------------------------------------------------------
def surprise_knn_baseline(train, x, target, k, shrinkage, reg_u, reg_i, epochs):
    """Surprise's KNNBaseline (ALS baselines, pearson_baseline similarity, item-based) as plain
    loops over dicts; the user's bias folded in from ``x`` with the fitted item biases."""
    users, items = train.shape
    ur = {u: [(i, train[u, i]) for i in range(items) if train[u, i] > 0] for u in range(users)}
    ir = {i: [(u, train[u, i]) for u in range(users) if train[u, i] > 0] for i in range(items)}
    mu = np.mean([r for u in ur for _, r in ur[u]])
    bu, bi = np.zeros(users), np.zeros(items)
    for _ in range(epochs):
        for u in range(users):
            bu[u] = sum(r - mu - bi[i] for i, r in ur[u]) / (reg_u + len(ur[u]))
        for i in range(items):
            bi[i] = sum(r - mu - bu[u] for u, r in ir[i]) / (reg_i + len(ir[i]))

    def sim(a, b):
        common = [u for u in range(users) if train[u, a] > 0 and train[u, b] > 0]
        if a == b or len(common) < 2:
            return 0.0
        ea = [train[u, a] - mu - bu[u] - bi[a] for u in common]
        eb = [train[u, b] - mu - bu[u] - bi[b] for u in common]
        den = np.sqrt(sum(v * v for v in ea) * sum(v * v for v in eb))
        rho = sum(p * q for p, q in zip(ea, eb)) / den if den > 0 else 0.0
        return rho * (len(common) - 1) / (len(common) - 1 + shrinkage)

    rated = [(j, x[j]) for j in range(items) if x[j] > 0 and j != target]
    b_user = sum(r - mu - bi[j] for j, r in rated) / (reg_u + len(rated))
    est = mu + b_user + bi[target]
    neighbours = sorted(((sim(target, j), j, r) for j, r in rated), reverse=True)[:k]
    num = den = 0.0
    for s, j, r in neighbours:
        if s > 0:
            num += s * (r - (mu + b_user + bi[j]))
            den += s
    if den > 0:
        est += num / den
    return min(max(est, 1.0), 5.0)


@pytest.mark.parametrize("k,shrinkage", [(1, 0.0), (3, 5.0), (40, 100.0)])
def test_knn_baseline_matches_a_plain_loop_of_surprises_algorithm(k, shrinkage):
    rng = np.random.default_rng(5)
    train = np.where(rng.random((30, 12)) < 0.5, rng.integers(1, 6, size=(30, 12)), 0).astype(float)
    x = np.where(rng.random((4, 12)) < 0.6, rng.integers(1, 6, size=(4, 12)), 0).astype(float)
    model = KNNBaseline(k=k, shrinkage=shrinkage, reg_user=3.0, reg_item=2.0, epochs=4).fit(train)
    movies = np.array([0, 5, 11])
    x[:, movies] = 0  # the ratings being predicted are unknown (as in the evaluation)
    got = model.predict(x, movies, strict=True)
    assert not got.fallback.any()
    assert len(np.unique(got.values)) > 6  # neighbours moved the predictions off a few baselines
    for b in range(len(x)):
        for t, movie in enumerate(movies):
            want = surprise_knn_baseline(train, x[b], movie, k, shrinkage, 3.0, 2.0, 4)
            assert got.values[b, t] == pytest.approx(want, abs=1e-6), (b, movie)  # x is read as float32


def test_predict_clips_every_model_to_the_rating_scale():
    """estimate() is the model's own number; predict() clips it to [1, 5], the one rule every model
    is scored under."""
    class Fixed(Predictor):
        def __init__(self, est):
            self.est, self.item_means = np.asarray(est, dtype=float), np.array([2.5, 3.5, 4.5])

        def estimate(self, x, movies):
            return self.est[:, movies]

    est = [[5.7, 0.2, np.nan], [3.3, -1.0, 9.0]]
    p = Fixed(est).predict(np.zeros((2, 3)))
    np.testing.assert_array_equal(p.values, [[5.0, 1.0, 4.5], [3.3, 1.0, 5.0]])
    np.testing.assert_array_equal(p.fallback, [[False, False, True], [False, False, False]])
    # a real model: a k-NN deviation carries a movie rated 5 on average past 5
    train = np.array([[5, 5, 1], [5, 4, 2], [4, 5, 1], [1, 2, 5]], dtype=float)
    knn = ItemKNN(k=2).fit(train, ItemGraph.build(train, GraphConfig(k=2)))
    x = np.array([[5.0, 0.0, 1.0]])
    assert knn.estimate(x, np.array([1]))[0, 0] > 5 and knn.predict(x, [1]).values[0, 0] == 5.0


def test_knn_baseline_without_neighbours_is_the_baseline_and_clipped():
    train = np.array([[5, 5, 0], [5, 5, 0], [5, 0, 5]], dtype=float)
    model = KNNBaseline(reg_user=0.0, reg_item=0.0, epochs=1).fit(train)
    # a user who rated nothing: mu + b_item only; every baseline here is 5 and stays <= 5
    got = model.predict(np.zeros((1, 3)), [0, 1, 2], strict=True).values
    assert np.allclose(got, 5.0)
    assert np.all(got <= 5.0)


@pytest.mark.parametrize("kwargs", [dict(k=0), dict(shrinkage=-1.0), dict(reg_user=-0.5), dict(epochs=0)])
def test_knn_baseline_rejects(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        KNNBaseline(**kwargs)


@pytest.mark.parametrize("k", [5, 40])
def test_knn_baseline_equals_scikit_surprise(k):
    """An independent oracle: Surprise's own KNNBaseline (ALS baselines, pearson_baseline item
    similarity shrunk by 100) gives the same prediction for every unrated (user, movie) pair."""
    import pandas as pd
    from surprise import Dataset, Reader
    from surprise import KNNBaseline as SurpriseKNNBaseline

    rng = np.random.default_rng(k)
    x = rng.integers(1, 6, size=(60, 25)).astype(float)
    x[rng.random(x.shape) < 0.55] = 0
    u, m = np.nonzero(x)
    trainset = Dataset.load_from_df(pd.DataFrame({"u": u, "i": m, "r": x[u, m]}),
                                    Reader(rating_scale=(1, 5))).build_full_trainset()
    theirs = SurpriseKNNBaseline(k=k, sim_options={"name": "pearson_baseline", "user_based": False, "shrinkage": 100},
                                 bsl_options={"method": "als", "reg_u": 15, "reg_i": 10, "n_epochs": 10},
                                 verbose=False).fit(trainset)
    ours = KNNBaseline(k=k).fit(x)
    got = ours.predict(x).values  # (U, N), clipped
    pairs = np.argwhere(x == 0)
    assert len(pairs) > 500
    want = np.array([theirs.predict(int(a), int(b)).est for a, b in pairs])
    np.testing.assert_allclose(got[pairs[:, 0], pairs[:, 1]], want, atol=1e-5)
