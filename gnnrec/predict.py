"""One predictor API (fit / predict / estimate) and the classical baselines: item mean, item k-NN.

Letters: U training users, B users to predict for, N movies, T movies to predict at.
Ratings are matrices with 0 = not rated; movies are column indices (GroupLens id - 1).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from .graph import ItemGraph


class PredictionImpossible(ValueError):
    """A model cannot predict this (user, movie) from what it knows; see the fallback."""


@dataclasses.dataclass(frozen=True)
class Predictions:
    """Predicted ratings and where the documented fallback stood in for the model.

    Attributes:
        values: ``(B, T)`` predicted ratings.
        fallback: ``(B, T)`` True where the model could not predict and ``values`` holds the
            fallback (the movie's training mean; the global training mean for a movie nobody
            in training rated).
    """

    values: np.ndarray
    fallback: np.ndarray


class Predictor:
    """Base class: ``fit`` on a training split, ``estimate`` what the model can, ``predict``
    with the fallback filled in.

    Subclasses implement :meth:`fit` and :meth:`estimate` (NaN where impossible).
    """

    name = "predictor"

    def fit(self, train: np.ndarray, graph: ItemGraph) -> "Predictor":
        """Learn from ``(U, N)`` training ratings and the split's item graph."""
        raise NotImplementedError

    def estimate(self, x: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """``(B, N)`` known ratings, ``(T,)`` movies -> ``(B, T)``, NaN where impossible."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------
    def _set_means(self, train: np.ndarray) -> None:
        mask = train > 0
        counts = mask.sum(0)  # (N,)
        self.global_mean = float(train[mask].mean()) if mask.any() else 3.0
        with np.errstate(invalid="ignore", divide="ignore"):
            means = train.sum(0) / counts  # (N,)
        self.item_means = np.where(counts > 0, means, self.global_mean).astype(np.float64)
        self.item_known = counts > 0  # (N,)

    def predict(self, x: np.ndarray, movies: Sequence[int] | np.ndarray | None = None,
                *, strict: bool = False) -> Predictions:
        """Predicted ratings of users ``x`` (``(B, N)`` or ``(N,)``) at ``movies`` (column
        indices; default all). With ``strict=True`` raise :class:`PredictionImpossible` instead
        of falling back."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float32))
        n = x.shape[1]
        movies = np.arange(n) if movies is None else np.atleast_1d(np.asarray(movies, dtype=np.int64))
        if movies.size and (movies.min() < 0 or movies.max() >= n):
            bad = movies[(movies < 0) | (movies >= n)][0]
            raise ValueError(f"movie index {bad} out of range 0..{n - 1}")
        est = np.asarray(self.estimate(x, movies), dtype=np.float64)  # (B, T)
        impossible = ~np.isfinite(est)
        if strict and impossible.any():
            b, t = np.argwhere(impossible)[0]
            raise PredictionImpossible(f"{self.name} cannot predict movie index {movies[t]} for user row {b}: "
                                       "none of the user's ratings reaches it")
        fill = np.broadcast_to(self.item_means[movies], est.shape)
        return Predictions(values=np.where(impossible, fill, est), fallback=impossible)


class ItemMean(Predictor):
    """The movie's mean training rating (the global mean for a movie nobody rated)."""

    name = "item_mean"

    def fit(self, train: np.ndarray, graph: ItemGraph | None = None) -> "ItemMean":
        self._set_means(train)
        return self

    def estimate(self, x: np.ndarray, movies: np.ndarray) -> np.ndarray:
        est = np.where(self.item_known[movies], self.item_means[movies], np.nan)  # (T,)
        return np.broadcast_to(est, (x.shape[0], len(movies))).copy()


class ItemKNN(Predictor):
    r"""Item-based, mean-centred k-nearest-neighbour prediction on the split's correlations.

    .. math::
        \hat r_{ut} = \mu_t + \frac{\sum_{j \in N_k(t; u)} w_{tj} (r_{uj} - \mu_j)}
                               {\sum_{j \in N_k(t; u)} |w_{tj}|}

    where :math:`N_k(t; u)` are the ``k`` movies the user rated with the largest positive
    Pearson correlation :math:`w_{tj}` to ``t`` and :math:`\mu` are training item means.
    Impossible (NaN, so :meth:`predict` falls back to :math:`\mu_t`) when the user rated no movie
    positively correlated with ``t``.

    Args:
        k: neighbours per prediction (default 40).
    """

    name = "knn"

    def __init__(self, k: int = 40):
        if k < 1:
            raise ValueError(f"k-NN neighbours k={k!r} must be >= 1")
        self.k = k

    def fit(self, train: np.ndarray, graph: ItemGraph) -> "ItemKNN":
        self._set_means(train)
        self.corr = graph.corr
        return self

    def weights(self, x_row: np.ndarray, movies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Neighbour weights for one user: ``(N,)`` ratings -> rated movie indices ``(R,)`` and
        ``(T, R)`` weights, each row's top-k positive correlations (others 0)."""
        rated = np.flatnonzero(x_row > 0)  # (R,)
        w = self.corr[np.ix_(movies, rated)].astype(np.float64)  # (T, R)
        w[w < 0] = 0.0
        w[movies[:, None] == rated[None, :]] = 0.0  # never use the target's own rating
        if rated.size > self.k:
            kth = -np.partition(-w, self.k - 1, axis=1)[:, self.k - 1 : self.k]  # (T, 1)
            w[w < kth] = 0.0  # ties at the k-th weight kept, as in the graph
        return rated, w

    def estimate(self, x: np.ndarray, movies: np.ndarray) -> np.ndarray:
        out = np.empty((x.shape[0], len(movies)))  # (B, T)
        for b, row in enumerate(x):
            rated, w = self.weights(row, movies)
            dev = row[rated] - self.item_means[rated]  # (R,)
            den = w.sum(1)  # (T,)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[b] = np.where(den > 0, self.item_means[movies] + (w @ dev) / den, np.nan)
        return out
