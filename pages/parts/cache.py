"""Streamlit caches around the gnnrec functions the pages call: the data, the model store, the
session's recommender, and the lists and tables computed from them.

``st.cache_data`` for explanations, neighbourhoods and saved results (copies: nothing cached is
ever mutated); ``st.cache_resource`` for the recommender of a model, keyed by its name and file
signature, so a changed file is reloaded and one session's choice never changes another's, and for
what every run reads, shared and never written to: the MovieLens data (a frozen dataclass the
recommenders share already; ``st.cache_data``'s copy, a 3 MB unpickling a run, took ~5% of the
server's GIL time under load), its status and the movie labels (read-only mappings), the model list
(a tuple of frozen records), the quick-rate movies and the recommendations (read by the pages,
never changed: tests/test_app.py checks them against fresh ones after a session). Their
``st.cache_data`` copies (a pickling on each miss, an unpickling on each hit) were ~8% of the
server's GIL time under the back-to-back load (py-spy, docs/guarantees.md).
"""

from __future__ import annotations

from types import MappingProxyType

import streamlit as st

from gnnrec import data as data_mod
from gnnrec import store
from gnnrec.app import catalog, insights, results
from gnnrec.app import listing as listing_mod
from gnnrec.app import neighbourhood as nb_mod

from .text import alert


# -- the data -----------------------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Loading MovieLens-100K (downloaded once, then cached) …")
def _data():
    return catalog.load_data()


def data() -> data_mod.MovieLens | None:
    """The data, or None after showing what went wrong."""
    try:
        return _data()
    except data_mod.DataError as e:
        alert("error", f"The MovieLens-100K data could not be loaded: {e}")
        return None


def require_data() -> data_mod.MovieLens:
    d = data()
    if d is None:
        st.stop()
    return d


@st.cache_resource(show_spinner=False)
def data_info() -> MappingProxyType:
    """The data's status (:func:`gnnrec.app.catalog.data_status`), read-only."""
    return MappingProxyType(catalog.data_status(_data()))


def info() -> MappingProxyType | None:
    """The data's status (:func:`data_info`), or None after showing what went wrong."""
    try:
        return data_info()
    except data_mod.DataError as e:
        alert("error", f"The MovieLens-100K data could not be loaded: {e}")
        return None


@st.cache_resource(show_spinner=False)
def labels() -> MappingProxyType:
    """``{movie id: label}`` (:func:`gnnrec.app.catalog.movie_labels`), read-only."""
    return MappingProxyType(catalog.movie_labels(_data()))


@st.cache_resource(show_spinner=False)
def quick_movies():
    """The quick-rate movies' table, shared: read only (pages/parts/rate.py)."""
    return catalog.quick_movies(_data())


# -- models ---------------------------------------------------------------------------------------------------
@st.cache_resource(max_entries=8, show_spinner=False)
def _models(signature: tuple, fingerprint: str) -> tuple[catalog.ModelInfo, ...]:
    return tuple(catalog.list_models(fingerprint))


def models() -> tuple[catalog.ModelInfo, ...]:
    """Every stored model (reloaded when a model file changes)."""
    return _models(catalog.store_signature(), data_info()["fingerprint"])


def usable_models() -> list[str]:
    return [m.name for m in models() if m.ok and m.all_movies]


@st.cache_resource(max_entries=4, show_spinner="Loading the model and the item correlations …")
def _recommender(name: str, signature: tuple, fingerprint: str):
    return catalog.load_recommender(name, _data())


def model_name() -> str | None:
    return st.session_state.get("model_name")


def recommender():
    """``(recommender, None)`` for the session's model, or ``(None, error text)``."""
    name = model_name()
    if name is None:
        return None, ("no usable all-movies model in the models folder; train one on the Train page or with "
                      "`python -m gnnrec train --task all`")
    try:
        return _recommender(name, catalog.model_signature(name), data_info()["fingerprint"]), None
    except (store.StoreError, ValueError) as e:
        return None, f"model {name!r} cannot be used: {e}"


