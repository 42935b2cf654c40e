"""Tests for gnnrec.topn: the split and the metrics against Microsoft Recommenders' own code, the
closed-form references against plain NumPy/scikit-learn, LightGCN as PyG ships it, the ranking
GNN (learns, is blind to held-out pairs), its store, and the protocol's result file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from gnnrec.topn import metrics, protocol, rankers
from gnnrec.topn import split as sp
from gnnrec.topn.model import RankGNN, RankGNNConfig, ease_weights, rank_graph
from gnnrec.topn.training import RankTrainConfig, fit_rank_gnn, ranking_loss

recs_eval = pytest.importorskip("recommenders.evaluation.python_evaluation")
recs_split = pytest.importorskip("recommenders.datasets.python_splitters")


def planted(n_users=60, n_items=24, seed=0) -> np.ndarray:
    """Two tastes: users of group g rate mostly movies of block g (ratings 3-5), a few others."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n_users, n_items), dtype=np.float32)
    half = n_items // 2
    for u in range(n_users):
        block = np.arange(half) if u % 2 == 0 else np.arange(half, n_items)
        liked = rng.choice(block, size=7, replace=False)
        x[u, liked] = rng.integers(3, 6, size=7)
        other = rng.choice(np.setdiff1d(np.arange(n_items), block), size=1)
        x[u, other] = 2
    return x


# --- the split ----------------------------------------------------------------------------------
@pytest.mark.integration
def test_split_is_recommenders_stratified_split(movielens):
    frame = movielens.ratings.rename(columns={"user": "userID", "movie": "itemID"})
    train, test = recs_split.python_stratified_split(frame.copy(), ratio=0.75, seed=42)
    ours = sp.stratified_mask(movielens.ratings["user"].to_numpy(), seed=42)
    assert set(test.index) == set(np.flatnonzero(ours))
    assert set(train.index) == set(np.flatnonzero(~ours))


def test_holdout_parts_partition_the_training_matrix():
    x = planted()
    fit, valid = sp.holdout(x, seed=3)
    assert not ((fit > 0) & (valid > 0)).any()
    np.testing.assert_array_equal(fit + valid, x)
    per_user = (valid > 0).sum(1) / (x > 0).sum(1)
    assert 0.1 < per_user.min() and per_user.max() < 0.4  # each user gives about a quarter


# --- the metrics --------------------------------------------------------------------------------
@pytest.mark.integration
def test_metrics_equal_recommenders_python_evaluation(movielens):
    s = sp.topn_split(movielens, 7)
    k = 10
    for ranker in (rankers.Popular().fit(s.train), rankers.ItemCosine().fit(s.train)):
        top = ranker.recommend(s.train, k)  # (U, K)
        users = np.repeat(np.arange(len(top)) + 1, k)
        pred = pd.DataFrame({"userID": users, "itemID": top.ravel() + 1,
                             "prediction": np.tile(np.arange(k, 0, -1), len(top)).astype(float)})
        u, m = np.nonzero(s.test)
        true = pd.DataFrame({"userID": u + 1, "itemID": m + 1, "rating": s.test[u, m].astype(float)})
        pop = (s.train > 0).sum(0)
        ours = metrics.score_lists(top, s.test, pop, k)
        liked = true[true["rating"] >= 4]
        for name, fn in (("ndcg", recs_eval.ndcg_at_k), ("precision", recs_eval.precision_at_k),
                         ("recall", recs_eval.recall_at_k), ("map", recs_eval.map_at_k)):
            assert ours[name] == pytest.approx(fn(true, pred, k=k), abs=1e-9), name
            assert ours[name + "_liked"] == pytest.approx(fn(liked, pred, k=k), abs=1e-9), name
        assert ours["coverage"] == pred["itemID"].nunique() / s.test.shape[1]


