"""The Recommend page's lists: their settings, the two top lists with row selection, and the "why"
panel of the selected movie with its actions (rate, hide, explore).

Each reads its widgets, calls one gnnrec function through :mod:`.cache` and shows the result.
"""

from __future__ import annotations

import streamlit as st

from gnnrec.app import insights, toplist
from gnnrec.app.glossary import term
from gnnrec.app.results import label

from . import cache, my_ratings
from .text import flash, plain


def settings() -> tuple[int, int, str]:
    """The list settings in a popover: ``(top, min_raters, knn kind)``; hidden movies can come back."""
    with st.popover("List settings", width="stretch"):
        top = st.slider("How many recommendations", 5, 30, 10, key="top_n", persist_state="session")
        min_raters = st.slider("Only movies with at least this many MovieLens ratings", 0, 200,
                               insights.DEFAULT_MIN_RATERS, step=5, key="min_raters", help=term("min_raters"),
                               persist_state="session")
        knn = st.radio("k-NN side", ["baseline", "plain"], key="knn_kind", horizontal=True, persist_state="session",
                       format_func=lambda k: label(insights.knn_name(k)),
                       help=f"{label('knn_baseline')}: {term('knn_baseline')} {label('knn')}: {term('knn')}")
        hidden = st.session_state.get("hidden", [])
        st.button(f"Show the {len(hidden)} hidden movie(s) again", key="unhide", disabled=not hidden,
                  on_click=lambda: st.session_state.update(hidden=[]))
    return top, min_raters, knn


# -- the lists -----------------------------------------------------------------------------------------------------
COLUMNS = {  # widths that fit half the page at 1400 px; on a phone the columns after 'predicted' scroll
    "title": st.column_config.TextColumn("title", width=150),
    "predicted": st.column_config.ProgressColumn("predicted", min_value=1, max_value=5, format="%.2f ★", width=82,
                                                 help=term("predicted")),
    "both": st.column_config.CheckboxColumn("both", help=term("both"), width=42),
    "raters": st.column_config.NumberColumn(width=50, help=term("raters")),
    "genre": st.column_config.TextColumn("genres", width=135),
    "fallback": st.column_config.CheckboxColumn("mean only", width=80, help=term("fallback")),
}
ORDER = ["title", "predicted", "both", "raters", "genre"]
WITH_FALLBACK = {  # with the 'mean only' column: one genre, so that every column fits half the page at 1400 px
    **COLUMNS,
    "genre1": st.column_config.TextColumn("genres", width=70, help="the first genre; +N: N more"),
    "fallback": st.column_config.CheckboxColumn("mean only", width=74, help=term("fallback")),
}


WHY_OPEN = "why_open"  # the key of the folded "Why this movie?" section (True: open)


def _ticked(key: str) -> list[int]:
    """The rows selected in list ``key``: a clicked cell's row first (the newest click: a selection is
    kept as a row, :func:`_on_select`, so a cell in the state is always new), else the ticked box."""
    selection = st.session_state.get(key, {}).get("selection", {})
    return [int(c[0]) for c in selection.get("cells", [])] or list(selection.get("rows", []))


def _tick(key: str, rows: list[int]) -> None:
    """List ``key`` shows ``rows`` as selected (none: no tick), and no cell."""
    st.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}


def _untick_moved(model: str, ids: list[int]) -> None:
    """Untick a list's row whose movie changed since it was ticked (a rating or a hide redrew the
    list): Streamlit's grid keeps a tick on a row number, which would now mark another movie than
    the one explained below."""
    ss, key = st.session_state, f"top_{model}"
    rows, old = _ticked(key), ss.get(f"_top_ids_{model}", [])
    if rows and (rows[0] >= min(len(ids), len(old)) or ids[rows[0]] != old[rows[0]]):
        _tick(key, [])


def _on_select(model: str) -> None:
    """A row of a top list selected (its box, or a click on its title or any other cell): select the
    row, open "Why this movie?" on that movie and bring the explanation into view."""
    ss = st.session_state
    key = f"top_{model}"
    rows = _ticked(key)
    ids = ss.get(f"_top_ids_{model}", [])
    if rows and rows[0] < len(ids):
        ss["explain_movie"] = ids[rows[0]]
        ss[WHY_OPEN] = True  # "Why this movie?" opens on it
        _tick(key, rows[:1])  # the row shows as selected
        ss["_why_scroll"] = ss.get("_why_scroll", 0) + 1


