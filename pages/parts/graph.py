"""The Neighbourhood page's interactive graph: a Streamlit component (``graph_component/``, plain
HTML and the v1 message protocol, no build step) that shows :func:`gnnrec.app.graph_view.neighbourhood_html`
and reports the movie a user clicks, so that the page can centre on it."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

HEIGHT = 640  # the canvas (560 px) and its legend, which wraps to three lines on a phone
_graph = components.declare_component("neighbourhood_graph", path=str(Path(__file__).parent / "graph_component"))


def _on_click() -> None:
    """A movie clicked in the graph: centre the page on it (before the movie box is drawn)."""
    value = st.session_state.get("nb_graph") or {}
    if isinstance(value, dict) and isinstance(value.get("movie"), int):
        st.session_state["nb_movie"] = value["movie"]


def show(html: str) -> None:
    _graph(html=html, height=HEIGHT, key="nb_graph", default=None, on_change=_on_click)


def on_row() -> None:
    """A row of the neighbour table selected: centre on that movie too (keyboard, tests)."""
    ss = st.session_state
    rows = ss.get("nb_table", {}).get("selection", {}).get("rows", [])
    ids = ss.get("_nb_ids", [])
    if rows and rows[0] < len(ids):
        ss["nb_movie"] = ids[rows[0]]
