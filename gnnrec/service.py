"""What the Streamlit app calls: one function per thing a page shows, no Streamlit in here.

Ratings in and out (CSV, share links), the model list, recommendations and explanations ready to
display, a movie's correlation neighbourhood, evaluation results, and background jobs (custom
training, live evaluation) with progress and cancel. Every error a user can cause is a
``ValueError`` (or :class:`gnnrec.store.StoreError`) whose message says what is wrong and what
to do, so a page can show it as it is.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from . import data as data_mod
from . import jobs, store
from .gnn import PRESETS, GNNPredictor, GNNPredictorConfig
from .graph import GraphConfig, ItemGraph
from .models import GNNConfig, LocalGNN
from .recommender import DEFAULT_MODEL, Recommendations, Recommender, parse_ratings
from .train import Cancelled, Progress, TrainConfig

N_MOVIES, N_USERS = data_mod.N_MOVIES, data_mod.N_USERS
MAX_IMPORT_BYTES = 1_000_000  # an import CSV larger than this is refused
MAX_IMPORT_ROWS = 2_000  # ... and so is one with more data rows (there are only 1,682 movies)
MAX_LINK_RATINGS = 200  # more ratings than this do not fit a sensible share link
MAX_QUERY_CHARS = 4_000
STREAMLIT_QUERY_KEYS = ("embed", "embed_options")  # Streamlit's own: ignored silently
EXPLAIN_MAX = 64  # the GNN's leave-one-out explanation covers at most this many ratings
MAX_LIVE_SPLITS = 3  # live evaluation on a shared host: 10-30 s per split
MODEL_LABELS = {"gnn": "GNN", "gnn_last": "GNN (last weights)", "linear": "Linear graph filter",
                "knn": "k-NN", "item_mean": "Item mean"}


class RatingsError(ValueError):
    """An import file or share link that cannot be read; the message says why and what to do."""


# -- data and movies --------------------------------------------------------------------------------
def load_data() -> data_mod.MovieLens:
    """MovieLens-100K from the cache (fetched on first use); DataError says how to fix a failure."""
    return data_mod.load()


def data_status(data: data_mod.MovieLens) -> dict:
    return {"source": data.source, "ratings": len(data.ratings), "users": int(data.ratings["user"].nunique()),
            "movies": len(data.movies), "fingerprint": data.fingerprint(), "cache": str(data_mod.cache_dir())}


def movie_labels(data: data_mod.MovieLens) -> dict[int, str]:
    """``{id: "Title (year) #id"}`` for every movie (some titles occur twice, so the id is shown)."""
    m = data.movies
    return {int(i): (f"{t} ({y})" if pd.notna(y) else str(t)) + f"  #{int(i)}"
            for i, t, y in zip(m["movie"], m["title"], m["year"])}


def stars(rating: float) -> str:
    """``4 -> "★★★★☆"`` (rounded to whole stars)."""
    n = int(round(float(rating)))
    return "★" * n + "☆" * (5 - n)


def ratings_key(ratings: Mapping[int, float]) -> tuple:
    """A hashable, order-free key of a ratings dict (for caches)."""
    return tuple(sorted((int(m), float(r)) for m, r in ratings.items()))


def ratings_table(data: data_mod.MovieLens, ratings: Mapping[int, float]) -> pd.DataFrame:
    """The user's ratings for display: ``movie, title, year, your rating`` (stars), newest last."""
    rows = [(m, data.movies.at[m - 1, "title"], data.movies.at[m - 1, "year"], f"{stars(r)}  {r:g}")
            for m, r in ratings.items()]
    return pd.DataFrame(rows, columns=["movie", "title", "year", "your rating"])


def user_ratings(data: data_mod.MovieLens, user) -> dict[int, float]:
    """A real MovieLens user's ratings ``{movie: rating}``."""
    try:
        u = int(user)
    except (TypeError, ValueError):
        raise ValueError(f"user id {user!r} is not a number; pick a MovieLens user 1..{N_USERS}") from None
    if u != user or not 1 <= u <= N_USERS:
        raise ValueError(f"no MovieLens user {user!r}: user ids run 1..{N_USERS}")
    r = data.ratings[data.ratings["user"] == u]
    return {int(m): int(v) for m, v in zip(r["movie"], r["rating"])}


# -- ratings files and share links ------------------------------------------------------------------
MOVIE_COLUMNS = ("movie", "movie_id", "movieid", "item", "item_id", "id")
RATING_COLUMNS = ("rating", "stars", "score")


