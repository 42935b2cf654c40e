"""End to end, as a newcomer meets the app (issue 13): real ``streamlit run app.py``, headless
Chromium at 1400×1000 and 400×850, every request off this machine blocked.

A first visit rates from the quick grid and sees both lists within 6 clicks; with 7
ratings both lists are in the first 1000 px; a selected row is explained (the k-NN's sum adds up)
and can be hidden or explored; the neighbourhood settles, and a click on a movie centres on it;
the Compare page's bars read at a glance, a panel says who wins where, a live evaluation shows
progress that moves, and can be cancelled; on a phone nothing is
wider than the screen and no toolbar covers text; a cold server shows a loading message and its
menu, never the files in pages/. Screenshots of every page at both sizes go to ``screenshots/``.

How fast is no test's business here (a busy host would fail it): ``bench/live_progress.py`` prints
the live evaluation's first progress and longest wait (goals 2 s and 5 s), ``bench/app_speed.py``
the app's render and rating times.
"""

from __future__ import annotations

import json
import re
import time

import browser as shared
import pytest
from browser import TIMEOUT_MS, cells, goto_page, new_page, no_exception, open_url, snap, tables_drawn, wait_idle

pytestmark = pytest.mark.browser
server, browser, page, phone = shared.server, shared.browser, shared.page, shared.phone  # the fixtures
SEVEN = "/?r=50:5,181:4,1:2,127:5,98:4,100:5,313:2"


def list_rows(page, model: str) -> list[str]:
    return cells(page, "title", key=f"top_{model}")


def test_a_newcomer_sees_both_lists_within_six_clicks(page):
    page.get_by_text("Quick start:").wait_for()
    wait_idle(page)
    clicks = 0
    assert page.locator("[class*='st-key-quick_card_']").count() == 12
    assert page.locator(".st-key-quick_card_127").get_by_text("The Godfather").is_visible()  # natural titles
    page.locator(".st-key-quick_50").get_by_role("radio", name="5 out of 5 stars").click()
    clicks += 1
    page.get_by_test_id("stToast").filter(has_text="Rated Star Wars (1977) ★★★★★").wait_for()  # said at once
    gnn, knn = list_rows(page, "gnn"), list_rows(page, "knn")
    assert len(gnn) == len(knn) == 10 and clicks <= 6, (clicks, gnn, knn)
    page.get_by_text("1 rating so far: the lists are still thin").wait_for()
    assert all(g for g in cells(page, "genres", key="top_knn"))  # every list row has its genres
    for movie, stars in ((100, 4), (1, 2)):
        page.locator(f".st-key-quick_{movie}").get_by_role("radio", name=f"{stars} out of 5 stars").click()
        page.get_by_test_id("stSidebar").get_by_text(f"{2 if movie == 100 else 3} rated movie(s)").wait_for()
    wait_idle(page)
    page.get_by_text("3 ratings so far").wait_for()
    tables_drawn(page)
    no_exception(page)
    page.get_by_test_id("stToast").first.wait_for(state="detached", timeout=20_000)  # not over the shot's text
    snap(page, "onboarding")


def test_with_seven_ratings_both_lists_are_in_the_first_1000_pixels(page):
    open_url(page, SEVEN, "Recommendations")
    tables_drawn(page)
    for model in ("gnn", "knn"):
        box = page.locator(f".st-key-top_{model} [data-testid='stDataFrame']").bounding_box()
        assert box["y"] + box["height"] <= 1000, (model, box)
        titles = list_rows(page, model)
        assert len(titles) == 10 and not any(re.search(r", (The|A|An)$", t) for t in titles), titles
    assert page.get_by_text("still thin").count() == 0
    assert page.locator("summary").filter(has_text="Your ratings (7)").count() == 1  # folded below the lists
    no_exception(page)
    snap(page, "recommend")


def click_row(page, key: str, row: int) -> None:
    """Select row ``row`` of a dataframe (its selection box, drawn on the canvas)."""
    box = page.locator(f".st-key-{key} [data-testid='stDataFrame'] canvas").first.bounding_box()
    page.mouse.click(box["x"] + 16, box["y"] + 35 * (row + 1) + 17)


