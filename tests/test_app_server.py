"""The Recommend page's runs on a real server, seen through the websocket client of bench/load.py
(bench/stclient.py): which runs an action makes, and what the page shows after them. (AppTest runs
the whole script on every change, so it cannot tell a fragment's run from the page's.)"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from urllib.parse import parse_qs

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from helpers import free_port, models_copy, start_streamlit, stop_streamlit  # noqa: E402
from stclient import StreamlitSession  # noqa: E402

GNN_HEADING = "GNN · model"


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("server")
    port = free_port()
    env = dict(os.environ, GNNREC_MODELS_DIR=str(models_copy(tmp / "models")))
    with open(tmp / "server.log", "w") as log:
        proc = start_streamlit(port, env, log, timeout=90)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            stop_streamlit(proc)
    assert "Traceback" not in (tmp / "server.log").read_text(errors="replace")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 180))


@pytest.mark.integration
def test_picking_a_movie_reruns_the_search_box_alone_and_the_stars_rerun_the_page(url, movielens):
    async def visit():
        s = await StreamlitSession.open(url, query="r=50:5,181:4", timeout=120)
        try:
            assert "Your ratings (2)" in s.expander_labels()
            before = s.table_beside(GNN_HEADING)
            runs = s.runs_started
            await s.rerun({"rate_movie": ("string_value", "Fargo (1996)  #100")}, timeout=60)
            assert s.runs_started == runs and s.fragment_runs_finished == 1  # no page run for a pick
            assert s.table_beside(GNN_HEADING) == before and "Your ratings (2)" in s.expander_labels()
            stars = next(k for k in s.user_keys() if k.startswith("rate_stars_"))
            await s.rerun({stars: ("string_value", "0")}, timeout=60, full=True)  # 1 star
            assert s.runs_finished == runs + 1  # the stars' click: the whole page, once
            assert "Your ratings (3)" in s.expander_labels()
            assert s.table_beside(GNN_HEADING) != before
            assert parse_qs(s.query)["r"] == ["50:5,181:4,100:1"]  # the address (the share link) carries the new rating
            s.check()
        finally:
            await s.close()

    run(visit())


@pytest.mark.integration
def test_a_folded_grid_opens_in_its_own_run_and_its_stars_rerun_the_page(url, movielens):
    async def visit():
        s = await StreamlitSession.open(url, query="r=50:5,181:4,1:2,127:5,98:4", timeout=120)
        try:
            assert not any(k.startswith("quick_") for k in s.user_keys())  # folded: no cards sent
            runs = s.runs_started
            await s.rerun({"quick_more": ("bool_value", True)}, timeout=60)  # opened
            assert s.runs_started == runs and s.fragment_runs_finished == 1  # the grid's run alone
            assert {f"quick_{m}" for m in (50, 127, 313)} <= set(s.user_keys())
            await s.rerun({"quick_313": ("string_value", "1")}, timeout=60, full=True)  # 2 stars for Titanic
            assert s.runs_finished == runs + 1 and "Your ratings (6)" in s.expander_labels()
            assert parse_qs(s.query)["r"] == ["50:5,181:4,1:2,127:5,98:4,313:2"]
            await s.rerun({"predict_more": ("bool_value", True)}, timeout=60)  # 'Predict any movie' opened
            assert s.runs_started == runs + 1 and "target_movie" in s.user_keys()
            s.check()
        finally:
            await s.close()

    run(visit())
