"""bench/stclient.py (the load bench's websocket client) refuses a Streamlit whose protocol it was not
checked against, and accepts the installed one (the project pins streamlit to a range it speaks)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import streamlit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import stclient  # noqa: E402


def test_the_installed_streamlit_is_spoken():
    stclient.check_streamlit_version(streamlit.__version__)


@pytest.mark.parametrize("version", ["1.66.1", "1.70.0", "2.0.0", "x.y"])
def test_other_versions_are_refused_with_what_to_do(version):
    with pytest.raises(stclient.SessionError, match=r"(widen SPOKEN|unreadable)"):
        stclient.check_streamlit_version(version)
