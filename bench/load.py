"""Load test: many sessions on one app server while it retrains (loopback only, bounded).

    GNNREC_DATA_DIR=/tmp/gnnrec-cache python bench/load.py [--sessions 10] [--seconds 120]
    GNNREC_DATA_DIR=/tmp/gnnrec-cache python bench/load.py --retrains 20 [--client browser]
    GNNREC_DATA_DIR=/tmp/gnnrec-cache python bench/load.py --client browser [--sessions 10] [--seconds 120]

Starts ``streamlit run app.py`` on a free port of 127.0.0.1 (its models folder a temporary copy of
``models/``, so nothing is written into the repository) and drives it with one of two clients. It
stops by itself: after ``--seconds`` no session starts a new action, and every wait has a time limit.

``--client ws`` (default): each session is a pure-Python Streamlit websocket client
(bench/stclient.py) that speaks the protocol as the browser's frontend does (the ping, the XSRF
cookie and subprotocol, ``rerun_script`` with the widget states, the ForwardMsg cache, fragment
auto-reruns) and reads the elements the app sends: cheap enough that the sessions do not take
the 2 cores from the server. An action's time ends when its script run has finished.
``--client browser``: one headless Chromium (Playwright), one browser context per session, every
request off the machine blocked; the browsers compete with the server for the CPU.

Before the timed sessions, one share link is opened on the fresh server (its cold start: imports,
the data, the model), timed and printed on its own. Default mode: ``--sessions`` sessions (with
``--think``, each arriving at a random moment of the first ``--think`` seconds) each open a share
link (``/?r=...``) and then, until the time
is up, rate one more movie as a person does (pick it in "Find a movie", click the stars); every 5th
action opens a new share link instead. Each action is timed from the click (or the page load) to
the new recommendations shown: the "Your ratings (n)" count updated and a GNN top list shown
(browser: its text changed, or the script run finished; ws: the run finished, and how often the
list's data was unchanged is printed). Meanwhile one more session retrains tiny GNNs through the
Train page (1 layer, 2 taps, width 4, 1 epoch), one after another. Errors: an action over its time
limit, an exception shown, a lost page or socket, and tracebacks in the server's log.

``--retrains N``: one session trains N tiny GNNs one after another through the Train page, opens
recommendations with each new model (``/?r=...&model=NAME``, which loads it into the server's
caches) and prints the server's memory after each: it must stay bounded (the caches have limits).

Printed: errors (goal 0), p50/p95 rating -> recommendations (goal p95 <= 0.5 s with ``--think``,
1 s back to back) and share link -> recommendations (goal p95 <= 1 s), the server's CPU seconds per
action, the peak memory of the server and its job processes together (their proportional set sizes
summed, sampled every 0.25 s; goal <= 1.5 GB), each with its ratio to the goal. The host's CPU count
and load average are printed: on a shared 2-core machine the times include waiting for a core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the server start shared with the tests

from helpers import free_port, models_copy, start_streamlit, stop_streamlit  # noqa: E402

# bench/stclient.py, beside this file (python bench/load.py puts bench/ first on the path)
from stclient import SessionError, StreamlitSession  # noqa: E402

CLIENTS = {"ws": "Streamlit websocket clients", "browser": "headless Chromium"}
CHROMIUM = os.environ.get("GNNREC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
# p95 goals in seconds (ratings with people thinking between actions; back to back: 1 s) and peak memory
GOALS = {"rating": 0.5, "link": 1.0, "back_to_back": 1.0, "rss": 1.5e9}
WAIT_MS = 60_000          # one action's limit (an action slower than this counts as an error)
TRAIN_WAIT_MS = 240_000   # one tiny retraining's limit
TINY = {"tr_taps_0": 2, "tr_width_0": 4, "tr_epochs": 1, "tr_batch": 64}  # the Train form, after Layers = 1
GNN_HEADING = "GNN · model"  # the Recommend page's heading over the GNN top list
TOP = """() => { const h = Array.from(document.querySelectorAll('h3')).find(e => e.innerText.startsWith('GNN · model'));
  const c = h && h.closest('[data-testid="stColumn"]'); return c && c.querySelector('[data-testid="stDataFrame"]'); }"""
# the GNN top list's text: glide-data-grid keeps an accessible copy of the visible cells in <td>s
TOP_JS = (f"() => {{ const t = ({TOP})(); "
          "return t ? Array.from(t.querySelectorAll('td')).map(c => c.textContent).join('|') : ''; }}")




# -- the server -----------------------------------------------------------------------------------------
class Server:
    """``streamlit run app.py`` on 127.0.0.1 with a temporary copy of models/; samples its memory."""

    def __init__(self, tmp: Path):
        self.models = models_copy(tmp / "models")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "server.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115  closed in stop()
        env = dict(os.environ, GNNREC_MODELS_DIR=str(self.models))
        self.proc = start_streamlit(self.port, env, self.log, timeout=90)
        self.peak_sampled = 0  # the process tree's summed Pss, sampled every 0.25 s
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the server process so far (not of its job processes)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def status(self, field: str, pid: int | None = None) -> int:
        """A memory line of /proc/PID/status in bytes (VmRSS now, VmHWM the peak so far)."""
        for line in Path(f"/proc/{pid or self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        return 0

    def tree(self) -> list[int]:
        """The server and its descendants (the training/evaluation child processes of gnnrec.app.jobs
        and multiprocessing's helpers)."""
        pids, i = [self.proc.pid], 0
        while i < len(pids):
            for task in Path(f"/proc/{pids[i]}/task").glob("*/children"):
                try:
                    pids += [int(c) for c in task.read_text().split()]
                except OSError:
                    pass
            i += 1
        return pids

    def pss_total(self) -> int:
        """Proportional set size (``Pss`` of /proc/PID/smaps_rollup: each page shared by n
        processes counted 1/n in each) summed over the server's process tree: the memory the
        host holds for them now. (A VmRSS sum would count torch's libraries, mapped by the server
        and by a job's child alike, twice.)"""
        total = 0
        for pid in self.tree():
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
            except OSError:  # a child that just ended
                pass
        return total

    def _sample(self) -> None:
        while not self._stop.is_set() and self.proc.poll() is None:
            self.peak_sampled = max(self.peak_sampled, self.pss_total())  # a process gone meanwhile counts 0
            self._stop.wait(0.25)

    def tracebacks(self) -> int:
        self.log.flush()
        return self.log_path.read_text(errors="replace").count("Traceback")

    def stop(self) -> None:
        self._stop.set()
        stop_streamlit(self.proc)
        self.log.close()


# -- the sessions -----------------------------------------------------------------------------------------
def movie_labels() -> dict[int, str]:
    """The 300 most rated movies, labelled as the app's search box labels them."""
    from gnnrec import data
    from gnnrec.app import catalog

    d = data.load()
    labels = catalog.movie_labels(d)
    popular = d.n_raters().argsort()[::-1][:300] + 1
    return {int(m): labels[int(m)] for m in popular}


class Stats:
    def __init__(self):
        self.rating: list[float] = []   # a star click -> new recommendations
        self.link: list[float] = []     # a share link opened -> recommendations
        self.errors: list[str] = []
        self.trainings: list[float] = []
        self.unchanged = 0              # ws client: ratings after which the GNN top list's data was the same


def share_query(ratings: dict[int, int], model: str | None = None) -> str:
    """The query string of a share link (``r=50:5,181:4``, and ``&model=NAME``)."""
    return "r=" + ",".join(f"{m}:{r}" for m, r in ratings.items()) + (f"&model={model}" if model else "")


def describe(e: BaseException) -> str:
    """An exception in one line: its type and the first line of its message."""
    return f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:160]}"