def test_user_metrics_by_hand():
    relevant = np.zeros((2, 6), dtype=bool)
    relevant[0, [1, 4]] = True  # user 0: two relevant; user 1: none
    top = np.array([[1, 2, 4], [0, 1, 2]])
    m = metrics.user_metrics(top, relevant, 3)
    idcg = 1 + 1 / np.log2(3)
    assert m["ndcg"][0] == pytest.approx((1 + 1 / np.log2(4)) / idcg)
    assert m["precision"][0] == pytest.approx(2 / 3)
    assert m["recall"][0] == pytest.approx(1.0)
    assert m["map"][0] == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert m["hit_rate"][0] == 1.0
    assert all(np.isnan(v[1]) for v in m.values())  # nothing relevant: left out of the means


# --- the references -----------------------------------------------------------------------------
def test_ease_is_ridge_regression_of_each_movie_on_the_others():
    x = planted()
    r = (x > 0).astype(float)
    lam = 7.0
    b = rankers.EASE(lam).fit(x).weights
    for j in range(r.shape[1]):  # EASE's column j: ridge of movie j on the other movies
        others = np.delete(np.arange(r.shape[1]), j)
        a = r[:, others]
        w = np.linalg.solve(a.T @ a + lam * np.eye(len(others)), a.T @ r[:, j])
        np.testing.assert_allclose(b[others, j], w, atol=1e-8)
        assert b[j, j] == 0


def test_item_cosine_and_gfcf_against_plain_formulas():
    from sklearn.metrics.pairwise import cosine_similarity

    x = planted()
    r = (x > 0).astype(float)
    c = cosine_similarity(r.T)
    np.fill_diagonal(c, 0)
    np.testing.assert_allclose(rankers.ItemCosine().fit(x).scores(x), r @ c, atol=1e-10)
    du, di = r.sum(1), r.sum(0)
    rt = r / np.sqrt(du)[:, None] / np.sqrt(di)[None, :]
    np.testing.assert_allclose(rankers.GFCF(alpha=0).fit(x).scores(x), r @ (rt.T @ rt), atol=1e-10)


def test_lists_skip_rated_movies_and_break_ties_by_popularity():
    x = planted()
    pop = rankers.Popular().fit(x)
    top = pop.recommend(x, 5)
    assert not np.take_along_axis(x > 0, top, 1).any()
    tie = rankers.top_k(np.zeros((1, 4)), np.zeros((1, 4), bool), 4, np.array([1.0, 5.0, 3.0, 5.0]))
    assert tie.tolist() == [[1, 3, 2, 0]]  # equal scores: most popular first, then lower index


def test_by_rating_ranks_the_estimate_before_clipping():
    class Fixed:
        item_means = np.array([3.0, 3.0, 3.0])

        def estimate(self, x, movies):
            return np.tile([5.4, 5.2, np.nan], (len(x), 1))

    r = rankers.ByRating(Fixed(), "fixed").fit(np.ones((2, 3)))
    assert r.recommend(np.zeros((1, 3)), 3).tolist() == [[0, 1, 2]]  # 5.4 over 5.2 though both show as 5


def test_lightgcn_from_pyg_learns_the_planted_tastes():
    pytest.importorskip("torch_geometric")
    from gnnrec.topn.lightgcn import LightGCNConfig, LightGCNRanker

    x = planted()
    fit, valid = sp.holdout(x, seed=0)
    lg = LightGCNRanker(LightGCNConfig(dim=16, layers=2, epochs=30, batch=128, lr=0.01)).fit(fit)
    top = lg.recommend(fit, 5, users=np.arange(len(x)))
    half = x.shape[1] // 2
    own_block = np.where((np.arange(len(x)) % 2 == 0)[:, None], top < half, top >= half)
    assert own_block.mean() > 0.8  # lists from the user's own taste
    with pytest.raises(ValueError, match="users="):
        lg.scores(fit)


