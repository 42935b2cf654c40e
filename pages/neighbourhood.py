"""Neighbourhood: a movie's correlation neighbourhood as an interactive graph, and as a table."""

import streamlit as st

from gnnrec.app import neighbourhood as nb_mod
from gnnrec.evaluate import DEFAULT_TARGET
from pages.parts import cache, my_ratings, session, text

session.guard()

st.title("Neighbourhood")
st.caption("The movies whose ratings move together with a movie's: the graph both models work on. "
           "Drag nodes, zoom, hover for details.")
text.show_flash()
cache.require_data()
labels = cache.labels()
ratings = my_ratings.ratings()

default = next(iter(ratings), DEFAULT_TARGET)
if "nb_focus" in st.session_state:  # "Explore its neighbourhood" on the Recommend page
    st.session_state["nb_movie"] = st.session_state.pop("nb_focus")
c1, c2, c3, c4 = st.columns([3, 1, 2, 2])
movie = c1.selectbox("Movie", list(labels), index=list(labels).index(default), format_func=labels.get,
                     key="nb_movie")
hops = c2.radio("Hops", [1, 2], horizontal=True, key="nb_hops")
k = c3.slider("Neighbours per movie", 3, nb_mod.MAX_NEIGHBOURS, 10, key="nb_k")
common_min = c4.slider("Min. common raters", 5, 200, 25, step=5, key="nb_common",
                       help="Only correlations over at least this many users who rated both movies: "
                            "few common raters give large but meaningless correlations.")

source, corr = cache.correlations()
try:
    nb, html = cache.neighbourhood(source, int(movie), int(k), int(hops), int(common_min), my_ratings.rkey(), corr)
except ValueError as e:
    text.alert("error", e)
    st.stop()

if len(nb.nodes) == 1:
    st.warning("No movie shares enough raters with this one for a correlation; lower 'Min. common raters'.")
graph, table = st.columns([3, 2], gap="medium")
with graph:
    st.iframe(html, height=580)
    st.caption("Node size: how many people rated the movie. Edges: correlation, "
               "**green = positive**, **red dashed = negative**, thicker = stronger. "
               "Orange: the movie you picked; stars (shape and label): movies you rated.")
with table:
    st.dataframe(nb_mod.neighbour_table(nb), hide_index=True, height=580, key="nb_table",
                 column_config={"title": st.column_config.TextColumn(width=150, pinned=True),
                                "correlation": st.column_config.NumberColumn("r", format="%+.2f", width=52,
                                                                             help="correlation with the movie"),
                                "hop": st.column_config.NumberColumn(width=40),
                                "raters": st.column_config.NumberColumn(width=56),
                                "your rating": st.column_config.TextColumn("you", width=84),
                                "year": st.column_config.NumberColumn(format="%d", width="small"),
                                "movie": st.column_config.NumberColumn("id", format="%d", width="small")})
if source[0] == "data":
    st.caption("Correlations computed from all ratings (no model loaded).")