class BrowserTab:
    """A person in one headless Chromium tab (its own browser context), acting through the UI."""

    def __init__(self, context, page, url: str):
        self.context, self.page, self.url = context, page, url

    @classmethod
    async def open(cls, browser, url: str) -> BrowserTab:
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        local = (url, url.replace("127.0.0.1", "localhost"), "data:", "blob:", "about:")

        async def route(r):
            if r.request.url.startswith(local):
                await r.continue_()
            else:
                await r.abort()

        await context.route("**/*", route)
        page = await context.new_page()
        page.set_default_timeout(WAIT_MS)
        return cls(context, page, url)

    async def close(self) -> None:
        await self.context.close()

    async def idle(self) -> None:
        await self.page.wait_for_timeout(150)
        await self.page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                                          timeout=WAIT_MS)

    async def check(self) -> None:
        if await self.page.get_by_test_id("stException").count():
            raise RuntimeError("an exception shown on the page")

    async def open_link(self, ratings: dict[int, int], model: str | None = None) -> float:
        """Open a share link; seconds until the GNN top list is shown (with ``model``: its heading too)."""
        t0 = time.perf_counter()
        await self.page.goto(f"{self.url}/?{share_query(ratings, model)}")
        await self.page.get_by_text(f"Your ratings ({len(ratings)})").first.wait_for()
        await self.page.wait_for_function(f"() => ({TOP_JS})() !== ''", timeout=WAIT_MS)
        dt = time.perf_counter() - t0
        await self.idle()
        if model:
            await self.page.get_by_role("heading", name=f"GNN · model {model}").wait_for()
        await self.check()
        return dt

    async def rate(self, label: str, stars: int, n_after: int) -> float:
        """Rate a movie through the UI; seconds from the star click to the new recommendations."""
        page = self.page
        box = page.get_by_role("combobox", name="Find a movie")
        await box.click()
        await box.fill(label)
        await page.get_by_role("option").filter(has_text=label).first.click()
        await self.idle()
        before = await page.evaluate(TOP_JS)
        t0 = time.perf_counter()
        await page.get_by_role("radio", name=f"{stars} out of 5 stars").click()
        await page.wait_for_function(
            """([before, n]) => {
                 const count = Array.from(document.querySelectorAll('[data-testid="stExpander"] summary'))
                   .some(s => s.innerText.includes('Your ratings (' + n + ')'));
                 if (!count) return false;
                 const now = (TOPJS)();
                 if (now !== '' && now !== before) return true;
                 return !document.querySelector('[data-testid="stStatusWidget"]');
               }""".replace("TOPJS", TOP_JS), arg=[before, n_after], timeout=WAIT_MS)
        dt = time.perf_counter() - t0
        await self.idle()
        await self.check()
        return dt

    async def train(self, name: str) -> float:
        """One tiny retraining through the Train page; seconds from the click to 'Saved model'."""
        page = self.page
        await page.goto(f"{self.url}/train")
        await page.get_by_role("heading", level=1).filter(has_text="Train a GNN").wait_for()
        await self.idle()
        layers = page.locator(".st-key-tr_layers input")
        await layers.fill("1")
        await layers.press("Enter")
        await page.locator(".st-key-tr_taps_1").wait_for(state="detached")
        await self.idle()
        for key, value in TINY.items():
            box = page.locator(f".st-key-{key} input")
            await box.fill(str(value))
            await box.press("Tab")
        box = page.get_by_role("textbox", name="Save as (new model name)")
        await box.fill(name)
        await box.press("Tab")
        t0 = time.perf_counter()
        await page.get_by_role("button", name="Train", exact=True).click()
        await page.get_by_text(f"Saved model {name}").first.wait_for(timeout=TRAIN_WAIT_MS)
        dt = time.perf_counter() - t0
        await self.idle()
        await self.check()
        return dt


