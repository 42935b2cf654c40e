"""What app.py does before its heavy imports (gnnrec, torch: seconds on a cold server), so that a
first visit never sees a blank page or Streamlit's internal file list.

:func:`first_query` keeps the session's first query string (the share link) before anything is
drawn; :func:`navigation` draws the page menu (:class:`Menu`); :func:`loading` says what is
happening while the first run imports and loads. Streamlit only here, nothing heavy.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

MAX_PENDING = 1_000  # first-run query strings kept for sessions still starting (oldest dropped)
_first: OrderedDict[str, str] = OrderedDict()
_first_lock = threading.Lock()


def first_query() -> tuple[str | None, str]:
    """``(session id, the query string of the session's first run)``, read without touching
    ``st.session_state`` (every access to it is a point where a pending rerun cuts the run short).
    Kept until :func:`forget`: a run cut short and redone (another page clicked meanwhile) reads the
    first run's link, not the new page's address."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return None, ""
    with _first_lock:
        query = _first.setdefault(ctx.session_id, ctx.query_string)
        while len(_first) > MAX_PENDING:
            _first.popitem(last=False)
    return ctx.session_id, query


def forget(sid: str | None) -> None:
    with _first_lock:
        _first.pop(sid, None)


class Menu:
    """The page menu in the sidebar, drawn by the app itself: Streamlit's own menu is switched off
    (``client.showSidebarNavigation = false``), because on a cold server it first lists the files in
    pages/ ("app, common, ...") until app.py has run.

    Every link carries the address's ratings and model (:data:`CARRIED`): a server restarted under
    an open tab starts a new, empty session at the next click, and that session reads them from
    the link (:func:`pages.parts.link.init`). Its place is made at once; drawn at once only with
    ``draw`` (a cold server's first run, before seconds of imports), and :meth:`refresh`-ed once
    the page's address is written for this run (a warm run draws it there only once: drawn twice,
    its four links were ~3% of the server's GIL time under load, the address changing with every
    rating)."""

    CARRIED = ("r", "model", "job")  # what pages.parts.link.sync keeps in the address

    def __init__(self, pages: list, draw: bool = True):
        self.pages, self.params = pages, None
        self.box = st.sidebar.container(key="nav").empty()
        if draw:
            self.refresh()

    def refresh(self) -> None:
        """Redraw the links if the address changed since they were drawn."""
        qp = st.query_params
        params = {k: qp[k] for k in self.CARRIED if k in qp}
        if params != self.params:
            self.params = params
            with self.box.container():
                for p in self.pages:
                    st.page_link(p, query_params=params)


# on a phone (Streamlit's narrow layout) the sidebar covers the page: fold it, as Streamlit's own menu does
FOLD = """<script>/* pick N */ if (window.innerWidth < 640) document.querySelector(
  '[data-testid="stSidebar"][data-collapsed="false"] [data-testid="stSidebarCollapseButton"] button')?.click();</script>"""


def fold_after_pick(page) -> None:
    """After a pick in the menu (this session's page changed), fold the sidebar on a phone: a link in
    the menu is an ``st.page_link``, which leaves it open over the page it opened."""
    ss = st.session_state
    last, ss["_menu_page"] = ss.get("_menu_page"), page.url_path
    if last is not None and last != page.url_path:
        ss["_menu_picks"] = ss.get("_menu_picks", 0) + 1
        st.sidebar.html(FOLD.replace("N", str(ss["_menu_picks"])), unsafe_allow_javascript=True)


def navigation(pages: list, draw: bool = True) -> tuple[object, Menu]:
    """The page to run, and the menu (:class:`Menu`; drawn at once with ``draw``)."""
    page = st.navigation(pages, position="hidden")
    return page, Menu(pages, draw)


def loading() -> object | None:
    """A message while a cold server's first run imports the app (a few seconds); clear it with
    ``.empty()`` once the page can draw. None when the app is loaded already."""
    if "gnnrec.recommender" in sys.modules:
        return None
    box = st.empty()
    box.info("Starting the app: loading the recommender's code and MovieLens-100K (a few seconds, only for the "
             "first visit after a restart) …")
    return box