def ratings_to_csv(data: data_mod.MovieLens, ratings: Mapping[int, float]) -> bytes:
    """``movie,title,rating`` CSV (titles that a spreadsheet would run as a formula are quoted)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["movie", "title", "rating"])
    for m, r in ratings.items():
        title = data.title(m)
        if title[:1] in ("=", "+", "-", "@", "\t", "\r"):
            title = "'" + title
        w.writerow([m, title, int(r) if float(r).is_integer() else r])
    return buf.getvalue().encode("utf-8")


def parse_ratings_csv(raw: bytes) -> dict[int, float]:
    """Ratings from an uploaded CSV with a header naming a ``movie`` and a ``rating`` column (other
    columns, such as ``title``, are ignored).

    All or nothing: any bad row rejects the whole file, so a bad import never half-changes the
    ratings. Raises :class:`RatingsError` listing the first problems found.
    """
    if len(raw) > MAX_IMPORT_BYTES:
        raise RatingsError(f"the file is {len(raw) / 1e6:.1f} MB; the limit is {MAX_IMPORT_BYTES / 1e6:.0f} MB "
                           f"({MAX_IMPORT_ROWS:,} rows). Export your ratings from this app for the format.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RatingsError("the file is not UTF-8 text; upload a CSV file such as the one 'Export CSV' "
                           "writes (columns movie,rating)") from None
    if "\x00" in text:
        raise RatingsError("the file is binary, not a CSV; upload a text file with columns movie,rating")
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if not rows:
        raise RatingsError("the file is empty; it needs a header line 'movie,rating' and one line per rating")
    header = [c.strip().lower() for c in rows[0]]
    movie_col = next((header.index(c) for c in MOVIE_COLUMNS if c in header), None)
    rating_col = next((header.index(c) for c in RATING_COLUMNS if c in header), None)
    if movie_col is None or rating_col is None:
        got = ", ".join(repr(c) for c in rows[0][:6]) or "nothing"
        hint = " (it looks separated by ';' or tabs: use commas)" if len(header) == 1 and any(
            s in header[0] for s in (";", "\t")) else ""
        raise RatingsError(f"wrong columns: the first line must name a 'movie' and a 'rating' column, "
                           f"e.g. 'movie,rating'; found {got}{hint}")
    body = rows[1:]
    if not body:
        raise RatingsError("the file has a header but no ratings; add lines like '50,5'")
    if len(body) > MAX_IMPORT_ROWS:
        raise RatingsError(f"the file has {len(body):,} rating rows; the limit is {MAX_IMPORT_ROWS:,}")
    out: dict[int, float] = {}
    problems: list[str] = []
    for line, row in enumerate(body, start=2):
        if len(problems) >= 5:
            problems.append("…")
            break
        m_txt, r_txt = (row[i].strip() if i < len(row) else "" for i in (movie_col, rating_col))
        try:
            mid = int(m_txt)
        except ValueError:
            problems.append(f"line {line}: movie id {m_txt[:30]!r} is not a whole number")
            continue
        if not 1 <= mid <= N_MOVIES:
            problems.append(f"line {line}: unknown movie id {mid} (MovieLens-100K ids run 1..{N_MOVIES})")
            continue
        try:
            r = float(r_txt)
        except ValueError:
            problems.append(f"line {line}: rating {r_txt[:30]!r} of movie {mid} is not a number")
            continue
        if not (math.isfinite(r) and 1 <= r <= 5):
            problems.append(f"line {line}: rating {r_txt[:30]} of movie {mid} is outside 1-5")
            continue
        if mid in out:
            problems.append(f"line {line}: movie {mid} is rated twice; keep one line per movie")
            continue
        out[mid] = int(r) if r.is_integer() else r
    if problems:
        raise RatingsError("nothing imported; fix the file and upload it again: " + "; ".join(problems))
    return out


def encode_share(ratings: Mapping[int, float]) -> str:
    """``{50: 5, 181: 4}`` -> ``"50:5,181:4"`` (the ``r`` query parameter)."""
    return ",".join(f"{m}:{int(r) if float(r).is_integer() else r:g}" for m, r in ratings.items())


def parse_share(text: str) -> tuple[dict[int, float], list[str]]:
    """Ratings from a share link's ``r`` value, keeping the good pairs; returns them and a list
    of problems (each bad pair named), never raising."""
    problems: list[str] = []
    if not isinstance(text, str):
        return {}, ["the 'r' link parameter is not text; ignored"]
    if len(text) > MAX_QUERY_CHARS:
        return {}, [f"the 'r' link parameter is {len(text):,} characters long (limit {MAX_QUERY_CHARS:,}); "
                    "ignored. Share many ratings as an exported CSV instead"]
    out: dict[int, float] = {}
    bad: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        movie, sep, value = part.partition(":")
        try:
            mid, r = int(movie), float(value)
        except ValueError:
            bad.append(part)
            continue
        if not sep or not 1 <= mid <= N_MOVIES or not (math.isfinite(r) and 1 <= r <= 5) or mid in out:
            bad.append(part)
            continue
        out[mid] = int(r) if r.is_integer() else r
    if bad:
        shown = ", ".join(repr(b[:20]) for b in bad[:5]) + (" …" if len(bad) > 5 else "")
        problems.append(f"ignored {len(bad)} bad entr{'y' if len(bad) == 1 else 'ies'} in the link ({shown}): "
                        f"each must be MOVIE:RATING with a movie id 1..{N_MOVIES}, a rating 1-5, each movie once")
    return out, problems


def read_query(params: Mapping[str, object]) -> tuple[dict[int, float], str | None, list[str]]:
    """The app's query parameters -> (ratings, model name or None, problems). Unknown
    parameters are named in the problems; nothing here raises."""
    problems: list[str] = []
    ratings: dict[int, float] = {}
    model = None
    for key, value in params.items():
        if isinstance(value, (list, tuple)):
            value = value[-1] if value else ""
        if key in STREAMLIT_QUERY_KEYS:
            continue
        if key == "r":
            ratings, more = parse_share(value)
            problems += more
        elif key == "model":
            try:
                model = store.check_name(str(value))
            except store.StoreError as e:
                problems.append(f"ignored the 'model' link parameter: {e}")
        else:
            problems.append(f"ignored the unknown link parameter {str(key)[:40]!r} (this app reads "
                            "'r=MOVIE:RATING,...' and 'model=NAME')")
    return ratings, model, problems


# -- models ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """One file in the model store, as the app lists it (plain values only)."""

    name: str
    ok: bool  # loads, and is made for the loaded data
    all_movies: bool  # predicts every movie (usable for recommendations)
    error: str | None
    metrics: dict
    created: str
    config: dict  # GNN config as plain values
    graph: dict
    extra: dict  # without the training history
    history: list  # [(step, train loss, valid RMSE)]

    def describe(self) -> str:
        if not self.ok:
            return "unreadable"
        m = self.config.get("model", {})
        parts = [f"widths {' × '.join(map(str, m.get('features', ())))}",
                 f"taps {' × '.join(map(str, m.get('taps', ())))}", f"graph k={self.graph.get('k')}"]
        if "valid_rmse" in self.metrics:
            parts.insert(0, f"valid RMSE {self.metrics['valid_rmse']:.4f}")
        return ", ".join(parts)


def store_signature(folder: Path | None = None) -> tuple:
    """``(folder, (name, mtime_ns, size), ...)`` of the model files: changes when any model changes."""
    folder = folder or store.models_dir()
    out: list = [str(folder)]
    for name in store.list_names(folder):
        try:
            st = (folder / f"{name}.pt").stat()
            out.append((name, st.st_mtime_ns, st.st_size))
        except OSError:
            continue
    return tuple(out)


def model_signature(name: str, folder: Path | None = None) -> tuple:
    """``(path, mtime_ns, size)`` of one model file, ``None`` parts if it is missing."""
    try:
        path = store.path_for(name, folder)
        st = path.stat()
        return str(path), st.st_mtime_ns, st.st_size
    except (OSError, store.StoreError):
        return None, None, None


def list_models(data_fingerprint: str | None = None, folder: Path | None = None) -> list[ModelInfo]:
    """Every model in the store, loadable or not (the error says why)."""
    out = []
    for name in store.list_names(folder):
        try:
            c = store.load(name, folder, data_fingerprint=data_fingerprint)
        except store.StoreError as e:
            out.append(ModelInfo(name, False, False, str(e), {}, "", {}, {}, {}, []))
            continue
        extra = {k: v for k, v in c.extra.items() if k != "history"}
        cfg = dataclasses.asdict(c.config)
        out.append(ModelInfo(name, True, c.config.target is None, None, dict(c.metrics), c.created, cfg,
                             dataclasses.asdict(c.graph_config), extra, list(c.extra.get("history", []))))
    return out


def models_table(models: Iterable[ModelInfo]) -> pd.DataFrame:
    """The store as a table: name, kind, metrics, architecture, created."""
    rows = []
    for m in models:
        mc = m.config.get("model", {})
        tc = m.config.get("train", {})
        rows.append({
            "model": m.name,
            "usable": "yes" if m.ok and m.all_movies else ("no: one target movie" if m.ok else "no: unreadable"),
            "valid RMSE": m.metrics.get("valid_rmse"),
            "widths": " × ".join(map(str, mc.get("features", ()))) or None,
            "taps": " × ".join(map(str, mc.get("taps", ()))) or None,
            "k": m.graph.get("k"), "epochs": tc.get("epochs"), "lr": tc.get("lr"), "batch": tc.get("batch_size"),
            "train s": m.metrics.get("train_seconds"), "created": m.created[:19].replace("T", " "),
            "recipe": m.extra.get("preset", ""), "made by": m.extra.get("made_by", "cli"),
        })
    return pd.DataFrame(rows)


def default_model(models: Iterable[ModelInfo]) -> str | None:
    """The committed model if usable, else the first usable all-movies model."""
    usable = [m.name for m in models if m.ok and m.all_movies]
    return DEFAULT_MODEL if DEFAULT_MODEL in usable else (usable[0] if usable else None)


def load_recommender(name: str, data: data_mod.MovieLens, folder: Path | None = None) -> Recommender:
    """The recommender on a stored all-movies model; StoreError/ValueError say what is wrong."""
    return Recommender(data, store.load(name, folder, data_fingerprint=data.fingerprint()))


def correlations(data: data_mod.MovieLens, config: GraphConfig | None = None) -> np.ndarray:
    """Pearson correlations of all ratings (used when no model is loaded), read-only."""
    corr = ItemGraph.build(data.matrix(), config or PRESETS["all"].graph).corr
    corr.flags.writeable = False
    return corr


# -- recommendations ---------------------------------------------------------------------------------
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

    ``knn`` is exact and additive (:meth:`Recommender.explain`). ``gnn`` is leave-one-out, the
    same as :meth:`Recommender.explain` but in chunks (bounded memory) and, for a long profile,
    only over the :data:`EXPLAIN_MAX` ratings most correlated with the movie.
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
    t = movie - 1
    x = rec.vector(ratings)
    rated = np.array(sorted(ratings)) - 1  # (R,)
    note = "GNN: change of the prediction if that one rating were removed (nonlinear: the effects " \
           "need not add up)"
    if len(rated) > EXPLAIN_MAX:
        closeness = np.abs(rec.knn.corr[t, rated])
        rated = np.sort(rated[np.argsort(-closeness, kind="stable")[:EXPLAIN_MAX]])
        note += f"; computed for the {EXPLAIN_MAX} of your {len(ratings)} ratings most correlated with it"
    base = rec.gnn.predict(x, [t]).values[0, 0]
    effect = np.empty(len(rated))
    for i in range(0, len(rated), 32):
        chunk = rated[i:i + 32]
        loo = np.repeat(x, len(chunk), axis=0)  # (C, N): row j without rating j
        loo[np.arange(len(chunk)), chunk] = 0
        effect[i:i + 32] = base - rec.gnn.predict(loo, [t]).values[:, 0]
    df = pd.DataFrame({"movie": rated + 1, "title": rec.movies["title"].to_numpy()[rated],
                       "your_rating": x[0, rated], "effect": effect})
    df = df.reindex(df["effect"].abs().sort_values(ascending=False, kind="stable").index).reset_index(drop=True)
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
           "mean": float(rec.gnn.item_means[movie - 1]), "raters": int(rec.n_raters[movie - 1])}
    for name, model in (("gnn", rec.gnn), ("knn", rec.knn)):
        p = model.predict(x, [movie - 1])
        out[name] = float(np.clip(p.values[0, 0], 1, 5))
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


# -- neighbourhood --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Neighbourhood:
    """A movie's correlation neighbourhood.

    nodes: ``movie, title, year, genres, raters, hop, corr (with the target), via (title of the
    hop-1 movie a hop-2 movie hangs on), your_rating`` (NaN if not rated); the target first.
    edges: ``source, target, corr`` between shown movies (each movie's strongest correlations).
    """

    target: int
    nodes: pd.DataFrame
    edges: pd.DataFrame


MAX_NEIGHBOURS, MAX_NODES, MAX_COMMON = 25, 120, 300


def _strongest(row: np.ndarray, k: int, exclude) -> np.ndarray:
    """Indices of the ``k`` largest |row| entries (non-zero, not excluded), strongest first."""
    score = np.abs(row).astype(np.float64)
    score[np.asarray(list(exclude), dtype=np.int64)] = 0
    k = min(k, int((score > 0).sum()))
    if k <= 0:
        return np.array([], dtype=np.int64)
    idx = np.argpartition(-score, k - 1)[:k]
    return idx[np.argsort(-score[idx], kind="stable")]


def neighbourhood(corr: np.ndarray, data: data_mod.MovieLens, movie: int, k: int = 10, hops: int = 1,
                  ratings: Mapping[int, float] | None = None, min_common: int = 25) -> Neighbourhood:
    """The ``k`` movies most strongly correlated with ``movie`` (either sign) among those that at
    least ``min_common`` users rated together with it, and with ``hops=2`` each of those movies'
    own ``k`` strongest (at most :data:`MAX_NODES` movies in all). Edges join shown movies where
    one is among the other's ``k`` strongest."""
    movie = data.check_movie(movie)
    whole = lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool)  # noqa: E731
    if not (whole(k) and 1 <= k <= MAX_NEIGHBOURS):
        raise ValueError(f"neighbours={k!r}: choose 1..{MAX_NEIGHBOURS}")
    if hops not in (1, 2):
        raise ValueError(f"hops={hops!r}: choose 1 or 2")
    if not (whole(min_common) and 1 <= min_common <= MAX_COMMON):
        raise ValueError(f"common raters={min_common!r}: choose 1..{MAX_COMMON}")
    t = movie - 1
    ratings = dict(ratings or {})
    seen = (data.matrix() > 0).astype(np.float32)  # (U, N)

    def supported(i: int) -> np.ndarray:  # row i of the correlations, 0 where too few co-raters
        return np.where(seen[:, i] @ seen >= min_common, corr[i], 0.0)

    order, hop, via = [t], {t: 0}, {}
    first = _strongest(supported(t), k, [t])
    for j in first:
        order.append(int(j))
        hop[int(j)] = 1
    if hops == 2:
        for i in first:
            for j in _strongest(supported(int(i)), k, order):
                if len(order) >= MAX_NODES:
                    break
                order.append(int(j))
                hop[int(j)], via[int(j)] = 2, int(i)
    idx = np.array(order)
    n_raters = data.n_raters()
    mv = data.movies.iloc[idx]
    nodes = pd.DataFrame({
        "movie": idx + 1, "title": mv["title"].to_numpy(), "year": mv["year"].to_numpy(),
        "genres": mv["genres"].str.replace("|", ", ", regex=False).to_numpy(), "raters": n_raters[idx],
        "hop": [hop[i] for i in order], "corr": np.where(idx == t, np.nan, corr[t, idx]).round(3),
        "via": [data.movies.at[via[i], "title"] if i in via else None for i in order],
        "your_rating": [float(ratings[i + 1]) if i + 1 in ratings else np.nan for i in order],
    })
    # edges: the k-strongest graph (with the same co-rater minimum) restricted to the shown movies
    common = seen[:, idx].T @ seen[:, idx]  # (V, V)
    sub = np.where(common >= min_common, np.asarray(corr[np.ix_(idx, idx)], dtype=np.float64), 0.0)
    np.fill_diagonal(sub, 0)
    keep = np.zeros(sub.shape, dtype=bool)
    kk = min(k, len(idx) - 1)
    if kk > 0:
        a = np.abs(sub)
        kth = -np.partition(-a, kk - 1, axis=1)[:, kk - 1:kk]
        keep = (a >= kth) & (a > 0)
        keep |= keep.T
    ii, jj = np.nonzero(np.triu(keep, 1))
    edges = pd.DataFrame({"source": idx[ii] + 1, "target": idx[jj] + 1, "corr": sub[ii, jj].round(3),
                          "common": common[ii, jj].astype(int)})
    return Neighbourhood(movie, nodes, edges)


