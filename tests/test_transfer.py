"""gnnrec.transfer: the movie folds, fold models that never see their fold's ratings, and the transfer
GNN of a split, which never sees the split's test ratings (the graph and means come from every other
rating; fine-tuning starts from the fold model)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from gnnrec import evaluate, presets, transfer
from gnnrec.allmovies import fit_gnn
from gnnrec.gnn import GNNPredictorConfig, encode
from gnnrec.graph import GraphConfig, ItemGraph
from gnnrec.models import GNNConfig
from gnnrec.presets import Preset
from gnnrec.train import TrainConfig

TINY = Preset(GNNPredictorConfig(model=GNNConfig(features=(4,), taps=(3,)), encoding="baseline+observed",
                                 train=TrainConfig(epochs=1, batch_size=256, valid_every=2, loss="mse")),
              GraphConfig(k=10, min_common=2, shrinkage=25.0), "test-only: one small layer, one epoch", task="all")
SMALL = 27  # "Bad Boys" (1995): 57 raters


def test_folds_partition_the_movies():
    cols = [transfer.fold_columns(f, 1682) for f in range(transfer.FOLDS)]
    assert sorted(np.concatenate(cols).tolist()) == list(range(1682))
    assert all(abs(len(c) - 1682 / transfer.FOLDS) <= 1 for c in cols)
    for f, c in enumerate(cols):
        assert all(transfer.fold_of(int(m), 1682) == f for m in c[:20])
    x = np.arange(1, 1 + 3 * 1682, dtype=np.float32).reshape(3, 1682)
    b = transfer.blind(x, 2)
    assert (b[:, cols[2]] == 0).all() and (b[:, cols[0]] == x[:, cols[0]]).all() and (x != 0).all()
    with pytest.raises(ValueError, match="fold=5"):
        transfer.fold_columns(5, 1682)


@pytest.fixture(scope="module")
def folds(movielens, tmp_path_factory):
    """The fold model of SMALL's fold, trained with a tiny recipe on the real data, in a temporary store."""
    base = tmp_path_factory.mktemp("models")
    fold = transfer.fold_of(SMALL - 1, movielens.n_movies)
    transfer.train_folds(movielens, TINY, seed=0, base=base, folds=[fold])
    return base, fold


def split_of_small(movielens, folds, seed: int):
    """SMALL's fold model, its column, a split of its raters and every rating but that split's test cells."""
    base, fold = folds
    t = SMALL - 1
    split = evaluate.target_split(movielens, SMALL, seed)
    known = movielens.matrix()
    known[split.test_users - 1, t] = 0
    return transfer.load_fold(fold, movielens, base), t, split, known


@pytest.mark.integration
def test_a_fold_model_never_sees_its_folds_ratings(movielens, folds):
    """Changing every rating of the fold's movies changes nothing of the fold model's training."""
    base, fold = folds
    saved = transfer.load_fold(fold, movielens, base)
    cols = transfer.fold_columns(fold, movielens.n_movies)
    r = movielens.ratings.copy()
    in_fold = r["movie"].isin(cols + 1)
    r.loc[in_fold, "rating"] = 6 - r.loc[in_fold, "rating"]
    changed = dataclasses.replace(movielens, ratings=r)
    retrained = fit_gnn(transfer.blind(changed.matrix(), fold), TINY, 0)
    for k, v in saved.models[0].state_dict().items():
        assert torch.equal(v, retrained.models[0].state_dict()[k]), k
    assert saved.config.target is None and saved.graph.shift[cols].nnz == 0  # its fold's movies: no edges


