"""Tests for gnnrec.graph: Pearson correlations, top-k sparsification, spectral normalisation,
neighbourhoods. Every number is checked against a plain NumPy/SciPy reference."""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy import stats

from gnnrec import graph as g
from gnnrec.graph import GraphConfig, ItemGraph


# -- fixtures / references -------------------------------------------------------------------------
def random_ratings(seed: int, users: int = 30, movies: int = 8, missing: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 6, size=(users, movies)).astype(np.float64)
    x[rng.random((users, movies)) < missing] = 0.0
    return x


def pearson_reference(x: np.ndarray, min_common: int) -> np.ndarray:
    """Pair by pair with scipy.stats.pearsonr over the users who rated both movies."""
    n = x.shape[1]
    w = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            if a == b:
                continue
            co = (x[:, a] != 0) & (x[:, b] != 0)
            if co.sum() < max(min_common, 2):
                continue
            xa, xb = x[co, a], x[co, b]
            if np.all(xa == xa[0]) or np.all(xb == xb[0]):
                continue  # constant ratings: correlation undefined -> 0
            w[a, b] = stats.pearsonr(xa, xb).statistic
    return w


def sparsify_reference(w: np.ndarray, k: int, sign: str) -> np.ndarray:
    """Plain loop: per row keep the scores >= the k-th largest score (and > 0), then (A + Aᵀ)/2."""
    n = w.shape[0]
    a = np.zeros_like(w)
    for i in range(n):
        scores = [abs(w[i, j]) if sign == "abs" else max(w[i, j], 0.0) for j in range(n)]
        ranked = sorted(scores, reverse=True)
        kth = ranked[min(k, n - 1) - 1]
        for j in range(n):
            if scores[j] > 0 and scores[j] >= kth:
                a[i, j] = w[i, j]
    return (a + a.T) / 2


def bfs_reference(adj: np.ndarray, sources, hops: int) -> np.ndarray:
    dist = {int(s): 0 for s in np.atleast_1d(sources)}
    queue = deque(dist)
    while queue:
        u = queue.popleft()
        if dist[u] == hops:
            continue
        for v in np.flatnonzero(adj[u]):
            if int(v) not in dist:
                dist[int(v)] = dist[u] + 1
                queue.append(int(v))
    return np.array(sorted(dist))


def random_symmetric_weights(seed: int, n: int, decimals: int = 1) -> np.ndarray:
    """Symmetric, zero diagonal, values in [-1, 1] rounded so that rows have ties."""
    rng = np.random.default_rng(seed)
    w = np.round(rng.uniform(-1, 1, size=(n, n)), decimals)
    w = np.triu(w, 1)
    w = w + w.T
    return w


# -- pearson ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("min_common", [1, 6, 9])
def test_pearson_matches_scipy_over_co_raters(seed, min_common):
    x = random_ratings(seed)
    w = g.pearson(x, min_common=min_common)
    ref = pearson_reference(x, min_common)
    assert w.shape == (8, 8) and w.dtype == np.float64
    np.testing.assert_allclose(w, ref, atol=1e-10, rtol=0)
    # the threshold really matters for this data: some pairs are kept, and with 9 some are cut
    co = (x != 0).astype(int).T @ (x != 0).astype(int)
    off = ~np.eye(8, dtype=bool)
    assert np.any(w[off] != 0)
    cut = off & (co < min_common) & (co >= 2)
    assert np.all(w[cut] == 0)
    if min_common == 9:
        assert cut.any()


@pytest.mark.parametrize("seed", [3, 4])
def test_pearson_symmetric_zero_diagonal_bounded(seed):
    x = random_ratings(seed, users=25, movies=10, missing=0.4)
    w = g.pearson(x)
    np.testing.assert_array_equal(np.diag(w), 0.0)
    np.testing.assert_allclose(w, w.T, atol=1e-12)
    assert np.all(w >= -1.0) and np.all(w <= 1.0)
    assert np.all(np.isfinite(w))


def test_pearson_zero_for_constant_or_too_few_co_raters():
    # columns: 0 and 1 vary; 2 is constant over its raters; 3 shares one rater with 0
    x = np.array([
        [1, 2, 4, 0],
        [2, 4, 4, 0],
        [3, 5, 4, 0],
        [5, 1, 0, 3],
    ], dtype=float)
    w = g.pearson(x)
    assert w[0, 2] == 0 and w[2, 0] == 0 and w[1, 2] == 0  # constant column 2
    assert w[0, 3] == 0 and w[1, 3] == 0  # a single co-rater: undefined
    assert w[2, 3] == 0  # no co-rater at all
    expected = stats.pearsonr([1, 2, 3, 5], [2, 4, 5, 1]).statistic
    assert w[0, 1] == pytest.approx(expected, abs=1e-12)


