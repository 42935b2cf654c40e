"""Tests for gnnrec.gnn and gnnrec.fitting: input encodings, the target-movie GNN predictor (fit, predict,
partial pass vs full pass, best/last weights, fine-tuning), the all-movies predictor, the receptive-field
fallback."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from toy import synthetic_ratings

from gnnrec.gnn import GNNPredictor, GNNPredictorConfig, encode
from gnnrec.graph import GraphConfig, ItemGraph
from gnnrec.models import GNNConfig, LocalGNN, sparse_shift
from gnnrec.train import TrainConfig

TARGET = 0


def small_config(**kw) -> GNNPredictorConfig:
    base = dict(model=GNNConfig(features=(8, 4), taps=(3, 3)),
                train=TrainConfig(epochs=3, batch_size=5, lr=0.05, valid_every=2, seed=0),
                target=TARGET)
    base.update(kw)
    return GNNPredictorConfig(**base)


@pytest.fixture(scope="module")
def data():
    x = synthetic_ratings()
    graph = ItemGraph.build(x, GraphConfig(k=4))
    return x, graph


@pytest.fixture(scope="module")
def fitted(data, speedups):  # built once on each path of the switch (tests/conftest.py)
    x, graph = data
    return GNNPredictor(small_config()).fit(x, graph)


# -- encode ----------------------------------------------------------------------------------------
def test_encode_hand_computed():
    x = np.array([[4, 0, 2, 0], [0, 0, 0, 0], [5, 1, 0, 3]], dtype=float)
    sig, off = encode(x, "raw", 3.5)
    np.testing.assert_array_equal(sig.numpy()[..., 0], x)
    assert sig.shape == (3, 4, 1)
    np.testing.assert_array_equal(off.numpy(), np.zeros((3, 4)))  # offset (B, N), one per node

    sig, off = encode(x, "centered", 3.5)
    # user means over rated entries: 3, none -> global 3.5, 3; the same offset at every node
    assert sig.shape == (3, 4, 1) and off.shape == (3, 4)
    np.testing.assert_allclose(off.numpy(), np.repeat([[3.0], [3.5], [3.0]], 4, axis=1))
    np.testing.assert_allclose(sig.numpy()[..., 0], [[1, 0, -1, 0], [0, 0, 0, 0], [2, -2, 0, 0]])

    sig2, off2 = encode(torch.tensor(x), "centered+observed", 3.5)
    assert sig2.shape == (3, 4, 2)
    np.testing.assert_allclose(sig2.numpy()[..., 0], sig.numpy()[..., 0])
    np.testing.assert_array_equal(sig2.numpy()[..., 1], (x > 0).astype(float))
    np.testing.assert_allclose(off2.numpy(), off.numpy())


@pytest.mark.parametrize("seed", [0, 1])
def test_encode_centered_random(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 6, size=(7, 9)).astype(float)
    x[rng.random(x.shape) < 0.5] = 0
    x[0] = 0
    sig, off = encode(x, "centered", 3.25)
    for u in range(7):
        rated = x[u] > 0
        mu = x[u, rated].mean() if rated.any() else 3.25
        np.testing.assert_allclose(off[u].numpy(), np.full(9, mu), atol=1e-6)
        np.testing.assert_allclose(sig[u, :, 0].numpy(), np.where(rated, x[u] - mu, 0.0), atol=1e-6)
        # adding the offset back on rated entries recovers the ratings
        np.testing.assert_allclose((sig[u, :, 0].numpy() + mu)[rated], x[u, rated], atol=1e-5)


def test_encode_baseline_hand_computed():
    # item means mu = (3, 4, 2, 3.5); user 0 rated movies 0 and 2: deviations 4-3=1, 1-2=-1 -> b=0
    # user 1 rated movie 1 only: 5-4=1 -> b=1; user 2 rated nothing -> b=0
    mu = np.array([3.0, 4.0, 2.0, 3.5])
    x = np.array([[4, 0, 1, 0], [0, 5, 0, 0], [0, 0, 0, 0]], dtype=float)
    b = np.array([0.0, 1.0, 0.0])
    sig, off = encode(x, "baseline", 3.0, mu)
    np.testing.assert_allclose(off.numpy(), mu[None, :] + b[:, None], atol=1e-6)
    np.testing.assert_allclose(sig.numpy()[..., 0], [[1, 0, -1, 0], [0, 0, 0, 0], [0, 0, 0, 0]], atol=1e-6)
    sig2, _ = encode(x, "baseline+observed", 3.0, mu)
    np.testing.assert_array_equal(sig2.numpy()[..., 1], (x > 0).astype(float))


@pytest.mark.parametrize("seed", [0, 1])
def test_encode_baseline_random(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 6, size=(6, 8)).astype(float)
    x[rng.random(x.shape) < 0.5] = 0
    mu = rng.uniform(2, 4, size=8)
    sig, off = encode(x, "baseline", 3.0, mu)
    for u in range(6):
        rated = x[u] > 0
        bu = (x[u, rated] - mu[rated]).mean() if rated.any() else 0.0
        np.testing.assert_allclose(off[u].numpy(), mu + bu, atol=1e-5)
        np.testing.assert_allclose(sig[u, :, 0].numpy(), np.where(rated, x[u] - mu - bu, 0.0), atol=1e-5)


@pytest.mark.parametrize("lam", [0.0, 2.5])
def test_encode_baseline_user_damping(lam):
    rng = np.random.default_rng(4)
    x = rng.integers(1, 6, size=(5, 7)).astype(float)
    x[rng.random(x.shape) < 0.5] = 0
    x[4] = 0  # a user with no rating: offset = item means
    mu = rng.uniform(2, 4, size=7)
    _, off = encode(x, "baseline", 3.0, mu, user_damping=lam)
    for u in range(5):
        rated = x[u] > 0
        bu = (x[u, rated] - mu[rated]).sum() / (rated.sum() + lam) if rated.any() else 0.0
        np.testing.assert_allclose(off[u].numpy(), mu + bu, atol=1e-5)


def test_item_damping_pulls_means_to_global_mean():
    x = np.array([[5, 1, 0], [5, 0, 0], [4, 0, 0]], dtype=np.float32)  # movie 2 unrated
    g = float(x[x > 0].mean())  # 3.75
    pred = GNNPredictor(GNNPredictorConfig(encoding="baseline", item_damping=2.0))
    pred._set_means(x)
    np.testing.assert_allclose(pred.item_means, [(14 + 2 * g) / 5, (1 + 2 * g) / 3, g])
    assert pred.item_known.tolist() == [True, True, False]
    plain = GNNPredictor(GNNPredictorConfig(encoding="baseline"))
    plain._set_means(x)
    np.testing.assert_allclose(plain.item_means, [14 / 3, 1, g])


def test_config_channels_follow_encoding():
    assert GNNPredictorConfig(encoding="centered+observed").model.in_features == 2
    assert GNNPredictorConfig(encoding="centered").model.in_features == 1
    assert GNNPredictorConfig(encoding="baseline+observed").model.in_features == 2
    cfg = GNNPredictorConfig(model=GNNConfig(in_features=2), encoding="raw")
    assert cfg.model.in_features == 1
    for bad in (dict(encoding="z"), dict(weights="mid"), dict(ensemble=0), dict(item_damping=-1),
                dict(user_damping=float("nan"))):
        with pytest.raises(ValueError):
            GNNPredictorConfig(**bad)


# -- target task -------------------------------------------------------------------------------------
def test_target_fit_predicts_finite_values(data, fitted):
    x, graph = data
    pred = fitted
    assert len(pred.models) == 1 and len(pred.results) == 1
    res = pred.results[0]
    assert len(res.history) >= 2 and np.isfinite(res.best_valid_rmse)
    assert res.history[-1][2] < res.history[0][2]  # training improved the validation RMSE
    users = x[:10]
    p = pred.predict(users, [TARGET])
    assert p.values.shape == (10, 1)
    assert np.all(np.isfinite(p.values))
    # these users rated other movies linked to the target: no fallback
    assert not p.fallback.any()
    hidden = users.copy()
    hidden[:, TARGET] = 0
    sig, off = encode(hidden, "raw", pred.global_mean)
    with torch.no_grad():  # the reference forward pass, clipped to the rating scale as predict() does
        manual = (pred.models[0](sig, sparse_shift(graph.shift))[:, TARGET] + off[:, TARGET]).numpy()
    np.testing.assert_allclose(p.values[:, 0], np.clip(manual, 1, 5), atol=1e-5)


def test_target_prediction_equals_manual_forward(data, fitted):
    x, graph = data
    users = x[:8].copy()
    est = fitted.predict(users, [TARGET]).values[:, 0]
    hidden = users.copy()
    hidden[:, TARGET] = 0  # the target model never sees the rating it predicts
    sig, off = encode(hidden, "raw", fitted.global_mean)
    with torch.no_grad():
        manual = fitted.models[0](sig, sparse_shift(graph.shift))[:, TARGET] + off[:, TARGET]
    np.testing.assert_allclose(est, manual.numpy(), atol=1e-5)


def test_fast_path_equals_full_path_and_ignores_own_rating(data, fitted):
    x, _ = data
    users = x[:12].astype(float)
    fast = fitted.predict(users, [TARGET]).values[:, 0]  # LocalPlan path
    full = fitted.predict(users, [TARGET, 3]).values[:, 0]  # whole-graph path
    np.testing.assert_allclose(fast, full, atol=1e-5)
    changed = users.copy()
    changed[:, TARGET] = np.where(changed[:, TARGET] == 5, 1, 5)
    np.testing.assert_allclose(fitted.predict(changed, [TARGET]).values[:, 0], fast, atol=1e-6)


def test_user_with_no_rating_falls_back(data, fitted):
    p = fitted.predict(np.zeros((1, 12)), [TARGET])
    assert p.fallback[0, 0]
    assert p.values[0, 0] == pytest.approx(fitted.item_means[TARGET])
    assert fitted.item_means[TARGET] == pytest.approx(data[0][:, TARGET].mean())


def test_fit_requires_target_rated(data):
    x, graph = data
    bad = x.copy()
    bad[5, TARGET] = 0
    with pytest.raises(ValueError, match="target movie index 0"):
        GNNPredictor(small_config()).fit(bad, graph)


def test_fit_deterministic(data, fitted):
    x, graph = data
    again = GNNPredictor(small_config()).fit(x, graph)
    assert again.results[0].history == fitted.results[0].history
    np.testing.assert_array_equal(again.predict(x[:5], [TARGET]).values, fitted.predict(x[:5], [TARGET]).values)


@pytest.mark.parametrize("encoding", ["centered", "centered+observed", "baseline"])
def test_target_fit_other_encodings(data, encoding):
    x, graph = data
    cfg = small_config(encoding=encoding, train=TrainConfig(epochs=1, batch_size=10, lr=0.01, valid_every=2))
    pred = GNNPredictor(cfg).fit(x, graph)
    assert pred.models[0].layers[0].weight.shape[1] == (2 if encoding.endswith("+observed") else 1)
    users = x[:6]
    est = pred.predict(users, [TARGET]).values[:, 0]
    hidden = users.copy()
    hidden[:, TARGET] = 0
    sig, off = encode(hidden, encoding, pred.global_mean, pred.item_means)
    with torch.no_grad():
        manual = pred.models[0](sig, sparse_shift(graph.shift))[:, TARGET] + off[:, TARGET]
    np.testing.assert_allclose(est, manual.numpy(), atol=1e-5)
    # the offset (from the user's ratings without the target) is really added back
    assert np.all(off[:, TARGET].numpy() > 0.5)


def test_with_weights_last_differs_from_best(data):
    x, graph = data
    cfg = small_config(train=TrainConfig(epochs=3, batch_size=5, lr=0.2, valid_every=2, seed=0))
    pred = GNNPredictor(cfg).fit(x, graph)
    res = pred.results[0]
    last_step = res.history[-1][0]
    assert res.best_step != last_step, "fixture should give a best step before the end"
    users = x[:15]
    best_vals = pred.predict(users, [TARGET]).values
    last = pred.with_weights("last")
    assert last.config.weights == "last" and pred.config.weights == "best"
    for k, v in last.models[0].state_dict().items():
        assert torch.equal(v, res.last_state[k])
        assert torch.equal(pred.models[0].state_dict()[k], res.best_state[k])
    last_vals = last.predict(users, [TARGET]).values
    assert np.abs(last_vals - best_vals).max() > 1e-4
    # back to best reproduces the original predictions; the original is untouched
    np.testing.assert_allclose(last.with_weights("best").predict(users, [TARGET]).values, best_vals, atol=1e-6)
    np.testing.assert_allclose(pred.predict(users, [TARGET]).values, best_vals, atol=0)


# -- receptive field ---------------------------------------------------------------------------------
def test_receptive_field_fallback_on_path_graph():
    n = 10
    a = np.zeros((n, n))
    for i in range(n - 1):
        a[i, i + 1] = a[i + 1, i] = 0.5
    graph = ItemGraph(corr=None, shift=sp.csr_matrix(a, dtype=np.float32), config=GraphConfig())
    cfg = GNNPredictorConfig(model=GNNConfig(features=(3, 2), taps=(2, 2)), target=None)
    torch.manual_seed(0)
    state = LocalGNN(cfg.model).state_dict()
    means = np.linspace(2, 4, n)
    pred = GNNPredictor.restore(cfg, graph, means, np.ones(n, bool), 3.0, [state])
    assert pred.receptive_field() == 2
    x = np.zeros((2, n))
    x[0, 5] = 4  # reaches movies 3..7
    x[1, [0, 9]] = 2  # reaches 0..2 and 7..9
    p = pred.predict(x)
    np.testing.assert_array_equal(p.fallback[0], [i not in range(3, 8) for i in range(n)])
    np.testing.assert_array_equal(p.fallback[1], [i not in (0, 1, 2, 7, 8, 9) for i in range(n)])
    np.testing.assert_allclose(p.values[p.fallback], np.broadcast_to(means, (2, n))[p.fallback])
    sig, _ = encode(x, "raw", 3.0)
    with torch.no_grad():
        full = pred.models[0](sig, sparse_shift(graph.shift)).numpy()
    np.testing.assert_allclose(p.values[~p.fallback], np.clip(full, 1, 5)[~p.fallback], atol=1e-6)  # predict clips
    np.testing.assert_allclose(pred.estimate(x, np.arange(n))[~p.fallback], full[~p.fallback], atol=1e-6)


# -- ensemble and all-movies task ------------------------------------------------------------------------
def test_ensemble_averages_members(data):
    x, graph = data
    cfg = small_config(ensemble=2, train=TrainConfig(epochs=1, batch_size=10, lr=0.05, valid_every=2, seed=4))
    pred = GNNPredictor(cfg).fit(x, graph)
    assert len(pred.models) == 2 and len(pred.results) == 2
    # members differ (seeds 4 and 5)
    w0, w1 = (m.layers[0].weight for m in pred.models)
    assert not torch.equal(w0, w1)
    users = x[:6]
    hidden = users.copy()
    hidden[:, TARGET] = 0
    sig, off = encode(hidden, "raw", pred.global_mean)
    s = sparse_shift(graph.shift)
    with torch.no_grad():
        members = [m(sig, s)[:, TARGET] for m in pred.models]
    manual = (members[0] + members[1]) / 2 + off[:, TARGET]
    np.testing.assert_allclose(pred.predict(users, [TARGET]).values[:, 0], manual.numpy(), atol=1e-5)


def test_all_movies_fit_predicts_every_movie():
    x = synthetic_ratings(3, users=30, movies=8)
    graph = ItemGraph.build(x, GraphConfig(k=3))
    cfg = GNNPredictorConfig(model=GNNConfig(features=(4, 3), taps=(2, 2)), encoding="centered",
                             train=TrainConfig(epochs=1, batch_size=10, lr=0.01, valid_every=1, seed=0))
    pred = GNNPredictor(cfg).fit(x, graph)
    assert len(pred.results[0].history) == 4  # 3 steps + the final validation
    p = pred.predict(x[:5])
    assert p.values.shape == (5, 8) and np.all(np.isfinite(p.values))
    sig, off = encode(x[:5], "centered", pred.global_mean)
    with torch.no_grad():
        # without an explicit validation set the predictor rebuilds its graph without the held-out ratings
        manual = pred.models[0](sig, sparse_shift(pred.graph.shift)) + off
    reached = ~p.fallback
    assert reached.sum() > 20
    np.testing.assert_allclose(p.values[reached], manual.numpy()[reached], atol=1e-5)


def test_all_movies_few_movies_use_the_exact_partial_pass():
    """Predicting at <= LOCAL_MAX movies goes through LocalPlan; it equals the full pass."""
    x = synthetic_ratings(4, users=40, movies=12)
    graph = ItemGraph.build(x, GraphConfig(k=3))
    cfg = GNNPredictorConfig(model=GNNConfig(features=(5, 3), taps=(3, 2)), encoding="baseline+observed",
                             train=TrainConfig(epochs=1, batch_size=10, lr=0.01, valid_every=2, seed=0))
    pred = GNNPredictor(cfg).fit(x, graph)
    full = pred.predict(x[:7])
    for movies in ([0], [3, 9], [11, 2, 5]):
        part = pred.predict(x[:7], movies)
        np.testing.assert_allclose(part.values, full.values[:, movies], atol=1e-5)
        np.testing.assert_array_equal(part.fallback, full.fallback[:, movies])


def test_use_predicts_with_the_new_graph_and_means_and_keeps_the_weights():
    x = synthetic_ratings(5, users=40, movies=12)
    part = np.where(np.random.default_rng(0).random(x.shape) < 0.2, 0, x)  # the graph the weights were chosen on
    cfg = GNNPredictorConfig(model=GNNConfig(features=(5, 3), taps=(3, 2)), encoding="baseline+observed",
                             train=TrainConfig(epochs=1, batch_size=10, lr=0.01, valid_every=2, seed=0))
    pred = GNNPredictor(cfg).fit(part, ItemGraph.build(part, GraphConfig(k=3)), valid=np.where(part > 0, 0, x))
    weights = {k: v.clone() for k, v in pred.models[0].state_dict().items()}
    before = pred.predict(x[:6], [0, 4])  # builds and keeps a partial-pass plan on the old graph
    full_graph = ItemGraph.build(x, GraphConfig(k=3))
    assert pred.use(x, full_graph) is pred
    assert pred.graph is full_graph
    np.testing.assert_allclose(pred.item_means, np.where((x > 0).sum(0) > 0, x.sum(0) / np.maximum((x > 0).sum(0), 1),
                                                         pred.global_mean), rtol=1e-6)
    for k, v in pred.models[0].state_dict().items():
        assert torch.equal(v, weights[k])
    sig, off = encode(x[:6], "baseline+observed", pred.global_mean, pred.item_means)
    with torch.no_grad():
        manual = (pred.models[0](sig, sparse_shift(full_graph.shift)) + off).numpy()  # (6, N) by hand
    after = pred.predict(x[:6], [0, 4])  # on the new graph: no partial-pass plan of the old one is reused
    ok = ~after.fallback
    np.testing.assert_allclose(after.values[ok], manual[:, [0, 4]][ok], atol=1e-5)
    assert not np.allclose(after.values, before.values)
    with pytest.raises(ValueError, match="the graph has 12 nodes but the ratings 5 movies"):
        pred.use(x[:, :5], full_graph)
