"""Recommendations ready to display: top lists, why a movie is recommended (in plain words), one
movie's prediction, where GNN and k-NN disagree.

Thin wrappers over :class:`gnnrec.recommender.Recommender` that shape its output into tables and
sentences for a page. No Streamlit in here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from ..predict import RATING_SCALE
from ..recommender import Recommendations, Recommender, parse_ratings
from .ratings_io import stars
from .results import label

EXPLAIN_MAX = 32  # the GNN's leave-one-out explanation covers at most this many ratings (the most correlated)
DEFAULT_MIN_RATERS = 50  # the lists skip movies fewer people rated: few opinions give extreme predictions
TINY = 0.005  # an effect that rounds to 0.00 on the page
MIN_SUPPORT = 3  # the disagreement table: the k-NN's prediction rests on at least this many of your ratings ...
MIN_SIMILARITY = 0.2  # ... with at least this total similarity
KNN_NAMES = {"baseline": "knn_baseline", "plain": "knn"}  # the k-NN kind -> its model name (results.label)


def knn_name(knn: str) -> str:
    """The model name of a k-NN kind, as :func:`gnnrec.app.results.label` knows it."""
    return KNN_NAMES[knn]


def recommend(rec: Recommender, ratings: Mapping[int, float], top: int = 10, min_raters: int = DEFAULT_MIN_RATERS,
              knn: str = "baseline", hidden: Iterable[int] = ()) -> Recommendations:
    """Both models' top lists (see :meth:`Recommender.recommend`), without the hidden movies."""
    return rec.recommend(ratings, top=top, min_raters=min_raters, knn=knn, exclude=hidden)


@dataclasses.dataclass(frozen=True)
class Why:
    """Why a model predicts what it does for one movie, in words and a table.

    ``baseline`` (its ``parts``, in words, add up to it) is where the prediction starts;
    ``table`` (``movie, title, your rating, weight, effect, via bias``) what each of your ratings
    adds: exactly (``additive``: baseline + the effects = ``raw``) for the k-NNs; for the GNN
    leave-one-out through its graph filters (+0.34: the prediction is 0.34 higher because of that
    rating), your bias apart (``via bias``: how much that rating moves your bias, which moves every
    movie alike). ``raw`` is the prediction before clipping to 1-5 (NaN: none of your ratings reaches the
    movie), ``prediction`` what the lists show. ``summary`` says it all in one paragraph.
    """

    model: str
    movie: int
    title: str
    baseline: float
    parts: list[tuple[str, float]]
    table: pd.DataFrame
    raw: float
    prediction: float
    additive: bool
    reached: bool
    summary: str
    how: str  # how to read the table

    @property
    def effect_label(self) -> str:
        """The table's effect column as a heading that reads with its sign: "+0.34" adds 0.34."""
        return "adds" if self.additive else "effect of this rating"

    @property
    def bias(self) -> float | None:
        """Your bias, the part of the baseline that comes from your ratings (None: the model has none)."""
        return dict(self.parts).get(PART_WORDS["you"])

    @property
    def clipped(self) -> bool:
        return math.isfinite(self.raw) and not RATING_SCALE[0] <= self.raw <= RATING_SCALE[1]


PART_WORDS = {"overall": "everyone's average rating", "movie": "this movie's bias", "you": "your bias",
              "movie mean": "the movie's mean rating",
              "shrunk movie mean": "the movie's mean rating, shrunk towards everyone's when few rated it"}


