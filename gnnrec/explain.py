"""The rows of an explanation: which ratings to explain, the k-NN's terms as effects, one sorted table.

``knn`` with baselines: exact and additive: the prediction is the baseline :math:`b_{ut}` plus the
rows' ``s_j e_j / sum s`` (``e_j``, in ``residual``: your rating of neighbour ``j`` minus its
baseline for you); ``weight`` is ``s_j / sum s``. Plain ``knn``: exact and additive,
``w_j (r_j - mu_j) / sum w`` on the movie's mean. ``gnn``: leave-one-out (occlusion), exact for this
model: the prediction with all your ratings minus the prediction with that one rating removed
(+0.34: the prediction is 0.34 higher because of it). Not additive (the GNN is nonlinear), so the
effects need not sum to the prediction. Before clipping the effect splits exactly in two:
``via_bias``, through the encoding's offset (your bias, which moves every movie alike), and
``via_graph``, through the graph filters (both NaN for the k-NNs, and where nothing reaches the
movie without that rating). The GNN's passes leave out a chunk of ratings at a time, so memory does
not grow with the number of ratings.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .gnn import GNNPredictor
from .predict import Predictor
from .topn.explain import explain_listing
from .topn.training import RankGNNRanker


def chosen(ratings: dict[int, float], only: Iterable[int] | None) -> np.ndarray:
    """The rated movie indices to explain ``(R,)``, sorted: all, or just those in ``only`` (movie
    ids, which must be rated; ValueError otherwise)."""
    rated = np.array(sorted(ratings)) - 1  # (R,)
    if only is None:
        return rated
    keep = {int(m) for m in only}
    if not keep <= set(ratings):
        raise ValueError(f"only={sorted(keep - set(ratings))[:5]}: explain only movies that were rated")
    return rated[np.isin(rated + 1, sorted(keep))]


def knn_effects(model: Predictor, x_row: np.ndarray, t: int,
                rated: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A k-NN's estimate at movie index ``t`` for one user ``(N,)`` as one additive term per rating
    (:meth:`gnnrec.predict.Predictor.terms`), for the ratings in ``rated``: their indices, effects
    ``w_j dev_j / sum w``, weights ``w_j / sum w`` and deviations, each ``(R',)``."""
    idx, w, dev = model.terms(x_row, t)  # (R,) each, over every rating
    total = w.sum()
    effect = w * dev / total if total > 0 else np.zeros(len(idx))
    weight = w / total if total > 0 else w
    mask = np.isin(idx, rated)  # idx covers every rating; ``only`` may narrow ``rated``
    return idx[mask], effect[mask], weight[mask], dev[mask]


def rows(model: Predictor, x_row: np.ndarray, t: int, rated: np.ndarray, titles: np.ndarray,
         chunk: int) -> tuple[float, pd.DataFrame]:
    """How one user's ``(N,)`` ratings at ``rated`` ``(R,)`` move ``model``'s prediction at movie
    index ``t``: the prediction before clipping (the GNN's; NaN for the k-NNs, whose baseline says
    it) and :func:`frame`'s table. The GNN leaves ``chunk`` ratings out per forward pass."""
    if isinstance(model, GNNPredictor):
        raw, effect, via_bias, via_graph = model.leave_one_out(x_row, t, rated, chunk)
        nan = np.full(len(rated), np.nan)
        return raw, frame(rated, titles, x_row, effect, nan, nan, via_bias, via_graph)
    rated, effect, weight, residual = knn_effects(model, x_row, t, rated)
    nan = np.full(len(rated), np.nan)
    return float("nan"), frame(rated, titles, x_row, effect, weight, residual, nan, nan)


def start(model: Predictor, x_row: np.ndarray, t: int, knn: bool, raw: bool = True) -> tuple[float, dict, float]:
    """Where ``model``'s prediction at movie index ``t`` starts for one user ``(N,)``, its parts and
    the estimate before clipping (:meth:`gnnrec.recommender.Recommender.baseline`): NaN where a
    ``knn`` has no support (its fallback), or the GNN reaches nothing; with ``raw=False`` the GNN's
    estimate is not computed (NaN)."""
    base, parts = model.baseline(x_row, t)
    if not knn and not raw:
        return base, parts, float("nan")
    est = float(model.estimate(x_row[None, :], np.array([t]))[0, 0])
    falls_back = knn and model.support(x_row, np.array([t]))[0][0] == 0  # as lists.knn_predictions
    return base, parts, float("nan") if falls_back else est


def frame(rated: np.ndarray, titles: np.ndarray, x_row: np.ndarray, effect: np.ndarray, weight: np.ndarray,
          residual: np.ndarray, via_bias: np.ndarray, via_graph: np.ndarray) -> pd.DataFrame:
    """One row per rated movie index in ``rated`` ``(R,)`` (columns as :meth:`gnnrec.recommender.
    Recommender.explain` documents), sorted by |effect| (ties keep their order)."""
    out = pd.DataFrame({"movie": rated + 1, "title": titles[rated], "your_rating": x_row[rated], "effect": effect,
                        "weight": weight, "residual": residual, "via_bias": via_bias, "via_graph": via_graph})
    order = out["effect"].abs().sort_values(ascending=False, kind="stable").index
    return out.reindex(order).reset_index(drop=True)


def listing(ranker: RankGNNRanker, x_row: np.ndarray, t: int, titles: np.ndarray, allowed: np.ndarray,
            exclude: Iterable[int]) -> tuple[int, pd.DataFrame]:
    """Why the ranking GNN lists movie index ``t`` for one user ``(N,)``: its rank among the
    movies the list may hold (not rated, ``allowed`` ``(N,)``, not in ``exclude`` (ids)) and
    :func:`gnnrec.topn.explain.explain_listing`'s rows with ``title`` and ``your_rating`` (ids 1-based)."""
    candidates = (x_row == 0) & allowed  # (N,)
    candidates[np.asarray([int(m) - 1 for m in exclude], dtype=np.int64)] = False
    candidates[t] = True
    rank, df = explain_listing(ranker, x_row, t, candidates)
    df.insert(1, "title", titles[df["movie"]])
    df.insert(2, "your_rating", x_row[df["movie"]])
    return rank, df.assign(movie=df["movie"] + 1)
