"""Recommendations ready to display: top lists, why (explanations), one movie's prediction, where GNN and k-NN disagree.

Thin wrappers over :class:`gnnrec.recommender.Recommender` that shape its output into tables and
one-line notes for a page. No Streamlit in here.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..recommender import Recommendations, Recommender, parse_ratings
from .ratings_io import stars

EXPLAIN_MAX = 64  # the GNN's leave-one-out explanation covers at most this many ratings


def recommend(rec: Recommender, ratings: Mapping[int, float], top: int = 10, min_raters: int = 20) -> Recommendations:
    """Both models' top lists (see :meth:`Recommender.recommend`)."""
    return rec.recommend(ratings, top=top, min_raters=min_raters)


def top_table(res: Recommendations, model: str) -> pd.DataFrame:
    """One model's top list for display: ``movie, title, year, predicted, both, fallback, raters``."""
    t = res.top[model]
    return pd.DataFrame({"movie": t["movie"].to_numpy(), "title": t["title"].to_numpy(),
                         "year": t["year"].to_numpy(), "predicted": t[model].to_numpy().round(2),
                         "both": t["agree"].to_numpy(), "fallback": t[f"{model}_fallback"].to_numpy(),
                         "raters": t["n_raters"].to_numpy()})


def explain(rec: Recommender, ratings: Mapping[int, float], movie: int, model: str) -> tuple[pd.DataFrame, str]:
    """Which of the user's ratings drove one prediction: a table ``movie, title, your_rating,
    effect[, weight]`` sorted by |effect| and a one-line note.

    ``knn`` is exact and additive, ``gnn`` exact leave-one-out (both :meth:`Recommender.explain`);
    for a long profile the GNN's covers only the :data:`EXPLAIN_MAX` ratings most correlated with
    the movie.
    """
    ratings = parse_ratings(ratings)
    movie = rec.data.check_movie(movie)
    if model == "knn":
        df = rec.explain(ratings, movie, "knn")
        used = df[df["weight"] > 0]
        note = (f"k-NN: the prediction is the movie's mean plus these {len(used)} weighted deviations"
                if len(used) else "k-NN: none of your rated movies is positively correlated with it, so "
                "it predicts the movie's mean rating")
        if len(used):
            note += "; " + _driver(used.iloc[0])
        return used.reset_index(drop=True) if len(used) else df.head(0), note
    if model != "gnn":
        raise ValueError(f"model={model!r}: choose 'gnn' or 'knn'")
    note = "GNN: change of the prediction if that one rating were removed (nonlinear: the effects " \
           "need not add up)"
    only = None
    if len(ratings) > EXPLAIN_MAX:
        rated = np.array(sorted(ratings)) - 1  # (R,)
        closeness = np.abs(rec.knn.corr[movie - 1, rated])
        only = rated[np.argsort(-closeness, kind="stable")[:EXPLAIN_MAX]] + 1
        note += f"; computed for the {EXPLAIN_MAX} of your {len(ratings)} ratings most correlated with it"
    df = rec.explain(ratings, movie, "gnn", only=only).drop(columns="weight")
    return df, note + "; " + _driver(df.iloc[0])


def _driver(row) -> str:
    """"your ★★★★★ for Star Wars moved it most (+0.67)"."""
    return f"your {stars(row['your_rating'])} for {row['title']} moved it most ({row['effect']:+.2f})"


def predict_movie(rec: Recommender, ratings: Mapping[int, float], movie: int) -> dict:
    """Both models' predicted rating of one movie. A movie the user rated is predicted from the
    other ratings (``rated`` holds the user's own rating)."""
    ratings = parse_ratings(ratings)
    movie = rec.data.check_movie(movie)
    own = ratings.pop(movie, None)
    x = rec.vector(ratings)
    out = {"movie": movie, "title": rec.data.title(movie), "rated": own,
           "mean": float(rec.knn.item_means[movie - 1]), "raters": int(rec.n_raters[movie - 1])}
    for name, model in (("gnn", rec.gnn), ("knn", rec.knn)):
        p = model.predict(x, [movie - 1])
        out[name] = float(p.values[0, 0])
        out[f"{name}_fallback"] = bool(p.fallback[0, 0])
    return out


def graph_hops(shift, sources: np.ndarray, max_hops: int = 8) -> np.ndarray:
    """Hops from the nearest source node to every node on a graph (-1: farther than max_hops)."""
    import scipy.sparse as sp

    hops = np.full(shift.shape[0], -1, dtype=np.int64)
    pattern = sp.csr_matrix(shift != 0, dtype=np.int32)
    frontier = np.zeros(shift.shape[0], dtype=bool)
    frontier[np.asarray(sources, dtype=np.int64)] = True
    hops[frontier] = 0
    for h in range(1, max_hops + 1):
        frontier = ((pattern @ frontier.astype(np.int32)) > 0) & (hops < 0)
        if not frontier.any():
            break
        hops[frontier] = h
    return hops


def disagreements(rec: Recommender, res: Recommendations, n: int = 10) -> pd.DataFrame:
    """The movies where GNN and k-NN differ most for this user, and where they lie on the GNN's
    graph: hops from the nearest movie the user rated, and the rated movie most correlated with it."""
    p = res.predictions
    diff = (p["gnn"] - p["knn"]).to_numpy()
    idx = np.argsort(-np.abs(diff), kind="stable")[:n]
    rated = np.array(sorted(res.ratings)) - 1
    hops = graph_hops(rec.gnn.graph.shift, rated)
    rows = []
    for i in idx:
        m = int(p["movie"].iat[i]) - 1
        c = rec.knn.corr[m, rated]
        j = int(np.argmax(np.abs(c)))
        rows.append({"movie": m + 1, "title": p["title"].iat[i], "gnn": round(float(p["gnn"].iat[i]), 2),
                     "knn": round(float(p["knn"].iat[i]), 2), "gnn − knn": round(float(diff[i]), 2),
                     "hops from your ratings": int(hops[m]) if hops[m] >= 0 else None,
                     "closest rated movie": rec.data.title(int(rated[j]) + 1),
                     "its correlation": round(float(c[j]), 2),
                     "mean only": ", ".join(n for n in ("gnn", "knn") if p[f"{n}_fallback"].iat[i]) or ""})
    return pd.DataFrame(rows)
