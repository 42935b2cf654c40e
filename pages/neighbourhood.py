"""Neighbourhood: a movie's correlation neighbourhood as an interactive graph, and as a table."""

import streamlit as st

from gnnrec.app import neighbourhood as nb_mod
from gnnrec.app.glossary import HOW, term
from gnnrec.evaluate import DEFAULT_TARGET
from pages.parts import cache, graph, my_ratings, session, text

session.guard()

st.title("Neighbourhood")
st.caption("A movie's neighbours on the graph a GNN runs on: movies whose ratings move together (the rating GNN's), "
           "or movies rated by the same users (the ranking GNN's, behind the lists). Click a movie to centre on it; "
           "drag, zoom, hover for details.")
text.show_flash()
cache.require_data()
labels = cache.labels()
ratings = my_ratings.ratings()

ss = st.session_state
if "nb_focus" in ss:  # "Explore its neighbourhood" on the Recommend page
    ss["nb_movie"] = ss.pop("nb_focus")
ss.setdefault("nb_movie", next(iter(ratings), DEFAULT_TARGET))  # a movie you rated, else Star Wars
c1, c2, c3, c4 = st.columns([3, 1, 2, 2])
movie = c1.selectbox("Movie", list(labels), format_func=labels.get, key="nb_movie")
hops = c2.radio("Hops", [1, 2], horizontal=True, key="nb_hops", help=term("nb_hops"))
k = c3.slider("Neighbours per movie", 3, nb_mod.MAX_NEIGHBOURS, 10, key="nb_k",
              help="How many of each movie's most correlated movies are drawn.")
common_min = c4.slider("Min. common raters", 5, 200, 25, step=5, key="nb_common", help=term("common_raters"))

ranking_key, ranking = cache.graph("co-rating")  # (None, why not) without a ranking GNN
if ranking_key is None:
    ss["nb_graph_kind"] = "correlation"
kind = st.radio("Graph", list(nb_mod.GRAPHS), format_func=nb_mod.GRAPHS.get, horizontal=True, key="nb_graph_kind",
                disabled=ranking_key is None, help=term("nb_graph"))
if ranking_key is None:
    st.caption(text.plain(f"The co-rating graph is the ranking GNN's: {ranking}."))
source, corr = cache.graph(kind)
try:
    nb, html = cache.neighbourhood(source, int(movie), int(k), int(hops), int(common_min), my_ratings.rkey(), corr,
                                   kind)
except ValueError as e:
    text.alert("error", e)
    st.stop()

if len(nb.nodes) == 1:
    st.warning("No movie shares enough raters with this one for a correlation; lower 'Min. common raters'.")
left, right = st.columns([3, 2], gap="medium")
with left:
    graph.show(html)
with right:
    table = nb_mod.neighbour_table(nb)
    ss["_nb_ids"] = [int(m) for m in table["movie"]]
    st.dataframe(table, hide_index=True, height=min(graph.HEIGHT - 40, 35 * (len(table) + 1) + 3), key="nb_table",
                 on_select=graph.on_row, selection_mode="single-row",
                 column_order=["title", "your rating", table.columns[1], "hop", "raters", "year", "via", "genres",
                               "movie"],
                 column_config={"title": st.column_config.TextColumn(width=150),
                                "correlation": st.column_config.NumberColumn("r", format="%+.2f", width=52,
                                                                             help=term("correlation")),
                                "weight": st.column_config.NumberColumn("w", format="%.4f", width=60,
                                                                        help=term("co_rating")),
                                "hop": st.column_config.NumberColumn(width=40),
                                "raters": st.column_config.NumberColumn(width=56, help=term("raters")),
                                "your rating": st.column_config.TextColumn("you", width=92),
                                "year": st.column_config.NumberColumn(format="%d", width="small"),
                                "movie": st.column_config.NumberColumn("id", format="%d", width="small")})
    st.caption("Select a row to centre the graph on that movie.")
if source[0] == "data":
    st.caption("Correlations computed from all ratings (no model loaded).")
with st.expander("How it works"):
    st.markdown(HOW["neighbourhood"])
