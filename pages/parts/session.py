"""What runs around every page: the legacy-mode guard and, once per process, heap freezing."""

from __future__ import annotations

import gc

import streamlit as st


def guard() -> None:
    """Call first in every page. With a folder named ``pages/`` beside app.py, Streamlit runs a
    requested page file on its own (the legacy multipage mode) until ``st.navigation`` has run
    once in the process: a fresh server's first visit to a deep link, and every AppTest rerun.
    Switch that mode off and rerun, so that app.py (sidebar, session set-up) always runs."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without it has no legacy mode to leave
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


def freeze_heap() -> None:
    """Once per process, on the first run: every object alive now (the imported modules, the
    data) leaves the cyclic garbage collector's reach (``gc.freeze()``). Streamlit runs a full
    ``gc.collect(2)`` after every script run; walking the objects of torch, pandas and Streamlit
    held the GIL for ~100 ms a run (py-spy, see docs). Frozen objects are still freed by reference
    counting; only reference cycles among them are never collected."""
    if gc.get_freeze_count() == 0:
        import plotly.graph_objects  # noqa: F401  imported lazily by the pages: frozen with the rest
        import pyvis.network  # noqa: F401

        gc.collect()
        gc.freeze()