def neighbour_table(nb: Neighbourhood) -> pd.DataFrame:
    """The neighbours (not the movie itself) for a sortable table, strongest first."""
    t = nb.nodes.iloc[1:]
    return pd.DataFrame({"title": t["title"].to_numpy(), "correlation": t["corr"].to_numpy(),
                         "hop": t["hop"].to_numpy(), "raters": t["raters"].to_numpy(),
                         "your rating": [stars(r) if pd.notna(r) else "" for r in t["your_rating"]],
                         "year": t["year"].to_numpy(),
                         "via": t["via"].to_numpy(), "genres": t["genres"].to_numpy(), "movie": t["movie"].to_numpy()})


# -- evaluation results --------------------------------------------------------------------------------
class ResultError(ValueError):
    """A results file that is not a target-task evaluation."""


def results_dir() -> Path:
    """``$GNNREC_RESULTS_DIR``, else ``results/`` beside the package."""
    env = os.environ.get("GNNREC_RESULTS_DIR")
    return Path(env).expanduser() if env else Path(__file__).resolve().parent.parent / "results"


def result_files(folder: Path | None = None) -> list[Path]:
    folder = folder or results_dir()
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def check_result(obj) -> dict:
    """Raise ResultError unless ``obj`` looks like :func:`gnnrec.evaluate.evaluate_target`'s output."""
    if not isinstance(obj, dict) or obj.get("task") != "target":
        raise ResultError("not a target-movie evaluation (`python -m gnnrec evaluate --task target --json FILE`)")
    splits = obj.get("splits")
    if not isinstance(splits, list) or not splits:
        raise ResultError("it holds no splits")
    for s in splits:
        if not (isinstance(s, dict) and isinstance(s.get("rmse"), dict) and isinstance(s.get("test"), list)):
            raise ResultError("a split lacks its 'rmse' or 'test' records")
        for r in s["test"][:3]:
            if not (isinstance(r, dict) and "rating" in r and isinstance(r.get("pred"), dict)):
                raise ResultError("a test record lacks 'rating' or 'pred'")
    if not isinstance(obj.get("summary"), dict) or not obj["summary"]:
        raise ResultError("it has no 'summary'")
    return obj


