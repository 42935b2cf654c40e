"""gnnrec.knn_fits: the item k-NNs are fitted once per ratings and shared by every Recommender on them,
equal to fresh fits; other ratings get their own; concurrent callers wait for one fit."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest

from gnnrec import knn_fits
from gnnrec.graph import GraphConfig, ItemGraph
from gnnrec.predict import ItemKNN, KNNBaseline
from gnnrec.recommender import Recommender


@pytest.fixture(autouse=True)
def fresh():
    knn_fits.clear()
    yield
    knn_fits.clear()


def copy_of(data, drop: int = 0):
    """The same ratings in a new object (or without the last ``drop`` of them)."""
    return dataclasses.replace(data, ratings=data.ratings.iloc[:len(data.ratings) - drop].copy())


def test_two_recommenders_on_the_same_ratings_share_their_knns(movielens):
    a = Recommender.load(data=movielens, ranker=False)
    b = Recommender.load(data=copy_of(movielens), ranker=False)
    assert a is not b and a.knn is b.knn and a.knn_baseline is b.knn_baseline
    users = [{50: 5, 181: 4, 1: 2}, {100: 5, 127: 4}]
    for ratings in users:
        ra, rb = a.recommend(ratings, top=10), b.recommend(ratings, top=10)
        assert ra.top["knn"]["movie"].tolist() == rb.top["knn"]["movie"].tolist()


def test_a_shared_fit_equals_a_fresh_one(movielens):
    x = movielens.matrix()
    shared, fresh = knn_fits.knn_baseline(movielens), KNNBaseline().fit(x)
    np.testing.assert_array_equal(shared.sim, fresh.sim)
    np.testing.assert_array_equal(shared.b_item, fresh.b_item)
    cfg = GraphConfig()
    shared_knn, fresh_knn = knn_fits.item_knn(movielens, cfg), ItemKNN().fit(x, ItemGraph.build(x, cfg))
    np.testing.assert_array_equal(shared_knn.corr, fresh_knn.corr)
    users = x[:5]
    np.testing.assert_array_equal(shared_knn.predict(users, [49, 180]).values, fresh_knn.predict(users, [49, 180]).values)


def test_other_ratings_or_graph_settings_get_their_own_fit(movielens):
    fewer = copy_of(movielens, drop=1000)
    mine, theirs = knn_fits.knn_baseline(fewer), knn_fits.knn_baseline(movielens)
    assert mine is not theirs
    np.testing.assert_array_equal(mine.b_item, KNNBaseline().fit(fewer.matrix()).b_item)
    assert not np.array_equal(mine.b_item, theirs.b_item)
    assert knn_fits.item_knn(movielens, GraphConfig(k=10)) is not knn_fits.item_knn(movielens, GraphConfig(k=20))


def test_the_least_recently_used_fit_is_dropped(movielens, monkeypatch):
    monkeypatch.setattr(knn_fits, "KEEP", 1)
    first = knn_fits.knn_baseline(movielens)
    assert knn_fits.knn_baseline(movielens) is first
    knn_fits.item_knn(movielens, GraphConfig())  # the second fit pushes the first out
    assert knn_fits.knn_baseline(movielens) is not first


def test_callers_during_a_fit_wait_for_it_instead_of_fitting_again(movielens, monkeypatch):
    calls, started, release = [], threading.Event(), threading.Event()
    real = KNNBaseline.fit

    def slow_fit(self, x):
        calls.append(threading.get_ident())
        started.set()
        assert release.wait(30)
        return real(self, x)

    monkeypatch.setattr(KNNBaseline, "fit", slow_fit)
    got = []
    threads = [threading.Thread(target=lambda: got.append(knn_fits.knn_baseline(movielens))) for _ in range(4)]
    threads[0].start()
    assert started.wait(30)  # the first caller is fitting
    for t in threads[1:]:
        t.start()
    threading.Event().wait(0.2)  # an ordering aid (the others reach the fit's lock), not a measured time
    release.set()
    for t in threads:
        t.join(60)
    assert len(calls) == 1 and len(got) == 4 and all(g is got[0] for g in got)