def why(rec: Recommender, ratings: Mapping[int, float], movie: int, model: str, knn: str = "baseline") -> Why:
    """Explain one prediction (``model`` "gnn" or "knn", the k-NN of kind ``knn``). For a long
    profile the GNN's leave-one-out covers the :data:`EXPLAIN_MAX` ratings most correlated
    with the movie."""
    ratings = parse_ratings(ratings)
    movie = rec.data.check_movie(movie)
    if model not in ("gnn", "knn"):
        raise ValueError(f"model={model!r}: choose 'gnn' or 'knn'")
    if model == "knn":
        base, parts, raw = rec.baseline(ratings, movie, "knn", knn)
        p = rec.knn_predict(rec.vector(ratings), [movie - 1], knn=knn)
        reached, prediction = not bool(p.fallback[0, 0]), float(p.values[0, 0])
        df = rec.explain(ratings, movie, "knn", knn=knn)
        df = df[df["weight"] > 0].reset_index(drop=True)
    else:
        only = None
        if len(ratings) > EXPLAIN_MAX:
            rated = np.array(sorted(ratings)) - 1  # (R,)
            closeness = np.abs(rec.knn.corr[movie - 1, rated])
            only = rated[np.argsort(-closeness, kind="stable")[:EXPLAIN_MAX]] + 1
        raw, df = rec.explain_gnn(ratings, movie, only=only)  # the prediction and the effects in one go
        base, parts, _ = rec.baseline(ratings, movie, "gnn", raw=False)
        reached = bool(np.isfinite(raw))
        prediction = float(rec.gnn.settle(np.array([[raw]]), np.array([movie - 1])).values[0, 0])
        df = df.assign(effect=df["via_graph"].fillna(df["effect"]))  # your bias is its own line (why_table)
        df = df.reindex(df["effect"].abs().sort_values(ascending=False, kind="stable").index)
    table = pd.DataFrame({"movie": df["movie"], "title": df["title"],
                          "your rating": [stars(r) for r in df["your_rating"]], "weight": df["weight"],
                          "effect": df["effect"], "via bias": df["via_bias"]}).reset_index(drop=True) \
        if reached else df.head(0)
    words = [(PART_WORDS.get(k, k), v) for k, v in parts.items()]
    out = Why(model, movie, rec.title(movie), base, words, table, raw, prediction, model == "knn", reached, "", "")
    name = "GNN" if model == "gnn" else label(knn_name(knn))
    return dataclasses.replace(out, summary=_summary(out, name, rec, len(ratings)), how=_how(out, len(ratings)))


def why_table(w: Why) -> pd.DataFrame:
    """The explanation's rows as text for a table: ``title, effect, your rating, weight``, your
    bias as its own line. For the k-NNs a sum from the movie's baseline and your bias (first lines)
    to the prediction before clipping (last line); for the GNN your bias, then each rating's
    leave-one-out effect through the graph."""
    rows = pd.DataFrame({"title": w.table["title"], "effect": [f"{e:+.2f}" for e in w.table["effect"]],
                         "your rating": w.table["your rating"],
                         "weight": ["" if np.isnan(x) else f"{x:.2f}" for x in w.table["weight"]]})
    line = {"your rating": "", "weight": ""}
    you = [] if w.bias is None else [{"title": BIAS_LINE, "effect": f"{w.bias:+.2f}", **line}]
    if not w.additive:
        return pd.concat([pd.DataFrame(you, columns=rows.columns), rows], ignore_index=True)
    start = "the movie's baseline" if you else "the movie's mean rating"
    head = pd.DataFrame([{"title": start, "effect": f"{w.baseline - (w.bias or 0.0):.2f}", **line}, *you])
    foot = pd.DataFrame([{"title": "= prediction", "effect": f"{w.raw:.2f}", **line}])
    return pd.concat([head, rows, foot], ignore_index=True)


BIAS_LINE = "your bias (all your ratings)"


