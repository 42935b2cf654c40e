"""Heavy jobs seen from the pages: this session's id, the Compare page's Run button."""

from __future__ import annotations

import uuid

import streamlit as st

from gnnrec import data as data_mod
from gnnrec.app import jobs, live

from .cache import _data


def owner() -> str:
    """This session's id for the one-heavy-job lock (so its messages can say 'you')."""
    return st.session_state.setdefault("_owner", uuid.uuid4().hex)


def on_run_evaluation() -> None:
    """Compare page's Run button: start a live evaluation of the chosen target."""
    ss = st.session_state
    try:
        ss["eval_job"] = live.start_evaluation(_data(), int(ss["cmp_target"]), int(ss["cmp_splits"]),
                                                  ss["cmp_preset"], owner=owner())
    except (ValueError, jobs.Busy, data_mod.DataError) as e:
        ss["cmp_error"] = f"Not started: {e}"
