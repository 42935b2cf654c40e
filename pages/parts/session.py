"""What runs around every page: the legacy-mode guard, whether a run is a fragment's, and the
server's garbage collection (the imported heap frozen once, full collections at most every few seconds)."""

from __future__ import annotations

import gc
import sys
import threading
import time

import streamlit as st

_frozen = threading.Event()  # set once the heap is frozen (gc.get_freeze_count() walks every frozen object)
FULL_GC_EVERY = 20.0  # seconds: at most one full collection this often (see tidy)
GEN2_THRESHOLD = 1_000  # gen-1 collections between automatic full collections (Python's default: 10)
_last_full = [0.0]
_full_lock = threading.Lock()
SWITCH_INTERVAL = 0.001  # seconds a thread may hold the GIL while another waits (Python's default: 0.005)


def guard() -> None:
    """Call first in every page. With a folder named ``pages/`` beside app.py, Streamlit runs a
    requested page file on its own (the legacy multipage mode) until ``st.navigation`` has run
    once in the process: a fresh server's first visit to a deep link, and every AppTest rerun.
    Switch that mode off and rerun, so that app.py (sidebar, session set-up) always runs.

    Decided by this run, not by the process-wide flag: on a restarted server two sessions (a tab
    reconnecting, a page opened) can both start in that mode, and the second, finding the flag
    already off, drew its page without app.py: no menu, and none of the link's ratings."""
    if _run_by_app():
        return
    try:
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
    except ImportError:  # a Streamlit without it has no legacy mode to leave
        return
    st.rerun()


def _run_by_app() -> bool:
    """Whether app.py (the main script) is running this page: its frame is on the stack."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return True  # bare mode (no Streamlit run): nothing to redirect
    main, frame = ctx.main_script_path, sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == main:
            return True
        frame = frame.f_back
    return False


def fragment_run() -> bool:
    """Whether this run reruns fragments alone (a widget in an ``st.fragment`` changed), not the page."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def page_changed() -> None:
    """Called by a callback that changes what the whole page shows (the ratings): a fragment's run
    that follows becomes the page's (:func:`follow_page`)."""
    st.session_state["_page_changed"] = True


def follow_page() -> None:
    """First in a fragment (the search box, the quick-rate grid, 'Predict any movie'): if one of its
    widgets changed the ratings, rerun the whole page, which shows them everywhere; else its own
    run is enough (a pick in the search box, an expander opened)."""
    if st.session_state.pop("_page_changed", False) and fragment_run():
        st.rerun()


def freeze_heap() -> None:
    """Once per process, on the first run: every object alive now (the imported modules, the
    data) leaves the cyclic garbage collector's reach (``gc.freeze()``). Streamlit runs a full
    ``gc.collect(2)`` after every script run; walking the objects of torch, pandas and Streamlit
    held the GIL for ~100 ms a run (py-spy, see docs). Frozen objects are still freed by reference
    counting; only reference cycles among them are never collected.

    Checked with a flag: ``gc.get_freeze_count()`` counts by walking the ~260,000 frozen objects,
    ~30 ms with the GIL held on every run (a third of the server's GIL time under load, py-spy).

    Also once: the GIL's switch interval 5 -> 1 ms (:data:`SWITCH_INTERVAL`). The event loop, which
    takes every connection, request and message of every session, waits for the GIL behind the
    page runs of the other sessions at each of its steps, up to a switch interval per run
    ahead of it; a share link (HTTP requests, a websocket, a new session) takes several steps."""
    if _frozen.is_set():
        return
    sys.setswitchinterval(SWITCH_INTERVAL)
    import plotly.graph_objects  # noqa: F401  imported lazily by the pages: frozen with the rest
    import pyvis.network  # noqa: F401

    gc.collect()
    gc.freeze()
    t0, t1, _ = gc.get_threshold()
    gc.set_threshold(t0, t1, GEN2_THRESHOLD)
    _frozen.set()


def tidy() -> None:
    """After a page run: a full collection if none ran for ``FULL_GC_EVERY`` seconds.

    Streamlit's own ``runner.postScriptGC`` (a ``gc.collect(2)`` after every run) is off
    (.streamlit/config.toml): with the imported heap frozen, what is left is walked at ~1 µs an
    object, ~20 ms a run, a quarter of the server's GIL time under load (py-spy); and Python's
    automatic full collections, which trigger when a quarter of the unfrozen heap is new, came
    just as often (:data:`GEN2_THRESHOLD` makes them rare). Reference cycles among the objects of
    finished runs are still freed, within :data:`FULL_GC_EVERY` seconds; everything else is freed at
    once by reference counting. Every 20 s, not 5: under the back-to-back load the unfrozen heap
    (the sessions kept 2 minutes for a reconnect among it) grows to ~80,000 objects, and each
    collection held the GIL for ~100 ms (4% of the server's GIL time, py-spy) to free ~6,000."""
    now = time.monotonic()
    if now - _last_full[0] < FULL_GC_EVERY or not _full_lock.acquire(blocking=False):
        return
    try:
        _last_full[0] = now
        gc.collect()
    finally:
        _full_lock.release()