def test_a_selected_row_is_explained_and_can_be_hidden_or_explored(page):
    open_url(page, SEVEN, "Recommendations")
    tables_drawn(page)
    title = list_rows(page, "knn")[2]
    click_row(page, "top_knn", 2)
    page.get_by_text("k-NN + baselines predicts").filter(has_text=title).wait_for()
    wait_idle(page)
    adds = cells(page, "adds", key="why_knn_box")
    assert cells(page, "title", key="why_knn_box")[:2] == ["the movie's baseline", "your bias (all your ratings)"]
    parts = [float(x) for x in adds]
    assert parts[0] + sum(parts[1:-1]) == pytest.approx(parts[-1], abs=0.006 * len(parts))  # it adds up
    page.get_by_text("Leave-one-out").first.wait_for()  # the GNN's side, labelled as such
    page.get_by_role("button", name="Hide it").click()
    page.get_by_test_id("stToast").filter(has_text="from your lists").wait_for()
    wait_idle(page)
    tables_drawn(page)
    assert title not in list_rows(page, "knn")
    explained = page.get_by_role("combobox", name="Explain").input_value()
    page.get_by_role("button", name="Explore its neighbourhood").click()
    page.get_by_role("heading", level=1).filter(has_text="Neighbourhood").wait_for()
    wait_idle(page)
    assert page.get_by_role("combobox", name="Movie").input_value() == explained
    no_exception(page)


def graph_frame(page):
    return page.frame_locator("[data-testid='stCustomComponentV1']").frame_locator("iframe")


def settled(page) -> None:
    """Until the graph's layout has settled (its physics stopped), in a graph not marked :func:`stale`."""
    graph_frame(page).locator("canvas").wait_for()
    page.wait_for_function("""() => { const f = document.querySelector('[data-testid="stCustomComponentV1"]');
        const inner = f && f.contentDocument && f.contentDocument.querySelector('iframe');
        const w = inner && inner.contentWindow;
        return w && w.gnnrecSettled === true && !w.gnnrecStale && typeof w.nodes !== "undefined"; }""",
                           timeout=TIMEOUT_MS)


def stale(page) -> None:
    """Mark the graph shown now, so that :func:`settled` waits for the next one."""
    inner_eval(page, "window.gnnrecStale = true")


def inner_eval(page, js: str):
    return page.evaluate("""js => { const f = document.querySelector('[data-testid="stCustomComponentV1"]');
        const w = f.contentDocument.querySelector('iframe').contentWindow; return w.eval(js); }""", js)


def test_the_neighbourhood_settles_and_a_click_centres_on_a_movie(page):
    open_url(page, "/neighbourhood?r=50:5,181:4,172:5", "Neighbourhood")
    settled(page)
    before = inner_eval(page, "JSON.stringify(network.getPositions())")
    page.wait_for_timeout(1500)
    assert inner_eval(page, "JSON.stringify(network.getPositions())") == before  # it stays where it settled
    assert graph_frame(page).get_by_text("you rated it").is_visible()  # the legend
    assert cells(page, "you")[:2] == ["★★★★★", "★★★★☆"]  # 5 stars shown whole (Empire 5, Jedi 4)
    target = inner_eval(page, "String(nodes.get().find(n => n.id === 174).id)")  # Raiders of the Lost Ark
    xy = inner_eval(page, f"JSON.stringify(network.canvasToDOM(network.getPositions([{target}])[{target}]))")
    xy = json.loads(xy)
    outer = page.locator("[data-testid='stCustomComponentV1']").bounding_box()
    stale(page)
    page.mouse.click(outer["x"] + xy["x"], outer["y"] + xy["y"])
    page.wait_for_function("""() => Array.from(document.querySelectorAll('input[role="combobox"]'))
                              .some(i => i.value.startsWith('Raiders of the Lost Ark'))""", timeout=TIMEOUT_MS)
    wait_idle(page)
    settled(page)
    assert inner_eval(page, "String(nodes.get(174).color.background)") == "#e66101"  # the centre now
    stale(page)
    page.locator(".st-key-nb_hops").get_by_text("2").click()  # 2 hops: names on a few movies only
    wait_idle(page)
    settled(page)
    named = inner_eval(page, "nodes.get().filter(n => n.label.trim()).length")
    total = inner_eval(page, "nodes.get().length")
    assert total > 15 and named <= 1 + 8 + 3, (named, total)
    no_exception(page)
    snap(page, "neighbourhood")


