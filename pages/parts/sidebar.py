"""The sidebar of every page: the active model (and unusable ones, with why), the data's status,
the session's ratings (with the export when they no longer fit in a link), the running job."""

from __future__ import annotations

import streamlit as st

from gnnrec.app import catalog, ratings_io
from gnnrec.app.glossary import term

from . import cache, heavy, link
from .my_ratings import export_button, ratings
from .text import alert, flash


def _choose_model(all_models: list) -> list[str]:
    """Settle the session's model (the link's wish, a model gone since): the usable names."""
    ss = st.session_state
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
    return usable


def show() -> None:
    """Model choice, data status and the ratings count, on every page."""
    with st.sidebar:
        info = cache.info()  # no copy of the data itself: the page reads that once
        if info is None:
            return
        all_models = cache.models()
        usable = _choose_model(all_models)
        if usable:
            st.selectbox("Active model", usable, key="model_name",
                         help="The all-movies GNN used for recommendations. Train new ones on the Train page.")
            st.caption(next(m for m in all_models if m.name == st.session_state["model_name"]).describe(),
                       help=" ".join(f"{w}: {term(t)}" for w, t in (("valid RMSE", "valid_rmse"), ("widths", "widths"),
                                                                     ("taps", "taps"), ("graph k", "k"))))
        for m in all_models:
            if not m.ok:
                alert("error", m.error)
        if not usable:
            st.error("No usable all-movies model: recommendations need one. Train one on the Train page.")
        st.divider()
        st.caption(f"**Data:** MovieLens-100K ({info['source']}), {info['ratings']:,} ratings, "
                   f"{info['users']} users, {info['movies']:,} movies · fingerprint `{info['fingerprint']}`",
                   help=f"fingerprint: {term('fingerprint')}")
        st.caption(f"**You:** {len(ratings())} rated movie(s)")
        heavy.status()
        if not link.fits():
            st.warning(f"Over {ratings_io.MAX_LINK_RATINGS} ratings do not fit in the page's link: export them "
                       "to keep them.")
            export_button(cache.require_data(), "sidebar_export", "Export CSV (keep your ratings)")
