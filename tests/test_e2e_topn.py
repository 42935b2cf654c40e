"""End to end: Compare's List quality (top-N) view in a real ``streamlit run app.py`` and headless
Chromium (every request off this machine blocked), on the committed top-N file: the chart draws a bar
per model, the metrics and per-user tables draw, and no error shows. Screenshots to ``screenshots/``."""

from __future__ import annotations

import json
import os
import shutil

import browser as shared
import pytest
from browser import DESKTOP, PHONE, cells, new_page, no_exception, open_url, snap, tables_drawn, wait_idle
from helpers import free_port, models_copy, start_streamlit, stop_streamlit

import gnnrec
from gnnrec.app import results, topn_results

pytestmark = pytest.mark.browser
browser = shared.browser  # the fixture
TOPN = shared.ROOT / "results" / "topn-1-3.json"
DEFAULT = ["gnn", "ease", "lightgcn", "popular", "gnn_rating"]  # the lists the view shows first


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app with the committed top-N file as its only saved result."""
    tmp = tmp_path_factory.mktemp("e2e-topn")
    models, folder = models_copy(tmp / "models"), tmp / "results"
    folder.mkdir()
    shutil.copy(TOPN, folder / TOPN.name)
    port = free_port()
    env = dict(os.environ, GNNREC_MODELS_DIR=str(models), GNNREC_RESULTS_DIR=str(folder))
    with open(tmp / "server.log", "w") as log:
        proc = start_streamlit(port, env, log)
        try:
            yield {"url": f"http://127.0.0.1:{port}"}
        finally:
            stop_streamlit(proc)


@pytest.fixture(scope="module")
def page(server, browser):
    pg = new_page(browser, server["url"], DESKTOP)
    yield pg
    pg.context.close()


def test_list_quality_shows_its_chart_and_one_users_lists(page):
    open_url(page, "/compare", "Compare the models")
    page.locator(".st-key-cmp_source").get_by_text("List quality (top-N)").click()
    chart = page.locator(".st-key-topn_bars [data-testid='stPlotlyChart']")
    chart.locator("svg.main-svg").first.wait_for()
    wait_idle(page)
    summary = json.loads(TOPN.read_text())["summary"]
    names = [t.text_content() for t in chart.locator(".yaxislayer-above .ytick text").all()]
    assert sorted(set(names)) == sorted(results.label(m, "topn") for m in summary), names
    assert chart.locator(".barlayer .point").count() == 2 * len(summary)  # nDCG and coverage bars
    drawn = chart.inner_text()
    assert "nDCG@10 (higher: better)" in drawn and "coverage" in drawn
    tables_drawn(page)
    assert sorted(cells(page, "model")) == sorted(results.label(m, "topn") for m in summary)
    ranks = cells(page, "#")
    assert ranks == [str(i) for i in range(1, 11)], ranks
    gnn = cells(page, "ranking GNN")
    held = json.loads(TOPN.read_text())["splits"][0]
    hits = {m for u, m in held["test_pairs"] if u == 1} & set(held["top"]["gnn"]["1"])
    assert sum(c.startswith("✓") for c in gnn) == len(hits) and len(gnn) == 10
    found = cells(page, "found by")  # the grid's accessible copy holds the rows drawn (the first screenful)
    _, expected = topn_results.user_view(results.load_result(TOPN, gnnrec.load_data()), 1, 1, gnnrec.load_data(),
                                         DEFAULT)
    assert 5 <= len(found) <= len(expected) and found == list(expected["found by"][:len(found)])
    no_exception(page)
    assert page.get_by_test_id("stAlert").filter(has_text="Skipped").count() == 0
    snap(page, "compare-topn")


def test_the_neighbourhood_draws_the_co_rating_graph_the_lists_use(page):
    from test_e2e_ux import graph_frame, inner_eval, settled, stale

    open_url(page, "/neighbourhood?r=50:5", "Neighbourhood")
    settled(page)
    stale(page)
    page.locator(".st-key-nb_graph_kind").get_by_text("co-rating graph (the ranking GNN's lists)").click()
    weights = [float(w) for w in cells(page, "w")]  # the rerun has drawn the co-rating table
    wait_idle(page)
    settled(page)
    assert graph_frame(page).get_by_text("rated by the same users").is_visible()  # its own legend
    assert inner_eval(page, "nodes.get().length") == 11  # Star Wars and its 10 strongest co-rating links
    assert len(weights) == 10 and weights == sorted(weights, reverse=True) and min(weights) > 0
    no_exception(page)
    snap(page, "neighbourhood-co-rating")


def test_on_a_phone_the_list_quality_view_fits_the_screen(server, browser):
    phone = new_page(browser, server["url"], PHONE)
    try:
        open_url(phone, "/compare", "Compare the models")
        phone.locator(".st-key-cmp_source").get_by_text("List quality (top-N)").click()
        phone.locator(".st-key-topn_bars svg.main-svg").first.wait_for()
        wait_idle(phone)
        tables_drawn(phone)
        phone.wait_for_timeout(1000)
        width = phone.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 400, f"the page is {width} px wide on a 400 px screen"
        for i in range(phone.locator("[data-testid='stDataFrame']").count()):  # tables fit or scroll inside
            box = phone.locator("[data-testid='stDataFrame']").nth(i).bounding_box()
            assert box is None or box["x"] + box["width"] <= 400, box
        no_exception(phone)
        snap(phone, "compare-topn")
    finally:
        phone.context.close()