class WsTab:
    """A person on Streamlit websocket sessions (bench/stclient.py), acting as the browser would:
    each share link or visit of the Train page is a new session, as a page load is."""

    def __init__(self, url: str, stats: Stats):
        self.url, self.stats = url, stats
        self.session: StreamlitSession | None = None

    @classmethod
    async def open(cls, url: str, stats: Stats) -> WsTab:
        return cls(url, stats)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def _load(self, page: str = "", query: str = "") -> float:
        """A page load: a new session on ``page?query``; seconds until its first run finished."""
        await self.close()
        t0 = time.perf_counter()
        self.session = await StreamlitSession.open(self.url, page, query, timeout=WAIT_MS / 1e3)
        return time.perf_counter() - t0

    def _expect_recommendations(self, n: int) -> bytes:
        """The GNN top list's Arrow bytes; a SessionError unless 'Your ratings (n)' and it are shown."""
        s = self.session
        if f"Your ratings ({n})" not in s.expander_labels():
            raise SessionError(f"'Your ratings ({n})' not shown (expanders: {s.expander_labels()})")
        top = s.table_beside(GNN_HEADING)
        if top is None:
            raise SessionError("no GNN top list shown")
        return top

    async def open_link(self, ratings: dict[int, int], model: str | None = None) -> float:
        """Open a share link; seconds until its run finished showing the GNN top list."""
        dt = await self._load(query=share_query(ratings, model))
        self._expect_recommendations(len(ratings))
        if model and f"{GNN_HEADING} {model}" not in self.session.headings():
            raise SessionError(f"model {model} not shown (headings: {self.session.headings()})")
        return dt

    async def rate(self, label: str, stars: int, n_after: int) -> float:
        """Pick the movie in "Find a movie", then click the stars; seconds from the stars' rerun
        request to its run finished with the new count and a GNN top list."""
        s = self.session
        await s.rerun({"rate_movie": ("string_value", label)}, timeout=WAIT_MS / 1e3)
        before = s.table_beside(GNN_HEADING)
        stars_key = next((k for k in s.user_keys() if k.startswith("rate_stars_")), None)
        if stars_key is None:
            raise SessionError("no star rating on the page")
        dt = await s.rerun({stars_key: ("string_value", str(stars - 1))}, timeout=WAIT_MS / 1e3,
                           full=True)  # stars: 0..4; rated, the page reruns
        self.stats.unchanged += self._expect_recommendations(n_after) == before
        return dt

    async def train(self, name: str) -> float:
        """One tiny retraining through the Train page; seconds from the Train click to 'Saved model'."""
        await self._load(page="train")
        s = self.session
        await s.rerun({"tr_layers": ("double_value", 1.0)}, timeout=WAIT_MS / 1e3)
        if "tr_taps_1" in s.user_keys():
            raise SessionError("the Train form still shows a second layer")
        form = {key: ("double_value", float(v)) for key, v in TINY.items()}
        form["tr_name"] = ("string_value", name)
        t0 = time.perf_counter()
        await s.rerun(form, trigger="tr_start", timeout=WAIT_MS / 1e3)
        await s.wait(lambda: saved(s, name), TRAIN_WAIT_MS / 1e3)
        return time.perf_counter() - t0