# --- the ranking GNN ----------------------------------------------------------------------------
def test_ranking_loss_is_bpr_against_the_highest_ranked_free_movies():
    """Against a plain reference: per user, the ``M`` best-scored movies neither shown nor targets
    are the negatives; each target's BPR loss is averaged over them, then over all targets."""
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(3, 9))
    shown = (rng.random((3, 9)) < 0.3).astype(float)
    targets = ((rng.random((3, 9)) < 0.3) & (shown == 0)).astype(float)
    targets[2] = 0.0  # a user with no target adds nothing
    losses = []
    for b in range(3):
        free = np.flatnonzero((shown[b] == 0) & (targets[b] == 0))
        neg = free[np.argsort(-scores[b, free], kind="stable")[:2]]
        for i in np.flatnonzero(targets[b]):
            losses.append(np.mean(np.log1p(np.exp(-(scores[b, i] - scores[b, neg])))))
    got = ranking_loss(torch.tensor(scores), torch.tensor(shown), torch.tensor(targets), negatives=2)
    assert float(got) == pytest.approx(np.mean(losses), rel=1e-9)
    few = torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([[1.0, 0, 0]]), torch.tensor([[0, 1.0, 0]])
    # one free movie (index 2) but 5 negatives asked: only the real one counts
    assert float(ranking_loss(*few, negatives=5)) == pytest.approx(np.log1p(np.exp(-(1.0 - 2.0))), rel=1e-6)


def test_ease_filter_on_rating_weighted_input_against_numpy():
    """W is EASE's closed form on rated + β (rating - 3) / 2; β = 0 is the EASE reference's own
    weights; an untrained GNN (readout at zero, offsets zero) scores exactly that input times W."""
    x = planted()
    for beta in (0.0, 0.5):
        r = np.where(x > 0, 1.0 + beta * (x - 3.0) / 2.0, 0.0)  # (U, N)
        p = np.linalg.inv(r.T @ r + 7.0 * np.eye(x.shape[1]))
        want = np.eye(x.shape[1]) - p / np.diag(p)[None, :]
        np.testing.assert_allclose(ease_weights(x, 7.0, beta), want, atol=1e-5)
    np.testing.assert_allclose(ease_weights(x, 7.0, 0.0), rankers.EASE(7.0).fit(x).weights, atol=1e-6)
    model = RankGNN(RankGNNConfig(graph_k=5, taps=2, features=3, ease_lambda=7.0, ease_rating=0.5), x.shape[1])
    model.set_edge(x)
    s = torch.from_numpy(rank_graph(x, 5).toarray())
    with torch.no_grad():
        got = model(torch.from_numpy(x), s).numpy()
    r = np.where(x > 0, 1.0 + 0.5 * (x - 3.0) / 2.0, 0.0)
    np.testing.assert_allclose(got, r @ ease_weights(x, 7.0, 0.5) + float(model.readout.bias.detach()), atol=1e-4)
    with pytest.raises(ValueError, match="ease_rating"):
        RankGNNConfig(ease_rating=1.5)


def test_ranking_gnn_learns_and_beats_popularity_on_planted_tastes():
    x = planted(n_users=80)
    fit, valid = sp.holdout(x, seed=1)
    seen = []
    gnn = fit_rank_gnn(fit, RankGNNConfig(graph_k=5, taps=3, features=4, ease_lambda=5.0),
                       RankTrainConfig(epochs=15, lr=0.01, batch=16), on_progress=seen.append)
    assert [p.epoch for p in seen] == list(range(1, 16))
    assert seen[-1].loss < 0.95 * seen[0].loss, [p.loss for p in seen]  # the filter learns
    assert float(gnn.model.readout.weight.detach().abs().sum()) > 0  # it started at zero: EASE alone
    pop = (fit > 0).sum(0)
    ours = metrics.score_lists(gnn.recommend(fit, 5), valid, pop, 5)["ndcg"]
    popular = metrics.score_lists(rankers.Popular().fit(fit).recommend(fit, 5), valid, pop, 5)["ndcg"]
    assert ours > popular + 0.1, (ours, popular)


