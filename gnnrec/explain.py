"""The rows of an explanation: which ratings to explain, the k-NN's terms as effects, one sorted table."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .predict import Predictor


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


def frame(rated: np.ndarray, titles: np.ndarray, x_row: np.ndarray, effect: np.ndarray, weight: np.ndarray,
          residual: np.ndarray, via_bias: np.ndarray, via_graph: np.ndarray) -> pd.DataFrame:
    """One row per rated movie index in ``rated`` ``(R,)`` (columns as :meth:`gnnrec.recommender.
    Recommender.explain` documents), sorted by |effect| (ties keep their order)."""
    out = pd.DataFrame({"movie": rated + 1, "title": titles[rated], "your_rating": x_row[rated], "effect": effect,
                        "weight": weight, "residual": residual, "via_bias": via_bias, "via_graph": via_graph})
    order = out["effect"].abs().sort_values(ascending=False, kind="stable").index
    return out.reindex(order).reset_index(drop=True)
