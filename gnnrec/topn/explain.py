"""Why the ranking GNN lists a movie: each of your ratings left out in turn, where the movie would
rank without it, and the edges that carry it (the co-rating graph's, and EASE's edge-varying filter's).

Letters: R your ratings, N movies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..graph import within
from .training import RankGNNRanker


def rank_of(scores: np.ndarray, candidates: np.ndarray, t: int, popularity: np.ndarray) -> np.ndarray:
    """1-based rank of movie ``t`` among ``candidates`` ``(N,)`` bool in each row of ``scores``
    ``(B, N)``, ties as the lists break them (more popular first, then lower index)."""
    s = np.where(candidates[None, :], scores, -np.inf)  # (B, N)
    above = (s > s[:, [t]]) | ((s == s[:, [t]]) & ((popularity > popularity[t]) |
                                                  ((popularity == popularity[t]) & (np.arange(len(popularity)) < t))))
    return above.sum(1) + 1


def explain_listing(ranker: RankGNNRanker, x: np.ndarray, t: int, candidates: np.ndarray) -> tuple[int, pd.DataFrame]:
    """Movie index ``t``'s rank for a user ``x`` ``(N,)`` among ``candidates`` (the movies the list
    may hold), and one row per rating: ``movie`` (index), ``rank_without`` (where ``t`` would rank
    with that rating left out), ``score_effect`` (its score minus the score without it),
    ``edge`` (EASE's edge-varying filter's weight from that movie to ``t``; 0 without one),
    ``hops`` (graph distance on the co-rating graph, capped at the filter's reach + 1)."""
    rated = np.flatnonzero(x > 0)  # (R,)
    rows = np.repeat(x[None, :], len(rated) + 1, axis=0)  # (R+1, N): row 0 all ratings, row i+1 without rated[i]
    rows[np.arange(1, len(rated) + 1), rated] = 0
    s = ranker.scores(rows)  # (R+1, N)
    ranks = rank_of(s, candidates, t, ranker.popularity)  # (R+1,)
    reach = ranker.config.taps - 1
    start = np.zeros((ranker.shift.shape[0], 1), dtype=bool)
    start[t] = True
    hops = np.full(len(rated), reach + 1)
    for h in range(reach, -1, -1):  # the smallest h with the rating within h hops of t
        hops[within(ranker.shift, start, h)[rated, 0]] = h
    edge = ranker.model.edge
    w = edge.detach().numpy()[rated, t] if edge is not None else np.zeros(len(rated))
    table = pd.DataFrame({"movie": rated, "rank_without": ranks[1:], "score_effect": s[0, t] - s[1:, t],
                          "edge": w, "hops": hops})
    return int(ranks[0]), table.sort_values("score_effect", ascending=False, kind="stable").reset_index(drop=True)
