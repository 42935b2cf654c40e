"""Recommend: rate movies, see the GNN's and the k-NN's top lists side by side, and why."""

import streamlit as st

from gnnrec.app import insights, ratings_io
from pages.parts import cache, link, my_ratings, session, text

session.guard()

st.title("Recommendations")
st.caption("Rate a few movies; a graph neural network and an item k-NN, both on the MovieLens-100K "
           "item-correlation graph, each recommend what you have not seen.")
text.show_flash()
data = cache.require_data()
labels = cache.labels()

# -- rate ---------------------------------------------------------------------------------------------
left, right = st.columns([3, 2], gap="large")
with left:
    st.selectbox("Find a movie", list(labels), index=None, format_func=labels.get, key="rate_movie",
                 placeholder="Type part of a title, e.g. Star Wars …")
    st.caption("…then click the stars to rate it; pick the next movie to rate more.")
    st.feedback("stars", key=my_ratings.stars_key(), on_change=my_ratings.on_rate)
with right:
    st.number_input("MovieLens user id", min_value=1, max_value=ratings_io.N_USERS, value=1, step=1, key="ml_user")
    st.button("Start from this MovieLens user", key="load_user", on_click=my_ratings.on_load_user,
              help="Replaces your ratings by a real user's ('Undo' brings yours back).")

ratings = my_ratings.ratings()
share = link.share_url()
with st.expander(f"Your ratings ({len(ratings)})", expanded=bool(ratings) and len(ratings) <= 12):
    if ratings:
        st.dataframe(ratings_io.ratings_table(data, ratings), hide_index=True, key="ratings_table",
                     column_config={"movie": st.column_config.NumberColumn("id", format="%d", width="small"),
                                    "year": st.column_config.NumberColumn(format="%d", width="small")})
    c1, c2, c3, c4 = st.columns([4, 1, 1, 1], vertical_alignment="bottom")
    c1.multiselect("Remove ratings", list(ratings), format_func=labels.get, key="remove_sel",
                   placeholder="Pick ratings to remove")
    c2.button("Remove", key="remove_btn", on_click=my_ratings.on_remove, disabled=not ratings)
    c3.button("Clear all", key="clear_ratings", on_click=my_ratings.on_clear, disabled=not ratings)
    c4.button("Undo", key="undo_ratings", on_click=my_ratings.on_undo, disabled="ratings_undo" not in st.session_state,
              help="Undo the last remove, clear, import or load.")
with st.expander("Export, import, share"):
    a, b = st.columns([1, 2], gap="large")
    with a:
        my_ratings.export_button(data, "export_csv")
    a.radio("On import", ["Merge", "Replace"], key="import_mode", horizontal=True,
            help="Merge: the file's ratings are added to yours (its value wins for a movie in both).")
    b.file_uploader("Import a CSV with columns movie,rating (as exported)", type=["csv"], key="import_csv",
                    on_change=my_ratings.on_import)
    if share:
        st.caption("Share these ratings with this link (it is also this page's address):")
        st.code(share, language=None, wrap_lines=True)
    elif ratings:
        st.caption(f"Over {ratings_io.MAX_LINK_RATINGS} ratings do not fit a link; share an exported CSV.")

if not ratings:
    st.info("Rate at least one movie (or start from a MovieLens user) to get recommendations.")
    st.stop()

rec, error = cache.recommender()
if rec is None:
    text.alert("error", error)
    st.stop()

# -- recommendations -------------------------------------------------------------------------------------
c1, c2 = st.columns(2)
top = c1.slider("How many recommendations", 5, 30, 10, key="top_n")
min_raters = c2.slider("Only movies with at least this many MovieLens ratings", 0, 200, 20, step=5, key="min_raters",
                       help="Rarely rated movies get extreme predictions from few opinions.")
key, rk = cache.model_key(), my_ratings.rkey()
try:
    res = cache.recommendations(key, rk, top, min_raters, rec)
except ValueError as e:
    text.alert("error", e)
    st.stop()
if res.top["gnn"].empty:  # every movie rated, or every one the raters filter leaves
    st.info("Nothing left to recommend: you have rated every movie" + (
        f" with at least {min_raters} MovieLens ratings; lower that filter to see the others."
        if len(res.predictions) else "."))
    st.stop()

columns = {"title": st.column_config.TextColumn(width="medium"),
           "predicted": st.column_config.ProgressColumn("predicted", min_value=1, max_value=5, format="%.2f ★",
                                                        width="small"),
           "both": st.column_config.CheckboxColumn("both", help="in both top lists", width=50),
           "year": st.column_config.NumberColumn(format="%d", width=50),
           "raters": st.column_config.NumberColumn(width=55, help="ratings in MovieLens"),
           "fallback": st.column_config.CheckboxColumn("mean only", width=70, help="the model could not use any "
                                                       "of your ratings here and gave the movie's mean rating")}
order = ["title", "predicted", "both", "year", "raters"]
g, k = st.columns(2, gap="large")
for col, model, title in ((g, "gnn", f"GNN · model `{cache.model_name()}`"), (k, "knn", "k-NN · item correlations")):
    table = insights.top_table(res, model)
    with col:
        st.subheader(title)
        st.dataframe(table, hide_index=True, column_config=columns, key=f"top_{model}",
                     column_order=order + (["fallback"] if table["fallback"].any() else []))
agree = int(res.top["gnn"]["agree"].sum())
st.caption(f"**both** (ticked): {agree} of the top {top} are in both lists, the movies the two models agree on.")

# -- why -------------------------------------------------------------------------------------------------
st.subheader("Why?")
choices = list(dict.fromkeys([*res.top["gnn"]["movie"], *res.top["knn"]["movie"]]))
movie = st.selectbox("Explain the prediction for", choices, format_func=labels.get, key="explain_movie")
g, k = st.columns(2, gap="large")
for col, model in ((g, "gnn"), (k, "knn")):
    table, note = cache.explanation(key, rk, int(movie), model, rec)
    with col:
        st.caption(text.plain(note))  # the note names movie titles: shown literally
        st.dataframe(table.head(10), hide_index=True, key=f"why_{model}",
                     column_config={"movie": None, "effect": st.column_config.NumberColumn(format="%+.2f"),
                                    "weight": st.column_config.NumberColumn(format="%.2f"),
                                    "your_rating": st.column_config.NumberColumn("your rating", format="%g ★")})

# -- one movie ------------------------------------------------------------------------------------------
st.subheader("Predict one movie")
target = st.selectbox("Movie", list(labels), index=None, format_func=labels.get, key="target_movie",
                      placeholder="Type a title to see both models' predicted rating …")
if target is not None:
    p = cache.prediction(key, rk, int(target), rec)
    c1, c2, c3, c4 = st.columns(4)
    for col, name, label in ((c1, "gnn", "GNN predicts"), (c2, "knn", "k-NN predicts")):
        col.metric(label, f"{p[name]:.2f} ★", delta="mean only" if p[f"{name}_fallback"] else None, delta_color="off")
    c3.metric("MovieLens mean", f"{p['mean']:.2f} ★", help=f"{p['raters']} ratings")
    c4.metric("You rated it", f"{p['rated']:g} ★" if p["rated"] is not None else "—")
    if p["rated"] is not None:
        st.caption("You rated this movie, so both predictions use your other ratings only.")
    if p["gnn_fallback"] or p["knn_fallback"]:
        st.caption("A model marked 'mean only' could not reach this movie from your ratings on the graph.")
