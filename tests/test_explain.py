"""Each predictor explains itself: the k-NNs' terms and baselines reproduce their estimates on the
real data, their support is their fallback, and ``settle`` is ``predict``'s clip-and-fill rule."""

from __future__ import annotations

import numpy as np
import pytest

from gnnrec import explain
from gnnrec.predict import RATING_SCALE

USERS = [0, 12, 404, 942]  # real MovieLens rows: a long, a middling and a short profile among them


@pytest.fixture(scope="module")
def matrix(movielens):
    return movielens.matrix()  # (943, 1682)


def _models(rec):
    return {"plain": rec.knn, "baseline": rec.knn_baseline}


@pytest.mark.parametrize("kind", ["plain", "baseline"])
def test_knn_terms_add_up_to_the_estimate(rec, matrix, kind):
    """baseline + w @ dev / sum(w) is the estimate (the baseline alone without a neighbour), at
    every movie for several real users, rated movies included (they are never their own neighbour)."""
    model = _models(rec)[kind]
    movies = np.arange(0, matrix.shape[1], 7)  # (T,) 241 movies
    checked = fallbacks = 0
    for u in USERS:
        row = matrix[u]  # (N,)
        est = model.estimate(row[None, :], movies)[0]  # (T,)
        for i, t in enumerate(movies):
            rated, w, dev = model.terms(row, int(t))
            base, parts = model.baseline(row, int(t))
            assert np.array_equal(rated, np.flatnonzero(row > 0)) and len(w) == len(dev) == len(rated)
            assert w[rated == t].sum() == 0 and (w >= 0).all()  # never the movie itself; positive ones only
            assert base == pytest.approx(sum(parts.values()), abs=1e-12)
            if w.sum() > 0:
                np.testing.assert_allclose(est[i] - base, w @ dev / w.sum(), rtol=0, atol=1e-12)
                checked += 1
            else:
                assert np.isnan(est[i]) if kind == "plain" else est[i] == pytest.approx(base, abs=1e-12)
                fallbacks += 1
    assert checked > 500 and fallbacks > 0  # both cases really ran


@pytest.mark.parametrize("kind", ["plain", "baseline"])
def test_knn_support_is_the_fallback(rec, matrix, kind):
    """support 0 exactly where the model has no positive neighbour: plain k-NN's estimate is NaN
    there, and the recommender's ``knn_predict`` marks the fallback there for both kinds."""
    model = _models(rec)[kind]
    cols = np.arange(matrix.shape[1])
    for u in USERS:
        x = matrix[u:u + 1]  # (1, N)
        count, total = model.support(x[0], cols)  # (N,), (N,)
        assert ((count == 0) == (total == 0)).all() and (count == 0).any() and (count > 0).any()
        if kind == "plain":
            np.testing.assert_array_equal(np.isnan(model.estimate(x, cols)[0]), count == 0)
        np.testing.assert_array_equal(rec.knn_predict(x, knn=kind).fallback[0], count == 0)


def test_settle_is_predicts_rule(rec, matrix):
    """``settle`` (the one clip-and-fill method) gives ``predict``'s values for every model, and
    they are the estimate with the movie's mean where impossible, clipped to 1-5."""
    cols = np.arange(matrix.shape[1])
    x = matrix[USERS].astype(np.float32)  # (4, N)
    for model in (rec.gnn, rec.knn, rec.knn_baseline):
        est = model.estimate(x, cols)  # (4, N)
        p, s = model.predict(x), model.settle(est, cols)
        np.testing.assert_array_equal(s.values, p.values)
        np.testing.assert_array_equal(s.fallback, p.fallback)
        want = np.clip(np.where(np.isnan(est), model.item_means[None, :], est), *RATING_SCALE)
        np.testing.assert_array_equal(s.values, want)
    assert rec.gnn.predict(x).fallback.any()  # the GNN's fallback really ran


def test_gnn_leave_one_out_is_predict_without_the_rating(rec, matrix):
    """The GNN's leave-one-out effects are ``predict`` with all the ratings minus ``predict``
    without that one, and its raw value is the estimate (up to float32 rounding: the passes are
    batched); the baseline is the encoding's offset."""
    row, t = matrix[USERS[2]].astype(np.float32), 171
    rated = np.flatnonzero(row > 0)[:12]  # (12,)
    raw, effect, via_bias, via_graph = rec.gnn.leave_one_out(row, t, rated, chunk=5)
    assert raw == pytest.approx(rec.gnn.estimate(row[None, :], np.array([t]))[0, 0], abs=1e-5)  # float32, batched
    for j, e in zip(rated, effect):
        without = row.copy()
        without[j] = 0
        want = rec.gnn.predict(row, [t]).values[0, 0] - rec.gnn.predict(without, [t]).values[0, 0]
        assert e == pytest.approx(want, abs=1e-5)
    assert np.abs(effect).max() > 0.01  # the ratings really move it
    base, parts = rec.gnn.baseline(row, t)
    assert base == pytest.approx(float(rec.gnn.encode(row[None, :])[1][0, t]), abs=0)
    assert base == pytest.approx(sum(parts.values()), abs=1e-5) and np.isfinite(via_bias).any()


def test_chosen_rejects_an_unrated_movie():
    assert explain.chosen({5: 4.0, 2: 3.0}, None).tolist() == [1, 4]
    assert explain.chosen({5: 4.0, 2: 3.0}, [5]).tolist() == [4]
    with pytest.raises(ValueError, match=r"only=\[7\]: explain only movies that were rated"):
        explain.chosen({5: 4.0}, [7, 5])
