"""Recommendations for a new user: predictions for every movie, top-N lists, explanations."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from . import data as data_mod
from . import explain as explain_mod
from . import knn_fits, store
from .lists import MODELS, Recommendations, format_result, knn_predictions, scored, top_lists
from .predict import ItemKNN, KNNBaseline, Predictions, Predictor
from .ratings import check_list_args, parse_ratings, rating_row, short
from .titles import display_movies
from .topn import store as rank_store
from .topn.training import RankGNNRanker

__all__ = ["DEFAULT_MODEL", "EXPLAIN_CHUNK", "KNN_KINDS", "MODELS", "Recommendations", "Recommender", "check_list_args",
           "default_recommender", "format_result", "load_ranker", "parse_ratings", "recommend"]

DEFAULT_MODEL = "all-movies"  # the committed all-movies checkpoint in models/
KNN_KINDS = ("baseline", "plain")  # the k-NN side: with baselines (default), or plain mean-centred
EXPLAIN_CHUNK = 32  # left-out ratings per GNN forward pass in :meth:`Recommender.explain` (bounds memory)


class Recommender:
    """The all-movies GNN (from the store) and two item k-NNs on the full data: the classical
    k-NN with baselines (:class:`gnnrec.predict.KNNBaseline`, the default k-NN side) and the
    plain mean-centred k-NN on the GNN's graph correlations (:class:`gnnrec.predict.ItemKNN`).

    Read-only after construction, so one instance can serve many sessions at once.
    """

    def __init__(self, data: data_mod.MovieLens, checkpoint: store.Checkpoint, ranker: RankGNNRanker | None = None):
        if checkpoint.config.target is not None:
            raise ValueError(f"model {checkpoint.name!r} predicts only movie {checkpoint.config.target + 1}; "
                             "recommendations need an all-movies model (`python -m gnnrec train --task all`)")
        self.data, self.checkpoint, self.gnn = data, checkpoint, checkpoint.predictor
        self.ranker = ranker  # the ranking GNN the GNN list comes from; None: ranked by the rating GNN
        self.ranker_error: str | None = None if ranker is not None else "no ranking GNN given"
        self.knn = knn_fits.item_knn(data, checkpoint.graph_config)  # shared by every Recommender on this data
        self._knn_baseline: KNNBaseline | None = None  # fitted on first use (~1 s): the graph pages never wait for it
        self._lock = threading.Lock()
        self.n_raters = data.n_raters()
        self.movies = display_movies(data.movies).assign(n_raters=self.n_raters)

    @classmethod
    def load(cls, model: str | None = None, data: data_mod.MovieLens | None = None, *,
             ranker: bool = True) -> Recommender:
        """The rating GNN ``model`` (default :data:`DEFAULT_MODEL`) and, with ``ranker``, the
        committed ranking GNN for the GNN list (:func:`gnnrec.topn.store.load`). Without a usable
        ranking GNN the GNN list falls back to the rating GNN's order and ``ranker_error`` says why."""
        data = data or data_mod.load()
        ckpt = store.load(model or DEFAULT_MODEL, data_fingerprint=data.fingerprint(), n_movies=data.n_movies)
        ranking, why = load_ranker(data) if ranker else (None, "not asked for")
        out = cls(data, ckpt, ranking)
        out.ranker_error = why
        return out

    def vector(self, ratings: dict[int, float]) -> np.ndarray:
        """One user's ratings as a ``(1, N)`` row (0: not rated)."""
        return rating_row(ratings, self.data.n_movies)

    @property
    def knn_baseline(self) -> KNNBaseline:
        """The k-NN with baselines, fitted on every rating (on first use, once per data: shared)."""
        with self._lock:
            if self._knn_baseline is None:
                self._knn_baseline = knn_fits.knn_baseline(self.data)
            return self._knn_baseline

    def title(self, movie: int) -> str:
        """``"The Godfather (1972)"``: the natural title and the year."""
        row = self.movies.iloc[movie - 1]
        return f"{row.title} ({row.year})" if pd.notna(row.year) else str(row.title)

    def knn_model(self, knn: str = "baseline") -> ItemKNN | KNNBaseline:
        """The k-NN of a kind in :data:`KNN_KINDS`."""
        if knn not in KNN_KINDS:
            raise ValueError(f"knn={knn!r}: choose one of {KNN_KINDS}")
        return self.knn_baseline if knn == "baseline" else self.knn

    def model(self, model: str = "gnn", knn: str = "baseline") -> Predictor:
        """The predictor behind ``model`` (:data:`MODELS`); for "knn" the k-NN of kind ``knn``."""
        if model not in MODELS:
            raise ValueError(f"model={model!r}: choose one of {MODELS}")
        return self.gnn if model == "gnn" else self.knn_model(knn)

    def knn_predict(self, x: np.ndarray, movies=None, knn: str = "baseline") -> Predictions:
        """The k-NN's predictions for one user ``x`` ``(1, N)``; ``fallback`` True where none of the user's ratings is a
        positively similar neighbour (plain: the movie's mean; with baselines: the baseline)."""
        return knn_predictions(self.knn_model(knn), x, movies)

    def knn_support(self, x: np.ndarray, knn: str = "baseline") -> tuple[np.ndarray, np.ndarray]:
        """What the k-NN's prediction of every movie rests on, for one user ``x`` ``(1, N)``: how
        many of the user's ratings are among its neighbours (positively similar, within the ``k``
        most similar; never the movie itself) ``(N,)`` and their total similarity ``(N,)``. 0: the
        k-NN cannot use the ratings there (its fallback)."""
        return self.knn_model(knn).support(x[0], np.arange(x.shape[1]))

    def recommend(self, ratings: Mapping | Iterable, top: int = 10, min_raters: int = 0, *,
                  knn: str = "baseline", exclude: Iterable[int] = ()) -> Recommendations:
        """Predictions of both models for every unrated movie and a top-``top`` list per model,
        skipping movies with fewer than ``min_raters`` ratings in MovieLens and the movies in
        ``exclude`` (ones the user hid). ``knn``: which k-NN (:data:`KNN_KINDS`).

        Each list is ranked by the model's estimate before clipping (the fallback where it cannot
        use the ratings); clipping to 1-5 is for the stars shown, so two movies shown at 5.00 keep
        the order of their estimates (5.28 before 5.03). Equal estimates (e.g. two fallbacks at the
        same mean): the one with more support first (k-NN: more of your ratings among its
        neighbours; GNN: reached by your ratings before a fallback), then the one more people rated
        in MovieLens (``n_raters``), then the lower movie id."""
        ratings = parse_ratings(ratings)
        top, min_raters = check_list_args(top, min_raters)
        x = self.vector(ratings)  # (1, N)
        rank = self.ranker.scores(x)[0] if self.ranker is not None else np.full(x.shape[1], np.nan)  # (N,)
        df = scored(self.movies, x[0], self.gnn, self.knn_model(knn), rank)
        tops = top_lists(df, top, min_raters, exclude, self.ranker is not None)
        return Recommendations(ratings, df, tops, self.checkpoint.name, knn,
                               "ranking" if self.ranker is not None else "rating")

    def explain_listing(self, ratings: Mapping | Iterable, movie: int, min_raters: float = 0,
                        exclude: Iterable[int] = ()) -> tuple[int, pd.DataFrame]:
        """Why the ranking GNN lists ``movie``: its rank among the movies the list may hold (not
        rated, at least ``min_raters`` raters, not in ``exclude``) and, per rating, the rank without
        it, its effect on the movie's score, the edge-varying filter's weight and the hops between
        the two movies on the co-rating graph (:func:`gnnrec.topn.explain.explain_listing`)."""
        if self.ranker is None:
            raise ValueError("this recommender has no ranking GNN; load it with Recommender.load(ranker=True)")
        x = self.vector(parse_ratings(ratings))[0]  # (N,)
        return explain_mod.listing(self.ranker, x, self.data.check_movie(movie) - 1, self.movies["title"].to_numpy(),
                                   self.n_raters >= min_raters, exclude)

    def explain(self, ratings: Mapping | Iterable, movie: int, model: str = "gnn",
                only: Iterable[int] | None = None, knn: str = "baseline") -> pd.DataFrame:
        """How each of the user's ratings moved one prediction: ``movie, title, your_rating, effect,
        weight, residual, via_bias, via_graph``, rows sorted by |effect| (:mod:`gnnrec.explain`
        says what each model's rows mean: the k-NNs' exact additive terms, the GNN's leave-one-out
        effects, :data:`EXPLAIN_CHUNK` left-out ratings per pass). ``only`` (movie ids among the
        rated ones): explain just those ratings; every prediction still uses all the ratings."""
        return self._explain(ratings, movie, model, only, knn)[1]

    def _explain(self, ratings, movie, model, only, knn) -> tuple[float, pd.DataFrame]:
        ratings = parse_ratings(ratings)
        t = self.data.check_movie(movie) - 1
        rated = explain_mod.chosen(ratings, only)  # (R,)
        return explain_mod.rows(self.model(model, knn), self.vector(ratings)[0], t, rated,
                                self.movies["title"].to_numpy(), EXPLAIN_CHUNK)

    def explain_gnn(self, ratings: Mapping | Iterable, movie: int,
                    only: Iterable[int] | None = None) -> tuple[float, pd.DataFrame]:
        """The GNN's unclipped prediction (NaN: none of the ratings reaches the movie) and
        :meth:`explain`'s table, from one set of forward passes."""
        return self._explain(ratings, movie, "gnn", only, "baseline")

    def baseline(self, ratings: Mapping | Iterable, movie: int, model: str = "gnn",
                 knn: str = "baseline", raw: bool = True) -> tuple[float, dict[str, float], float]:
        """Where a model's prediction of ``movie`` starts before your ratings of similar movies
        count, its parts, and the prediction before clipping: ``(baseline, {part: value}, raw)``.
        The parts add up to the baseline. ``raw`` is NaN where none of your ratings reaches the
        movie (the model then predicts its fallback; with ``raw=False`` the GNN's is not computed).

        - ``knn`` with baselines: overall mean + the movie's bias + your bias (fitted biases);
        - plain ``knn``: the movie's mean;
        - ``gnn``: the offset of its input encoding (for the all-movies models: the movie's
          damped mean + your damped offset from the movies' means).
        """
        x_row = self.vector(parse_ratings(ratings))[0]  # (N,)
        t = self.data.check_movie(movie) - 1
        return explain_mod.start(self.model(model, knn), x_row, t, knn=model == "knn", raw=raw)


def load_ranker(data: data_mod.MovieLens, folder=None) -> tuple[RankGNNRanker | None, str | None]:
    """The committed ranking GNN (``folder``: the models folder; default ``models/``), or None and why not."""
    try:
        ckpt = rank_store.load(folder=None if folder is None else folder / "ranking",
                               data_fingerprint=data.fingerprint(), n_movies=data.n_movies)
        return ckpt.ranker, None
    except store.StoreError as e:
        return None, str(e)


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
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise ValueError(f"model={short(model)} must be a model name (text) or None for the default model")
    rec = default_recommender() if model is None else Recommender.load(model)
    return rec.recommend(ratings, top=top, min_raters=min_raters)