def load_result(path: Path) -> dict:
    """A saved evaluation (JSON), checked; ResultError names the problem."""
    path = Path(path)
    try:
        if path.stat().st_size > 100_000_000:
            raise ResultError(f"{path.name} is over 100 MB")
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ResultError(f"{path.name} cannot be read as JSON ({type(e).__name__}: {str(e)[:120]})") from None
    try:
        return check_result(obj)
    except ResultError as e:
        raise ResultError(f"{path.name}: {e}") from None


def result_title(res: dict) -> str:
    return f"{res.get('title', 'movie ' + str(res.get('target')))}: {len(res['splits'])} split(s), " \
           f"preset {res.get('config', {}).get('preset', '?')}"


def summary_frame(res: dict) -> pd.DataFrame:
    """``model, label, mean, std, splits`` sorted by mean RMSE."""
    rows = [{"model": n, "label": MODEL_LABELS.get(n, n), "mean": s["mean"], "std": s["std"],
             "splits": len(s.get("per_split", []))} for n, s in res["summary"].items()]
    return pd.DataFrame(rows).sort_values("mean", kind="stable").reset_index(drop=True)


def split_frame(res: dict) -> pd.DataFrame:
    """One row per split: its seed, test users and each model's RMSE."""
    rows = []
    for i, s in enumerate(res["splits"]):
        row = {"split": i + 1, "seed": s.get("seed"), "test users": len(s["test"])}
        row.update({MODEL_LABELS.get(n, n): round(float(v), 4) for n, v in s["rmse"].items()})
        if "best_step" in s:
            row["GNN best step"] = s["best_step"]
        rows.append(row)
    return pd.DataFrame(rows)


