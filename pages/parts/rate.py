"""The Recommend page's rating parts: search and stars, the quick-rate grid for a first visit, the
hint while the lists are thin, your ratings (remove, clear, undo), and the other ways in
(a MovieLens user, CSV import and export, the share link).
"""

from __future__ import annotations

import streamlit as st

from gnnrec.app import ratings_io

from . import cache, link, my_ratings, session
from .text import plain

THIN = 5  # with fewer ratings than this the lists are said to be thin, and the quick-rate grid stays open


@st.fragment
def search(labels: dict) -> None:
    """Find a movie, then click the stars. A fragment: picking a movie reruns these two widgets
    alone (a whole page run was a third of a rating's server time under load, bench/load.py);
    the stars' rating then reruns the whole page, which shows it everywhere."""
    session.follow_page()  # the stars were clicked (my_ratings.on_rate ran): every part of the page changes
    c1, c2 = st.columns([3, 1.3], vertical_alignment="bottom")
    c1.selectbox("Find a movie", list(labels), index=None, format_func=labels.get, key="rate_movie",
                 placeholder="Type part of a title, e.g. Star Wars …")
    with c2:
        st.caption("…then rate it")
        st.feedback("stars", key=my_ratings.stars_key(), on_change=my_ratings.on_rate)


def quick_grid(ratings: dict) -> None:
    """Well-known movies of many kinds with inline stars: a newcomer's first ratings, one click each."""
    movies, ss = cache.quick_movies(), st.session_state
    cols = st.columns(4, gap="small")
    for i, row in enumerate(movies.itertuples(index=False)):
        key = f"quick_{row.movie}"
        rated = ratings.get(int(row.movie))
        shown = None if rated is None else int(round(rated)) - 1  # the stars show your rating
        if ss.get(key) != shown:  # written only when it differs (a write is a widget's value set: ~0.4 ms a grid)
            ss[key] = shown
        with cols[i % 4].container(border=True, key=f"quick_card_{row.movie}"):
            st.markdown(plain(row.title))  # bold by the app's style (pages/parts/style.py)
            st.caption(f"{row.year} · {plain(row.genres)}")
            st.feedback("stars", key=key, on_change=my_ratings.on_stars, args=(int(row.movie), key))


def quick_start(ratings: dict) -> None:
    """The quick-rate grid: open while the lists are thin, folded away after (the page puts it
    under the lists once there is a rating)."""
    if len(ratings) < THIN:
        st.markdown("**Quick start:** click the stars of a few movies you have seen (or search above)." if not ratings
                    else "**Rate a few more:** click the stars of movies you have seen.")
        quick_grid(ratings)
    else:
        _folded_grid()


@st.fragment
def _folded_grid() -> None:
    """The grid folded away, its cards drawn only once opened (opening reruns this fragment alone):
    12 cards are 53 of the page's ~150 elements, ~18 ms of server CPU a run. A card's stars rerun
    the whole page (:func:`.session.follow_page`)."""
    session.follow_page()
    with st.expander("Quick start: well-known movies to rate", key="quick_more", on_change="rerun") as more:
        if more.open:
            quick_grid(my_ratings.ratings())


def thin_hint(n: int) -> None:
    if 0 < n < THIN:
        more = THIN - n
        st.caption(f"**{n} rating{'s' * (n != 1)} so far: the lists are still thin.** Rate {more} more "
                   f"movie{'s' * (more != 1)} you know (search above, or the quick-start movies under the lists) "
                   "and they will fit you better.")


def undo_offer() -> None:
    """After a remove, clear, import or load: Undo right beside the message (once)."""
    if st.session_state.pop("_offer_undo", False) and "ratings_undo" in st.session_state:
        st.button("Undo", key="undo_flash", on_click=my_ratings.on_undo,
                  help="Bring back your ratings as they were before.")


def your_ratings(data, labels: dict) -> None:
    """Your ratings, folded: the table, remove, clear, undo, drawn only while open (a tracked
    expander: the count in its label changes with every rating, which makes it a new widget each
    time, so whether it is open is kept in ``_ratings_open`` and given as its default)."""
    ratings, ss = my_ratings.ratings(), st.session_state
    with st.expander(f"Your ratings ({len(ratings)})", key="ratings_open", expanded=ss.get("_ratings_open", False),
                     on_change="rerun") as box:
        ss["_ratings_open"] = box.open
        if not box.open:
            return
        if ratings:
            st.dataframe(ratings_io.ratings_table(data, ratings), hide_index=True, key="ratings_table",
                         column_config={"movie": st.column_config.NumberColumn("id", format="%d", width="small"),
                                        "title": st.column_config.TextColumn(width="medium", pinned=True),
                                        "year": st.column_config.NumberColumn(format="%d", width="small")})
        c1, c2, c3, c4 = st.columns([4, 1, 1, 1], vertical_alignment="bottom")
        c1.multiselect("Remove ratings", list(ratings), format_func=labels.get, key="remove_sel",
                       placeholder="Pick ratings to remove")
        c2.button("Remove", key="remove_btn", on_click=my_ratings.on_remove, disabled=not ratings)
        c3.button("Clear all", key="clear_ratings", on_click=my_ratings.on_clear, disabled=not ratings)
        c4.button("Undo", key="undo_ratings", on_click=my_ratings.on_undo,
                  disabled="ratings_undo" not in st.session_state, help="Undo the last remove, clear, import or load.")


def more_ways(data, expanded: bool = False) -> None:
    """A MovieLens user's ratings, CSV export and import, the share link; drawn only while open
    (open on a first visit, folded once there are ratings)."""
    ratings = my_ratings.ratings()
    with st.expander("More ways to rate: a MovieLens user, import, export, share", expanded=expanded,
                     key="more_ways", on_change="rerun") as box:
        if not box.open:
            return
        a, b = st.columns([1, 2], gap="large", vertical_alignment="bottom")
        a.number_input("MovieLens user id", min_value=1, max_value=ratings_io.N_USERS, value=1, step=1, key="ml_user")
        b.button("Start from this MovieLens user", key="load_user", on_click=my_ratings.on_load_user,
                 help="Replaces your ratings by a real user's ('Undo' brings yours back).")
        a, b = st.columns([1, 2], gap="large")
        with a:
            my_ratings.export_button(data, "export_csv")
        a.radio("On import", ["Merge", "Replace"], key="import_mode", horizontal=True,
                help="Merge: the file's ratings are added to yours (its value wins for a movie in both).")
        b.file_uploader("Import a CSV with columns movie,rating (as exported)", type=["csv"], key="import_csv",
                        on_change=my_ratings.on_import)
        share = link.share_url()
        if share:
            st.caption("Share these ratings with this link (it is also this page's address):")
            st.code(share, language=None, wrap_lines=True)
        elif ratings:
            st.caption(f"Over {ratings_io.MAX_LINK_RATINGS} ratings do not fit a link; share an exported CSV.")