def _summary(w: Why, name: str, rec: Recommender, n_ratings: int) -> str:
    """The explanation in one paragraph of plain words."""
    parts = ", ".join(f"{what}: {v:+.2f}" if i else f"{what}: {v:.2f}" for i, (what, v) in enumerate(w.parts))
    base = f"its baseline for you is {w.baseline:.2f}" + (f" ({parts})" if len(w.parts) > 1 else "")
    if not w.reached:
        if w.model == "gnn":
            return (f"None of your rated movies lies within {rec.gnn.receptive_field()} hops of {w.title} on the "
                    f"GNN's graph, so the GNN cannot use your ratings here: it gives the movie's mean rating, "
                    f"{w.prediction:.2f}.")
        fill = f"its baseline for you, {w.prediction:.2f}" + (f" ({parts})" if len(w.parts) > 1 else "") \
            if len(w.parts) > 1 else f"the movie's mean rating, {w.prediction:.2f}"
        return (f"None of your rated movies is positively similar to {w.title}, so {name} cannot use your ratings "
                f"here: it predicts {fill}.")
    clip = (f" That is {'above 5' if w.raw > 5 else 'below 1'}, so the lists show {w.prediction:.2f} (every "
            "prediction is clipped to the 1-5 star scale).") if w.clipped else ""
    head = f"{name} predicts {w.prediction:.2f} for {w.title}: {base}"
    if w.model == "knn":
        n = len(w.table)
        return (f"{head}, and your ratings of {n} similar movie{'s' * (n != 1)} add {w.raw - w.baseline:+.2f} "
                f"(the rows below add up exactly, up to rounding): {w.raw:.2f}.{clip}")
    text = (f"{head}, and its graph filters, fed with your {n_ratings} rating{'s' * (n_ratings != 1)}, move it "
            f"{w.raw - w.baseline:+.2f}: {w.raw:.2f}.{clip}")
    text += _bias_words(w)
    top = w.table.iloc[0] if len(w.table) else None
    if top is None or abs(top["effect"]) < TINY:
        return text + " Leave-one-out through the graph: leaving out any one of your ratings changes it by less than 0.01."
    way = "lower" if top["effect"] > 0 else "higher"
    return text + f" Leave-one-out through the graph: without your {top['your rating']} for {top['title']} it " \
                  f"would be {abs(top['effect']):.2f} {way}."


def _bias_words(w: Why) -> str:
    """The GNN's bias in words: what it is and which rating moves it most."""
    if w.bias is None:
        return ""
    moved = w.table.dropna(subset=["via bias"])
    side = "above" if w.bias >= 0 else "below"
    text = (f" Your bias, {w.bias:+.2f}: your ratings run {abs(w.bias):.2f} {side} the movies' means (damped); it "
            "moves every movie alike.")
    if len(moved) and abs(moved["via bias"]).max() >= TINY:
        top = moved.loc[moved["via bias"].abs().idxmax()]
        way, other = ("up", "lower") if top["via bias"] > 0 else ("down", "higher")
        text += (f" Your {top['your rating']} for {top['title']} pulls it {way} most: without it your bias would be "
                 f"{abs(top['via bias']):.2f} {other}.")
    return text


def _how(w: Why, n_ratings: int) -> str:
    if not w.reached:
        return ""
    if w.model == "knn":
        return ("effect: what each rating adds: its weight (how similar the movie is, shared out so the weights sum "
                "to 1) × how far your rating is from what the model expected of you for that movie.")
    note = ("effect of this rating: leave-one-out through the GNN's graph, how much higher (+) or lower (−) the "
            "prediction is because of that rating; your bias, which moves every movie alike, is its own line. "
            "The GNN is nonlinear, so these effects need not add up to the change from the baseline.")
    if n_ratings > EXPLAIN_MAX:
        note += f" Computed for the {EXPLAIN_MAX} of your {n_ratings} ratings most correlated with it."
    return note


def predict_movie(rec: Recommender, ratings: Mapping[int, float], movie: int, knn: str = "baseline") -> dict:
    """Both models' predicted rating of one movie. A movie the user rated is predicted from the
    other ratings (``rated`` holds the user's own rating)."""
    ratings = parse_ratings(ratings)
    movie = rec.data.check_movie(movie)
    own = ratings.pop(movie, None)
    x = rec.vector(ratings)
    out = {"movie": movie, "title": rec.title(movie), "rated": own,
           "mean": float(rec.knn.item_means[movie - 1]), "raters": int(rec.n_raters[movie - 1])}
    for name, p in (("gnn", rec.gnn.predict(x, [movie - 1])), ("knn", rec.knn_predict(x, [movie - 1], knn=knn))):
        out[name] = float(p.values[0, 0])
        out[f"{name}_fallback"] = bool(p.fallback[0, 0])
    return out


