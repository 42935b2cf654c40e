"""What the browser tests share: a real ``streamlit run app.py`` (a copy of the models, a results
folder with a synthetic evaluation and a synthetic panel), headless Chromium through Playwright
with every request off this machine blocked, at 1400×1000 (``page``) and 400×850 (``phone``), and
helpers to wait, move between pages, read tables and save screenshots to ``screenshots/``.

Test modules take the fixtures by name (``page = browser.page``, ...).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import free_port, models_copy, start_streamlit, stop_streamlit, synthetic_panel, synthetic_result

import gnnrec

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "screenshots"
CHROMIUM = os.environ.get("GNNREC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# the last flag: V8's optimising compilers (TurboFan, Maglev) off. On each page load they compile the app's
# bundle's hot functions in the background, work a test page never lives long enough to repay; without them a
# page load and its screenshot took ~18% less CPU, host-wide (what the pages do is the same: JIT tiers only)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--js-flags=--no-opt --no-maglev"]
TIMEOUT_MS = 90_000
DESKTOP, PHONE = {"width": 1400, "height": 1000}, {"width": 400, "height": 850}

playwright_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (`make chromium` installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    models, results = models_copy(tmp / "models"), tmp / "results"
    results.mkdir()
    data = gnnrec.load_data()
    (results / "synthetic-test-result.json").write_text(json.dumps(synthetic_result(data, splits=3, users=40)))
    (results / "synthetic-test-panel.json").write_text(json.dumps(synthetic_panel(data)))
    port = free_port()
    env = dict(os.environ, GNNREC_MODELS_DIR=str(models), GNNREC_RESULTS_DIR=str(results))
    with open(tmp / "server.log", "w") as log:
        proc = start_streamlit(port, env, log)
        try:
            yield {"url": f"http://127.0.0.1:{port}", "models": models, "log": tmp / "server.log"}
        finally:
            stop_streamlit(proc)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def new_page(browser, url: str, viewport: dict):
    """A page in a fresh context (a new Streamlit session) that may only reach ``url``."""
    SHOTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport=viewport)
    blocked: list[str] = []
    local = (url, url.replace("127.0.0.1", "localhost"), "data:", "blob:", "about:")

    def route(r):
        if r.request.url.startswith(local):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.blocked = blocked
    pg.base = url
    return pg


@pytest.fixture(scope="module")
def page(server, browser):
    pg = new_page(browser, server["url"], DESKTOP)
    pg.goto(server["url"] + "/")
    yield pg
    pg.context.close()


@pytest.fixture(scope="module")
def phone(server, browser):
    pg = new_page(browser, server["url"], PHONE)
    yield pg
    pg.context.close()


IDLE = """() => document.querySelector('[data-testid="stApp"]')?.dataset.testScriptState === 'notRunning'
              && !document.querySelector('[data-testid="stStatusWidget"]')"""


def wait_idle(page) -> None:
    """Until Streamlit has finished the current run. The app's own script state, not only the
    running icon: the icon can be missing while a run still draws (a busy CI host once read a list
    that a "Hide it" run had not redrawn yet)."""
    page.wait_for_timeout(300)
    page.wait_for_function(IDLE, timeout=TIMEOUT_MS)


def goto_page(page, link: str, heading: str) -> None:
    """Click a page in the app's menu (in the sidebar; on a phone the sidebar opens first)."""
    if page.viewport_size["width"] < 640:  # a phone: the sidebar is folded away
        page.get_by_test_id("stExpandSidebarButton").click()
    page.get_by_test_id("stSidebar").get_by_role("link", name=link).click()
    page.get_by_role("heading", level=1).filter(has_text=heading).wait_for()


def open_url(page, path: str, heading: str) -> None:
    """A new session at ``path`` (e.g. ``/compare?r=50:5``), once the page has drawn."""
    page.goto(page.base + path)
    page.get_by_role("heading", level=1).filter(has_text=heading).wait_for()
    wait_idle(page)


def tables_drawn(page) -> None:
    """Until every visible dataframe on the page has drawn its canvas (one in a closed expander never does)."""
    page.wait_for_function("""() => Array.from(document.querySelectorAll('[data-testid="stDataFrame"]'))
                                .filter(d => d.checkVisibility()).every(d => d.querySelector("canvas"))""",
                           timeout=TIMEOUT_MS)


def snap(page, name: str) -> Path:
    """Screenshot the whole page at its width (``screenshots/NAME-WIDTH.png``): Streamlit scrolls
    inside its main block, so the viewport is made as tall as that block's content for the shot."""
    size = page.viewport_size
    for _ in range(4):  # a taller viewport may draw more (lazy tables): until the content fits
        hidden = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                               " return m ? m.scrollHeight - m.clientHeight : 0; }")  # px scrolled out of view
        height = page.viewport_size["height"]
        if hidden <= 0 or height >= 8000:  # (the main block fills the viewport, so its scrollHeight never
            break                          # settles while the viewport grows: compare with what it shows)
        page.set_viewport_size({"width": size["width"], "height": min(height + hidden + 40, 8000)})
        page.wait_for_timeout(900)
    path = SHOTS / f"{name}-{size['width']}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


def cells(page, column: str, key: str | None = None) -> list[str]:
    """The cells of the dataframe that has this column (or of the one in ``.st-key-KEY``): the
    glide grid draws on a canvas and keeps an accessible copy of the header and the cells in a table."""
    js = """([column, key]) => {
              const root = key ? document.querySelector('.st-key-' + key) : document;
              if (!root) return null;
              for (const d of root.querySelectorAll('[data-testid="stDataFrame"]')) {
                const head = Array.from(d.querySelectorAll('th')).map(c => c.textContent);
                if (head.includes(column)) {
                  const n = head.length, out = [];
                  const i = head.indexOf(column);
                  const all = Array.from(d.querySelectorAll('td')).map(c => c.textContent);
                  for (let r = 0; r * n < all.length; r++) out.push(all[r * n + i]);
                  return out;
                }
              } return null; }"""
    page.wait_for_function(js, arg=[column, key], timeout=TIMEOUT_MS)
    return [c.strip() for c in page.evaluate(js, [column, key])]


def no_exception(page) -> None:
    """No Streamlit exception on the page, and nothing asked of another host (the app works offline)."""
    assert page.get_by_test_id("stException").count() == 0
    assert not getattr(page, "blocked", []), f"requests off the machine: {page.blocked[:3]}"
