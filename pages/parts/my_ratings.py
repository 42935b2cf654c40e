"""The session's ratings (``st.session_state["ratings"]``) and the callbacks that change them.

Callbacks run before the page, so a change is in every part of the next run (the URL included:
:mod:`.link`); what they have to say is flashed to that run. Remove, clear, import and loading a
MovieLens user keep the previous ratings for one 'Undo'.
"""

from __future__ import annotations

import functools

import streamlit as st

from gnnrec import data as data_mod
from gnnrec.app import ratings_io
from gnnrec.app.ratings_io import stars

from . import session
from .cache import _data, labels
from .text import flash


def ratings() -> dict[int, float]:
    return st.session_state.setdefault("ratings", {})


def rkey() -> tuple:
    """The ratings as a hashable cache key."""
    return ratings_io.ratings_key(ratings())


def _set_ratings(new: dict, message: str | None = None) -> None:
    old = ratings()
    if new != old:
        st.session_state["ratings_undo"] = dict(old)
    st.session_state["ratings"] = dict(new)
    st.session_state["_offer_undo"] = True  # the page shows an Undo button beside the message
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
    session.page_changed()  # the search box's fragment (rate.search) turns its run into the page's
    if movie is None:
        flash("warning", "Pick a movie in the search box first, then click the stars.")
        return
    rate(int(movie), int(value) + 1)  # st.feedback stars: 0..4
    ss["rate_movie"] = None


def rate(movie: int, value: float | None) -> None:
    """Rate one movie (``None``: remove its rating) and confirm it in a toast."""
    session.page_changed()  # from a fragment's stars (the quick-rate grid): the whole page reruns
    new = dict(ratings())
    if value is None:
        new.pop(int(movie), None)
    else:
        new[int(movie)] = float(value)
    st.session_state["ratings"] = new
    title = labels()[int(movie)].rsplit("  #", 1)[0]
    flash("toast", f"Rated {title} {stars(value)}: your lists are updated." if value is not None
          else f"Removed your rating of {title}.")


def on_stars(movie: int, key: str) -> None:
    """Stars of one movie clicked (the quick-rate grid, a recommended row): rate it."""
    value = st.session_state.get(key)
    rate(movie, None if value is None else int(value) + 1)


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


def export_button(data: data_mod.MovieLens, key: str, label: str = "Export CSV", **kwargs) -> None:
    """A one-click download of the ratings as CSV (what 'Import' reads back), written only when
    clicked (of the ratings as they are now)."""
    csv = functools.partial(ratings_io.ratings_to_csv, data, dict(ratings()))
    st.download_button(label, csv, file_name="gnnrec-ratings.csv",
                       mime="text/csv", key=key, disabled=not ratings(), on_click="ignore", **kwargs)