def scatter_frame(res: dict, models: Iterable[str] = ("gnn", "knn")) -> pd.DataFrame:
    """Predicted vs true rating of every test user: ``split, user, rating, model, label, pred``."""
    rows = []
    for i, s in enumerate(res["splits"]):
        for r in s["test"]:
            for m in models:
                if m in r["pred"]:
                    rows.append((i + 1, r.get("user"), float(r["rating"]), m, MODEL_LABELS.get(m, m),
                                 float(r["pred"][m])))
    return pd.DataFrame(rows, columns=["split", "user", "rating", "model", "label", "pred"])


def check_eval_request(data: data_mod.MovieLens, target: int, splits: int, preset: str) -> None:
    """Raise ValueError (what to change) unless a live evaluation of this can run here."""
    data.check_movie(target)
    if not (isinstance(splits, (int, np.integer)) and 1 <= splits <= MAX_LIVE_SPLITS):
        raise ValueError(f"splits={splits!r}: run 1..{MAX_LIVE_SPLITS} splits live (each takes 10-30 s on a shared "
                         f"host); run more with `python -m gnnrec evaluate --splits 10 --json results/FILE.json`")
    if preset not in eval_presets():
        raise ValueError(f"unknown preset {preset!r} for the target task; choose one of {eval_presets()}")
    n = int(data.n_raters()[target - 1])
    if n < 20:
        raise ValueError(f"{data.title(target)} has only {n} ratings; pick a movie with at least 20 so that "
                         "its test users say something")


