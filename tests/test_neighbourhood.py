"""gnnrec.app.neighbourhood: a movie's correlation neighbourhood (nodes, hops, edges with enough common
raters), its table, bounds on the request."""

from __future__ import annotations

import numpy as np
import pytest

from gnnrec.app import neighbourhood as nb_mod


# -- neighbourhood ------------------------------------------------------------------------------------------
def test_neighbourhood(rec, data):
    corr = rec.knn.corr
    nb = nb_mod.neighbourhood(corr, data, 50, k=8, hops=1, ratings={181: 4})
    assert nb.nodes["movie"].iloc[0] == 50 and len(nb.nodes) == 9
    assert (nb.nodes["hop"].iloc[1:] == 1).all()
    assert nb.nodes.set_index("movie").loc[181, "your_rating"] == 4  # Return of the Jedi, rated
    assert nb.nodes["your_rating"].notna().sum() == 1
    shown = set(nb.nodes["movie"])
    assert set(nb.edges["source"]) | set(nb.edges["target"]) <= shown
    assert (nb.edges["common"] >= 25).all()
    assert np.allclose(nb.edges["corr"], [corr[a - 1, b - 1] for a, b in zip(nb.edges["source"], nb.edges["target"])],
                       atol=1e-3)
    two = nb_mod.neighbourhood(corr, data, 50, k=8, hops=2)
    assert 9 < len(two.nodes) <= nb_mod.MAX_NODES and set(two.nodes["hop"]) == {0, 1, 2}
    assert two.nodes["via"].iloc[1:].notna().sum() == (two.nodes["hop"] == 2).sum()
    strict = nb_mod.neighbourhood(corr, data, 50, k=8, min_common=300)
    assert (strict.edges["common"] >= 300).all() and len(strict.nodes) <= 9
    table = nb_mod.neighbour_table(nb)
    assert len(table) == 8 and "correlation" in table.columns
    for kwargs in ({"k": 0}, {"k": 26}, {"hops": 3}, {"min_common": 0}, {"movie": 1683}):
        args = {"movie": 50, **kwargs}
        with pytest.raises(ValueError):
            nb_mod.neighbourhood(corr, data, args.pop("movie"), **args)


def _old_edges(corr, data, idx, k, min_common, found_through=()):
    """The edge rule as written before it used ``graph.top_k_mask`` (kept here as the reference),
    plus each movie's link to the one it was found through (``(position, position)`` pairs)."""
    seen = (data.matrix() > 0).astype(np.float32)
    common = seen[:, idx].T @ seen[:, idx]
    sub = np.where(common >= min_common, np.asarray(corr[np.ix_(idx, idx)], dtype=np.float64), 0.0)
    np.fill_diagonal(sub, 0)
    keep = np.zeros(sub.shape, dtype=bool)
    kk = min(k, len(idx) - 1)
    if kk > 0:
        a = np.abs(sub)
        kth = -np.partition(-a, kk - 1, axis=1)[:, kk - 1:kk]
        keep = (a >= kth) & (a > 0)
        keep |= keep.T
    for p, q in found_through:
        keep[p, q] = keep[q, p] = sub[p, q] != 0
    ii, jj = np.nonzero(np.triu(keep, 1))
    return list(zip(idx[ii] + 1, idx[jj] + 1))


@pytest.mark.parametrize("movie,k,hops,min_common", [(50, 8, 1, 25), (1, 3, 2, 25), (181, 10, 2, 50),
                                                      (100, 1, 1, 1), (500, 25, 2, 10)])
def test_neighbourhood_edges_match_the_old_rule(rec, data, movie, k, hops, min_common):
    corr = rec.knn.corr
    nb = nb_mod.neighbourhood(corr, data, movie, k=k, hops=hops, min_common=min_common)
    idx = nb.nodes["movie"].to_numpy() - 1
    pos = {m: p for p, m in enumerate(nb.nodes["movie"])}
    tree = [(p, pos[v] if v else 0) for p, v in enumerate(nb.nodes["via_movie"]) if p > 0]
    want = _old_edges(corr, data, idx, k, min_common, tree)
    assert len(want) > 0
    assert list(zip(nb.edges["source"], nb.edges["target"])) == want