def test_pearson_uses_co_rater_means_not_alegnn_variance_formula():
    # users 0-2 rate both movies, perfectly anti-correlated; users 3-5 rate only movie 0, high.
    x = np.array([
        [1, 3],
        [2, 2],
        [3, 1],
        [5, 0],
        [5, 0],
        [5, 0],
    ], dtype=float)
    w = g.pearson(x)
    assert w[0, 1] == pytest.approx(-1.0, abs=1e-12)
    assert w[1, 0] == pytest.approx(-1.0, abs=1e-12)

    # alegnn's "variance" formula centres each movie by its mean over *all* its raters and
    # normalises by the per-movie variances: it does not give -1 here.
    m = x != 0
    mu = x.sum(0) / m.sum(0)
    xc = np.where(m, x - mu, 0.0)
    cov = (xc.T @ xc) / np.maximum(m.T.astype(float) @ m.astype(float), 1)
    var = (xc ** 2).sum(0) / m.sum(0)
    alegnn = cov[0, 1] / np.sqrt(var[0] * var[1])
    assert abs(alegnn - (-1.0)) > 0.1
    assert w[0, 1] != pytest.approx(alegnn, abs=1e-3)


def test_pearson_shift_invariant_in_ratings():
    # the internal "-3" shift must not change the result: 1..5 vs 11..15 give the same correlations
    x = random_ratings(7, users=20, movies=6)
    shifted = np.where(x != 0, x + 10, 0)
    np.testing.assert_allclose(g.pearson(x), g.pearson(shifted), atol=1e-9)


@pytest.mark.parametrize("shrinkage", [0.0, 2.0, 25.0])
def test_pearson_shrinkage(shrinkage):
    x = random_ratings(8)
    co = (x != 0).astype(float).T @ (x != 0).astype(float)
    ref = pearson_reference(x, 1) * co / (co + shrinkage)
    w = g.pearson(x, 1, shrinkage)
    np.testing.assert_allclose(w, ref, atol=1e-10)
    np.testing.assert_array_equal(np.diag(w), 0.0)
    if shrinkage > 0:  # strictly smaller in magnitude wherever non-zero
        plain = g.pearson(x, 1)
        nz = plain != 0
        assert nz.any() and np.all(np.abs(w[nz]) < np.abs(plain[nz]))
    # ItemGraph.build passes the option through
    ig = ItemGraph.build(x, GraphConfig(k=2, shrinkage=shrinkage))
    np.testing.assert_allclose(ig.corr, ref.astype(np.float32), atol=1e-6)


# -- sparsify --------------------------------------------------------------------------------------
@pytest.mark.parametrize("sign", ["positive", "abs"])
@pytest.mark.parametrize("k", [1, 2, 3, 11, 40])
@pytest.mark.parametrize("seed", [0, 1])
def test_sparsify_matches_loop(sign, k, seed):
    w = random_symmetric_weights(seed, 12)
    got = g.sparsify(w, k, sign)
    assert sp.isspmatrix_csr(got) or isinstance(got, sp.csr_array)
    dense = got.toarray()
    np.testing.assert_allclose(dense, sparsify_reference(w, k, sign), atol=1e-15)
    np.testing.assert_array_equal(dense, dense.T)


def test_sparsify_keeps_ties_at_kth_and_positive_only():
    w = np.array([
        [0.0, 0.5, 0.5, 0.2, -0.9],
        [0.5, 0.0, 0.1, 0.3, 0.0],
        [0.5, 0.1, 0.0, 0.0, 0.0],
        [0.2, 0.3, 0.0, 0.0, 0.0],
        [-0.9, 0.0, 0.0, 0.0, 0.0],
    ])
    a = g.sparsify(w, 1, "positive").toarray()
    # row 0 keeps both 0.5 ties (k=1), never the -0.9
    # row 1 keeps 0.5 (to 0), row 2 keeps 0.5 (to 0), row 3 keeps 0.3 (to 1), row 4 keeps nothing
    kept = np.zeros_like(w)
    kept[0, 1] = kept[0, 2] = 0.5
    kept[1, 0] = 0.5
    kept[2, 0] = 0.5
    kept[3, 1] = 0.3
    np.testing.assert_allclose(a, (kept + kept.T) / 2)
    assert a[0, 4] == 0 and a[4, 0] == 0
    # by magnitude: row 0 keeps -0.9 only, row 4 keeps -0.9
    b = g.sparsify(w, 1, "abs").toarray()
    assert b[0, 4] == pytest.approx(-0.9) and b[4, 0] == pytest.approx(-0.9)
    assert b[0, 1] == pytest.approx(0.25)  # kept by row 1 only -> halved


# -- spectral radius -------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("flip", [1.0, -1.0])
def test_spectral_radius_matches_eigvalsh(seed, flip):
    rng = np.random.default_rng(seed)
    n = 25
    a = rng.uniform(0, 1, size=(n, n)) * (rng.random((n, n)) < 0.2)
    a = np.triu(a, 1)
    a = flip * (a + a.T)  # flip=-1: the largest-magnitude eigenvalue is negative
    expected = np.max(np.abs(np.linalg.eigvalsh(a)))
    assert g.spectral_radius(sp.csr_matrix(a)) == pytest.approx(expected, rel=1e-7)