def test_compare_reads_at_a_glance_and_shows_a_panel(page):
    open_url(page, "/compare" + SEVEN[1:], "Compare the models")
    page.get_by_role("combobox", name="Evaluation", exact=True).click()
    page.get_by_role("option").filter(has_text="synthetic-test-result.json").click()
    bars = page.locator(".st-key-cmp_bars [data-testid='stPlotlyChart']")
    bars.locator("svg.main-svg").first.wait_for()
    page.wait_for_timeout(800)
    labels = bars.locator(".ytick text")
    boxes = sorted((labels.nth(i).bounding_box() for i in range(labels.count())), key=lambda b: b["y"])
    assert [labels.nth(i).text_content() for i in range(labels.count())] == \
        ["Item mean", "k-NN", "Linear filter", "GNN, last", "GNN"]  # short names (plotly lists them bottom up)
    assert all(a["y"] + a["height"] <= b["y"] + 1 for a, b in zip(boxes, boxes[1:]))  # no label over another
    assert bars.locator(".xtick text").first.text_content() == "0"  # the axis starts at 0
    assert page.locator(".modebar").count() == 0  # no plotly mode bar over the charts
    drawn = bars.inner_text()
    for mean in ("0.070", "0.320", "0.470"):
        assert mean in drawn
    differ = cells(page, "GNN − k-NN")
    raters = [int(x) for x in cells(page, "raters", key="cmp_disagree_box")]
    assert len(differ) == 12 and min(raters) >= 50 and "mean only" not in page.locator(".st-key-cmp_disagree_box").inner_text()
    snap(page, "compare")
    page.get_by_role("combobox", name="Evaluation", exact=True).click()
    page.get_by_role("option").filter(has_text="synthetic-test-panel.json").click()
    page.get_by_text("3 of 6").wait_for()
    page.locator(".st-key-panel_ratios svg.main-svg").first.wait_for()
    assert cells(page, "best")[:2] == ["GNN", "k-NN + baselines"]
    wait_idle(page)
    no_exception(page)
    snap(page, "compare-panel")


