"""Tests for gnnrec.app.listing: why the ranking GNN lists a movie, on the real data and the
committed models: the rank is the list's, each 'without it' is a recomputed list's, the words
follow the numbers."""

from __future__ import annotations

import pytest

from gnnrec.app import listing
from gnnrec.recommender import Recommender

SCIFI = {50: 5, 172: 5, 181: 5, 195: 5, 183: 5, 313: 1}
FEW = {50: 5, 1: 2}


@pytest.fixture(scope="module")
def rec(movielens):
    return Recommender.load(data=movielens)


def test_link_words():
    assert listing.link_words(1, 0.2, 3) == "1 hop, edge +0.20"
    assert listing.link_words(2, -0.013, 3) == "2 hops, edge -0.01"
    assert listing.link_words(4, 0.0, 3) == "out of reach, edge +0.00"


@pytest.mark.integration
@pytest.mark.parametrize("ratings", [SCIFI, FEW])
def test_why_listed_reads_the_numbers(rec, ratings):
    res = rec.recommend(ratings, top=10, min_raters=50)
    for place in (0, 5):
        movie = int(res.top["gnn"]["movie"][place])
        w = listing.why_listed(rec, ratings, movie, min_raters=50)
        assert w.rank == place + 1 and f"#{place + 1}" in w.summary
        assert len(w.table) == min(len(ratings), listing.SHOWN)
        assert (w.table["lift"].diff().dropna() <= 0).all()  # the ones that lift it most first
        top = w.table.iloc[0]
        if top["without it"] == f"#{w.rank}":
            assert "No single rating moves it" in w.summary
        else:
            assert f"would be {top['without it']}" in w.summary and top["title"] in w.summary
    beta = rec.ranker.config.ease_rating  # the weights the text gives are the loaded model's
    assert f"a 5★ weighs {1 + beta:g}, a 3★ 1, a 1★ {1 - beta:g}" in w.how


@pytest.mark.integration
def test_why_listed_counts_hidden_movies_out(rec):
    res = rec.recommend(SCIFI, top=10, min_raters=50)
    first, second = (int(m) for m in res.top["gnn"]["movie"][:2])
    assert listing.why_listed(rec, SCIFI, second, 50).rank == 2
    assert listing.why_listed(rec, SCIFI, second, 50, hidden=(first,)).rank == 1