def test_spectral_radius_empty_is_zero_and_small_cases():
    assert g.spectral_radius(sp.csr_matrix((5, 5))) == 0.0
    assert g.spectral_radius(sp.csr_matrix(np.array([[0, 2.0], [2.0, 0]]))) == pytest.approx(2.0)
    k4 = np.ones((4, 4)) - np.eye(4)  # eigenvalues 3, -1, -1, -1
    assert g.spectral_radius(sp.csr_matrix(-k4)) == pytest.approx(3.0)


# -- ItemGraph.build / build ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 5])
@pytest.mark.parametrize("sign", ["positive", "abs"])
def test_item_graph_build(seed, sign):
    x = random_ratings(seed, users=40, movies=15)
    cfg = GraphConfig(k=3, sign=sign)
    ig = ItemGraph.build(x, cfg)
    s = ig.shift
    assert s.dtype == np.float32 and s.shape == (15, 15)
    dense = s.toarray().astype(np.float64)
    np.testing.assert_array_equal(np.diag(dense), 0.0)
    np.testing.assert_allclose(dense, dense.T, atol=0)
    assert np.max(np.abs(np.linalg.eigvalsh(dense))) == pytest.approx(1.0, abs=1e-5)
    # corr = float32 Pearson; shift = sparsified Pearson divided by its spectral radius
    np.testing.assert_allclose(ig.corr, g.pearson(x, 1).astype(np.float32))
    assert ig.corr.dtype == np.float32
    ref = sparsify_reference(pearson_reference(x, 1), 3, sign)
    ref /= np.max(np.abs(np.linalg.eigvalsh(ref)))
    np.testing.assert_allclose(dense, ref, atol=1e-6)
    assert ig.config == cfg
    # the module-level build gives the same shift
    np.testing.assert_array_equal(g.build(x, cfg).toarray(), s.toarray())


def test_item_graph_build_no_edges():
    # every pair constant/undefined -> empty graph, no division by zero
    x = np.array([[3, 3, 0], [3, 3, 0], [0, 0, 4]], dtype=float)
    ig = ItemGraph.build(x, GraphConfig(k=2))
    assert ig.shift.nnz == 0
    assert np.all(np.isfinite(ig.corr))


@pytest.mark.parametrize("kwargs", [dict(k=0), dict(k=-1), dict(min_common=0), dict(sign="x"),
                                    dict(k=2.5), dict(shrinkage=-1.0),
                                    dict(shrinkage=float("nan"))])
def test_graph_config_rejects(kwargs):
    with pytest.raises(ValueError):
        GraphConfig(**kwargs)


def test_graph_config_accepts_defaults():
    cfg = GraphConfig()
    assert (cfg.k, cfg.min_common, cfg.sign, cfg.shrinkage) == (10, 1, "positive", 0.0)


# -- neighbours ------------------------------------------------------------------------------------
def path_graph(n: int) -> sp.csr_matrix:
    a = np.zeros((n, n))
    for i in range(n - 1):
        a[i, i + 1] = a[i + 1, i] = 0.5
    return sp.csr_matrix(a)


@pytest.mark.parametrize("nodes,hops,expected", [
    (4, 0, [4]),
    (4, 1, [3, 4, 5]),
    (4, 2, [2, 3, 4, 5, 6]),
    (0, 3, [0, 1, 2, 3]),
    (9, 20, list(range(10))),
    ([1, 8], 1, [0, 1, 2, 7, 8, 9]),
    ([8, 1], 2, [0, 1, 2, 3, 6, 7, 8, 9]),
])
def test_neighbours_on_path(nodes, hops, expected):
    s = path_graph(10)
    got = g.neighbours(s, nodes, hops)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, bfs_reference(s.toarray() != 0, nodes, hops))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("hops", [1, 2, 3])
def test_neighbours_random_graph_matches_bfs(seed, hops):
    rng = np.random.default_rng(seed)
    n = 30
    a = np.triu(rng.random((n, n)) < 0.06, 1)
    a = (a | a.T).astype(float) * rng.uniform(-1, 1, size=(n, n))
    a = np.triu(a, 1) + np.triu(a, 1).T  # symmetric weights of either sign
    nodes = rng.choice(n, size=3, replace=False)
    got = g.neighbours(sp.csr_matrix(a), nodes, hops)
    np.testing.assert_array_equal(got, bfs_reference(a != 0, nodes, hops))


@pytest.mark.parametrize("seed", [0, 1])
def test_pearson_equals_pandas_pairwise_corr(seed):
    """An independent oracle: pandas' pairwise-complete Pearson correlation (NaN = not rated),
    with min_periods=2; pandas gives NaN where we give 0 (too few co-raters or constant ratings)."""
    x = random_ratings(seed, users=60, movies=15)
    ours = g.pearson(x)
    ref = pd.DataFrame(np.where(x > 0, x, np.nan)).corr(method="pearson", min_periods=2).to_numpy().copy()
    np.fill_diagonal(ref, 0.0)
    defined = np.isfinite(ref)
    assert defined.sum() > 100  # most pairs are compared
    np.testing.assert_allclose(ours[defined], ref[defined], atol=1e-6)
    np.testing.assert_array_equal(ours[~defined], 0.0)