def bar_values(bar, distinct: int, within_ms: int = TIMEOUT_MS) -> list[str]:
    """The progress bar's values (``aria-valuenow``) as they change, read every 250 ms until
    ``distinct`` different ones were seen (or ``within_ms`` passed: a stuck bar)."""
    seen: list[str] = []
    for _ in range(within_ms // 250):
        value = bar.locator("[role='progressbar']").first.get_attribute("aria-valuenow")
        if not seen or value != seen[-1]:
            seen.append(value)
        if len(set(seen)) >= distinct:
            break
        bar.page.wait_for_timeout(250)
    return seen


def test_a_live_evaluation_shows_progress_that_moves_and_can_be_cancelled(page):
    open_url(page, "/compare", "Compare the models")
    page.get_by_text("Run live").click()
    page.get_by_role("button", name="Run the evaluation").wait_for()
    splits = page.locator(".st-key-cmp_splits input")
    splits.fill("3")  # three splits: a minute or more, time to watch it and cancel it
    splits.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Run the evaluation").click()
    bar = page.get_by_test_id("stProgress")
    bar.wait_for()  # progress appears (how soon: bench/live_progress.py)
    seen = bar_values(bar, distinct=4)  # and moves: three changes, long before three splits end
    assert len(set(seen)) >= 4 and [float(v) for v in seen] == sorted(float(v) for v in seen), seen
    text = bar.inner_text()
    assert re.search(r"split [1-3] of 3", text) and "s so far" in text, text
    snap(page, "compare-live")
    page.get_by_role("button", name="Cancel the evaluation").click()
    try:
        page.get_by_text("The evaluation cancelled").wait_for(timeout=60_000)
    finally:
        snap(page, "compare-cancelled")
    no_exception(page)


@pytest.mark.parametrize("path, heading, shot", [
    (SEVEN, "Recommendations", "recommend"), ("/neighbourhood" + SEVEN[1:], "Neighbourhood", "neighbourhood"),
    ("/compare" + SEVEN[1:], "Compare the models", "compare"), ("/train", "Train a GNN", "train")])
def test_on_a_phone_nothing_is_wider_than_the_screen_or_covers_text(phone, path, heading, shot):
    open_url(phone, path, heading)
    tables_drawn(phone)
    phone.wait_for_timeout(1000)
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 400, f"the page is {width} px wide on a 400 px screen"
    assert phone.locator(".modebar").count() == 0
    # a toolbar shows while its element is hovered or focused (a finger's tap): none is, here; one that
    # shows anyway sits over the heading above its element (a CI run found one on Compare, pointer left over a chart)
    phone.mouse.move(0, 0)
    phone.evaluate("() => document.activeElement?.blur()")
    phone.wait_for_timeout(300)
    toolbars = phone.locator("[data-testid='stElementToolbar']")
    shown = [toolbars.nth(i).evaluate("t => t.closest('[class*=\"st-key-\"]')?.className ?? t.parentElement.outerHTML"
                                      ".slice(0, 300)") for i in range(toolbars.count()) if toolbars.nth(i).is_visible()]
    assert not shown, shown  # none over a heading (which element's, if one is)
    for i in range(phone.locator("[data-testid='stDataFrame']").count()):  # tables fit the screen or scroll inside
        box = phone.locator("[data-testid='stDataFrame']").nth(i).bounding_box()
        assert box is None or box["x"] + box["width"] <= 400, box
    phone.get_by_text("How it works").first.wait_for()  # the page's short explanation
    no_exception(phone)
    snap(phone, shot)


def test_on_a_phone_the_menu_folds_away_after_a_pick(phone):
    """The sidebar covers a phone's screen: after a pick in its menu it folds, as Streamlit's own
    menu does (a page link alone leaves it open over the page it opened)."""
    open_url(phone, "/?r=50:5", "Recommendations")
    sidebar = phone.get_by_test_id("stSidebar")
    for link, heading in (("Compare", "Compare the models"), ("Recommend", "Recommendations")):
        goto_page(phone, link, heading)  # opens the sidebar, then picks
        phone.wait_for_function("() => document.querySelector('[data-testid=\"stSidebar\"]')"
                                ".getAttribute('data-collapsed') === 'true'", timeout=10_000)
        assert sidebar.get_attribute("data-collapsed") == "true"
        assert phone.get_by_test_id("stExpandSidebarButton").is_visible()
    no_exception(phone)


def show_tooltip(page, key: str, text: str) -> None:
    """Hover the help mark of widget ``key`` until its tooltip saying ``text`` shows. Hovering again
    if need be: the page may still move under the mouse (a component drawing) and hide it."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    tip = page.get_by_test_id("stTooltipContent").filter(has_text=text)
    for _ in range(8):
        page.mouse.move(0, 0)
        page.locator(f".st-key-{key}").get_by_test_id("stTooltipHoverTarget").hover()
        try:
            tip.wait_for(timeout=5000)
            return
        except PlaywrightTimeout:
            continue
    tip.wait_for(timeout=5000)  # still not shown: fails with Playwright's account of what it waited for


def test_help_tooltips_explain_the_words_where_they_appear(page):
    open_url(page, "/neighbourhood", "Neighbourhood")
    show_tooltip(page, "nb_hops", "also each neighbour")
    open_url(page, "/train", "Train a GNN")
    show_tooltip(page, "tr_taps_0", "how many powers of the graph")
    page.get_by_text("How it works", exact=True).click()
    page.get_by_text("The weights with the lowest validation RMSE are saved").wait_for()


def test_a_cold_server_shows_its_menu_and_a_loading_message_never_its_files(server, browser, tmp_path):
    """A fresh server process: from the first paint the menu holds the four pages (never the files
    in pages/: 'app', 'common', ...) and the main area says it is loading until the page draws."""
    from helpers import free_port, models_copy, start_streamlit, stop_streamlit

    port = free_port()
    env = dict(__import__("os").environ, GNNREC_MODELS_DIR=str(models_copy(tmp_path / "models")))
    with open(tmp_path / "server.log", "w") as log:
        proc = start_streamlit(port, env, log)
        try:
            pg = new_page(browser, f"http://127.0.0.1:{port}", {"width": 1400, "height": 1000})
            pg.goto(pg.base + "/?r=50:5")
            samples, t0 = [], time.monotonic()
            while time.monotonic() - t0 < 60:
                samples.append(pg.evaluate("""() => ({
                    links: Array.from(document.querySelectorAll('[data-testid="stSidebar"] a')).map(a => a.textContent.trim()),
                    main: (document.querySelector('[data-testid="stMain"]') || {innerText: ''}).innerText.trim(),
                    h1: !!document.querySelector('h1')})"""))
                if samples[-1]["h1"] and "Recommendations" in samples[-1]["main"]:
                    break
                pg.wait_for_timeout(100)
            pg.context.close()
        finally:
            stop_streamlit(proc)
    assert samples[-1]["h1"], "the page never drew"
    names = {n for s in samples for n in s["links"]}  # each link's text: its icon's name and the page's
    assert all(n.endswith(("Recommend", "Neighbourhood", "Compare", "Train")) for n in names), names
    with_menu = [s for s in samples if s["links"]]
    assert with_menu and all(s["main"] for s in with_menu), "a menu over a blank page"
    assert any("Starting the app" in s["main"] for s in samples)  # the loading message was seen
