"""The session's ratings (and model) in every page's URL: ``?r=MOVIE:RATING,...&model=NAME``.

:func:`init` reads them once per session (a share link, a reload, a restarted server);
:func:`sync` writes them on every run of every page, so the address bar is always a link that
brings the session back. More ratings than a link holds (``MAX_LINK_RATINGS``) leave ``r`` out:
:func:`sync` then warns once, when it happens, and the sidebar offers the CSV export.
"""

from __future__ import annotations

import streamlit as st

from gnnrec.app import catalog, ratings_io

from .cache import model_name
from .my_ratings import ratings
from .text import flash


def fits() -> bool:
    """Whether the ratings fit in a link."""
    return len(ratings()) <= ratings_io.MAX_LINK_RATINGS


def init() -> None:
    """Once per session: ratings (and model) from the URL; problems flashed to the page.

    Called before app.py draws anything: a click on another page while this first run is still
    loading (a cold server) is applied at the next element drawn, after the link has been read."""
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


def _model_param() -> str | None:
    name = model_name()
    return name if name and name != catalog.DEFAULT_MODEL else None


def sync() -> None:
    """Write the ratings and the model into this page's URL (only what changed), and warn once
    when the ratings stop fitting in it."""
    qp, r = st.query_params, ratings()
    wanted = {"r": ratings_io.encode_share(r) if r and fits() else None, "model": _model_param()}
    for key, value in wanted.items():
        if value is None:
            if key in qp:
                del qp[key]
        elif qp.get_all(key) != [value]:
            qp[key] = value
    was = st.session_state.get("_link_fits", True)
    st.session_state["_link_fits"] = fits()
    if was and not fits():
        flash("warning", f"You have {len(r)} ratings, more than a link holds ({ratings_io.MAX_LINK_RATINGS}): "
                         "this page's address no longer carries them, so a reload or a server restart would lose "
                         "them. Keep them with 'Export CSV' (in the sidebar) and import the file later.")


def share_url() -> str | None:
    """The link that brings these ratings (and model) back, or None if there are none or too many."""
    r = ratings()
    if not r or not fits():
        return None
    name = _model_param()
    return f"{st.context.url or ''}?r={ratings_io.encode_share(r)}" + (f"&model={name}" if name else "")
