"""Tests for gnnrec.allmovies: the random 90/10 rating split, the training matrix, and one end-to-end
evaluation with a tiny GNN preset on a subset of the real ratings (the full task takes minutes)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from gnnrec import allmovies, evaluate, presets
from gnnrec.allmovies import rating_split
from gnnrec.gnn import GNNPredictorConfig
from gnnrec.graph import GraphConfig, ItemGraph
from gnnrec.models import GNNConfig
from gnnrec.presets import Preset
from gnnrec.train import TrainConfig

TINY = Preset(GNNPredictorConfig(model=GNNConfig(features=(4,), taps=(2,)), encoding="centered",
                                 train=TrainConfig(epochs=1, batch_size=256, valid_every=100)),
              GraphConfig(k=10, min_common=5), "test-only: one small layer, one epoch", task="all")
SUB_USERS = 300  # users 1..300: about 31,000 real ratings


# -- rating_split ---------------------------------------------------------------------------------
@pytest.mark.integration
def test_rating_split_sizes(movielens):
    train, test = rating_split(movielens, 0)
    assert train.dtype == bool and train.shape == (100_000,)
    assert test.sum() == 10_000 and train.sum() == 90_000
    assert not (train & test).any() and (train | test).all()
    assert rating_split(movielens, 0, test_fraction=0.2)[1].sum() == 20_000


@pytest.mark.integration
def test_rating_split_deterministic(movielens):
    a, b, c = rating_split(movielens, 5)[1], rating_split(movielens, 5)[1], rating_split(movielens, 6)[1]
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    # a random draw: the test share is about 10% for every rating value and both halves of the users
    r = movielens.ratings
    for v in range(1, 6):
        assert 0.08 < a[(r["rating"] == v).to_numpy()].mean() < 0.12
    assert 0.08 < a[(r["user"] <= 470).to_numpy()].mean() < 0.12


@pytest.mark.integration
def test_matrix_of_selected_ratings(movielens):
    train, test = rating_split(movielens, 1)
    xtr, xte = movielens.matrix(train), movielens.matrix(test)
    assert xtr.shape == xte.shape == (943, 1682)
    assert np.count_nonzero(xtr) == 90_000 and np.count_nonzero(xte) == 10_000
    assert not ((xtr > 0) & (xte > 0)).any()
    np.testing.assert_array_equal(xtr + xte, movielens.matrix())
    rows = movielens.ratings[test]
    np.testing.assert_array_equal(xte[rows["user"] - 1, rows["movie"] - 1], rows["rating"])


# -- errors (cheap) -------------------------------------------------------------------------------
def test_fit_models_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        allmovies.fit_models(np.zeros((3, 4), dtype=np.float32), "nope")


@pytest.mark.parametrize("name", ["seed", "best"])
def test_fit_models_refuses_target_preset(name):
    with pytest.raises(ValueError, match=f"preset '{name}' is made for the 'target' task"):
        allmovies.fit_models(np.zeros((3, 4), dtype=np.float32), name)


@pytest.mark.integration
def test_evaluate_all_refuses_zero_splits(movielens):
    with pytest.raises(ValueError, match="splits=0"):
        allmovies.evaluate_all(movielens, splits=0)


# -- one tiny end-to-end evaluation ---------------------------------------------------------------
@pytest.fixture(scope="module")
def subset(movielens):
    r = movielens.ratings
    return dataclasses.replace(movielens, ratings=r[r["user"] <= SUB_USERS].reset_index(drop=True))


@pytest.fixture(scope="module")
def tiny_eval(subset):
    calls = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(presets.PRESETS, "tiny", TINY)
        res = allmovies.evaluate_all(subset, splits=1, seed=3, preset_name="tiny",
                                     on_split=lambda i, rec: calls.append(i))
    return res, calls


@pytest.mark.integration
def test_evaluate_all_records(subset, tiny_eval):
    res, calls = tiny_eval
    assert calls == [0]
    assert res["task"] == "all" and res["config"]["preset"] == "tiny" and res["config"]["splits"] == 1
    assert res["data_fingerprint"] == subset.fingerprint()
    json.dumps(res)
    (s,) = res["splits"]
    assert s["seed"] == 3
    train_rows, test_rows = rating_split(subset, 3)
    test = subset.ratings[test_rows]
    assert len(s["test"]) == len(test) == round(0.1 * len(subset.ratings))
    assert [(r["user"], r["movie"]) for r in s["test"]] == list(zip(test["user"], test["movie"]))
    assert all("rating" not in r for r in s["test"])  # GroupLens's terms: no ratings in results files
    assert all(set(r["pred"]) == {"gnn", "knn", "knn_baseline", "item_mean"} for r in s["test"])
    assert s["split"] == "random"


@pytest.mark.integration
def test_evaluate_all_item_mean_by_hand(subset, tiny_eval):
    res, _ = tiny_eval
    (s,) = res["splits"]
    train = subset.matrix(rating_split(subset, 3)[0])
    counts = (train > 0).sum(0)
    global_mean = train[train > 0].mean()
    with np.errstate(invalid="ignore"):
        means = np.where(counts > 0, train.sum(0) / counts, global_mean)
    for r in s["test"][:500]:
        assert r["pred"]["item_mean"] == pytest.approx(means[r["movie"] - 1], abs=1e-5)
    unseen = np.mean([counts[r["movie"] - 1] == 0 for r in s["test"]])
    assert s["fallback_share"]["item_mean"] == pytest.approx(unseen)
    assert all(0 <= v <= 1 for v in s["fallback_share"].values())


@pytest.mark.integration
def test_evaluate_all_summary(subset, tiny_eval):
    res, _ = tiny_eval
    (s,) = evaluate.attach_ratings(res, subset)["splits"]
    for name, summ in res["summary"].items():
        hand = np.sqrt(np.mean([(r["pred"][name] - r["rating"]) ** 2 for r in s["test"]]))
        assert summ["mean"] == pytest.approx(hand, rel=1e-12)
        assert s["rmse"][name] == pytest.approx(hand, rel=1e-12)
        assert 0.5 < hand < 1.5
    # on real ratings the k-NN beats the item mean
    assert res["summary"]["knn"]["mean"] < res["summary"]["item_mean"]["mean"]


@pytest.mark.integration
def test_fit_gnn_predicts_with_the_graph_and_means_of_all_its_ratings(subset):
    train = subset.matrix(allmovies.rating_split(subset, 0)[0])
    g = allmovies.fit_gnn(train, TINY, seed=0)
    full = ItemGraph.build(train, TINY.graph)  # validation ratings included: the weights are chosen already
    assert (g.graph.shift != full.shift).nnz == 0
    rated = (train > 0).sum(0)
    np.testing.assert_allclose(g.item_means[rated > 0], train.sum(0)[rated > 0] / rated[rated > 0], rtol=1e-6)


# -- GroupLens's canonical splits -----------------------------------------------------------------
@pytest.mark.integration
def test_canonical_splits_are_mku_sh_line_ranges(movielens):
    """u{i}.test is lines (i-1)*20000+1 .. i*20000 of u.data (mku.sh); u1.test's published
    statistics (459 users, 1,410 movies) hold, and the five tests partition the data."""
    seen = np.zeros(len(movielens.ratings), dtype=int)
    for i, name in enumerate(allmovies.CANONICAL):
        train, test = allmovies.canonical_split(movielens, name)
        assert test.sum() == 20_000 and (train == ~test).all()
        assert np.flatnonzero(test).tolist() == list(range(i * 20_000, (i + 1) * 20_000))
        seen += test
    assert (seen == 1).all()
    u1 = movielens.ratings[allmovies.canonical_split(movielens, "u1")[1]]
    assert (u1["user"].nunique(), u1["movie"].nunique()) == (459, 1410)
    assert movielens.ratings.iloc[0].tolist()[:3] == [196, 242, 3]  # u.data's first line


@pytest.mark.integration
def test_canonical_split_errors(movielens, subset):
    with pytest.raises(ValueError, match="unknown canonical split 'u6'"):
        allmovies.canonical_split(movielens, "u6")
    with pytest.raises(ValueError, match="need all 100,000 ratings"):
        allmovies.canonical_split(subset, "u1")
    with pytest.raises(ValueError, match="split='u0'"):
        allmovies.split_names("u0", 1, 0)
    assert allmovies.split_names("canonical", 9, 4) == [(n, 4) for n in allmovies.CANONICAL]
    assert allmovies.split_names("random", 2, 4) == [("random", 4), ("random", 5)]
