"""Recommendations for a new user: predictions for every movie, top-N lists, explanations."""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from . import data as data_mod
from . import store
from .graph import ItemGraph
from .predict import ItemKNN

DEFAULT_MODEL = "all-movies"  # the committed all-movies checkpoint in models/
MODELS = ("gnn", "knn")
EXPLAIN_CHUNK = 32  # left-out ratings per GNN forward pass in :meth:`Recommender.explain` (bounds memory)


@dataclasses.dataclass(frozen=True)
class Recommendations:
    """What :func:`recommend` returns.

    Attributes:
        ratings: the validated input ``{movie id: rating}``.
        predictions: one row per movie the user has not rated: ``movie, title, year, genres,
            n_raters, gnn, knn, gnn_fallback, knn_fallback`` (a ``*_fallback`` True means that
            model could not use any of the user's ratings and gave the movie's mean rating).
        top: ``{"gnn": DataFrame, "knn": DataFrame}``, the best ``top`` rows of ``predictions``
            by each model, with an ``agree`` column: in both lists.
        model: name of the GNN checkpoint used.
    """

    ratings: dict[int, float]
    predictions: pd.DataFrame
    top: dict[str, pd.DataFrame]
    model: str


def parse_ratings(ratings: Mapping | Iterable) -> dict[int, float]:
    """Validate ``{movie id: rating}`` (or ``(movie, rating)`` pairs): ids 1..1682, ratings
    numbers in 1..5, at least one, no movie twice. Raises ValueError naming the bad value."""
    if isinstance(ratings, (str, bytes)) or not isinstance(ratings, (Mapping, Iterable)):
        raise ValueError(f"ratings={_short(ratings)}: give a mapping {{movie id: rating}} or (movie, rating) pairs, "
                         "e.g. {50: 5, 181: 4}")
    items = list(ratings.items()) if isinstance(ratings, Mapping) else list(ratings)
    if not items:
        raise ValueError("no ratings given: rate at least one movie (ratings 1-5)")
    out: dict[int, float] = {}
    for item in items:
        try:
            movie, value = item
        except (TypeError, ValueError):
            raise ValueError(f"{item!r} is not a (movie id, rating) pair") from None
        if isinstance(movie, (bool, np.bool_)) or not isinstance(movie, (int, np.integer, str)):
            raise ValueError(f"movie id {movie!r} is not an integer id 1..{data_mod.N_MOVIES}")
        try:
            mid = data_mod.parse_movie_id(movie) if isinstance(movie, str) else int(movie)
        except ValueError:
            raise ValueError(f"movie id {movie!r} is not an integer id 1..{data_mod.N_MOVIES}") from None
        if not 1 <= mid <= data_mod.N_MOVIES:
            raise ValueError(f"unknown movie id {movie!r}: MovieLens-100K ids run 1..{data_mod.N_MOVIES}")
        if mid in out:
            raise ValueError(f"movie {mid} is rated twice; give each movie once")
        if isinstance(value, (bool, np.bool_)):
            raise ValueError(f"rating {value!r} of movie {mid} is not a number; use 1-5")
        try:
            r = float(value)
        except (TypeError, ValueError, OverflowError):
            shown = repr(value) if len(repr(value)) <= 30 else repr(value)[:27] + "..."
            raise ValueError(f"rating {shown} of movie {mid} is not a number; use 1-5") from None
        if not math.isfinite(r) or not 1 <= r <= 5:
            raise ValueError(f"rating {value!r} of movie {mid} is outside 1-5")
        out[mid] = r
    return out


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 30 else text[:27] + "..."


def check_list_args(top, min_raters) -> tuple[int, float]:
    """``top`` a whole number >= 1, ``min_raters`` a finite number >= 0; ValueError naming the
    argument otherwise (a bool is not a number here)."""
    if isinstance(top, (bool, np.bool_)) or not isinstance(top, (int, np.integer)):
        raise ValueError(f"top={_short(top)} must be a whole number >= 1 (how many movies each list shows)")
    if top < 1:
        raise ValueError(f"top={top} must be >= 1")
    if isinstance(min_raters, (bool, np.bool_)) or not isinstance(min_raters, (int, float, np.integer, np.floating)) \
            or not math.isfinite(min_raters) or min_raters < 0:
        raise ValueError(f"min_raters={_short(min_raters)} must be a number >= 0 (skip movies with fewer "
                         "MovieLens ratings)")
    return int(top), float(min_raters)