@pytest.mark.parametrize("graph", ["correlation", "co-rating"])
def test_every_movie_at_two_hops_is_drawn_joined_to_the_one_it_was_found_through(rec, data, graph):
    """A 2-hop movie's link to its hop-1 movie was dropped when stronger links among the shown
    movies filled both ends' top k: the movie floated alone in the drawing (13 of 111 on Star Wars'
    co-rating graph, 8 neighbours)."""
    from gnnrec.app import graph_view as viz

    w = rec.ranker.shift if graph == "co-rating" else rec.knn.corr
    for movie in (50, 98, 313):
        nb = nb_mod.neighbourhood(w, data, movie, k=8, hops=2, min_common=5, graph=graph)
        drawn = viz.drawn_edges(nb)
        ends = set(drawn["source"]) | set(drawn["target"])
        assert set(nb.nodes["movie"]) <= ends, set(nb.nodes["movie"]) - ends
        pairs = set(zip(drawn["source"], drawn["target"])) | set(zip(drawn["target"], drawn["source"]))
        for m, v, h in zip(nb.nodes["movie"], nb.nodes["via_movie"], nb.nodes["hop"]):
            assert h == 0 or (m, v if h == 2 else movie) in pairs


# -- the ranking GNN's co-rating graph ------------------------------------------------------------------------
def test_the_co_rating_graph_is_drawn_from_the_ranking_gnns_shift(rec, data):
    """graph="co-rating" on the ranker's sparse shift: the centre's neighbours are its strongest
    entries of that shift (among movies with enough common raters), edges carry the shift's
    weights, and the sparse matrix gives what its dense copy gives."""
    from gnnrec.app import graph_view as viz

    assert rec.ranker is not None, rec.ranker_error
    shift = rec.ranker.shift  # (N, N) scipy CSR
    nb = nb_mod.neighbourhood(shift, data, 50, k=8, hops=1, min_common=5, graph="co-rating")
    row = shift[49].toarray()[0]
    seen = (data.matrix() > 0).astype(np.float32)
    row[(seen[:, 49] @ seen) < 5] = 0
    row[49] = 0
    first = nb.nodes.iloc[1:]
    assert nb.graph == "co-rating" and len(first) == 8
    assert set(first["movie"] - 1) == set(np.argsort(-row)[:8])  # the 8 strongest links of Star Wars
    assert np.allclose(first["corr"], row[first["movie"] - 1], atol=1e-5) and (first["corr"] > 0).all()
    assert np.allclose(nb.edges["corr"], [shift[a - 1, b - 1] for a, b in zip(nb.edges["source"], nb.edges["target"])],
                       atol=1e-5)
    dense = nb_mod.neighbourhood(shift.toarray(), data, 50, k=8, hops=2, graph="co-rating")
    sparse = nb_mod.neighbourhood(shift, data, 50, k=8, hops=2, graph="co-rating")
    assert dense.nodes.equals(sparse.nodes) and dense.edges.equals(sparse.edges)
    table = nb_mod.neighbour_table(nb)
    assert "weight" in table.columns and "correlation" not in table.columns
    html = viz.neighbourhood_html(nb)
    assert "rated by the same users" in html and "move apart" not in html and "co-rating weight" in html
    corr_html = viz.neighbourhood_html(nb_mod.neighbourhood(rec.knn.corr, data, 50, k=8))
    assert "move apart" in corr_html and "co-rating weight" not in corr_html
    with pytest.raises(ValueError, match="graph='items'"):
        nb_mod.neighbourhood(shift, data, 50, graph="items")