def evaluate(data: data_mod.MovieLens, target: int, splits: int = 1, preset: str = "best",
             on_split: Callable[[int, dict], None] | None = None) -> dict:
    """The seed's protocol for one target movie (:func:`gnnrec.evaluate.evaluate_target`)."""
    from .evaluate import EvalConfig, evaluate_target

    check_eval_request(data, target, splits, preset)
    return evaluate_target(data, EvalConfig(target=int(target), splits=int(splits), preset=preset), on_split)


def eval_presets() -> list[str]:
    """Presets for the target task (the all-movies one is for the other task)."""
    return [n for n in PRESETS if n != "all"]


# -- custom training ----------------------------------------------------------------------------------
LIMITS = {"layers": (1, 3), "taps": (1, 6), "width": (4, 64), "k": (5, 40), "epochs": (1, 10),
          "lr": (1e-4, 0.05), "batch_size": (8, 64), "seed": (0, 999_999)}
VALID_FRACTION = 0.05  # as gnnrec.allmovies: share of the ratings held out to pick the best epoch


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    """What the Train page lets a user choose (each bounded by :data:`LIMITS`)."""

    taps: tuple[int, ...] = (5, 5)
    widths: tuple[int, ...] = (64, 32)
    k: int = 10
    epochs: int = 2
    lr: float = 0.005
    batch_size: int = 32
    seed: int = 0

    def problems(self) -> list[str]:
        """Everything out of bounds, each with its allowed range (empty: fine)."""
        out = []

        def whole(v) -> bool:
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        lo, hi = LIMITS["layers"]
        if not (lo <= len(self.taps) <= hi) or len(self.taps) != len(self.widths):
            out.append(f"layers: {len(self.widths)} widths and {len(self.taps)} taps given; use {lo}-{hi} layers, "
                       "one width and one tap count each")
        for name, values, key in (("taps", self.taps, "taps"), ("width", self.widths, "width")):
            lo, hi = LIMITS[key]
            for i, v in enumerate(values):
                if not whole(v) or not lo <= v <= hi:
                    out.append(f"{name} of layer {i + 1} is {v!r}; use a whole number {lo}-{hi}")
        if self.taps and all(whole(t) and t == 1 for t in self.taps):
            out.append("every layer has 1 tap, so the GNN would never look at the graph; give a layer 2+ taps")
        for name in ("k", "epochs", "batch_size", "seed"):
            lo, hi = LIMITS[name]
            v = getattr(self, name)
            if not whole(v) or not lo <= v <= hi:
                out.append(f"{name.replace('_', ' ')} is {v!r}; use a whole number {lo}-{hi}")
        lo, hi = LIMITS["lr"]
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and lo <= self.lr <= hi):
            out.append(f"learning rate is {self.lr!r}; use {lo:g}-{hi:g}")
        return out

    def check(self) -> "TrainSpec":
        p = self.problems()
        if p:
            raise ValueError("; ".join(p))
        return self

    def steps(self, users: int = N_USERS) -> int:
        return math.ceil(users / self.batch_size) * self.epochs

    def configs(self) -> tuple[GNNPredictorConfig, GraphConfig]:
        base = PRESETS["all"]
        valid_every = max(1, math.ceil(self.steps() / 10))  # ~10 points on the validation curve
        cfg = GNNPredictorConfig(
            model=GNNConfig(features=tuple(int(w) for w in self.widths), taps=tuple(int(t) for t in self.taps)),
            train=TrainConfig(epochs=int(self.epochs), batch_size=int(self.batch_size), lr=float(self.lr),
                              valid_every=valid_every, seed=int(self.seed)),
            encoding=base.predictor.encoding)
        return cfg, dataclasses.replace(base.graph, k=int(self.k))

    def n_parameters(self) -> int:
        return LocalGNN(self.configs()[0].model).n_parameters()