def saved(session: StreamlitSession, name: str) -> bool:
    """Whether the Train page's finished run shows model ``name`` saved; a SessionError if it
    shows an exception, an error or a cancelled training."""
    session.check()
    alerts = session.alerts()
    failed = [body for kind, body in alerts if kind == "ERROR" or body.startswith("Training cancelled")]
    if failed:
        raise SessionError(f"training {name}: {failed[0][:160]}")
    return session.idle() and any(kind == "SUCCESS" and body.startswith(f"Saved model **{name}**")
                                  for kind, body in alerts)


async def rater(new_tab, labels: dict[int, str], deadline: float, stats: Stats, seed: int,
                think: float = 0.0) -> None:
    """One person: share links and ratings until the deadline, pausing a random 0.5-1.5 x ``think``
    seconds after each action (0: back to back, the server's saturation point). With ``think``,
    the person arrives at a random moment of the first ``think`` seconds (people do not all click
    in the same millisecond; back to back, all start at once)."""
    rng = random.Random(seed)
    movies = list(labels)
    tab = await new_tab()
    if think > 0:
        await asyncio.sleep(rng.uniform(0, think))
    try:
        ratings: dict[int, int] = {}
        action = 0
        while time.time() < deadline:
            try:
                if action % 5 == 0 or len(ratings) >= 25:
                    ratings = {m: rng.randint(1, 5) for m in rng.sample(movies, rng.randint(2, 4))}
                    stats.link.append(await tab.open_link(ratings))
                else:
                    m = rng.choice([m for m in movies if m not in ratings])
                    ratings[m] = rng.randint(1, 5)
                    stats.rating.append(await tab.rate(labels[m], ratings[m], len(ratings)))
            except Exception as e:  # noqa: BLE001  a timeout, a lost page or socket, an exception shown: count it, start again
                stats.errors.append(f"session {seed}: {describe(e)}")
                action = -1  # reopen a link
            action += 1
            if think > 0:
                await asyncio.sleep(think * rng.uniform(0.5, 1.5))
    finally:
        await tab.close()


