"""Recommendations for a new user: predictions for every movie, top-N lists, explanations."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from . import data as data_mod
from . import explain as explain_mod
from . import store
from .graph import ItemGraph
from .predict import ItemKNN, KNNBaseline, Predictions
from .ratings import check_list_args, parse_ratings, short
from .titles import display_movies
from .topn import store as rank_store
from .topn.explain import explain_listing
from .topn.training import RankGNNRanker

DEFAULT_MODEL = "all-movies"  # the committed all-movies checkpoint in models/
MODELS = ("gnn", "knn")
KNN_KINDS = ("baseline", "plain")  # the k-NN side: with baselines (default), or plain mean-centred
EXPLAIN_CHUNK = 32  # left-out ratings per GNN forward pass in :meth:`Recommender.explain` (bounds memory)


@dataclasses.dataclass(frozen=True)
class Recommendations:
    """What :func:`recommend` returns.

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
            by each model (see :meth:`Recommender.recommend` for the order), with an ``agree``
            column: in both lists.
        model: name of the GNN checkpoint used.
        knn: which k-NN made the ``knn`` column (:data:`KNN_KINDS`).
    """

    ratings: dict[int, float]
    predictions: pd.DataFrame
    top: dict[str, pd.DataFrame]
    model: str
    knn: str = "baseline"
    ranked_by: str = "rating"  # the GNN list's order: "ranking" (the ranking GNN) or "rating" (the rating GNN's estimate)


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
        x = data.matrix()
        self.knn = ItemKNN().fit(x, ItemGraph.build(x, checkpoint.graph_config))
        self._knn_baseline: KNNBaseline | None = None  # fitted on first use (~2 s): the graph pages never wait for it
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
        x = np.zeros((1, self.data.n_movies), dtype=np.float32)  # (1, N)
        for m, r in ratings.items():
            x[0, m - 1] = r
        return x

    @property
    def knn_baseline(self) -> KNNBaseline:
        """The k-NN with baselines, fitted on every rating (once, on first use)."""
        with self._lock:
            if self._knn_baseline is None:
                self._knn_baseline = KNNBaseline().fit(self.data.matrix())
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

    def knn_predict(self, x: np.ndarray, movies=None, knn: str = "baseline") -> Predictions:
        """The k-NN's predictions for one user ``x`` ``(1, N)``; ``fallback`` True where none of the user's ratings is a
        positively similar neighbour (plain: the movie's mean; with baselines: the baseline)."""
        model = self.knn_model(knn)
        p = model.predict(x, movies)
        cols = np.arange(x.shape[1]) if movies is None else np.atleast_1d(np.asarray(movies))
        return Predictions(p.values, (model.support(x[0], cols)[0] == 0)[None, :])

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
        x = self.vector(ratings)
        cols = np.arange(self.data.n_movies)
        knn_model = self.knn_model(knn)
        g_raw, k_raw = self.gnn.estimate(x, cols), knn_model.estimate(x, cols)  # (1, N), NaN where impossible
        support, similarity = self.knn_support(x, knn)
        g, k = self.gnn.settle(g_raw, cols), knn_model.settle(k_raw, cols)  # the fallback filled in, clipped
        g_est, k_est = self.gnn.fill(g_raw, cols)[0], knn_model.fill(k_raw, cols)[0]  # (N,) unclipped
        rank = self.ranker.scores(x)[0] if self.ranker is not None else np.full(len(cols), np.nan)  # (N,)
        df = self.movies.assign(gnn=g.values[0], knn=k.values[0], gnn_rank=rank, gnn_fallback=g.fallback[0],
                                knn_fallback=support == 0, gnn_estimate=g_est, knn_estimate=k_est,
                                knn_support=support, knn_similarity=similarity)
        df = df[x[0] == 0]
        hidden = {int(m) for m in exclude}
        eligible = df[(df["n_raters"] >= min_raters) & ~df["movie"].isin(hidden)]
        tops = {name: _ranked(eligible, name, self.ranker is not None).head(top) for name in MODELS}
        both = set(tops["gnn"]["movie"]) & set(tops["knn"]["movie"])
        tops = {n: t.assign(agree=t["movie"].isin(both)).reset_index(drop=True) for n, t in tops.items()}
        return Recommendations(ratings, df.reset_index(drop=True), tops, self.checkpoint.name, knn,
                               "ranking" if self.ranker is not None else "rating")

    def explain_listing(self, ratings: Mapping | Iterable, movie: int, min_raters: float = 0,
                        exclude: Iterable[int] = ()) -> tuple[int, pd.DataFrame]:
        """Why the ranking GNN lists ``movie``: its rank among the movies the list may hold (not
        rated, at least ``min_raters`` raters, not in ``exclude``) and, per rating, the rank without
        it, its effect on the movie's score, the edge-varying filter's weight and the hops between
        the two movies on the co-rating graph (:func:`gnnrec.topn.explain.explain_listing`)."""
        if self.ranker is None:
            raise ValueError("this recommender has no ranking GNN; load it with Recommender.load(ranker=True)")
        ratings = parse_ratings(ratings)
        t = self.data.check_movie(movie) - 1
        x = self.vector(ratings)[0]
        candidates = (x == 0) & (self.n_raters >= min_raters)
        candidates[np.asarray([int(m) - 1 for m in exclude], dtype=np.int64)] = False
        candidates[t] = True
        rank, df = explain_listing(self.ranker, x, t, candidates)
        df.insert(1, "title", self.movies["title"].to_numpy()[df["movie"]])
        df.insert(2, "your_rating", x[df["movie"]])
        return rank, df.assign(movie=df["movie"] + 1)

    def explain(self, ratings: Mapping | Iterable, movie: int, model: str = "gnn",
                only: Iterable[int] | None = None, knn: str = "baseline") -> pd.DataFrame:
        """How each of the user's ratings moved one prediction; rows sorted by |effect|.

        ``knn`` with baselines (``knn="baseline"``): exact and additive: the prediction is the
        baseline :math:`b_{ut}` plus the rows' ``s_j e_j / sum s`` (``e_j``, in ``residual``:
        your rating of neighbour ``j`` minus its baseline for you); ``weight`` is ``s_j / sum s``.
        Plain ``knn``: exact and additive, ``w_j (r_j - mu_j) / sum w`` on the movie's mean.
        ``gnn``: leave-one-out (occlusion), exact for this model: the prediction with all your
        ratings minus the prediction with that one rating removed (+0.34: the prediction is 0.34
        higher because of it). Not additive (the GNN is nonlinear), so the effects need not sum
        to the prediction. Before clipping the effect splits exactly in two: ``via_bias``, through
        the encoding's offset (your bias, which moves every movie alike), and ``via_graph``,
        through the graph filters (both NaN for the k-NNs, and where nothing reaches the movie
        without that rating). Computed
        :data:`EXPLAIN_CHUNK` left-out ratings at a time, so memory does not grow with the
        number of ratings.

        ``only`` (movie ids among the rated ones): explain just those ratings; every prediction
        still uses all the ratings, so each row is the same as without ``only``.
        """
        return self._explain(ratings, movie, model, only, knn)[1]

    def _explain(self, ratings, movie, model, only, knn) -> tuple[float, pd.DataFrame]:
        ratings = parse_ratings(ratings)
        t = self.data.check_movie(movie) - 1
        rated = explain_mod.chosen(ratings, only)  # (R,)
        x = self.vector(ratings)[0]  # (N,)
        nan = np.full(len(rated), np.nan)
        if model == "knn":
            rated, effect, weight, residual = explain_mod.knn_effects(self.knn_model(knn), x, t, rated)
            raw, via_bias, via_graph = float("nan"), nan, nan
        elif model == "gnn":
            raw, effect, via_bias, via_graph = self.gnn.leave_one_out(x, t, rated, EXPLAIN_CHUNK)
            weight = residual = nan
        else:
            raise ValueError(f"model={model!r}: choose one of {MODELS}")
        titles = self.movies["title"].to_numpy()
        return raw, explain_mod.frame(rated, titles, x, effect, weight, residual, via_bias, via_graph)

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
        ratings = parse_ratings(ratings)
        t = self.data.check_movie(movie) - 1
        x = self.vector(ratings)  # (1, N)
        if model not in MODELS:
            raise ValueError(f"model={model!r}: choose one of {MODELS}")
        m = self.gnn if model == "gnn" else self.knn_model(knn)
        base, parts = m.baseline(x[0], t)
        if model == "gnn" and not raw:
            return base, parts, float("nan")
        est = float(m.estimate(x, np.array([t]))[0, 0])
        cannot = model == "knn" and knn == "baseline" and not m.support(x[0], np.array([t]))[1][0] > 0
        return base, parts, float("nan") if cannot else est


def load_ranker(data: data_mod.MovieLens, folder=None) -> tuple[RankGNNRanker | None, str | None]:
    """The committed ranking GNN (``folder``: the models folder; default ``models/``), or None and why not."""
    try:
        ckpt = rank_store.load(folder=None if folder is None else folder / "ranking",
                               data_fingerprint=data.fingerprint(), n_movies=data.n_movies)
        return ckpt.ranker, None
    except store.StoreError as e:
        return None, str(e)


def _ranked(df: pd.DataFrame, model: str, ranking: bool = False) -> pd.DataFrame:
    """``df`` in the order of :meth:`Recommender.recommend`'s lists for ``model``; with ``ranking``
    the GNN list by the ranking GNN's score (ties: more raters, then the lower id, as its lists)."""
    if model == "gnn" and ranking:
        keys = pd.DataFrame({"r": df["gnn_rank"], "n": df["n_raters"], "m": df["movie"]})
        return df.loc[keys.sort_values(["r", "n", "m"], ascending=[False, False, True], kind="stable").index]
    support = df["knn_support"] if model == "knn" else (~df["gnn_fallback"]).astype(int)
    keys = pd.DataFrame({"e": df[f"{model}_estimate"], "s": support, "n": df["n_raters"], "m": df["movie"]})
    order = keys.sort_values(["e", "s", "n", "m"], ascending=[False, False, False, True], kind="stable").index
    return df.loc[order]


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