def top_lists(res, knn: str) -> None:
    """Both top lists side by side; selecting a row explains it below."""
    g, k = st.columns(2, gap="small")
    gnn_sub = f"model {cache.model_name()}" + (" · listed by the ranking GNN" if res.ranked_by == "ranking" else "")
    heads = ((g, "gnn", "GNN", gnn_sub, term("gnn_list" if res.ranked_by == "ranking" else "gnn")),
             (k, "knn", label(insights.knn_name(knn)), "all ratings",
              term(insights.knn_name(knn))))
    for col, model, title, sub, helptext in heads:
        table = toplist.top_arrow(res, model)  # top_table's data as st.dataframe sends it, without pandas
        ids = table.column("movie").to_pylist()
        _untick_moved(model, ids)
        st.session_state[f"_top_ids_{model}"] = ids
        with col:
            st.markdown(f"#### {title} <small style='color:#666;font-weight:400'>· {plain(sub)}</small>",
                        unsafe_allow_html=True, help=helptext)
            fallback = True in table.column("fallback").to_pylist()
            st.dataframe(table, hide_index=True, column_config=WITH_FALLBACK if fallback else COLUMNS,
                         key=f"top_{model}",
                         column_order=ORDER[:-1] + ["genre1", "fallback"] if fallback else ORDER,
                         on_select=lambda m=model: _on_select(m), selection_mode=["single-row", "single-cell"])
    if res.ranked_by != "ranking":
        st.caption(f"The GNN list is ranked by the rating GNN: the ranking GNN is not available ({plain(rec_note())}).")
    agree = int(res.top["gnn"]["agree"].sum())
    st.caption(f"**both** (ticked): {agree} of the top {len(res.top['gnn'])} are in both lists. "
               "Click a title to see why it is recommended. " + (
                   "The GNN list is ranked by the ranking GNN, trained to put first what a user goes on to watch; "
                   "its stars are the rating GNN's prediction. " if res.ranked_by == "ranking" else "") +
               "The k-NN list is ranked by its estimate before clipping to 1-5 stars.")


def rec_note() -> str:
    rec, _ = cache.recommender()
    return (getattr(rec, "ranker_error", None) or "not loaded")[:200]


# -- why -----------------------------------------------------------------------------------------------------------
def _why_column(w: insights.Why, name: str) -> None:
    st.markdown(f"**{plain(name)}** · {w.prediction:.2f} ★")
    st.markdown(plain(w.summary))
    if len(w.table):
        st.dataframe(insights.why_table(w), hide_index=True, key=f"why_{w.model}",
                     column_config={"title": st.column_config.TextColumn(width=170),
                                    "effect": st.column_config.TextColumn(w.effect_label, width=70 if w.additive
                                                                          else 130, help=term("effect")),
                                    "your rating": st.column_config.TextColumn("your rating", width=95),
                                    "weight": st.column_config.TextColumn(width=60, help=term("weight"))},
                     column_order=["title", "effect", "your rating"] + (["weight"] if w.additive else []))
        st.caption(plain(w.how))


def _listed_column(w) -> None:
    """Why the ranking GNN lists the movie: its rank, the ratings that lift it, through which links."""
    st.markdown(f"**GNN list** · #{w.rank} for you")
    st.markdown(plain(w.summary))
    if len(w.table):
        st.dataframe(w.table, hide_index=True, key="why_listed", column_order=["title", "your rating", "without it", "link"],
                     column_config={"title": st.column_config.TextColumn(width=150),
                                    "your rating": st.column_config.TextColumn(width=90),
                                    "without it": st.column_config.TextColumn(width=70, help=term("without_it")),
                                    "link": st.column_config.TextColumn(width=130, help=term("link"))})
        st.caption(plain(w.how))


def on_hide(movie: int) -> None:
    st.session_state["hidden"] = [*st.session_state.get("hidden", []), int(movie)]
    flash("toast", f"Hidden {cache.labels()[movie].rsplit('  #', 1)[0]} from your lists (List settings brings it back).")


