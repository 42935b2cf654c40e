"""Heavy jobs seen from the pages: this session's id, the running job (anyone's) in the sidebar,
ownership across a reload, and the Compare page's Run button.

Rules, as the sidebar states them: one training or live evaluation runs at a time on the server;
only the session that started it can cancel it (a reload of that page keeps it: its URL carries
the job's own random token, which gives that job alone, never the session's other jobs); it stops
by itself after ``jobs.WALL_LIMIT``, or ``jobs.ABANDON_GRACE`` seconds after its session was last
seen (a closed tab).
"""

from __future__ import annotations

import hmac
import uuid

import streamlit as st

from gnnrec import data as data_mod
from gnnrec.app import jobs, live, slot

from .cache import _data
from .text import plain

RULES = (f"One training or live evaluation runs at a time. Only the tab that started it can cancel it; it stops by "
         f"itself after {jobs.WALL_LIMIT / 60:.0f} minutes, or {jobs.ABANDON_GRACE:.0f} s after its tab is closed.")


def owner() -> str:
    """This session's id for the one-heavy-job slot (so its messages can say 'you')."""
    return st.session_state.setdefault("_owner", uuid.uuid4().hex)


def mine(job) -> bool:
    """Whether this session started ``job``, or took it over by a reload (:func:`adopt`)."""
    return job is not None and (job.owner == owner() or st.session_state.get("_job_token") == job.token)


def adopt(token: str | None) -> None:
    """A reload of the tab that started the running job (its URL carries the job's token, a random
    one of that job alone, never the session's id): this session controls that job now, and its page
    shows it. No other job of that session, earlier or later, comes with it."""
    job = jobs.running()
    if token and job is not None and hmac.compare_digest(str(token).encode(), job.token.encode()):
        st.session_state["_job_token"] = job.token
        st.session_state["train_job" if job.kind == "training" else "eval_job"] = job


def token() -> str | None:
    """What this session's URL carries while its job runs (see :func:`adopt`), else None."""
    job = jobs.running()
    return job.token if mine(job) else None


def describe(job) -> str:
    return (f"{job.kind} {job.label!r}: {job.progress():.0%} after {job.elapsed():.0f} s"
            + (" (stopping …)" if job.cancel_requested else ""))


@st.fragment(run_every=5.0)
def _own_job(job) -> None:
    """The owner's view, refreshed while the tab is open (each refresh tells the job its session is here)."""
    if not job.running:
        st.rerun(scope="app")
    job.touch()
    st.caption(plain(f"Your {describe(job)}"))
    st.button("Cancel it", key="sb_cancel_job", on_click=job.cancel, args=("cancelled by you",),
              disabled=job.cancel_requested)


def status() -> None:
    """The running job (anyone's), in the sidebar of every page."""
    job = jobs.running()
    if job is None:
        held = slot.read_lock()
        if held is not None:
            st.caption(plain(f"Busy: {str(held.get('what', 'a job'))[:80]} of an earlier server process is still "
                             "running; the next training or evaluation can start when it ends."))
        return
    if mine(job):
        job.touch()
        _own_job(job)
    else:
        st.caption(plain(f"Running: another user's {describe(job)}."))
    st.caption(RULES)


def on_run_evaluation() -> None:
    """Compare page's Run button: start a live evaluation of the chosen target."""
    ss = st.session_state
    try:
        ss["eval_job"] = live.start_evaluation(_data(), int(ss["cmp_target"]), int(ss["cmp_splits"]),
                                                  ss["cmp_preset"], owner=owner(), grace=jobs.ABANDON_GRACE)
    except (ValueError, jobs.Busy, data_mod.DataError) as e:
        ss["cmp_error"] = f"Not started: {e}"