async def trainer(new_tab, deadline: float, stats: Stats) -> None:
    tab = await new_tab()
    try:
        i = 0
        while time.time() < deadline:
            i += 1
            try:
                stats.trainings.append(await tab.train(f"load-{os.getpid()}-{i}"))
            except Exception as e:  # noqa: BLE001
                stats.errors.append(f"trainer: {describe(e)}")
    finally:
        await tab.close()


# -- the report ---------------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def times_line(label: str, values: list[float], goal: float | None) -> None:
    if not values:
        print(f"  {label:<40} none")
        return
    p50, p95 = statistics.median(values), pct(values, 0.95)
    tail = f"  goal p95 <= {goal * 1e3:.0f} ms  ratio {p95 / goal:.2f} {'ok' if p95 <= goal else 'OVER'}" if goal else ""
    print(f"  {label:<40} n={len(values):4d}  p50 {p50 * 1e3:6.0f} ms  p95 {p95 * 1e3:6.0f} ms  "
          f"max {max(values) * 1e3:6.0f} ms{tail}", flush=True)


def mem_line(label: str, value: int, goal: float | None = None) -> None:
    tail = f"  goal <= {goal / 1e9:.2f} GB  ratio {value / goal:.2f} {'ok' if value <= goal else 'OVER'}" if goal else ""
    print(f"  {label:<56} {value / 1e6:8.0f} MB{tail}", flush=True)


async def main_async(args, server: Server, labels: dict[int, str]) -> int:
    stats = Stats()
    if args.client == "ws":
        return await run(args, server, labels, stats, lambda: WsTab.open(server.url, stats))
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            return await run(args, server, labels, stats, lambda: BrowserTab.open(browser, server.url))
        finally:
            await browser.close()


async def run(args, server: Server, labels: dict[int, str], stats: Stats, new_tab) -> int:
    """The load test (or with ``--retrains``, the retrainings), with tabs from ``new_tab()``."""
    if args.retrains:
        return await retrains(new_tab, server, args.retrains)
    cold = await warm_up(new_tab)
    deadline = time.time() + args.seconds
    t0, cpu0, server_cpu0 = time.perf_counter(), time.process_time(), server.cpu_seconds()
    tasks = [rater(new_tab, labels, deadline, stats, seed, args.think) for seed in range(args.sessions)]
    tasks.append(trainer(new_tab, deadline, stats))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=args.seconds + 300)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    server_cpu = server.cpu_seconds() - server_cpu0
    tracebacks = server.tracebacks()
    n_err = len(stats.errors) + tracebacks
    clients = f"{CLIENTS[args.client]}, using {cpu:.1f} CPU-s" if args.client == "ws" else CLIENTS[args.client]
    print(f"\n{args.sessions} sessions + 1 retraining session for {args.seconds} s, think {args.think} s "
          f"({clients}; ran {wall:.0f} s); "
          f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"  {'errors (actions failed, tracebacks in log)':<40} {n_err:8d}  goal 0  "
          f"{'ok' if n_err == 0 else 'OVER'} ({len(stats.errors)} actions, {tracebacks} tracebacks)")
    for e in stats.errors[:10]:
        print(f"    {e}")
    goal = GOALS["rating"] if args.think > 0 else GOALS["back_to_back"]
    times_line("rating -> new recommendations", stats.rating, goal)
    if args.client == "ws" and stats.rating:
        print(f"    (the GNN top list's data was unchanged after {stats.unchanged} of {len(stats.rating)} ratings; "
              "the ratings count changed after each)")
    times_line("share link opened -> recommendations", stats.link, max(goal, GOALS["link"]))
    times_line("tiny retraining (click -> saved)", stats.trainings, None)
    actions = len(stats.rating) + len(stats.link)
    print(f"  {'server CPU (its own process, not the jobs)':<40} {server_cpu:6.1f} s over {actions} actions: "
          f"{server_cpu / max(actions, 1) * 1e3:.0f} ms per action (with the trainer's page runs)")
    print(f"  {'cold start (untimed above)':<40} the first share link on the fresh server took {cold:.1f} s "
          "(imports, data, model)")
    mem_line("peak memory, server + job processes (sampled Pss sum)", server.peak_sampled, GOALS["rss"])
    mem_line("  of which the server process (VmHWM)", server.status("VmHWM"))
    mem_line("server memory at the end (VmRSS)", server.status("VmRSS"))
    ok = n_err == 0 and stats.rating and pct(stats.rating, 0.95) <= goal and pct(stats.link, 0.95) <= max(goal, GOALS["link"])
    return 0 if ok else 1