def on_explore(movie: int) -> None:
    st.session_state["nb_focus"] = int(movie)  # the Neighbourhood page centres on it
    st.session_state["_goto"] = "pages/neighbourhood.py"


def why(res, knn: str, key: tuple, rk: tuple, rec, lk: tuple = (0, ())) -> None:
    """"Why this movie?", folded: the selected movie, its actions and both models' explanations,
    computed and drawn only while it is open (a click on a row opens it: :func:`_on_select`).
    Folded, a run after a rating costs no explanation (two models' and the listing's: over a third
    of the page's server time, docs/guarantees.md)."""
    choices = list(dict.fromkeys([*res.top["gnn"]["movie"], *res.top["knn"]["movie"]]))
    if st.session_state.get("explain_movie") not in choices:
        st.session_state["explain_movie"] = int(choices[0])
    with st.expander("**Why this movie?** Click a title in a list above, or open this", key=WHY_OPEN,
                     on_change="rerun") as box:
        if box.open:
            _why_open(res, knn, key, rk, rec, lk, choices)
    if scroll := st.session_state.pop("_why_scroll", 0):  # a row was just selected: show its explanation
        st.html(SCROLL.replace("N", str(scroll)), unsafe_allow_javascript=True)


def _why_open(res, knn: str, key: tuple, rk: tuple, rec, lk: tuple, choices: list) -> None:
    labels = cache.labels()
    c1, c2, c3, c4 = st.columns([2.6, 1.2, 0.9, 1.7], vertical_alignment="bottom")
    movie = int(c1.selectbox("Explain", choices, format_func=labels.get, key="explain_movie", persist_state="session",
                             help="Or click a title in a list above."))
    with c2:
        st.caption("Seen it? Rate it")
        skey = f"why_stars_{movie}"
        st.feedback("stars", key=skey, on_change=my_ratings.on_stars, args=(movie, skey))
    c3.button("Hide it", key="hide_movie", on_click=on_hide, args=(movie,),
              help="Leave it out of your lists for this visit.")
    c4.button("Explore its neighbourhood", key="explore_movie", on_click=on_explore, args=(movie,))
    g, k = st.columns(2, gap="large")
    for col, model, name in ((g, "gnn", "GNN"), (k, "knn", label(insights.knn_name(knn)))):
        if model == "gnn" and res.ranked_by == "ranking":  # why it is listed, then why its stars
            with col.container(key="why_listed_box"):
                _listed_column(cache.listing(key, rk, movie, *lk, rec))
        with col.container(key=f"why_{model}_box"):
            _why_column(cache.explanation(key, rk, movie, model, rec, knn), name)


SCROLL = """<script>/* selection N */ setTimeout(() => document.querySelector(".st-key-why_open")?.scrollIntoView(
  {block: "start"}), 150);</script>"""


# -- one movie -----------------------------------------------------------------------------------------------------
@st.fragment
def predict_one(labels: dict, knn: str, rec) -> None:
    """Both models' predicted rating of any movie (one you rated: from your other ratings). A
    fragment: opening it or picking a movie reruns it alone."""
    with st.expander("Predict any movie", key="predict_more", on_change="rerun") as more:
        if not more.open:  # its search box lists all 1,682 titles (~50 KB): drawn only when open
            return
        target = st.selectbox("Movie", list(labels), index=None, format_func=labels.get, key="target_movie",
                              placeholder="Type a title to see both models' predicted rating …")
        if target is None:
            return
        p = cache.prediction(cache.model_key(), my_ratings.rkey(), int(target), rec, knn)
        c1, c2, c3, c4 = st.columns(4)
        for col, name, what in ((c1, "gnn", "GNN predicts"), (c2, "knn", f"{label(insights.knn_name(knn))} predicts")):
            col.metric(what, f"{p[name]:.2f} ★", delta="your ratings do not reach it" if p[f"{name}_fallback"] else None,
                       delta_color="off", help=term("fallback") if p[f"{name}_fallback"] else None)
        c3.metric("MovieLens mean", f"{p['mean']:.2f} ★", help=f"the mean of its {p['raters']} ratings")
        c4.metric("You rated it", f"{p['rated']:g} ★" if p["rated"] is not None else "—")
        if p["rated"] is not None:
            st.caption("You rated this movie, so both predictions use your other ratings only.")