@pytest.mark.integration
def test_ranking_gnn_never_sees_held_out_pairs(movielens):
    """Changing every held-out rating (and which of them exist) changes nothing the model learns
    from: the split's training matrix, the graph, and the fitted model's lists are identical."""
    s = sp.topn_split(movielens, 5)
    noisy = movielens.ratings.copy()
    test = sp.stratified_mask(noisy["user"].to_numpy(), 5)
    noisy.loc[test, "rating"] = 6 - noisy.loc[test, "rating"]
    other = sp.topn_split(type(movielens)(noisy, movielens.movies, movielens.source), 5)
    np.testing.assert_array_equal(s.train, other.train)
    assert not ((s.train > 0) & (s.test > 0)).any()
    assert (rank_graph(s.train, 20) != rank_graph(other.train, 20)).nnz == 0
    small = (RankGNNConfig(graph_k=20, taps=2, features=4), RankTrainConfig(epochs=1, batch=256))
    a = fit_rank_gnn(s.train, *small).recommend(s.train[:50], 10)
    b = fit_rank_gnn(other.train, *small).recommend(other.train[:50], 10)
    np.testing.assert_array_equal(a, b)


# --- the protocol's file ------------------------------------------------------------------------
@pytest.mark.integration
def test_result_file_rescores_and_holds_no_ratings(movielens):
    res = protocol.evaluate_topn(movielens, seeds=(3,), k=5, models=("popular", "ease"))
    split = res["splits"][0]
    assert set(split) == {"seed", "test_pairs", "top", "metrics", "seconds"}
    assert all(len(p) == 2 for p in split["test_pairs"][:10])  # [user, movie]: no rating
    assert len(split["top"]["ease"]) == movielens.n_users and all(len(v) == 5 for v in split["top"]["ease"].values())
    again = protocol.rescore(res, movielens)[3]
    for name in ("popular", "ease"):
        for m, v in split["metrics"][name].items():
            assert again[name][m] == pytest.approx(v, abs=1e-12), (name, m)
    assert split["metrics"]["ease"]["ndcg"] > split["metrics"]["popular"]["ndcg"]
    with pytest.raises(ValueError, match="choose among"):
        protocol.evaluate_topn(movielens, models=("nope",))


# --- the ranking model's store ------------------------------------------------------------------
def _small_ranker():
    x = planted()
    return x, fit_rank_gnn(x, RankGNNConfig(graph_k=5, taps=2, features=3, ease_lambda=5.0),
                           RankTrainConfig(epochs=1, batch=32))


def test_store_round_trip_gives_the_same_lists(tmp_path):
    from gnnrec.topn import store as rank_store

    x, r = _small_ranker()
    path = rank_store.save(r, "toy", metrics={"m": 1.0}, data_fingerprint="abc", folder=tmp_path)
    assert path == tmp_path / "toy.pt" and not list(tmp_path.glob("*.tmp"))
    back = rank_store.load("toy", tmp_path, data_fingerprint="abc", n_movies=x.shape[1])
    np.testing.assert_array_equal(back.ranker.recommend(x, 5), r.recommend(x, 5))
    assert back.metrics == {"m": 1.0} and back.ranker.config == r.config
    with pytest.raises(rank_store.DataMismatch, match="retrain"):
        rank_store.load("toy", tmp_path, data_fingerprint="other")
    with pytest.raises(rank_store.StoreError, match="no ranking model 'nope'"):
        rank_store.load("nope", tmp_path)


