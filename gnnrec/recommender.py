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
from .graph import ItemGraph, top_k_mask
from .predict import RATING_SCALE, ItemKNN, KNNBaseline, Predictions
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
    """``top`` a whole number >= 1, ``min_raters`` a number 0..1e18; ValueError naming the
    argument otherwise (a bool is not a number here)."""
    if isinstance(top, (bool, np.bool_)) or not isinstance(top, (int, np.integer)):
        raise ValueError(f"top={_short(top)} must be a whole number >= 1 (how many movies each list shows)")
    if top < 1:
        raise ValueError(f"top={top} must be >= 1")
    if isinstance(min_raters, (bool, np.bool_)) or not isinstance(min_raters, (int, float, np.integer, np.floating)) \
            or not (0 <= min_raters <= 1e18) or not math.isfinite(min_raters):  # 10**400 compared, never made a float
        raise ValueError(f"min_raters={_short(min_raters)} must be a number from 0 to 1e18 (skip movies with fewer "
                         "MovieLens ratings)")
    return int(top), float(min_raters)


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
        if knn == "baseline":
            cols = np.arange(x.shape[1]) if movies is None else np.atleast_1d(np.asarray(movies))
            rated = np.flatnonzero(x[0] > 0)
            s = model.sim[np.ix_(cols, rated)]  # (T, R)
            s = np.where(cols[:, None] == rated[None, :], 0.0, s)  # never the movie itself
            p = Predictions(p.values, ~(s > 0).any(1)[None, :])
        return p

    def knn_support(self, x: np.ndarray, knn: str = "baseline") -> tuple[np.ndarray, np.ndarray]:
        """What the k-NN's prediction of every movie rests on, for one user ``x`` ``(1, N)``: how
        many of the user's ratings are among its neighbours (positively similar, within the ``k``
        most similar; never the movie itself) ``(N,)`` and their total similarity ``(N,)``. 0: the
        k-NN cannot use the ratings there (its fallback)."""
        model = self.knn_model(knn)
        cols = np.arange(x.shape[1])  # (N,)
        if knn == "plain":
            _, w = model.weights(x[0], cols)  # (N, R)
        else:
            rated = np.flatnonzero(x[0] > 0)  # (R,)
            s = np.where(cols[:, None] == rated[None, :], -np.inf, model.sim[:, rated])  # (N, R), as estimate
            w = np.where(top_k_mask(s, model.k) & (s > 0), s, 0.0)
        return (w > 0).sum(1), w.sum(1)

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
        g_est, k_est = self.gnn.estimate(x, cols)[0], knn_model.estimate(x, cols)[0]  # (N,), NaN where impossible
        support, similarity = self.knn_support(x, knn)
        g_fb, k_fb = np.isnan(g_est), support == 0  # with baselines the k-NN falls back to the baseline
        g_est = np.where(g_fb, self.gnn.item_means, g_est)  # as Predictor.predict, before its clipping
        k_est = np.where(np.isnan(k_est), knn_model.item_means, k_est)
        rank = self.ranker.scores(x)[0] if self.ranker is not None else np.full(len(cols), np.nan)  # (N,)
        df = self.movies.assign(gnn=np.clip(g_est, *RATING_SCALE), knn=np.clip(k_est, *RATING_SCALE), gnn_rank=rank,
                                gnn_fallback=g_fb, knn_fallback=k_fb, gnn_estimate=g_est, knn_estimate=k_est,
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
        rated = np.array(sorted(ratings)) - 1  # (R,)
        if only is not None:
            keep = {int(m) for m in only}
            if not keep <= set(ratings):
                raise ValueError(f"only={sorted(keep - set(ratings))[:5]}: explain only movies that were rated")
            rated = rated[np.isin(rated + 1, sorted(keep))]
        x = self.vector(ratings)
        residual, raw = np.full(len(rated), np.nan), float("nan")
        via_bias = via_graph = np.full(len(rated), np.nan)
        if model == "knn":
            idx, w, dev = self._knn_terms(x[0], t, knn)
            total = w.sum()
            effect = w * dev / total if total > 0 else np.zeros(len(idx))
            weight = w / total if total > 0 else w
            mask = np.isin(idx, rated)  # idx covers every rating; ``only`` may narrow ``rated``
            rated, effect, weight, residual = idx[mask], effect[mask], weight[mask], dev[mask]
        elif model == "gnn":
            raw, effect, via_bias, via_graph = self._leave_one_out(x, t, rated)
            weight = np.full(len(rated), np.nan)
        else:
            raise ValueError(f"model={model!r}: choose one of {MODELS}")
        out = pd.DataFrame({"movie": rated + 1, "title": self.movies["title"].to_numpy()[rated],
                            "your_rating": x[0, rated], "effect": effect, "weight": weight, "residual": residual,
                            "via_bias": via_bias, "via_graph": via_graph})
        return raw, out.reindex(out["effect"].abs().sort_values(ascending=False, kind="stable").index).reset_index(
            drop=True)

    def _knn_terms(self, row: np.ndarray, t: int, knn: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One user's k-NN terms for movie index ``t``: rated indices ``(R,)``, neighbour weights
        ``(R,)`` (0 for a rating that is not among the movie's neighbours) and each rating's
        deviation ``(R,)`` (from its baseline for the user, or from its mean for plain k-NN)."""
        model = self.knn_model(knn)
        if knn == "plain":
            idx, w = model.weights(row, np.array([t]))
            return idx, w[0], row[idx] - model.item_means[idx]
        idx = np.flatnonzero(row > 0)
        b_user = model.user_bias(row[None, :])[0]  # a numpy float64, as in KNNBaseline.estimate (same rounding)
        dev = row[idx] - model.global_mean - b_user - model.b_item[idx]
        s = np.where(idx == t, -np.inf, model.sim[t, idx])[None, :]  # as KNNBaseline.estimate
        w = np.where(top_k_mask(s, model.k) & (s > 0), s, 0.0)[0]
        return idx, w, dev

    def _leave_one_out(self, x: np.ndarray, t: int, rated: np.ndarray) -> tuple[float, np.ndarray, np.ndarray,
                                                                                np.ndarray]:
        """The GNN's unclipped prediction of movie index ``t`` from every rating (NaN: none reaches
        it), each rated movie's leave-one-out effect on the prediction as :meth:`predict` gives it
        (clipped, the fallback where nothing reaches), and that effect before clipping split in
        two ``(R,)``: through the encoding's offset (your bias: the same for every movie) and
        through the graph filters (NaN, NaN where nothing reaches without that rating: then the
        whole effect is its own). One estimate per :data:`EXPLAIN_CHUNK` rows; the first row has
        every rating."""
        drop = np.concatenate([[-1], rated])  # (R+1,): the rating each row leaves out (-1: none)
        raw, offset = np.empty(len(drop)), np.empty(len(drop))
        for i in range(0, len(drop), EXPLAIN_CHUNK):
            chunk = drop[i:i + EXPLAIN_CHUNK]
            loo = np.repeat(x, len(chunk), axis=0)  # (C, N): row j without rating chunk[j]
            rows = np.flatnonzero(chunk >= 0)
            loo[rows, chunk[rows]] = 0
            raw[i:i + len(chunk)] = self.gnn.estimate(loo, np.array([t]))[:, 0]
            offset[i:i + len(chunk)] = self.gnn.encode(loo)[1][:, t].double().numpy()
        shown = np.clip(np.where(np.isnan(raw), self.gnn.item_means[t], raw), *RATING_SCALE)  # as Predictor.predict
        via_bias = offset[0] - offset[1:]  # (R,)
        via_graph = (raw[0] - offset[0]) - (raw[1:] - offset[1:])  # (R,) NaN where nothing reaches without it
        via_bias = np.where(np.isnan(via_graph), np.nan, via_bias)
        return float(raw[0]), shown[0] - shown[1:], via_bias, via_graph

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
        x = self.vector(ratings)
        if model == "gnn":
            _, offset = self.gnn.encode(x)
            base = float(offset[0, t])
            enc = self.gnn.config.encoding
            if enc.startswith("baseline"):
                mu = float(self.gnn.item_means[t])
                parts = {"shrunk movie mean": mu, "you": base - mu}
            else:
                parts = {"you": base} if enc.startswith("centered") else {}
            return base, parts, float(self.gnn.estimate(x, np.array([t]))[0, 0]) if raw else float("nan")
        if model != "knn":
            raise ValueError(f"model={model!r}: choose one of {MODELS}")
        m = self.knn_model(knn)
        raw = float(m.estimate(x, np.array([t]))[0, 0])
        if knn == "plain":
            return float(m.item_means[t]), {"movie mean": float(m.item_means[t])}, raw
        b_user = float(m.user_bias(x)[0])
        parts = {"overall": m.global_mean, "movie": float(m.b_item[t]), "you": b_user}
        idx, w, _ = self._knn_terms(x[0], t, knn)
        return float(sum(parts.values())), parts, raw if w.sum() > 0 else float("nan")


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
        raise ValueError(f"model={_short(model)} must be a model name (text) or None for the default model")
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
