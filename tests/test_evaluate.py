"""Tests for gnnrec.evaluate: the reference user split, RMSE and the summary, the experiment's config,
and one cheap end-to-end split (one epoch, a movie with few raters)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from gnnrec import evaluate, presets
from gnnrec.evaluate import EvalConfig, rmse, summarise, target_split

SMALL = 27  # "Bad Boys" (1995): 57 raters, so one split trains in well under a second


# -- target_split ---------------------------------------------------------------------------------
@pytest.mark.integration
def test_star_wars_split(movielens):
    s = target_split(movielens, 50, 0)
    assert (len(s.train_users), len(s.valid_users), len(s.test_users)) == (473, 52, 58)
    tr, va, te = set(s.train_users), set(s.valid_users), set(s.test_users)
    assert not (tr & va or tr & te or va & te)
    r = movielens.ratings
    raters = set(r.loc[r["movie"] == 50, "user"])
    assert tr | va | te == raters and len(raters) == 583
    for part in (s.train_users, s.valid_users, s.test_users):
        assert (np.diff(part) > 0).all()  # sorted GroupLens ids
    assert s.seed == 0


@pytest.mark.integration
def test_split_deterministic_per_seed(movielens):
    a, b = target_split(movielens, 50, 3), target_split(movielens, 50, 3)
    for part in ("train_users", "valid_users", "test_users"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    c = target_split(movielens, 50, 4)
    assert not np.array_equal(a.test_users, c.test_users)
    assert len(c.test_users) == len(a.test_users)


@pytest.mark.integration
@pytest.mark.parametrize("movie", [1, 181, SMALL])
def test_split_sizes_follow_formula(movielens, movie):
    n = int(movielens.n_raters()[movie - 1])
    s = target_split(movielens, movie, 1)
    n_train = round(0.9 * n)
    n_valid = round(0.1 * n_train)
    assert len(s.valid_users) == n_valid
    assert len(s.train_users) == n_train - n_valid
    assert len(s.test_users) == n - n_train
    x = movielens.matrix()
    for users in (s.train_users, s.valid_users, s.test_users):
        assert (x[users - 1, movie - 1] > 0).all()  # every split user rated the movie


@pytest.mark.integration
def test_too_few_raters(movielens):
    nr = movielens.n_raters()
    for count in (1, 2, 6):
        movie = int(np.flatnonzero(nr == count)[0]) + 1
        with pytest.raises(ValueError, match=rf"movie {movie} \(.*\) has {count} raters: too few"):
            target_split(movielens, movie, 0)


@pytest.mark.integration
@pytest.mark.parametrize("movie", [0, 1683, 99999, -5])
def test_unknown_movie(movielens, movie):
    with pytest.raises(ValueError, match=rf"unknown movie id {movie}"):
        target_split(movielens, movie, 0)


# -- rmse, summarise ------------------------------------------------------------------------------
def test_rmse_matches_numpy():
    rng = np.random.default_rng(0)
    p, t = rng.uniform(1, 5, 50), rng.integers(1, 6, 50)
    assert rmse(p, t) == pytest.approx(np.sqrt(np.mean((p - t) ** 2)), rel=1e-12)
    assert rmse([3, 4], [3, 4]) == 0.0
    assert rmse([1.0, 5.0], [2.0, 3.0]) == pytest.approx(np.sqrt(2.5))
    assert isinstance(rmse(p, t), float)


def test_summarise_over_splits():
    splits = [{"rmse": {"a": 0.5, "b": 1.0}}, {"rmse": {"a": 0.7, "b": 0.8}}]
    out = summarise(splits)
    assert list(out) == ["a", "b"]
    np.testing.assert_allclose(out["a"]["per_split"], [0.5, 0.7])
    assert out["a"]["mean"] == pytest.approx(0.6)
    assert out["a"]["std"] == pytest.approx(0.1)  # population std over splits
    assert out["b"]["std"] == pytest.approx(np.std([1.0, 0.8]))
    assert summarise([]) == {}


def test_scored_records_hold_no_ratings_and_score_the_rounded_predictions():
    truth = np.array([4.0, 2.0, 5.0])
    preds = {"a": (np.array([3.123456789, 2.0, 5.0]), np.array([False, True, False]))}
    out = evaluate.scored_records(np.array([7, 8, 9]), np.array([50, 50, 50]), truth, preds)
    assert [set(r) for r in out["test"]] == [{"user", "movie", "pred", "fallback"}] * 3
    assert out["test"][0]["pred"]["a"] == 3.12346 and out["test"][1]["fallback"] == ["a"]
    assert out["rmse"]["a"] == pytest.approx(np.sqrt((4 - 3.12346) ** 2 / 3), rel=1e-12)


@pytest.mark.integration
def test_rescore_reads_the_ratings_from_the_data(movielens):
    r = movielens.ratings.iloc[:4]
    truth = r["rating"].to_numpy(dtype=float)
    preds = {"a": (truth + np.array([1.0, -1.0, 0.5, 0.0]), np.zeros(4, dtype=bool))}
    res = {"data_fingerprint": movielens.fingerprint(),
           "splits": [{"seed": 0, **evaluate.scored_records(r["user"].to_numpy(), r["movie"].to_numpy(), truth, preds)}]}
    res["splits"][0]["rmse"]["a"] = 9.0  # a tampered number: re-scoring recomputes it
    again = evaluate.rescore(res, movielens)
    assert [t["rating"] for t in again["splits"][0]["test"]] == list(truth)
    assert again["summary"]["a"]["mean"] == pytest.approx(np.sqrt(2.25 / 4))
    with pytest.raises(ValueError, match="ran on data"):
        evaluate.attach_ratings({**res, "data_fingerprint": "0" * 16}, movielens)
    bad = {"splits": [{"test": [{"user": 0, "movie": 50, "pred": {}}]}]}
    with pytest.raises(ValueError, match="not a rating of this data"):
        evaluate.attach_ratings(bad, movielens)


# -- config ---------------------------------------------------------------------------------------
def test_eval_config_validation():
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        EvalConfig(preset="nope")
    with pytest.raises(ValueError, match="splits=0"):
        EvalConfig(splits=0)
    assert EvalConfig().target == 50 and EvalConfig().preset == "transfer" == evaluate.DEFAULT_PRESET


def test_split_models_and_config_dict():
    cfg = EvalConfig(target=SMALL, preset="best", epochs=3)
    gnn_cfg, lin_cfg, graph_cfg = evaluate.split_models(cfg, SMALL - 1, seed=7)
    assert gnn_cfg.target == SMALL - 1
    assert gnn_cfg.train.seed == 7 and gnn_cfg.train.epochs == 3
    assert gnn_cfg.model.nonlinearity == "relu" and lin_cfg.model.nonlinearity == "none"
    assert dataclasses.replace(lin_cfg, model=gnn_cfg.model) == gnn_cfg  # otherwise the same
    assert graph_cfg == presets.preset("best").graph
    default_epochs = evaluate.split_models(EvalConfig(), 49, 0)[0].train.epochs
    assert default_epochs == presets.preset("best").predictor.train.epochs
    d = evaluate.config_dict(cfg)
    assert json.loads(json.dumps(d))["gnn"]["model"]["features"] == list(gnn_cfg.model.features)  # JSON-ready
    assert d["target"] == SMALL and d["gnn"]["target"] == SMALL - 1 and d["graph"]["min_common"] == 10


# -- one cheap end-to-end split -------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_result(movielens):
    calls = []
    res = evaluate.evaluate_target(movielens, EvalConfig(target=SMALL, splits=1, seed=2, epochs=1),
                                   on_split=lambda i, r: calls.append(i))
    return res, calls


@pytest.mark.integration
def test_evaluate_target_records(movielens, small_result):
    res, calls = small_result
    assert calls == [0]
    assert res["task"] == "target" and res["target"] == SMALL and res["title"] == movielens.title(SMALL)
    assert res["data_fingerprint"] == movielens.fingerprint()
    json.dumps(res)  # JSON-ready as is
    (s,) = res["splits"]
    split = target_split(movielens, SMALL, 2)
    assert s["seed"] == 2
    assert s["train_users"] == split.train_users.tolist() and s["valid_users"] == split.valid_users.tolist()
    assert [r["user"] for r in s["test"]] == split.test_users.tolist()
    x = movielens.matrix()
    for r in s["test"]:
        assert r["movie"] == SMALL and "rating" not in r  # GroupLens's terms: no ratings in results files
        assert set(r["pred"]) == {"gnn", "gnn_target", "linear", "knn", "item_mean", "knn_baseline"}  # transfer preset
        assert all(1 <= v <= 5 for v in r["pred"].values())  # every model clipped to the rating scale
        assert all(np.isfinite(v) for v in r["pred"].values())
        assert set(r["fallback"]) <= set(r["pred"])
    # the item mean is the training users' mean rating of the movie
    item_mean = x[split.train_users - 1, SMALL - 1].mean()
    assert {r["pred"]["item_mean"] for r in s["test"]} == {round(float(item_mean), 5)}
    y = x[np.array([r["user"] for r in s["test"]]) - 1, SMALL - 1].astype(float)  # the true labels
    for name, summ in res["summary"].items():
        hand = np.sqrt(np.mean([(r["pred"][name] - t) ** 2 for r, t in zip(s["test"], y)]))
        assert summ["mean"] == pytest.approx(hand, rel=1e-12) and summ["std"] == 0.0
        assert s["rmse"][name] == pytest.approx(hand, rel=1e-12)
    again = evaluate.rescore(res, movielens)["summary"]
    assert all(again[n]["mean"] == pytest.approx(v["mean"], rel=1e-12) for n, v in res["summary"].items())


@pytest.mark.integration
def test_label_never_in_input(movielens, small_result):
    """Changing the test users' own ratings of the movie changes the labels, not the predictions."""
    res, _ = small_result
    cfg = EvalConfig(target=SMALL, splits=1, seed=2, epochs=1)
    split = target_split(movielens, SMALL, 2)
    x = movielens.matrix()
    x[split.test_users - 1, SMALL - 1] = 6 - x[split.test_users - 1, SMALL - 1]
    rec = evaluate.run_target_split(movielens, x, split, cfg)
    before = res["splits"][0]["test"]
    assert [r["pred"] for r in rec["test"]] == [r["pred"] for r in before]  # also: deterministic
    assert rec["rmse"] != res["splits"][0]["rmse"]  # scored against the changed labels


