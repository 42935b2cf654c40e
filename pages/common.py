"""Shared by the app's pages: Streamlit caches around the gnnrec modules the pages call
(:mod:`gnnrec.app.catalog`, :mod:`gnnrec.app.insights`, :mod:`gnnrec.app.neighbourhood`, ...), the session's
ratings (and the callbacks that change them), and the sidebar. Not a page itself.

Caching: ``st.cache_data`` for the data, the model list, recommendations, explanations,
neighbourhoods and saved results (copies: nothing cached is ever mutated);
``st.cache_resource`` for the recommender of a model, keyed by its name and file signature, so a
changed file is reloaded and one session's choice never changes another's.
"""

from __future__ import annotations

import gc
import re
import uuid

import streamlit as st

from gnnrec import data as data_mod
from gnnrec import store
from gnnrec.app import catalog, insights, jobs, live, ratings_io, results
from gnnrec.app import neighbourhood as nb_mod

DEFAULT_TARGET = 50  # Star Wars (1977)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def plain(text) -> str:
    """Text (file names, link values, error messages) shown literally in a Markdown element."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def alert(level: str, text) -> None:
    """``st.error``/``warning``/``info``/``success`` of plain text (never read as Markdown)."""
    getattr(st, level)(plain(text))


def guard() -> None:
    """Call first in every page. With a folder named ``pages/`` beside app.py, Streamlit runs a
    requested page file on its own (the legacy multipage mode) until ``st.navigation`` has run
    once in the process: a fresh server's first visit to a deep link, and every AppTest rerun.
    Switch that mode off and rerun, so that app.py (sidebar, session set-up) always runs."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without it has no legacy mode to leave
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


# -- cached data and models -------------------------------------------------------------------------------
@st.cache_data(show_spinner="Loading MovieLens-100K (downloaded once, then cached) …")
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


@st.cache_data(show_spinner=False)
def data_info() -> dict:
    return catalog.data_status(_data())


@st.cache_data(show_spinner=False)
def labels() -> dict[int, str]:
    return catalog.movie_labels(_data())


@st.cache_data(show_spinner=False)
def _models(signature: tuple, fingerprint: str) -> list[catalog.ModelInfo]:
    return catalog.list_models(fingerprint)


