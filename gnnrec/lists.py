"""The top-N lists of a recommendation: their record, their order and their text."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .predict import Predictions, Predictor

MODELS = ("gnn", "knn")


@dataclasses.dataclass(frozen=True)
class Recommendations:
    """What :func:`gnnrec.recommender.recommend` returns.

    Attributes:
        ratings: the validated input ``{movie id: rating}``.
        predictions: one row per movie the user has not rated: ``movie, title, year, genres,
            n_raters, gnn, knn, gnn_fallback, knn_fallback`` (titles as people write them:
            :func:`gnnrec.titles.natural_title`; a ``*_fallback`` True means that model could
            not use any of the user's ratings: the GNN and plain k-NN then give the movie's mean
            rating, the k-NN with baselines its baseline).
            Also ``gnn_estimate, knn_estimate``: each model's estimate before clipping to 1-5
            (the fallback where it cannot use your ratings), what the lists are ranked by; and
            ``knn_support, knn_similarity``: how many of your ratings the k-NN's prediction rests
            on (its positively similar neighbours among them; 0 on a fallback) and their total
            similarity. ``gnn_rank``: the ranking GNN's score (NaN without one), what the GNN
            list is ranked by when the recommender has a ranking GNN (``ranked_by``).
        top: ``{"gnn": DataFrame, "knn": DataFrame}``, the best ``top`` rows of ``predictions``
            by each model (see :meth:`gnnrec.recommender.Recommender.recommend` for the order),
            with an ``agree`` column: in both lists.
        model: name of the GNN checkpoint used.
        knn: which k-NN made the ``knn`` column (:data:`gnnrec.recommender.KNN_KINDS`).
    """

    ratings: dict[int, float]
    predictions: pd.DataFrame
    top: dict[str, pd.DataFrame]
    model: str
    knn: str = "baseline"
    ranked_by: str = "rating"  # the GNN list's order: "ranking" (the ranking GNN) or "rating" (the rating GNN's estimate)


def scored(movies: pd.DataFrame, x_row: np.ndarray, gnn: Predictor, knn: Predictor,
           rank: np.ndarray) -> pd.DataFrame:
    """:attr:`Recommendations.predictions` for one user ``(N,)``: the rows of ``movies`` ``(N rows)``
    the user has not rated, with each model's prediction (the fallback filled in, clipped), estimate
    (unclipped), fallback flag, the k-NN's support and the ranking GNN's score ``rank`` ``(N,)``."""
    x, cols = x_row[None, :], np.arange(len(x_row))  # (1, N), (N,)
    g_raw, k_raw = gnn.estimate(x, cols), knn.estimate(x, cols)  # (1, N), NaN where impossible
    support, similarity = knn.support(x_row, cols)  # (N,), (N,)
    g, k = gnn.settle(g_raw, cols), knn.settle(k_raw, cols)  # the fallback filled in, clipped
    new = dict(gnn=g.values[0], knn=k.values[0], gnn_rank=rank, gnn_fallback=g.fallback[0], knn_fallback=support == 0,
               gnn_estimate=gnn.fill(g_raw, cols)[0], knn_estimate=knn.fill(k_raw, cols)[0], knn_support=support,
               knn_similarity=similarity)
    keep = x_row == 0  # the unrated movies' rows taken once, the new columns beside them (4x faster than assign)
    return pd.concat([movies[keep].reset_index(drop=True), pd.DataFrame({c: v[keep] for c, v in new.items()})], axis=1)


def knn_predictions(knn: Predictor, x: np.ndarray, movies=None) -> Predictions:
    """A k-NN's predictions for one user ``x`` ``(1, N)`` at ``movies`` (column indices; default all),
    ``fallback`` True where its support is 0, as in :func:`scored` (none of the user's ratings is a
    positively similar neighbour: plain, the movie's mean; with baselines, the baseline)."""
    p = knn.predict(x, movies)
    cols = np.arange(x.shape[1]) if movies is None else np.atleast_1d(np.asarray(movies))
    return Predictions(p.values, (knn.support(np.atleast_2d(x)[0], cols)[0] == 0)[None, :])


def top_lists(df: pd.DataFrame, top: int, min_raters: float, exclude: Iterable[int],
              ranking: bool) -> dict[str, pd.DataFrame]:
    """The best ``top`` rows of ``df`` per model among those with ``min_raters`` raters and not in
    ``exclude``, each with ``agree`` (in both lists)."""
    hidden = np.array(sorted({int(m) for m in exclude}), dtype=np.int64)
    keep = np.flatnonzero((df["n_raters"].to_numpy() >= min_raters) & ~np.isin(df["movie"].to_numpy(), hidden))
    tops = {name: df.iloc[keep[_order(df, keep, name, ranking)[:top]]] for name in MODELS}
    both = set(tops["gnn"]["movie"]) & set(tops["knn"]["movie"])
    return {n: t.assign(agree=t["movie"].isin(both)).reset_index(drop=True) for n, t in tops.items()}


def _order(df: pd.DataFrame, rows: np.ndarray, model: str, ranking: bool = False) -> np.ndarray:
    """The rows at positions ``rows`` of ``df`` in the order of :meth:`gnnrec.recommender.Recommender.
    recommend`'s lists for ``model``, as positions into ``rows`` ``(len(rows),)``: by the estimate
    (highest first), then the support, then the raters (most first), then the lower movie id; with
    ``ranking`` the GNN list by the ranking GNN's score (ties: more raters, then the lower id, as its
    lists). NaN keys last. (One ``np.lexsort`` on the key columns: a pandas sort took every column of
    every row along, twice a rating.)"""
    def key(column: str, sign: float = -1.0) -> np.ndarray:
        return sign * df[column].to_numpy(dtype=np.float64)[rows]

    if model == "gnn" and ranking:
        return np.lexsort((key("movie", 1.0), key("n_raters"), key("gnn_rank")))
    support = key("knn_support") if model == "knn" else df["gnn_fallback"].to_numpy()[rows] - 1.0  # reached: -1
    return np.lexsort((key("movie", 1.0), key("n_raters"), support, key(f"{model}_estimate")))


def format_result(res: Recommendations) -> str:
    """Both top-N lists as text, titles included."""
    lines = ["Your ratings: " + ", ".join(f"{m}={r:g}" for m, r in res.ratings.items()), ""]
    for name in MODELS:
        what = res.model if name == "gnn" else ("k-NN with baselines" if res.knn == "baseline" else "plain k-NN")
        lines.append(f"Top {len(res.top[name])} by {name.upper()} ({what}):")
        for i, row in res.top[name].iterrows():
            year = f" ({row.year})" if pd.notna(row.year) else ""
            mark = " *" if row.agree else ""
            fb = " [fallback]" if row[f"{name}_fallback"] else ""
            lines.append(f"{i + 1:>3}. {row[name]:.2f}  {row.title}{year} [id {row.movie}]{mark}{fb}")
        lines.append("")
    lines.append("* = in both lists")
    return "\n".join(lines)