@pytest.mark.integration
def test_train_target_model(movielens):
    pred, metrics, extra = evaluate.train_target_model(movielens, SMALL, "best", seed=1, epochs=1)
    assert pred.config.target == SMALL - 1 and pred.config.train.epochs == 1 and pred.models
    split = target_split(movielens, SMALL, 1)
    assert extra["train_users"] == split.train_users.tolist()
    assert extra["task"] == "target" and extra["target"] == SMALL and extra["preset"] == "best"
    x = movielens.matrix()[split.test_users - 1]
    y = x[:, SMALL - 1].copy()
    x[:, SMALL - 1] = 0
    assert metrics["test_rmse"] == pytest.approx(rmse(pred.predict(x, [SMALL - 1]).values[:, 0], y), rel=1e-9)
    assert set(metrics) == {"test_rmse", "valid_rmse", "best_step", "train_seconds"}
    json.dumps([metrics, extra])


@pytest.mark.integration
def test_on_stage_reports_each_stage_and_the_training_as_it_goes(movielens):
    events = []
    evaluate.evaluate_target(movielens, EvalConfig(target=SMALL, splits=2, seed=4, epochs=1),
                             on_stage=lambda i, stage, done: events.append((i, stage, done)))
    for i in (0, 1):
        mine = [(s, d) for j, s, d in events if j == i]
        starts = list(dict.fromkeys(s for s, d in mine if d == 0.0))  # the first event of each stage
        assert starts == list(evaluate.STAGES)  # in order (the default preset, transfer, has every stage)
        gnn = [d for s, d in mine if s == "gnn"]
        assert gnn == sorted(gnn) and gnn[-1] == pytest.approx(1.0) and len(gnn) > 3  # 3 members, several validations
    assert [i for i, _, _ in events] == sorted(i for i, _, _ in events)  # split 0's events, then split 1's
