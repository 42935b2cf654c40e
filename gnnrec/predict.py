"""One predictor API (fit / predict / estimate) and the classical baselines: item mean, item k-NN,
item k-NN with baseline correction.

Letters: U training users, B users to predict for, N movies, T movies to predict at.
Ratings are matrices with 0 = not rated; movies are column indices (GroupLens id - 1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .graph import ItemGraph, top_k_mask


class PredictionImpossible(ValueError):
    """A model cannot predict this (user, movie) from what it knows; see the fallback."""


@dataclasses.dataclass(frozen=True)
class Predictions:
    """Predicted ratings and where the documented fallback stood in for the model.

    Attributes:
        values: ``(B, T)`` predicted ratings, clipped to :data:`RATING_SCALE`.
        fallback: ``(B, T)`` True where the model could not predict and ``values`` holds the
            fallback (the movie's training mean; the global training mean for a movie nobody
            in training rated).
    """

    values: np.ndarray
    fallback: np.ndarray


RATING_SCALE = (1.0, 5.0)  # MovieLens stars: every prediction is clipped to this range


class Predictor:
    """Base class: ``fit`` on a training split, ``estimate`` what the model can, ``predict``
    with the fallback filled in and every value clipped to :data:`RATING_SCALE`.

    Subclasses implement :meth:`fit` and :meth:`estimate` (NaN where impossible, unclipped).
    Clipping lives here only, so every model is scored under the same rule (as Surprise's
    ``predict(clip=True)``).
    """

    name = "predictor"

    def fit(self, train: np.ndarray, graph: ItemGraph) -> Predictor:
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
        indices; default all), clipped to :data:`RATING_SCALE`. With ``strict=True`` raise
        :class:`PredictionImpossible` instead of falling back."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float32))
        n = x.shape[1]
        movies = np.arange(n) if movies is None else np.atleast_1d(np.asarray(movies, dtype=np.int64))
        if movies.size and (movies.min() < 0 or movies.max() >= n):
            bad = movies[(movies < 0) | (movies >= n)][0]
            raise ValueError(f"movie index {bad} out of range 0..{n - 1}")
        est = np.asarray(self.estimate(x, movies), dtype=np.float64)  # (B, T)
        if strict and not np.isfinite(est).all():
            b, t = np.argwhere(~np.isfinite(est))[0]
            raise PredictionImpossible(f"{self.name} cannot predict movie index {movies[t]} for user row {b}: "
                                       "none of the user's ratings reaches it")
        return self.settle(est, movies)

    def fill(self, est: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """Estimates ``(B, T)`` at ``movies`` ``(T,)``, the movie's mean where impossible; unclipped."""
        est = np.asarray(est, dtype=np.float64)
        return np.where(np.isfinite(est), est, np.broadcast_to(self.item_means[movies], est.shape))

    def settle(self, est: np.ndarray, movies: np.ndarray) -> Predictions:
        """The one rule from estimates ``(B, T)`` at ``movies`` ``(T,)`` to predictions: the
        fallback where impossible, then every value clipped to :data:`RATING_SCALE`."""
        est = np.asarray(est, dtype=np.float64)
        return Predictions(values=np.clip(self.fill(est, movies), *RATING_SCALE), fallback=~np.isfinite(est))

    # -- explaining: the parts of ``estimate``; ``support`` and ``terms`` need the k-NNs' ``weights``, ``deviations``
    def support(self, x_row: np.ndarray, movies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What each estimate at ``movies`` ``(T,)`` rests on for one user ``(N,)``: how many of the
        user's ratings are among its neighbours ``(T,)``, their total weight ``(T,)``; 0: fallback."""
        _, w = self.weights(x_row, movies)  # (T, R)
        return (w > 0).sum(1), w.sum(1)

    def terms(self, x_row: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One user's ``(N,)`` terms of the estimate at movie index ``t``, as :meth:`estimate` sums
        them: rated indices, neighbour weights (0: not a neighbour), deviations, each ``(R,)``; the
        estimate is the baseline + ``w @ dev / w.sum()`` (the baseline alone where ``w.sum()`` is 0)."""
        rated, w = self.weights(x_row, np.array([t]))
        return rated, w[0], self.deviations(x_row[None, :], rated)[0]

    def baseline(self, x_row: np.ndarray, t: int) -> tuple[float, dict[str, float]]:
        """Where the estimate at movie index ``t`` starts for one user ``(N,)`` before the
        neighbours (or graph filters) count, and its parts ``{part: value}`` that add up to it."""
        return float(self.item_means[t]), {"movie mean": float(self.item_means[t])}


class ItemMean(Predictor):
    """The movie's mean training rating (the global mean for a movie nobody rated)."""

    name = "item_mean"

    def fit(self, train: np.ndarray, graph: ItemGraph | None = None) -> ItemMean:
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

    def fit(self, train: np.ndarray, graph: ItemGraph) -> ItemKNN:
        self._set_means(train)
        self.corr = graph.corr
        return self

    @property
    def sim(self) -> np.ndarray:
        """The similarities this k-NN weighs by, under the name :class:`KNNBaseline` uses: the graph's correlations."""
        return self.corr

    def weights(self, x_row: np.ndarray, movies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Neighbour weights for one user: ``(N,)`` ratings -> rated movie indices ``(R,)`` and
        ``(T, R)`` weights, each row's top-k positive correlations (others 0)."""
        rated = np.flatnonzero(x_row > 0)  # (R,)
        w = self.corr[np.ix_(movies, rated)].astype(np.float64)  # (T, R)
        w[w < 0] = 0.0
        w[movies[:, None] == rated[None, :]] = 0.0  # never use the target's own rating
        w[~top_k_mask(w, self.k)] = 0.0  # ties at the k-th weight kept, as in the graph
        return rated, w

    def deviations(self, x: np.ndarray, rated: np.ndarray) -> np.ndarray:
        """Users' ``(B, N)`` ratings of movies ``rated`` ``(R,)`` minus those movies' means -> ``(B, R)``."""
        return x[:, rated] - self.item_means[rated]

    def estimate(self, x: np.ndarray, movies: np.ndarray) -> np.ndarray:
        out = np.empty((x.shape[0], len(movies)))  # (B, T)
        for b, row in enumerate(x):
            rated, w = self.weights(row, movies)
            dev = self.deviations(row[None, :], rated)[0]  # (R,)
            den = w.sum(1)  # (T,)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[b] = np.where(den > 0, self.item_means[movies] + (w @ dev) / den, np.nan)
        return out


class KNNBaseline(Predictor):
    r"""Item k-NN with baseline correction (Koren 2010; Surprise's ``KNNBaseline`` with
    ``pearson_baseline`` similarity): the strong classical recommender the GNN is compared with.

    Baselines :math:`b_{uj} = \mu + b_u + b_j` are fitted by alternating least squares
    (``epochs`` rounds of :math:`b_u = \sum_j (r_{uj} - \mu - b_j) / (\lambda_u + n_u)`, then
    :math:`b_j = \sum_u (r_{uj} - \mu - b_u) / (\lambda_i + n_j)`). Similarities are Pearson
    correlations of the residuals :math:`e_{uj} = r_{uj} - b_{uj}` over common raters, shrunk by
    the number of common raters :math:`n_{tj}`:

    .. math::
        s_{tj} = \frac{n_{tj} - 1}{n_{tj} - 1 + \beta}
                 \frac{\sum_u e_{ut} e_{uj}}{\sqrt{\sum_u e_{ut}^2 \sum_u e_{uj}^2}}, \qquad
        \hat r_{ut} = b_{ut} + \frac{\sum_{j \in N_k(t; u)} s_{tj}\, e_{uj}}{\sum_{j \in N_k(t; u)} s_{tj}}

    with sums over users who rated both, and :math:`N_k(t; u)` the ``k`` movies the user rated
    most similar to ``t`` that have :math:`s_{tj} > 0`. A user's :math:`b_u` is computed from
    the ratings given to :meth:`estimate` (the same formula, with the fitted :math:`b_j`), so
    any user can be scored. With no such neighbour the prediction is the baseline
    :math:`b_{ut}` (Surprise's behaviour); it is never impossible. :meth:`predict` clips, as for every model.

    Unlike the models of the seed's protocol, it is meant to be fitted on every rating but the
    ones being predicted (the evaluation does so), not on the training users only.

    Args:
        k: neighbours (default 40).
        shrinkage: β (default 100).
        reg_user, reg_item: :math:`\lambda_u, \lambda_i` (defaults 15 and 10).
        epochs: ALS rounds (default 10).
    """

    name = "knn_baseline"

    def __init__(self, k: int = 40, shrinkage: float = 100.0, reg_user: float = 15.0, reg_item: float = 10.0,
                 epochs: int = 10):
        if k < 1:
            raise ValueError(f"k-NN neighbours k={k!r} must be >= 1")
        for name, v in (("shrinkage", shrinkage), ("reg_user", reg_user), ("reg_item", reg_item)):
            if not v >= 0:
                raise ValueError(f"{name}={v!r} must be >= 0")
        if epochs < 1:
            raise ValueError(f"epochs={epochs!r} must be >= 1")
        self.k, self.shrinkage, self.reg_user, self.reg_item, self.epochs = k, shrinkage, reg_user, reg_item, epochs

    def fit(self, train: np.ndarray, graph: ItemGraph | None = None) -> KNNBaseline:
        """Learn from ``(U, N)`` ratings (``graph`` is not used: the similarities are its own)."""
        self._set_means(train)
        mask = train > 0  # (U, N)
        mu = self.global_mean
        r = np.where(mask, train - mu, 0.0)  # (U, N)
        n_user, n_item = mask.sum(1), mask.sum(0)  # (U,), (N,)
        b_item = np.zeros(train.shape[1])
        den_user, den_item = self.reg_user + n_user, self.reg_item + n_item  # (U,), (N,); 0 only when unrated
        for _ in range(self.epochs):
            b_user = np.divide((r - b_item[None, :] * mask).sum(1), den_user, out=np.zeros(len(den_user)),
                               where=den_user > 0)  # (U,)
            b_item = np.divide((r - b_user[:, None] * mask).sum(0), den_item, out=np.zeros(len(den_item)),
                               where=den_item > 0)  # (N,)
        self.b_item = b_item
        e = np.where(mask, r - b_user[:, None] - b_item[None, :], 0.0)  # (U, N) residuals
        m = mask.astype(np.float64)
        common = m.T @ m  # (N, N) n_tj
        num = e.T @ e  # (N, N)
        sq = (e * e).T @ m  # (N, N): [t, j] = Σ_{u rated both} e_ut²
        with np.errstate(invalid="ignore", divide="ignore"):
            sim = num / np.sqrt(sq * sq.T)
        sim = np.where(common > 1, sim * (common - 1) / (common - 1 + self.shrinkage), 0.0)
        np.fill_diagonal(sim, 0.0)
        self.sim = np.nan_to_num(sim)  # (N, N)
        return self

    def user_bias(self, x: np.ndarray) -> np.ndarray:
        """:math:`b_u` of users ``(B, N)`` from their ratings and the fitted item biases -> ``(B,)``."""
        mask = x > 0
        dev = np.where(mask, x - self.global_mean - self.b_item[None, :], 0.0)  # (B, N)
        den = self.reg_user + mask.sum(1)  # (B,)
        return np.divide(dev.sum(1), den, out=np.zeros(len(x)), where=den > 0)  # no ratings, no λ: 0

    def weights(self, x_row: np.ndarray, movies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Neighbour weights for one user: ``(N,)`` ratings -> rated movie indices ``(R,)`` and ``(T, R)``
        weights: each row's ``k`` most similar rated movies, if positive (others 0; never the movie itself)."""
        rated = np.flatnonzero(x_row > 0)  # (R,)
        s = self.sim[np.ix_(movies, rated)]  # (T, R)
        s = np.where(movies[:, None] == rated[None, :], -np.inf, s)  # never the target's own rating
        return rated, np.where(top_k_mask(s, self.k) & (s > 0), s, 0.0)  # the k most similar; positive ones count

    def deviations(self, x: np.ndarray, rated: np.ndarray, b_user: np.ndarray | None = None) -> np.ndarray:
        """Users' ``(B, N)`` residuals at movies ``rated`` ``(R,)``, rating minus its baseline
        :math:`e_{uj} = r_{uj} - \\mu - b_u - b_j` -> ``(B, R)`` (``b_user`` ``(B,)``: default from ``x``)."""
        b_user = self.user_bias(x) if b_user is None else b_user
        return x[:, rated] - self.global_mean - b_user[:, None] - self.b_item[rated]

    def baseline(self, x_row: np.ndarray, t: int) -> tuple[float, dict[str, float]]:
        parts = {"overall": self.global_mean, "movie": float(self.b_item[t]),
                 "you": float(self.user_bias(x_row[None, :])[0])}
        return float(sum(parts.values())), parts

    def estimate(self, x: np.ndarray, movies: np.ndarray) -> np.ndarray:
        b_user = self.user_bias(x)  # (B,)
        out = np.empty((x.shape[0], len(movies)))  # (B, T)
        for b, row in enumerate(x):
            rated, s = self.weights(row, movies)  # (R,), (T, R)
            e = self.deviations(row[None, :], rated, b_user[b:b + 1])[0]  # (R,)
            den = s.sum(1)  # (T,)
            base = self.global_mean + b_user[b] + self.b_item[movies]  # (T,)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[b] = np.where(den > 0, base + (s @ e) / den, base)
        return out