async def warm_up(new_tab) -> float:
    """One share link opened on the fresh server before the timed sessions start (what the
    server's first visitor gets: imports, the data, the model); its seconds."""
    tab = await new_tab()
    try:
        return await tab.open_link({50: 5, 181: 4, 1: 2})
    finally:
        await tab.close()


async def retrains(new_tab, server: Server, n: int) -> int:
    tab = await new_tab()
    rss: list[int] = []
    print(f"{n} tiny retrainings through the Train page, each model then opened on the Recommend page:")
    mem_line("server memory before (VmRSS)", server.status("VmRSS"))
    errors = 0
    try:
        for i in range(1, n + 1):
            name = f"retrain-{i}"
            try:
                dt = await tab.train(name)
                await tab.open_link({50: 5, 181: 4, 1: 2}, model=name)
            except Exception as e:  # noqa: BLE001
                errors += 1
                dt = float("nan")
                print(f"    retraining {i}: {describe(e)}")
            rss.append(server.status("VmRSS"))
            print(f"  after retraining {i:2d} ({dt:5.1f} s): VmRSS {rss[-1] / 1e6:6.0f} MB", flush=True)
    finally:
        await tab.close()
    tracebacks = server.tracebacks()
    half = rss[len(rss) // 2:]
    # least-squares slope over the second half: the two end points alone pick up the noise
    # of the garbage collector and the allocator (RSS swings by ~300 MB between retrainings)
    growth = float(np.polyfit(np.arange(len(half)), half, 1)[0]) if len(half) >= 2 else 0.0
    print(f"  errors {errors + tracebacks} (goal 0; {tracebacks} tracebacks in the log)")
    mem_line("VmRSS after the first retraining", rss[0])
    mem_line("VmRSS after the last retraining", rss[-1])
    mem_line("max VmRSS over the retrainings", max(rss))
    print(f"  growth over the second half: {growth / 1e6:+.1f} MB per retraining "
          f"(bounded: {'yes' if growth < 5e6 else 'NO'}; goal < +5 MB)")
    mem_line("peak memory, server + job processes (sampled Pss sum)", server.peak_sampled, GOALS["rss"])
    mem_line("  of which the server process (VmHWM)", server.status("VmHWM"))
    return 0 if errors + tracebacks == 0 and growth < 5e6 else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--client", choices=sorted(CLIENTS), default="ws",
                    help="ws: Streamlit websocket clients (default); browser: headless Chromium")
    ap.add_argument("--sessions", type=int, default=10, help="concurrent rating sessions (default 10)")
    ap.add_argument("--seconds", type=float, default=120, help="how long they rate (default 120)")
    ap.add_argument("--think", type=float, default=0.0,
                    help="mean pause in seconds after each action of a session (default 0: back to back)")
    ap.add_argument("--retrains", type=int, default=0, help="instead: N successive tiny retrainings, memory after each")
    args = ap.parse_args(argv)
    if args.client == "browser" and not Path(CHROMIUM).exists():
        print(f"no Chromium at {CHROMIUM}", file=sys.stderr)
        return 2
    print("command: " + " ".join(["python", "bench/load.py", *(argv if argv is not None else sys.argv[1:])]))
    labels = movie_labels()
    with tempfile.TemporaryDirectory(prefix="gnnrec-load-") as tmp:
        server = Server(Path(tmp))
        try:
            return asyncio.run(main_async(args, server, labels))
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
