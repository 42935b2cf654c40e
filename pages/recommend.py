"""Recommend: rate movies (a quick-rate grid to start, under the lists once there is a rating), both
models' top lists right under the rating controls, and why each movie is there."""

import streamlit as st

from gnnrec.app.glossary import HOW
from pages.parts import cache, lists, my_ratings, rate, session, text

session.guard()
if goto := st.session_state.pop("_goto", None):  # a row's "Explore its neighbourhood"
    st.switch_page(goto)

st.title("Recommendations")
st.caption("Rate movies you have seen: a graph neural network (GNN) and the classical item k-NN each recommend "
           "what you have not, from MovieLens-100K.")
text.show_flash()
rate.undo_offer()
data = cache.require_data()
labels = cache.labels()
ratings = my_ratings.ratings()

# -- rate ------------------------------------------------------------------------------------------------------
c1, c2 = st.columns([4.3, 1], vertical_alignment="bottom")
with c1:
    rate.search(labels)
with c2:
    top, min_raters, knn = lists.settings()
if not ratings:
    rate.quick_start(ratings)  # a first visit starts here; with a rating the lists come first (a phone's first screen)
rate.thin_hint(len(ratings))

# -- the lists and why -------------------------------------------------------------------------------------------
rec, error = cache.recommender() if ratings else (None, None)
if not ratings:
    st.info("Rate at least one movie (or start from a MovieLens user below) to get recommendations.")
elif rec is None:
    text.alert("error", error)
else:
    key, rk = cache.model_key(), my_ratings.rkey()
    hidden = tuple(st.session_state.get("hidden", []))
    try:
        res = cache.recommendations(key, rk, top, min_raters, rec, knn, hidden)
    except ValueError as e:
        text.alert("error", e)
        st.stop()
    if res.top["gnn"].empty:  # every movie rated, or every one the raters filter leaves
        st.info("Nothing left to recommend: you have rated every movie" + (
            f" with at least {min_raters} MovieLens ratings; lower that filter (List settings) to see the others."
            if len(res.predictions) else "."))
    else:
        lists.top_lists(res, knn)
        lists.why(res, knn, key, rk, rec, (min_raters, hidden))

# -- more to rate, your ratings, other ways in, one movie -----------------------------------------------------------
if ratings:
    rate.quick_start(ratings)
st.divider()
rate.your_ratings(data, labels)
rate.more_ways(data, expanded=not ratings)
if rec is not None:
    lists.predict_one(labels, knn, rec)
with st.expander("How it works"):
    st.markdown(HOW["recommend"])