def check_new_name(name: str, folder: Path | None = None) -> str:
    """A valid name not yet used in the store (a retraining never replaces a model someone may be
    using); StoreError says what to change."""
    name = (name or "").strip()
    store.check_name(name)
    if name in store.list_names(folder):
        raise store.StoreError(f"a model named {name!r} exists already; choose a new name (models are never "
                               "overwritten from the app, so nobody's active model changes under them)")
    return name


def train_model(data: data_mod.MovieLens, spec: TrainSpec, name: str,
                on_progress: Callable[[Progress], None] | None = None, cancel: Callable[[], bool] | None = None,
                folder: Path | None = None) -> dict:
    """Train an all-movies GNN as :func:`gnnrec.allmovies.fit_models` does (5% of the ratings held
    out for validation and left out of the graph) and save it; returns ``{name, path, metrics}``.

    Raises ValueError (bad spec), StoreError (bad or taken name), Cancelled.
    """
    spec.check()
    name = check_new_name(name, folder)
    cfg, graph_cfg = spec.configs()
    x = data.matrix()
    held = (x > 0) & (np.random.default_rng(spec.seed).random(x.shape) < VALID_FRACTION)
    fit_part, valid = np.where(held, 0, x), np.where(held, x, 0)
    if cancel is not None and cancel():
        raise Cancelled("training cancelled before it started")
    gnn = GNNPredictor(cfg, "gnn").fit(fit_part, ItemGraph.build(fit_part, graph_cfg), valid, on_progress, cancel)
    res = gnn.results[0]
    metrics = {"valid_rmse": res.best_valid_rmse, "best_step": res.best_step, "train_seconds": res.seconds}
    extra = {"preset": "custom", "task": "all", "seed": spec.seed, "made_by": "app",
             "spec": dataclasses.asdict(spec), "history": [list(h) for h in res.history]}
    name = check_new_name(name, folder)  # again: another job may have taken it meanwhile
    path = store.save(gnn, name, metrics=metrics, data_fingerprint=data.fingerprint(), extra=extra, folder=folder)
    return {"name": name, "path": str(path), "metrics": metrics}


# -- background jobs ------------------------------------------------------------------------------------
JobBusy = jobs.Busy  # another training or evaluation holds the server (one at a time on a shared host)