def models() -> list[catalog.ModelInfo]:
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
        return None, ("no usable all-movies model in the store "
                      f"({store.models_dir()}); train one on the Train page or with "
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


# -- cached results -------------------------------------------------------------------------------------
@st.cache_data(max_entries=64, show_spinner=False)
def recommendations(key: tuple, ratings: tuple, top: int, min_raters: int, _rec):
    return insights.recommend(_rec, dict(ratings), top, min_raters)


@st.cache_data(max_entries=256, show_spinner=False)
def explanation(key: tuple, ratings: tuple, movie: int, model: str, _rec):
    return insights.explain(_rec, dict(ratings), movie, model)


@st.cache_data(max_entries=256, show_spinner=False)
def prediction(key: tuple, ratings: tuple, movie: int, _rec):
    return insights.predict_movie(_rec, dict(ratings), movie)


@st.cache_data(max_entries=64, show_spinner=False)
def disagreements(key: tuple, ratings: tuple, top: int, min_raters: int, n: int, _rec):
    return insights.disagreements(_rec, recommendations(key, ratings, top, min_raters, _rec), n)


@st.cache_data(max_entries=64, show_spinner="Drawing the neighbourhood …")
def neighbourhood(key: tuple, movie: int, k: int, hops: int, min_common: int, ratings: tuple, _corr):
    from gnnrec.app import viz

    nb = nb_mod.neighbourhood(_corr, _data(), movie, k, hops, dict(ratings), min_common)
    return nb, viz.neighbourhood_html(nb)


@st.cache_data(max_entries=32, show_spinner=False)
def saved_result(path: str, mtime_ns: int) -> dict:
    return results.load_result(path, _data())


# -- the session's ratings -------------------------------------------------------------------------------
def ratings() -> dict[int, float]:
    return st.session_state.setdefault("ratings", {})


def rkey() -> tuple:
    return ratings_io.ratings_key(ratings())


def flash(level: str, text: str) -> None:
    """A message shown once, at the top of the next page run (callbacks cannot draw)."""
    st.session_state.setdefault("flash", []).append((level, text))


def show_flash() -> None:
    for level, text in st.session_state.pop("flash", []):
        alert(level, text)


def _set_ratings(new: dict, message: str | None = None) -> None:
    old = ratings()
    if new != old:
        st.session_state["ratings_undo"] = dict(old)
    st.session_state["ratings"] = dict(new)
    if message:
        flash("success", message)


def stars_key() -> str:
    """The stars widget's key: a new one after each rating, so the widget starts empty again."""
    return f"rate_stars_{st.session_state.get('rate_round', 0)}"


def on_rate() -> None:
    """Stars clicked: rate the movie in the search box."""
    ss = st.session_state
    movie, value = ss.get("rate_movie"), ss.get(stars_key())
    if value is None:
        return
    ss["rate_round"] = ss.get("rate_round", 0) + 1
    if movie is None:
        flash("warning", "Pick a movie in the search box first, then click the stars.")
        return
    new = dict(ratings())
    new[int(movie)] = int(value) + 1  # st.feedback stars: 0..4
    ss["ratings"] = new
    ss["rate_movie"] = None


def on_remove() -> None:
    picked = st.session_state.get("remove_sel") or []
    if picked:
        _set_ratings({m: r for m, r in ratings().items() if m not in set(picked)},
                     f"Removed {len(picked)} rating(s). 'Undo' brings them back.")
    st.session_state["remove_sel"] = []


def on_clear() -> None:
    if ratings():
        _set_ratings({}, "Cleared your ratings. 'Undo' brings them back.")


def on_undo() -> None:
    prev = st.session_state.pop("ratings_undo", None)
    if prev is not None:
        st.session_state["ratings_undo"] = dict(ratings())
        st.session_state["ratings"] = prev
        flash("info", f"Restored your previous {len(prev)} rating(s).")


def on_load_user() -> None:
    user = st.session_state.get("ml_user")
    try:
        new = ratings_io.user_ratings(_data(), user)
    except (ValueError, data_mod.DataError) as e:
        flash("error", str(e))
        return
    _set_ratings(new, f"Loaded MovieLens user {user}'s {len(new)} ratings (your previous ones: 'Undo').")


def on_import() -> None:
    up = st.session_state.get("import_csv")
    if up is None:
        return
    try:
        raw = up.read(ratings_io.MAX_IMPORT_BYTES + 1)
        new = ratings_io.parse_ratings_csv(raw)
    except ratings_io.RatingsError as e:
        flash("error", f"Import of {up.name!r} failed, your ratings are unchanged: {e}")
        return
    except Exception as e:  # noqa: BLE001  an unreadable upload: say so, keep the ratings
        flash("error", f"Import of {up.name!r} failed ({type(e).__name__}); your ratings are unchanged.")
        return
    if st.session_state.get("import_mode", "Merge") == "Replace":
        merged = new
    else:
        merged = {**ratings(), **new}
    _set_ratings(merged, f"Imported {len(new)} rating(s) from {up.name!r}; you now have {len(merged)}.")


def owner() -> str:
    """This session's id for the one-heavy-job lock (so its messages can say 'you')."""
    return st.session_state.setdefault("_owner", uuid.uuid4().hex)


def on_run_evaluation() -> None:
    """Compare page's Run button: start a live evaluation of the chosen target."""
    ss = st.session_state
    try:
        ss["eval_job"] = live.start_evaluation(_data(), int(ss["cmp_target"]), int(ss["cmp_splits"]),
                                                  ss["cmp_preset"], owner=owner())
    except (ValueError, jobs.Busy, data_mod.DataError) as e:
        ss["cmp_error"] = f"Not started: {e}"


def sync_link() -> str | None:
    """Write the ratings into the URL (``?r=...``); return the share link, or None if too many."""
    r = ratings()
    qp = st.query_params
    if not r or len(r) > ratings_io.MAX_LINK_RATINGS:
        if "r" in qp:
            del qp["r"]
        return None
    enc = ratings_io.encode_share(r)
    if qp.get("r") != enc:
        qp["r"] = enc
    name = model_name()
    base = st.context.url or ""
    extra = f"&model={name}" if name and name != catalog.DEFAULT_MODEL else ""
    return f"{base}?r={enc}{extra}"


# -- session start and sidebar ------------------------------------------------------------------------------
def freeze_heap() -> None:
    """Once per process, on the first run: every object alive now (the imported modules, the
    data) leaves the cyclic garbage collector's reach (``gc.freeze()``). Streamlit runs a full
    ``gc.collect(2)`` after every script run (``runner.postScriptGC``, kept for its memory
    hygiene); walking the ~300,000 objects of torch, pandas and Streamlit took ~100 ms with the
    GIL held, 55% of the server's time under load (py-spy). Frozen objects are still freed by
    reference counting; only reference cycles among them are never collected."""
    if gc.get_freeze_count() == 0:
        import plotly.graph_objects  # noqa: F401  imported lazily by the pages: frozen with the rest
        import pyvis.network  # noqa: F401

        gc.collect()
        gc.freeze()


def init() -> None:
    """Once per session: ratings (and model) from a share link; problems noted for the page."""
    ss = st.session_state
    if ss.get("_init_done"):
        return
    ss["_init_done"] = True
    ss.setdefault("ratings", {})
    try:
        params = {k: st.query_params.get_all(k) for k in st.query_params.keys()}
    except Exception:  # noqa: BLE001  never fail on a URL
        params = {}
    got, model, problems = ratings_io.read_query(params)
    if got:
        ss["ratings"] = got
        flash("info", f"Loaded {len(got)} rating(s) from the link.")
    if model is not None:
        ss["_link_model"] = model
    for p in problems:
        flash("warning", p)


def sidebar() -> None:
    """Model choice and data status, on every page."""
    ss = st.session_state
    with st.sidebar:
        d = data()
        if d is None:
            return
        info = data_info()
        all_models = models()
        usable = [m.name for m in all_models if m.ok and m.all_movies]
        wanted = ss.pop("_link_model", None)
        if wanted is not None:
            if wanted in usable:
                ss["model_name"] = wanted
            else:
                flash("warning", f"The link asks for model {wanted!r}, which is not a usable model here; "
                                 f"using {ss.get('model_name') or catalog.default_model(all_models)!r} instead.")
        if ss.get("model_name") not in usable:
            gone, ss["model_name"] = ss.get("model_name"), catalog.default_model(all_models)
            if gone is not None:
                flash("warning", f"Model {gone!r} is no longer usable (see the sidebar); now using "
                                 f"{ss['model_name']!r}.")
        by_name = {m.name: m for m in all_models}
        if usable:
            st.selectbox("Active model", usable, key="model_name",
                         help="The all-movies GNN used for recommendations. Train new ones on the Train page.")
            m = by_name[ss["model_name"]]
            st.caption(m.describe())
        broken = [m for m in all_models if not m.ok]
        for m in broken:
            alert("error", m.error)
        if not usable:
            st.error("No usable all-movies model: recommendations need one. Train one on the Train page.")
        st.divider()
        st.caption(f"**Data:** MovieLens-100K ({info['source']}), {info['ratings']:,} ratings, "
                   f"{info['users']} users, {info['movies']:,} movies · fingerprint `{info['fingerprint']}`")
        st.caption(f"**You:** {len(ratings())} rated movie(s)")