def model_key() -> tuple:
    name = model_name()
    return name, catalog.model_signature(name) if name else None


@st.cache_resource(show_spinner="Computing item correlations …")
def _correlations(fingerprint: str):
    return nb_mod.correlations(_data())


def correlations():
    """The active model's k-NN correlations, else ones computed from the data (no model needed)."""
    rec, _ = recommender()
    if rec is not None:
        return ("model",) + model_key(), rec.knn.corr
    fp = data_info()["fingerprint"]
    return ("data", fp), _correlations(fp)


def graph(kind: str):
    """``(cache key, (N, N) graph)`` for the Neighbourhood page: the correlations (:func:`correlations`),
    or with ``kind="co-rating"`` the ranking GNN's shift (scipy CSR); ``(None, why not)`` without one."""
    if kind == "correlation":
        return correlations()
    rec, error = recommender()
    if rec is None or rec.ranker is None:
        return None, error or f"no ranking GNN is loaded ({rec.ranker_error})"
    return ("ranking", id(rec.ranker)) + model_key(), rec.ranker.shift


# -- lists and tables -----------------------------------------------------------------------------------------
@st.cache_resource(max_entries=64, show_spinner=False)
def recommendations(key: tuple, ratings: tuple, top: int, min_raters: int, _rec, knn: str = "baseline",
                    hidden: tuple = ()):
    """:func:`gnnrec.app.insights.recommend`, shared by every session asking for the same lists:
    read only (the lists, the Compare page's disagreements), never changed."""
    return insights.recommend(_rec, dict(ratings), top, min_raters, knn, hidden)


@st.cache_data(max_entries=256, show_spinner=False)
def explanation(key: tuple, ratings: tuple, movie: int, model: str, _rec, knn: str = "baseline"):
    return insights.why(_rec, dict(ratings), movie, model, knn)


@st.cache_data(max_entries=256, show_spinner=False)
def listing(key: tuple, ratings: tuple, movie: int, min_raters: int, hidden: tuple, _rec):
    return listing_mod.why_listed(_rec, dict(ratings), movie, min_raters, hidden)


@st.cache_data(max_entries=256, show_spinner=False)
def prediction(key: tuple, ratings: tuple, movie: int, _rec, knn: str = "baseline"):
    return insights.predict_movie(_rec, dict(ratings), movie, knn)


@st.cache_data(max_entries=64, show_spinner=False)
def disagreements(key: tuple, ratings: tuple, top: int, min_raters: int, n: int, _rec, knn: str = "baseline"):
    return insights.disagreements(_rec, recommendations(key, ratings, top, min_raters, _rec, knn), n, min_raters)


@st.cache_data(max_entries=64, show_spinner="Drawing the neighbourhood …")
def neighbourhood(key: tuple, movie: int, k: int, hops: int, min_common: int, ratings: tuple, _corr,
                  kind: str = "correlation"):
    from gnnrec.app import graph_view

    nb = nb_mod.neighbourhood(_corr, _data(), movie, k, hops, dict(ratings), min_common, kind)
    return nb, graph_view.neighbourhood_html(nb)


@st.cache_data(max_entries=32, show_spinner=False)
def saved_result(path: str, mtime_ns: int) -> dict:
    return results.load_result(path, _data())


@st.cache_data(max_entries=4, show_spinner="Reading the saved top-N results …")
def saved_topn(files: tuple) -> tuple[dict, list[str]]:
    """The top-N results among ``files`` (``(path, mtime_ns)`` pairs), by path, as arrays
    (:func:`gnnrec.app.topn_results.prepare`), and why any file was skipped."""
    good, skipped = {}, []
    for path, mtime_ns in files:
        try:
            res = saved_result(path, mtime_ns)
        except results.ResultError as e:
            skipped.append(str(e))
            continue
        if res.get("task") == "topn":
            good[path] = res
    return good, skipped