class Recommender:
    """The all-movies GNN (from the store) and the k-NN on the full data's correlations.

    Read-only after construction, so one instance can serve many sessions at once.
    """

    def __init__(self, data: data_mod.MovieLens, checkpoint: store.Checkpoint):
        if checkpoint.config.target is not None:
            raise ValueError(f"model {checkpoint.name!r} predicts only movie {checkpoint.config.target + 1}; "
                             "recommendations need an all-movies model (`python -m gnnrec train --task all`)")
        self.data, self.checkpoint, self.gnn = data, checkpoint, checkpoint.predictor
        x = data.matrix()
        self.knn = ItemKNN().fit(x, ItemGraph.build(x, checkpoint.graph_config))
        self.n_raters = data.n_raters()
        self.movies = data.movies.assign(n_raters=self.n_raters)

    @classmethod
    def load(cls, model: str | None = None, data: data_mod.MovieLens | None = None) -> Recommender:
        data = data or data_mod.load()
        return cls(data, store.load(model or DEFAULT_MODEL, data_fingerprint=data.fingerprint()))

    def vector(self, ratings: dict[int, float]) -> np.ndarray:
        x = np.zeros((1, self.data.n_movies), dtype=np.float32)  # (1, N)
        for m, r in ratings.items():
            x[0, m - 1] = r
        return x

    def recommend(self, ratings: Mapping | Iterable, top: int = 10, min_raters: int = 0) -> Recommendations:
        """Predictions of both models for every unrated movie and a top-``top`` list per model,
        skipping movies with fewer than ``min_raters`` ratings in MovieLens."""
        ratings = parse_ratings(ratings)
        top, min_raters = check_list_args(top, min_raters)
        x = self.vector(ratings)
        g, k = self.gnn.predict(x), self.knn.predict(x)
        df = self.movies.assign(gnn=g.values[0], knn=k.values[0],
                                gnn_fallback=g.fallback[0], knn_fallback=k.fallback[0])
        df = df[x[0] == 0]
        eligible = df[df["n_raters"] >= min_raters]
        tops = {}
        for name in MODELS:
            tops[name] = eligible.nlargest(top, name)
        both = set(tops["gnn"]["movie"]) & set(tops["knn"]["movie"])
        tops = {n: t.assign(agree=t["movie"].isin(both)).reset_index(drop=True) for n, t in tops.items()}
        return Recommendations(ratings, df.reset_index(drop=True), tops, self.checkpoint.name)

    def explain(self, ratings: Mapping | Iterable, movie: int, model: str = "gnn",
                only: Iterable[int] | None = None) -> pd.DataFrame:
        """How each of the user's ratings moved one prediction; rows sorted by |effect|.

        ``knn``: exact and additive: ``w_j (r_j - mu_j) / sum w`` (the prediction is the movie's
        mean plus their sum); ``weight`` is the neighbour's normalised weight.
        ``gnn``: leave-one-out (occlusion), exact for this model: the prediction with all your
        ratings minus the prediction with that one rating removed. Not additive (the GNN is
        nonlinear), so the effects need not sum to the prediction. Computed
        :data:`EXPLAIN_CHUNK` left-out ratings at a time, so memory does not grow with the
        number of ratings.

        ``only`` (movie ids among the rated ones): explain just those ratings; every prediction
        still uses all the ratings, so each row is the same as without ``only``.
        """
        ratings = parse_ratings(ratings)
        t = self.data.check_movie(movie) - 1
        rated = np.array(sorted(ratings)) - 1  # (R,)
        if only is not None:
            keep = {int(m) for m in only}
            if not keep <= set(ratings):
                raise ValueError(f"only={sorted(keep - set(ratings))[:5]}: explain only movies that were rated")
            rated = rated[np.isin(rated + 1, sorted(keep))]
        x = self.vector(ratings)
        if model == "knn":
            idx, w = self.knn.weights(x[0], np.array([t]))
            w = w[0]
            total = w.sum()
            effect = np.where(total > 0, w * (x[0, idx] - self.knn.item_means[idx]) / max(total, 1e-12), 0.0)
            weight = w / total if total > 0 else w
            mask = np.isin(idx, rated)  # idx covers every rating; ``only`` may narrow ``rated``
            rated, effect, weight = idx[mask], effect[mask], weight[mask]
        elif model == "gnn":
            base = self.gnn.predict(x, [t]).values[0, 0]
            effect = np.empty(len(rated))
            for i in range(0, len(rated), EXPLAIN_CHUNK):
                chunk = rated[i:i + EXPLAIN_CHUNK]
                loo = np.repeat(x, len(chunk), axis=0)  # (C, N): row j without rating chunk[j]
                loo[np.arange(len(chunk)), chunk] = 0
                effect[i:i + len(chunk)] = base - self.gnn.predict(loo, [t]).values[:, 0]
            weight = np.full(len(rated), np.nan)
        else:
            raise ValueError(f"model={model!r}: choose one of {MODELS}")
        out = pd.DataFrame({"movie": rated + 1, "title": self.movies["title"].to_numpy()[rated],
                            "your_rating": x[0, rated], "effect": effect, "weight": weight})
        return out.reindex(out["effect"].abs().sort_values(ascending=False, kind="stable").index).reset_index(drop=True)


_default: Recommender | None = None
_default_lock = threading.Lock()


def default_recommender() -> Recommender:
    """The process-wide recommender on the committed model (built once)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Recommender.load()
        return _default


def recommend(ratings: Mapping | Iterable, top: int = 10, min_raters: int = 0,
              model: str | None = None) -> Recommendations:
    """``gnnrec.recommend({50: 5, 181: 4, 1: 2}, top=10)``: see :meth:`Recommender.recommend`."""
    ratings = parse_ratings(ratings)  # the arguments first: a bad call costs no model load (and pairs are read once)
    check_list_args(top, min_raters)
    if model is not None and not isinstance(model, str):
        raise ValueError(f"model={_short(model)} must be a model name (text) or None for the default model")
    rec = default_recommender() if model is None else Recommender.load(model)
    return rec.recommend(ratings, top=top, min_raters=min_raters)


def format_result(res: Recommendations) -> str:
    """Both top-N lists as text, titles included."""
    lines = ["Your ratings: " + ", ".join(f"{m}={r:g}" for m, r in res.ratings.items()), ""]
    for name in MODELS:
        lines.append(f"Top {len(res.top[name])} by {name.upper()} (model {res.model if name == 'gnn' else 'k-NN'}):")
        for i, row in res.top[name].iterrows():
            year = f" ({row.year})" if pd.notna(row.year) else ""
            mark = " *" if row.agree else ""
            fb = " [fallback]" if row[f"{name}_fallback"] else ""
            lines.append(f"{i + 1:>3}. {row[name]:.2f}  {row.title}{year} [id {row.movie}]{mark}{fb}")
        lines.append("")
    lines.append("* = in both lists")
    return "\n".join(lines)
