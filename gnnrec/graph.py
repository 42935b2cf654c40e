r"""Item graph: co-rater Pearson correlations, top-k sparsification, spectral normalisation.

Letters: U users, N movies (nodes), k neighbours kept per node.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

PEARSON_BLOCK = 256  # rows of the correlation matrix finished at a time in float64


@dataclasses.dataclass(frozen=True)
class GraphConfig:
    """How the item graph is built from a training rating matrix."""

    k: int = 10  # neighbours kept per node (alegnn reference 10, course lab 40)
    min_common: int = 1  # co-raters needed for a non-zero weight (below: weight 0)
    sign: Literal["positive", "abs"] = "positive"  # keep the k largest weights, or largest |weights|
    shrinkage: float = 0.0  # lambda: weights times n / (n + lambda), n = co-raters (0 = none)

    def __post_init__(self) -> None:
        if not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"graph neighbours k={self.k!r} must be an integer >= 1")
        if not isinstance(self.min_common, int) or self.min_common < 1:
            raise ValueError(f"min_common={self.min_common!r} must be an integer >= 1")
        if not self.shrinkage >= 0:
            raise ValueError(f"shrinkage={self.shrinkage!r} must be >= 0")
        if self.sign not in ("positive", "abs"):
            raise ValueError(f"sign={self.sign!r}: choose 'positive' or 'abs'")


def pearson(x: np.ndarray, min_common: int = 1, shrinkage: float = 0.0) -> np.ndarray:
    r"""Pearson correlation of every pair of columns over the rows that rated both.

    .. math::
        W_{\ell m} = \frac{\sum_{u \in U_{\ell m}} (x_{u\ell} - \mu_{\ell m})(x_{um} - \mu_{m\ell})}
        {\sqrt{\sum_{u \in U_{\ell m}} (x_{u\ell} - \mu_{\ell m})^2 \sum_{u \in U_{\ell m}} (x_{um} - \mu_{m\ell})^2}}

    where :math:`U_{\ell m}` are the users with both ratings and :math:`\mu_{\ell m}` is the mean of
    :math:`\ell`'s ratings over them. Computed with four matrix products over the mask ``M``:
    ``n = MᵀM``, ``s = XᵀM`` (``s[ℓ, m]`` = Σ over co-raters of x_uℓ), ``q = (X²)ᵀM``, ``p = XᵀX``.

    Args:
        x: ``(U, N)`` ratings, 0 = not rated.
        min_common: pairs with fewer co-raters get weight 0 (default 1).
        shrinkage: if > 0, multiply each correlation by ``n / (n + shrinkage)`` with ``n`` the
            co-raters, pulling weakly supported pairs towards 0 (default 0: plain Pearson).

    Returns:
        ``(N, N)`` float64 correlations, symmetric, zero diagonal; 0 where undefined (fewer than
        ``min_common`` or 2 co-raters, or constant ratings over the co-raters).
    """
    m = (x != 0).astype(np.float32)  # (U, N)
    # ratings shifted by a constant: Pearson is unchanged, the sums lose less precision. The
    # products run in float32 (twice as fast): with whole-star ratings every sum is an integer
    # far below 2^24, so they are exact; the rest is float64, a block of rows at a time (the
    # whole (N, N) float64 temporaries took 220 MB at N = 1682; the blocks need ~4 MB each).
    xc = np.where(m > 0, x.astype(np.float32) - 3.0, 0.0).astype(np.float32)  # (U, N)
    n = m.T @ m  # (N, N) co-rater counts
    s = xc.T @ m  # (N, N) s[l, m] = sum of x_ul over co-raters of (l, m)
    q = (xc * xc).T @ m  # (N, N) sum of x_ul^2 over co-raters
    p = xc.T @ xc  # (N, N) sum of x_ul x_um
    del m, xc
    nn = x.shape[1]
    w = np.zeros((nn, nn))  # (N, N) float64
    for lo in range(0, nn, PEARSON_BLOCK):
        rows = slice(lo, lo + PEARSON_BLOCK)  # B rows l
        nb = n[rows].astype(np.float64)  # (B, N) n[l, m]
        s_lm = s[rows].astype(np.float64)  # (B, N) s[l, m]
        s_ml = s[:, rows].T.astype(np.float64)  # (B, N) s[m, l]
        with np.errstate(divide="ignore", invalid="ignore"):
            cov = p[rows] - s_lm * s_ml / nb  # n * covariance
            var_l = q[rows] - s_lm * s_lm / nb  # n * variance of l over co-raters
            var_m = q[:, rows].T - s_ml * s_ml / nb  # n * variance of m over co-raters
            wb = cov / np.sqrt(var_l * var_m)
        ok = (nb >= max(min_common, 2)) & (var_l > 1e-9) & (var_m > 1e-9)
        np.clip(np.where(ok, wb, 0.0), -1.0, 1.0, out=w[rows])
        if shrinkage > 0:
            w[rows] *= nb / (nb + shrinkage)
    np.fill_diagonal(w, 0.0)
    return w


def top_k_mask(score: np.ndarray, k: int) -> np.ndarray:
    """``(R, C)`` -> boolean ``(R, C)``: each row's ``k`` largest entries, ties at the k-th value
    all kept (as the reference does); every entry when a row has ``k`` or fewer."""
    if score.shape[1] <= k:
        return np.ones(score.shape, dtype=bool)
    kth = -np.partition(-score, k - 1, axis=1)[:, k - 1:k]  # (R, 1) the k-th largest per row
    return score >= kth


def sparsify(w: np.ndarray, k: int, sign: str = "positive") -> sp.csr_matrix:
    """Keep each row's ``k`` largest weights (by value, or by magnitude if ``sign="abs"``),
    ties at the k-th value kept too (as the reference does), then symmetrise ``(W + Wᵀ)/2``.

    Args:
        w: ``(N, N)`` dense weights, zero diagonal.
        k: neighbours kept per row.
        sign: ``"positive"`` keeps the k largest positive weights; ``"abs"`` the k largest |w|.

    Returns:
        ``(N, N)`` symmetric CSR matrix.
    """
    score = np.abs(w) if sign == "abs" else np.maximum(w, 0.0)  # (N, N)
    nn = w.shape[0]
    kk = min(k, nn - 1)
    if kk < 1:  # a single node has no neighbours
        return sp.csr_matrix(w.shape, dtype=np.float64)
    rows, cols = np.nonzero(top_k_mask(score, kk) & (score > 0))  # the kept entries, row by row
    a = sp.csr_matrix((w[rows, cols], (rows, cols)), shape=w.shape)
    return ((a + a.T) * 0.5).tocsr()


def spectral_radius(a: sp.spmatrix) -> float:
    """Largest |eigenvalue| of a symmetric sparse matrix (0 for an empty one)."""
    if a.nnz == 0:
        return 0.0
    vals = spla.eigsh(a.astype(np.float64), k=1, which="LM", return_eigenvectors=False, tol=1e-8)
    return float(abs(vals[0]))


def build(x: np.ndarray, config: GraphConfig = GraphConfig()) -> sp.csr_matrix:
    """The graph shift operator ``S`` from a training rating matrix.

    Args:
        x: ``(U, N)`` training ratings, 0 = not rated (only these users' ratings are used).
        config: see :class:`GraphConfig`.

    Returns:
        ``(N, N)`` symmetric float32 CSR matrix with zero diagonal and spectral radius 1 (when
        the graph has an edge).
    """
    return ItemGraph.build(x, config).shift


def within(s: sp.spmatrix, start: np.ndarray, hops: int) -> np.ndarray:
    """Which nodes lie within ``hops`` edges of each column's starting set: ``start`` ``(N, C)``
    boolean -> ``(N, C)`` boolean (the starting nodes included). The one k-hop reach of the
    package: a GNN's receptive field, the nodes a partial forward pass needs."""
    pattern = sp.csr_matrix(s != 0, dtype=np.float32)
    reach = np.asarray(start, dtype=bool).copy()
    for _ in range(hops):
        grown = reach | ((pattern @ reach.astype(np.float32)) > 0)
        if (grown == reach).all():
            break
        reach = grown
    return reach


def neighbours(s: sp.spmatrix, nodes, hops: int = 1) -> np.ndarray:
    """Indices of the nodes within ``hops`` edges of ``nodes`` (an index or several; themselves
    included), sorted."""
    start = np.zeros((s.shape[0], 1), dtype=bool)
    start[np.asarray(nodes, dtype=np.int64)] = True
    return np.flatnonzero(within(s, start, hops)[:, 0])


@dataclasses.dataclass(frozen=True)
class ItemGraph:
    """Both views of one training split's item graph.

    Attributes:
        corr: ``(N, N)`` float32 Pearson correlations before sparsification (k-NN uses these);
            None in a graph restored from a checkpoint, which keeps only the shift.
        shift: ``(N, N)`` CSR graph shift operator ``S`` (the GNN's graph).
        config: how it was built.
    """

    corr: np.ndarray | None
    shift: sp.csr_matrix
    config: GraphConfig

    @classmethod
    def build(cls, x: np.ndarray, config: GraphConfig = GraphConfig()) -> ItemGraph:
        """From ``(U, N)`` training ratings (0 = not rated)."""
        w = pearson(x, config.min_common, config.shrinkage)
        a = sparsify(w, config.k, config.sign)
        rho = spectral_radius(a)
        if rho > 0:
            a = a / rho
        return cls(corr=w.astype(np.float32), shift=sp.csr_matrix(a, dtype=np.float32), config=config)
