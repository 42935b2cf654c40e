"""What the app offers to choose from: the data's status and movie labels, and the stored models.

The model store as the app lists it (:class:`ModelInfo`, a table, file signatures for caches) and
a loaded :class:`gnnrec.recommender.Recommender`.
No Streamlit in here; a store problem is a :class:`gnnrec.store.StoreError` whose message says what
to do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .. import data as data_mod
from .. import store
from ..recommender import DEFAULT_MODEL, Recommender, load_ranker
from ..titles import display_movies, natural_title


# -- data and movies --------------------------------------------------------------------------------
def load_data() -> data_mod.MovieLens:
    """MovieLens-100K from the cache (fetched on first use); DataError says how to fix a failure."""
    return data_mod.load()


def data_status(data: data_mod.MovieLens) -> dict:
    return {"source": data.source, "ratings": len(data.ratings), "users": int(data.ratings["user"].nunique()),
            "movies": len(data.movies), "fingerprint": data.fingerprint(), "cache": str(data_mod.cache_dir())}


def movie_labels(data: data_mod.MovieLens) -> dict[int, str]:
    """``{id: "Title (year) #id"}`` for every movie, natural titles ("The Godfather"; some titles
    occur twice, so the id is shown)."""
    m = data.movies
    return {int(i): (f"{t} ({y})" if pd.notna(y) else str(t)) + f"  #{int(i)}"
            for i, t, y in zip(m["movie"], m["title"].map(natural_title), m["year"])}


# well-known movies of many kinds, each rated by 240+ MovieLens users: a newcomer's first ratings
QUICK_RATE = (50, 1, 100, 127, 98, 313, 294, 288, 69, 121, 318, 483)


def quick_movies(data: data_mod.MovieLens, ids=QUICK_RATE) -> pd.DataFrame:
    """The quick-rate movies: ``movie, title, year, genres`` (natural titles, readable genres)."""
    m = display_movies(data.movies).set_index("movie").loc[list(ids)].reset_index()
    return m[["movie", "title", "year", "genres"]]


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
    other_data: bool = False  # valid, but made for other data (store.DataMismatch)

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
    """Every model in the store, loadable or not (the error says why). With the data's
    fingerprint, a model is usable only if made for that data (MovieLens-100K: its movies)."""
    out = []
    n_movies = data_mod.N_MOVIES if data_fingerprint is not None else None
    for name in store.list_names(folder):
        try:
            c = store.load(name, folder, data_fingerprint=data_fingerprint, n_movies=n_movies)
        except store.StoreError as e:
            out.append(ModelInfo(name, False, False, str(e), {}, "", {}, {}, {}, [],
                                 other_data=isinstance(e, store.DataMismatch)))
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
            "usable": "yes" if m.ok and m.all_movies else ("no: one target movie" if m.ok
                                                         else "no: made for other data" if m.other_data else "no: unreadable"),
            "valid RMSE": m.metrics.get("valid_rmse"),
            "widths": " × ".join(map(str, mc.get("features", ()))) or None,
            "taps": " × ".join(map(str, mc.get("taps", ()))) or None,
            "k": m.graph.get("k"), "epochs": tc.get("epochs"), "lr": tc.get("lr"), "batch": tc.get("batch_size"),
            "train s": m.metrics.get("train_seconds"), "created": m.created[:19].replace("T", " "),
            "recipe": m.extra.get("preset", ""), "made by": m.extra.get("made_by", "cli"),
        })
    return pd.DataFrame(rows)


def recipe(m: ModelInfo) -> str:
    """A model's training recipe in a few words: widths, taps, graph neighbours, epochs."""
    model, train = m.config.get("model", {}), m.config.get("train", {})
    return (f"widths {'/'.join(map(str, model.get('features', ())))}, taps {'/'.join(map(str, model.get('taps', ())))}, "
            f"k={m.graph.get('k', '?')}, {train.get('epochs', '?')} epochs")


def default_model(models: Iterable[ModelInfo]) -> str | None:
    """The committed model if usable, else the first usable all-movies model."""
    usable = [m.name for m in models if m.ok and m.all_movies]
    return DEFAULT_MODEL if DEFAULT_MODEL in usable else (usable[0] if usable else None)


def load_recommender(name: str, data: data_mod.MovieLens, folder: Path | None = None) -> Recommender:
    """The recommender on a stored all-movies model; StoreError/ValueError say what is wrong."""
    ranker, why = load_ranker(data, folder or store.models_dir())  # the GNN list's; None: the rating GNN's order
    rec = Recommender(data, store.load(name, folder, data_fingerprint=data.fingerprint(), n_movies=data.n_movies), ranker)
    rec.ranker_error = why
    return rec