@pytest.mark.parametrize("which", ["another fold's model", "the all-movies model"])
def test_a_fold_model_that_has_seen_the_target_is_refused(movielens, which):
    """The committed models, put where the target's fold model belongs (a swapped or copied file):
    refused before anything is fitted (it used to lower the RMSE quietly, 0.6549 -> 0.6447: a leak)."""
    from gnnrec import store

    t = SMALL - 1
    fold = transfer.fold_of(t, movielens.n_movies)
    if which == "the all-movies model":
        wrong = store.load("all-movies", data_fingerprint=movielens.fingerprint()).predictor
    else:
        wrong = transfer.load_fold((fold + 1) % transfer.FOLDS, movielens)
    known = movielens.matrix()
    with pytest.raises(ValueError, match=f"has seen ratings of that movie .*model of its fold, {fold}"):
        transfer.fit_transfer(wrong, known, t, np.arange(5), np.arange(5, 8), None)
    transfer.check_blind(transfer.load_fold(fold, movielens), t)  # its own fold's model passes


def test_a_fold_model_of_another_size_is_refused_when_loaded(movielens, tmp_path):
    """A fold file whose graph, means and flags all claim 1,000 movies (consistent in itself): refused
    against the data's 1,682 movies before it is used."""
    from gnnrec import store

    blob = torch.load(transfer.folder() / "fold-0.pt", weights_only=True)
    blob["graph"] = {"indptr": torch.zeros(1001, dtype=torch.int64), "indices": torch.zeros(0, dtype=torch.int64),
                     "data": torch.zeros(0), "n": 1000}
    blob["item_means"], blob["item_known"] = blob["item_means"][:1000].clone(), blob["item_known"][:1000].clone()
    folds = transfer.folder(tmp_path)
    folds.mkdir()
    torch.save(blob, folds / "fold-0.pt")
    assert store.load("fold-0", folds).predictor.graph.shift.shape == (1000, 1000)  # valid in itself
    with pytest.raises(store.StoreError, match="the graph has 1000 movies, the data 1682"):
        transfer.load_fold(0, movielens, tmp_path)


@pytest.mark.integration
def test_transfer_without_finetuning_is_the_fold_model_on_the_splits_graph_and_means(movielens, folds):
    fold_model, t, split, known = split_of_small(movielens, folds, 0)
    pred = transfer.fit_transfer(fold_model, known, t, split.train_users - 1, split.valid_users - 1, None)
    assert pred.config.target == t and not pred.results
    graph = ItemGraph.build(known, fold_model.graph.config)
    assert (pred.graph.shift != graph.shift).nnz == 0
    users = known[split.test_users - 1]
    got = pred.predict(users, [t])
    hidden = users.copy()
    hidden[:, t] = 0
    sig, off = encode(hidden, fold_model.config.encoding, pred.global_mean, pred.item_means,
                      fold_model.config.user_damping)
    with torch.no_grad():
        manual = (pred.forward(fold_model.models[0], sig) + off)[:, t].numpy()
    ok = ~got.fallback[:, 0]
    assert ok.sum() > 3
    np.testing.assert_allclose(got.values[ok, 0], np.clip(manual[ok], 1, 5), atol=1e-5)
    rated = (known > 0).sum(0)
    lam = fold_model.config.item_damping
    want_mean = (known[:, t].sum() + lam * pred.global_mean) / (rated[t] + lam)
    assert pred.item_means[t] == pytest.approx(want_mean)  # the means of every known rating


@pytest.mark.integration
def test_finetuning_starts_from_the_fold_model(movielens, folds):
    fold_model, t, split, known = split_of_small(movielens, folds, 1)
    args = (fold_model, known, t, split.train_users - 1, split.valid_users - 1)
    frozen = transfer.fit_transfer(*args, None)
    tuned = transfer.fit_transfer(*args, TrainConfig(epochs=2, batch_size=8, lr=0.01, valid_every=3, loss="mse"))
    res = tuned.results[0]
    valid = known[split.valid_users - 1]
    frozen_rmse = np.sqrt(np.mean((frozen.estimate(valid, np.array([t]))[:, 0] - valid[:, t]) ** 2))
    assert res.history[0][2] == pytest.approx(frozen_rmse, rel=1e-4)  # step 0 validates the fold model itself
    assert res.best_valid_rmse <= res.history[0][2]


