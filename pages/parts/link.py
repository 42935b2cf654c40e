"""The session's ratings (and model) in every page's URL: ``?r=MOVIE:RATING,...&model=NAME``
(and, while the session's own job runs, ``&job=TOKEN``, so that a reload keeps it: :mod:`.heavy`).

:func:`init` reads them once per session (a share link, a reload, a restarted server);
:func:`sync` writes them on every run of every page, so the address bar is always a link that
brings the session back. More ratings than a link holds (``MAX_LINK_RATINGS``) leave ``r`` out:
:func:`sync` then warns once, when it happens, and the sidebar offers the CSV export.
"""

from __future__ import annotations

import urllib.parse

import streamlit as st

from gnnrec.app import catalog, ratings_io

from .cache import model_name
from .first import first_query as _first_query
from .first import forget
from .heavy import adopt, token
from .my_ratings import ratings
from .text import flash


def fits() -> bool:
    """Whether the ratings fit in a link."""
    return len(ratings()) <= ratings_io.MAX_LINK_RATINGS


def init() -> None:
    """Once per session: ratings (and model) from the URL of the session's first run; problems
    flashed to the page.

    On a cold server the first run spends seconds importing and loading; a click on another page
    meanwhile restarts it at its first session-state access, with the new page's URL (no ``r``).
    So the first run's query string is kept aside (by session id) before any such access, and the
    session state is written last and whole, so that a run cut short anywhere is simply redone."""
    sid, query = _first_query()
    ss = st.session_state
    if not ss.get("_init_done"):
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        adopt((params.pop("job", None) or [None])[-1])
        try:
            got, model, problems = ratings_io.read_query(params)
        except Exception:  # noqa: BLE001  never fail on a URL
            got, model, problems = {}, None, ["the link could not be read; it was ignored"]
        messages = [("info", f"Loaded {len(got)} rating(s) from the link.")] if got else []
        ss["ratings"] = got or ss.get("ratings", {})
        if model is not None:
            ss["_link_model"] = model
        ss["flash"] = messages + [("warning", p) for p in problems]
        ss["_init_done"] = True
    forget(sid)


def _model_param() -> str | None:
    name = model_name()
    return name if name and name != catalog.DEFAULT_MODEL else None


def sync() -> None:
    """Write the ratings and the model into this page's URL (only what changed), and warn once
    when the ratings stop fitting in it."""
    qp, r = st.query_params, ratings()
    wanted = {"r": ratings_io.encode_share(r) if r and fits() else None, "model": _model_param(), "job": token()}
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