def test_scores_keep_the_edge_without_its_diagonal_and_follow_a_change_of_weights():
    """RankGNNRanker.scores keeps the edge weights' off-diagonal between calls (the app scores twice
    a rating); the scores are the model's own forward pass, also after the weights change in place."""
    import torch

    x, r = _small_ranker()
    with torch.no_grad():
        r.model.edge.add_(torch.rand(r.model.edge.shape))  # a diagonal that must not count, and new weights
        want = r.model(torch.from_numpy(x.astype(np.float32)), r._s).numpy()
    np.testing.assert_array_equal(r.scores(x), want)
    with torch.no_grad():
        r.model.edge.mul_(-2.0)  # in place: the kept off-diagonal is stale
        want2 = r.model(torch.from_numpy(x.astype(np.float32)), r._s).numpy()
    assert not np.allclose(want, want2)
    np.testing.assert_array_equal(r.scores(x), want2)


def _crafted(tmp_path, edit):
    """Save a real small ranker, apply ``edit`` to its dict, write it back; the StoreError on load."""
    import io

    from gnnrec.topn import store as rank_store

    x, r = _small_ranker()
    rank_store.save(r, "bad", metrics={}, data_fingerprint="abc", folder=tmp_path)
    blob = torch.load(tmp_path / "bad.pt", weights_only=True)
    edit(blob)
    buf = io.BytesIO()
    torch.save(blob, buf)
    (tmp_path / "bad.pt").write_bytes(buf.getvalue())
    with pytest.raises(rank_store.StoreError) as e:
        rank_store.load("bad", tmp_path, n_movies=x.shape[1])
    return str(e.value)


@pytest.mark.parametrize("edit, why", [
    (lambda b: b.update(n=10_000_000), "claims 10000000 movies"),  # refused before any N x N allocation
    (lambda b: b.update(n=25), "claims 25 movies"),
    (lambda b: b["state"].update(offset=b["state"]["offset"] * float("nan")), "finite"),
    (lambda b: b["state"].update(edge=b["state"]["edge"] * 1e9), "bounded"),
    (lambda b: b["state"].update(edge=b["state"]["edge"][:3]), "do not match its config"),
    (lambda b: b["config"].update(taps=99), "taps=99"),
    (lambda b: b["graph"].update(indices=b["graph"]["indices"] + 1000), "indices must be < 24"),
    (lambda b: b.update(format="other"), "not a gnnrec ranking model"),
])
def test_crafted_ranking_files_are_refused(tmp_path, edit, why):
    msg = _crafted(tmp_path, edit)
    assert why in msg and "retrain" in msg, msg


def test_a_pickle_in_place_of_a_ranking_model_is_refused_without_running_it(tmp_path):
    import pickle

    from gnnrec.topn import store as rank_store

    class Boom:
        def __reduce__(self):
            return (print, ("ran code from a file",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps(Boom(), protocol=4))
    with pytest.raises(rank_store.StoreError, match="corrupt"):
        rank_store.load("evil", tmp_path)


@pytest.mark.integration
def test_the_committed_ranking_model_loads_for_this_data(movielens):
    from gnnrec.topn import store as rank_store

    ckpt = rank_store.load(data_fingerprint=movielens.fingerprint(), n_movies=movielens.n_movies)
    assert ckpt.ranker.config == RankGNNConfig() and ckpt.extra["task"] == "topn"


# --- the command line ---------------------------------------------------------------------------
@pytest.mark.integration
def test_cli_evaluates_topn_and_writes_a_rescorable_file(tmp_path, capsys, movielens):
    import json

    from gnnrec.cli import main

    out = tmp_path / "t.json"
    assert main(["evaluate", "--task", "topn", "--models", "popular,item_cosine", "--seed", "4", "--k", "5",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "nDCG@5" in text and "item_cosine" in text and "popular" in text
    res = json.loads(out.read_text())
    assert res["config"]["seeds"] == [4] and res["config"]["k"] == 5
    again = protocol.rescore(res, movielens)[4]
    assert again["item_cosine"]["ndcg"] == pytest.approx(res["splits"][0]["metrics"]["item_cosine"]["ndcg"])
    assert main(["evaluate", "--task", "topn", "--models", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "choose among" in err
    assert main(["evaluate", "--task", "topn", "--split", "u1"]) == 2
    assert "drop --panel and --split" in capsys.readouterr().err