@pytest.mark.integration
def test_finetuned_members_average_copies_with_their_own_seeds(movielens, folds):
    fold_model, t, split, known = split_of_small(movielens, folds, 1)
    args = (fold_model, known, t, split.train_users - 1, split.valid_users - 1)
    tune = TrainConfig(epochs=1, batch_size=8, lr=0.01, valid_every=3, loss="mse")
    two = transfer.fit_transfer(*args, tune, seed=4, members=2)
    one = [transfer.fit_transfer(*args, tune, seed=s) for s in (4, 5)]
    assert len(two.models) == 2 and len(two.results) == 2
    users = known[split.test_users - 1]
    movies = np.array([t])
    for member, single in zip(two.models, one):  # member e is the copy fine-tuned with seed 4 + e
        for k, v in member.state_dict().items():
            assert torch.equal(v, single.models[0].state_dict()[k]), k
    want = (one[0].estimate(users, movies) + one[1].estimate(users, movies)) / 2
    np.testing.assert_allclose(two.estimate(users, movies), want, rtol=1e-6)
    assert not np.allclose(one[0].estimate(users, movies), one[1].estimate(users, movies))  # seeds differ
    with pytest.raises(ValueError, match="members=0"):
        transfer.fit_transfer(*args, tune, members=0)


@pytest.mark.integration
def test_no_test_rating_reaches_the_transfer_preset(movielens, folds, monkeypatch):
    """Every model of a split under the transfer preset predicts the same for the test users when
    their ratings of the target change: the fold model, the graph, the means and the fine-tuning
    never see them."""
    base, _ = folds
    monkeypatch.setenv("GNNREC_MODELS_DIR", str(base))
    fast_preset = dataclasses.replace(presets.PRESETS["transfer"],
                                      predictor=dataclasses.replace(presets.PRESETS["best"].predictor, ensemble=1,
                                                                    train=TrainConfig(epochs=1)),
                                      finetune=TrainConfig(epochs=1, batch_size=8, valid_every=3, loss="mse"))
    cfg = evaluate.EvalConfig(target=SMALL, splits=1, seed=2, preset=fast_preset)
    split = evaluate.target_split(movielens, SMALL, 2)
    x = movielens.matrix()
    before = evaluate.run_target_split(movielens, x, split, cfg)
    x[split.test_users - 1, SMALL - 1] = 6 - x[split.test_users - 1, SMALL - 1]
    after = evaluate.run_target_split(movielens, x, split, cfg)
    assert set(before["rmse"]) == {"gnn", "gnn_target", "linear", "knn", "item_mean", "knn_baseline"}
    assert [r["pred"] for r in after["test"]] == [r["pred"] for r in before["test"]]
    assert after["rmse"] != before["rmse"]  # the labels did change


@pytest.mark.integration
def test_cli_trains_every_fold_model_and_refuses_to_replace_them(movielens, tmp_path, monkeypatch, capsys):
    from gnnrec import cli, store

    monkeypatch.setenv("GNNREC_MODELS_DIR", str(tmp_path))
    monkeypatch.setitem(presets.PRESETS, "tiny", TINY)
    assert cli.main(["train", "--task", "folds", "--preset", "tiny"]) == 0
    out = capsys.readouterr().out
    assert out.count("valid RMSE") == transfer.FOLDS and "saved 5 fold models" in out
    names = store.list_names(tmp_path / "folds")
    assert names == [f"fold-{f}" for f in range(transfer.FOLDS)] and store.list_names(tmp_path) == []
    for f in range(transfer.FOLDS):
        extra = store.load(f"fold-{f}", tmp_path / "folds").extra
        assert extra["blind_fold"] == f and extra["fold_seed"] == transfer.FOLD_SEED
    before = {p.name: p.read_bytes() for p in (tmp_path / "folds").iterdir()}
    assert cli.main(["train", "--task", "folds", "--preset", "tiny"]) == 2
    assert "fold models exist already" in capsys.readouterr().err
    assert cli.main(["train", "--task", "folds", "--name", "x"]) == 2
    assert {p.name: p.read_bytes() for p in (tmp_path / "folds").iterdir()} == before