def graph_hops(shift, sources: np.ndarray, max_hops: int = 8) -> np.ndarray:
    """Hops from the nearest source node to every node on a graph (-1: farther than max_hops);
    an edge is a non-zero ``shift[i, j]``, walked from ``j`` to ``i``."""
    from scipy.sparse import csgraph, csr_matrix

    sources = np.asarray(sources, dtype=np.int64)
    if sources.size == 0:
        return np.full(shift.shape[0], -1, dtype=np.int64)
    pattern = csr_matrix(shift != 0, dtype=np.int8).T.tocsr()  # (N, N) edge j -> i where shift[i, j] != 0
    pattern.eliminate_zeros()
    d = csgraph.dijkstra(pattern, unweighted=True, indices=sources, limit=max_hops, min_only=True)  # (N,)
    return np.where(np.isfinite(d), d, -1).astype(np.int64)


def predicted_by_both(res: Recommendations, min_raters: float = 0) -> pd.DataFrame:
    """The predictions both models make from enough of the user's ratings, for movies with at
    least ``min_raters`` MovieLens ratings: no fallback on either side, and the k-NN's resting on
    at least :data:`MIN_SUPPORT` of the user's ratings with total similarity at least
    :data:`MIN_SIMILARITY` (one weakly similar rating would otherwise take the whole weight)."""
    p = res.predictions
    supported = (p["knn_support"] >= MIN_SUPPORT) & (p["knn_similarity"] >= MIN_SIMILARITY)
    return p[~p["gnn_fallback"] & ~p["knn_fallback"] & supported & (p["n_raters"] >= min_raters)]


DISAGREEMENT_COLUMNS = ["movie", "title", "genres", "raters", "gnn", "knn", "gnn − knn", "hops from your ratings",
                        "k-NN rests on", "their similarity", "closest rated movie", "its similarity"]


def disagreements(rec: Recommender, res: Recommendations, n: int = 10, min_raters: float = 0) -> pd.DataFrame:
    """The movies where GNN and k-NN differ most for this user, among those both predict from
    enough of the user's ratings (:func:`predicted_by_both`), with at least ``min_raters``
    MovieLens ratings; the support behind each k-NN prediction (``k-NN rests on``: how many of
    your ratings are its neighbours, ``their similarity``: their total similarity); where they lie:
    hops on the GNN's graph from the nearest movie the user rated, and the rated movie most
    similar to it for the k-NN that made ``res`` (positive similarities only: the only ones a k-NN
    uses). Numbers rounded to two decimals."""
    p = predicted_by_both(res, min_raters)
    diff = (p["gnn"] - p["knn"]).to_numpy()
    idx = np.argsort(-np.abs(diff), kind="stable")[:n]
    rated = np.array(sorted(res.ratings)) - 1
    hops = graph_hops(rec.gnn.graph.shift, rated, max(8, rec.gnn.receptive_field()))
    sim = rec.knn_model(res.knn).sim  # (N, N) the similarities this k-NN weighs by
    rows = []
    for i in idx:
        m = int(p["movie"].iat[i]) - 1
        c = np.asarray(sim[m, rated], dtype=np.float64)
        j = int(np.argmax(c))
        rows.append({"movie": m + 1, "title": p["title"].iat[i], "genres": p["genres"].iat[i],
                     "raters": int(p["n_raters"].iat[i]), "gnn": round(float(p["gnn"].iat[i]), 2),
                     "knn": round(float(p["knn"].iat[i]), 2), "gnn − knn": round(float(diff[i]), 2),
                     "hops from your ratings": int(hops[m]), "k-NN rests on": int(p["knn_support"].iat[i]),
                     "their similarity": round(float(p["knn_similarity"].iat[i]), 2),
                     "closest rated movie": rec.title(int(rated[j]) + 1) if c[j] > 0 else None,
                     "its similarity": round(float(c[j]), 2) if c[j] > 0 else None})
    return pd.DataFrame(rows, columns=DISAGREEMENT_COLUMNS)