class Job:
    """One background computation (training or evaluation) with progress events and a cancel flag.

    ``fn(report, cancelled)`` runs in a daemon thread; ``report(event)`` appends to
    :meth:`events`; ``cancelled()`` is True once :meth:`cancel` was called. The process-wide
    :data:`gnnrec.jobs.HEAVY` lock is taken before the thread starts and freed when it ends.
    """

    def __init__(self, kind: str, label: str, fn: Callable[[Callable, Callable[[], bool]], object],
                 total: int | None = None):
        self.kind, self.label, self._fn, self.total = kind, label, fn, total
        self.started, self.finished = time.time(), None
        self.state = "running"  # running, done, failed, cancelled
        self.result = None
        self.error: str | None = None
        self._events: list = []
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._hold = None  # the HEAVY lock's context, exited by the job's thread
        self.thread = threading.Thread(target=self._run, name=f"gnnrec-{kind}", daemon=True)

    def _run(self) -> None:
        try:
            result = self._fn(self._report, self._cancel.is_set)
            state, error = "done", None
        except Cancelled:
            result, state, error = None, "cancelled", "cancelled: nothing was saved"
        except (ValueError, store.StoreError, data_mod.DataError) as e:
            result, state, error = None, "failed", str(e)
        except Exception as e:  # noqa: BLE001  the page shows it; the log gets the traceback
            traceback.print_exc(file=sys.stderr)
            result, state, error = None, "failed", f"{type(e).__name__}: {str(e)[:300]}"
        with self._lock:
            self.result, self.state, self.error, self.finished = result, state, error, time.time()
        if self._hold is not None:
            self._hold.__exit__(None, None, None)

    def _report(self, event) -> None:
        with self._lock:
            self._events.append(event)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def running(self) -> bool:
        return self.state == "running"

    def events(self) -> list:
        with self._lock:
            return list(self._events)

    def wait(self, timeout: float | None = None) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def elapsed(self) -> float:
        return (self.finished or time.time()) - self.started


def start_job(kind: str, label: str, fn, total: int | None = None, owner: str = "app") -> Job:
    """Start ``fn`` in the background, holding :data:`gnnrec.jobs.HEAVY`; :class:`gnnrec.jobs.Busy`
    (at once, nothing started) if another job holds it."""
    job = Job(kind, label, fn, total)
    hold = jobs.HEAVY.hold(owner, f"{kind} {label}")
    hold.__enter__()  # raises Busy
    job._hold = hold
    try:
        job.thread.start()
    except BaseException:
        hold.__exit__(None, None, None)
        raise
    return job


def start_training(data: data_mod.MovieLens, spec: TrainSpec, name: str, folder: Path | None = None,
                   owner: str = "app") -> Job:
    """Check the request, then train in the background; events are :class:`Progress`."""
    spec.check()
    name = check_new_name(name, folder)
    return start_job("training", name, lambda report, cancelled: train_model(
        data, spec, name, on_progress=report, cancel=cancelled, folder=folder), total=spec.steps(), owner=owner)


_eval_results: dict[tuple, dict] = {}  # finished live evaluations, shared by all sessions (bounded)
_eval_lock = threading.Lock()
EVAL_CACHE_SIZE = 16


def eval_key(fingerprint: str, target: int, splits: int, preset: str) -> tuple:
    """What identifies a live evaluation: the data and the request."""
    return (str(fingerprint), int(target), int(splits), str(preset))


def cached_evaluation(key: tuple) -> dict | None:
    """A live evaluation already run in this app (any session), or None. Seeded, so the same
    request always gives the same result."""
    with _eval_lock:
        return _eval_results.get(key)


def _remember(key: tuple, result: dict) -> dict:
    with _eval_lock:
        _eval_results[key] = result
        while len(_eval_results) > EVAL_CACHE_SIZE:
            _eval_results.pop(next(iter(_eval_results)))
    return result


def start_evaluation(data: data_mod.MovieLens, target: int, splits: int, preset: str, owner: str = "app") -> Job:
    """Check the request, then evaluate in the background; events are ``(split index, record)``;
    the result is also kept for :func:`cached_evaluation`."""
    check_eval_request(data, target, splits, preset)
    key = eval_key(data.fingerprint(), target, splits, preset)

    def run(report, cancelled):
        res = evaluate(data, target, splits, preset,
                       on_split=lambda i, rec: report((i, {"seed": rec["seed"], "rmse": rec["rmse"]})))
        return _remember(key, res)

    return start_job("evaluation", f"of {data.title(target)}, {splits} split(s), preset {preset}", run,
                     total=int(splits), owner=owner)


def history_table(history: Iterable) -> pd.DataFrame:
    """A stored training history ``[(step, train loss, valid RMSE)]`` as a table like :func:`history_frame`."""
    rows = [(int(h[0]), None, h[1], h[2], None) for h in history]
    return pd.DataFrame(rows, columns=["step", "epoch", "train loss", "valid RMSE", "best valid RMSE"])


def history_frame(events: Iterable[Progress]) -> pd.DataFrame:
    """Training progress events -> ``step, epoch, train loss, valid RMSE, best valid RMSE``."""
    rows = [(e.step, e.epoch + 1, e.loss, e.valid_rmse, e.best_valid_rmse) for e in events if isinstance(e, Progress)]
    return pd.DataFrame(rows, columns=["step", "epoch", "train loss", "valid RMSE", "best valid RMSE"])
