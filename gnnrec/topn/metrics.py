r"""Ranking metrics of top-K lists against held-out interactions, as the field computes them.

Definitions follow Microsoft Recommenders' ``python_evaluation`` (binary relevance; a test holds
ours equal to theirs): for a user with relevant set :math:`T` and list :math:`L` of length
:math:`K`, hits :math:`h_i = [L_i \in T]`,

.. math::
    \mathrm{P@K} = \frac{\sum_i h_i}{K},\quad \mathrm{R@K} = \frac{\sum_i h_i}{|T|},\quad
    \mathrm{nDCG@K} = \frac{\sum_i h_i / \log_2(i + 1)}{\sum_{i \le \min(|T|, K)} 1 / \log_2(i + 1)},\quad
    \mathrm{MAP@K} = \frac{\sum_i h_i\, \mathrm{P@}i}{\min(|T|, K)}

averaged over the users with at least one relevant movie; hit rate is the share of those users
with a hit. Coverage is the share of the catalogue that appears in any list.

Letters: B users, K list length, N movies.
"""

from __future__ import annotations

import numpy as np


def hits(top: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """``top`` ``(B, K)`` movie indices (-1 = empty slot), ``relevant`` ``(B, N)`` boolean ->
    ``(B, K)`` boolean hits."""
    ok = top >= 0
    rows = np.arange(top.shape[0])[:, None]  # (B, 1)
    return ok & relevant[rows, np.where(ok, top, 0)]


def user_metrics(top: np.ndarray, relevant: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Per-user metrics ``{name: (B,)}`` for lists cut to ``k``; NaN for a user with nothing relevant."""
    top = top[:, :k]
    h = hits(top, relevant).astype(np.float64)  # (B, K)
    n_rel = relevant.sum(1).astype(np.float64)  # (B,)
    discount = 1.0 / np.log2(np.arange(2, k + 2))  # (K,) 1/log2(i+1), i = 1..K
    ideal = np.cumsum(discount)[np.minimum(n_rel, k).astype(int) - 1]  # (B,) (junk where n_rel = 0)
    ranks = np.arange(1, k + 1)  # (K,)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "ndcg": (h * discount).sum(1) / ideal,
            "precision": h.sum(1) / k,
            "recall": h.sum(1) / n_rel,
            "map": (h * np.cumsum(h, 1) / ranks).sum(1) / np.minimum(n_rel, k),
            "hit_rate": (h.sum(1) > 0).astype(np.float64),
        }
    none = n_rel == 0
    for v in out.values():
        v[none] = np.nan
    return out


def coverage(top: np.ndarray, n_movies: int) -> float:
    """Share of the ``n_movies`` catalogue in any user's list."""
    return float(np.unique(top[top >= 0]).size / n_movies)


def mean_popularity(top: np.ndarray, popularity: np.ndarray) -> float:
    """Mean training popularity (raters) of the recommended movies."""
    return float(popularity[top[top >= 0]].mean())


def score_lists(top: np.ndarray, test: np.ndarray, popularity: np.ndarray, k: int) -> dict[str, float]:
    """Every metric of one model's lists ``(B, K)`` against held-out ratings ``(B, N)``
    (0 = not held out), under two relevance rules: any held-out movie, and held-out ratings of
    4-5 (keys ending ``_liked``). Coverage and popularity of the lists cut to ``k``."""
    out: dict[str, float] = {}
    for suffix, relevant in (("", test > 0), ("_liked", test >= 4)):
        for name, v in user_metrics(top, relevant, k).items():
            out[name + suffix] = float(np.nanmean(v))
    out["coverage"] = coverage(top[:, :k], test.shape[1])
    out["popularity"] = mean_popularity(top[:, :k], popularity)
    return out
