"""Load test: many browser sessions on one app server while it retrains (loopback only, bounded).

    GNNREC_DATA_DIR=/tmp/gnnrec-cache python bench/load.py [--sessions 10] [--seconds 120]
    GNNREC_DATA_DIR=/tmp/gnnrec-cache python bench/load.py --retrains 20

Starts ``streamlit run app.py`` on a free port of 127.0.0.1 (its models folder a temporary copy of
``models/``, so nothing is written into the repository; every request off the machine is blocked)
and drives it with one headless Chromium (Playwright), one browser context per session. It stops by
itself: after ``--seconds`` no session starts a new action, and every wait has a time limit.

Default mode: ``--sessions`` sessions each open a share link (``/?r=...``) and then, until the time
is up, rate one more movie through the UI (pick it in "Find a movie", click the stars); every 5th
action opens a new share link instead. Each action is timed from the click (or the navigation) to
the new recommendations shown: the "Your ratings (n)" count updated and the GNN top table's text
changed (or, should the list be unchanged, the script run finished). Meanwhile one more session
retrains tiny GNNs through the Train page (1 layer, 2 taps, width 4, 1 epoch), one after another.

``--retrains N``: one session trains N tiny GNNs one after another through the Train page, opens
recommendations with each new model (``/?r=...&model=NAME``, which loads it into the server's
caches) and prints the server's memory after each: it must stay bounded (the caches have limits).

Printed: errors (goal 0), p50/p95 action -> recommendations (goal p95 <= 1 s), the server's peak
memory (VmHWM; goal <= 1.5 GB), each with its ratio to the goal. The host's CPU count and load
average are printed: on a shared 2-core machine the times include waiting for a core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("GNNREC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
GOALS = {"p95": 1.0, "rss": 1.5e9}
WAIT_MS = 60_000          # one action's limit (an action slower than this counts as an error)
TRAIN_WAIT_MS = 240_000   # one tiny retraining's limit
TOP = """() => { const h = Array.from(document.querySelectorAll('h3')).find(e => e.innerText.startsWith('GNN · model'));
  const c = h && h.closest('[data-testid="stColumn"]'); return c && c.querySelector('[data-testid="stDataFrame"]'); }"""
# the GNN top list's text: glide-data-grid keeps an accessible copy of the visible cells in <td>s
TOP_JS = f"() => {{ const t = ({TOP})(); return t ? Array.from(t.querySelectorAll('td')).map(c => c.textContent).join('|') : ''; }}"


# -- the server -----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``streamlit run app.py`` on 127.0.0.1 with a temporary copy of models/; samples its memory."""

    def __init__(self, tmp: Path):
        self.models = tmp / "models"
        self.models.mkdir()
        for f in (ROOT / "models").glob("*.pt"):
            shutil.copy(f, self.models / f.name)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "server.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115  closed in stop()
        env = dict(os.environ, GNNREC_MODELS_DIR=str(self.models))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
             str(self.port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.peak_sampled = 0
        self._stop = threading.Event()
        deadline = time.time() + 90
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}: {self.log_path.read_text()[-2000:]}")
            try:
                if urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("streamlit did not become healthy within 90 s")
            time.sleep(0.3)
        threading.Thread(target=self._sample, daemon=True).start()

    def status(self, field: str) -> int:
        """A memory line of /proc/PID/status in bytes (VmRSS now, VmHWM the peak so far)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        return 0

    def _sample(self) -> None:
        while not self._stop.is_set() and self.proc.poll() is None:
            try:
                self.peak_sampled = max(self.peak_sampled, self.status("VmRSS"))
            except OSError:
                return
            self._stop.wait(0.25)

    def tracebacks(self) -> int:
        self.log.flush()
        return self.log_path.read_text(errors="replace").count("Traceback")

    def stop(self) -> None:
        self._stop.set()
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


# -- the sessions -----------------------------------------------------------------------------------------
def movie_labels() -> dict[int, str]:
    """The 300 most rated movies, labelled as the app's search box labels them."""
    from gnnrec import catalog, data

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


async def new_page(browser, url: str):
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
    return context, page


async def idle(page) -> None:
    await page.wait_for_timeout(150)
    await page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=WAIT_MS)


async def exceptions(page) -> int:
    return await page.get_by_test_id("stException").count()


async def open_link(page, url: str, ratings: dict[int, int], model: str | None = None) -> float:
    """Open a share link; seconds until the GNN top list is shown."""
    link = ",".join(f"{m}:{r}" for m, r in ratings.items())
    t0 = time.perf_counter()
    await page.goto(f"{url}/?r={link}" + (f"&model={model}" if model else ""))
    await page.get_by_text(f"Your ratings ({len(ratings)})").first.wait_for()
    await page.wait_for_function(f"() => ({TOP_JS})() !== ''", timeout=WAIT_MS)
    dt = time.perf_counter() - t0
    await idle(page)
    return dt


async def rate_one(page, label: str, stars: int, n_after: int) -> float:
    """Rate a movie through the UI; seconds from the star click to the new recommendations."""
    box = page.get_by_role("combobox", name="Find a movie")
    await box.click()
    await box.fill(label)
    await page.get_by_role("option").filter(has_text=label).first.click()
    await idle(page)
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
    await idle(page)
    return dt


async def rater(browser, url: str, labels: dict[int, str], deadline: float, stats: Stats, seed: int) -> None:
    rng = random.Random(seed)
    movies = list(labels)
    context, page = await new_page(browser, url)
    try:
        ratings: dict[int, int] = {}
        action = 0
        while time.time() < deadline:
            try:
                if action % 5 == 0 or len(ratings) >= 25:
                    ratings = {m: rng.randint(1, 5) for m in rng.sample(movies, rng.randint(2, 4))}
                    stats.link.append(await open_link(page, url, ratings))
                else:
                    m = rng.choice([m for m in movies if m not in ratings])
                    ratings[m] = rng.randint(1, 5)
                    stats.rating.append(await rate_one(page, labels[m], ratings[m], len(ratings)))
                if await exceptions(page):
                    stats.errors.append(f"session {seed}: an exception shown on the page")
                    action = -1  # reopen a link
            except Exception as e:  # noqa: BLE001  a timeout or a lost page: count it, start again
                stats.errors.append(f"session {seed}: {type(e).__name__}: {str(e).splitlines()[0][:160]}")
                action = -1
            action += 1
    finally:
        await context.close()


async def train_once(page, url: str, name: str, first: bool) -> float:
    """One tiny retraining through the Train page; seconds from the click to 'Saved model'."""
    if first:
        await page.goto(f"{url}/train")
        await page.get_by_role("heading", level=1).filter(has_text="Train a GNN").wait_for()
        await idle(page)
        layers = page.locator(".st-key-tr_layers input")
        await layers.fill("1")
        await layers.press("Enter")
        await page.locator(".st-key-tr_taps_1").wait_for(state="detached")
        await idle(page)
        for key, value in (("tr_taps_0", "2"), ("tr_width_0", "4"), ("tr_epochs", "1"), ("tr_batch", "64")):
            box = page.locator(f".st-key-{key} input")
            await box.fill(value)
            await box.press("Tab")
    box = page.get_by_role("textbox", name="Save as (new model name)")
    await box.fill(name)
    await box.press("Tab")
    t0 = time.perf_counter()
    await page.get_by_role("button", name="Train", exact=True).click()
    await page.get_by_text(f"Saved model {name}").first.wait_for(timeout=TRAIN_WAIT_MS)
    dt = time.perf_counter() - t0
    await idle(page)
    return dt


async def trainer(browser, url: str, deadline: float, stats: Stats) -> None:
    context, page = await new_page(browser, url)
    try:
        i = 0
        while time.time() < deadline:
            i += 1
            try:
                stats.trainings.append(await train_once(page, url, f"load-{os.getpid()}-{i}", first=True))
                if await exceptions(page):
                    stats.errors.append("trainer: an exception shown on the page")
            except Exception as e:  # noqa: BLE001
                stats.errors.append(f"trainer: {type(e).__name__}: {str(e).splitlines()[0][:160]}")
    finally:
        await context.close()


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
    print(f"  {label:<40} {value / 1e6:8.0f} MB{tail}", flush=True)


async def main_async(args, server: Server, labels: dict[int, str]) -> int:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            if args.retrains:
                return await retrains(browser, server, args.retrains)
            stats = Stats()
            deadline = time.time() + args.seconds
            t0 = time.perf_counter()
            tasks = [rater(browser, server.url, labels, deadline, stats, seed) for seed in range(args.sessions)]
            tasks.append(trainer(browser, server.url, deadline, stats))
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=args.seconds + 300)
            wall = time.perf_counter() - t0
        finally:
            await browser.close()
    tracebacks = server.tracebacks()
    n_err = len(stats.errors) + tracebacks
    print(f"\n{args.sessions} sessions + 1 retraining session for {args.seconds} s (ran {wall:.0f} s); "
          f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"  {'errors (actions failed, tracebacks in log)':<40} {n_err:8d}  goal 0  "
          f"{'ok' if n_err == 0 else 'OVER'} ({len(stats.errors)} actions, {tracebacks} tracebacks)")
    for e in stats.errors[:10]:
        print(f"    {e}")
    times_line("rating -> new recommendations", stats.rating, GOALS["p95"])
    times_line("share link opened -> recommendations", stats.link, None)
    times_line("tiny retraining (click -> saved)", stats.trainings, None)
    mem_line("server peak memory (VmHWM)", max(server.status("VmHWM"), server.peak_sampled), GOALS["rss"])
    mem_line("server memory at the end (VmRSS)", server.status("VmRSS"))
    ok = n_err == 0 and stats.rating and pct(stats.rating, 0.95) <= GOALS["p95"]
    return 0 if ok else 1


async def retrains(browser, server: Server, n: int) -> int:
    context, page = await new_page(browser, server.url)
    rss: list[int] = []
    print(f"{n} tiny retrainings through the Train page, each model then opened on the Recommend page:")
    mem_line("server memory before (VmRSS)", server.status("VmRSS"))
    errors = 0
    try:
        for i in range(1, n + 1):
            name = f"retrain-{i}"
            try:
                dt = await train_once(page, server.url, name, first=True)
                await open_link(page, server.url, {50: 5, 181: 4, 1: 2}, model=name)
                await page.get_by_role("heading", name=f"GNN · model {name}").wait_for()
                if await exceptions(page):
                    errors += 1
            except Exception as e:  # noqa: BLE001
                errors += 1
                dt = float("nan")
                print(f"    retraining {i}: {type(e).__name__}: {str(e).splitlines()[0][:160]}")
            rss.append(server.status("VmRSS"))
            print(f"  after retraining {i:2d} ({dt:5.1f} s): VmRSS {rss[-1] / 1e6:6.0f} MB", flush=True)
    finally:
        await context.close()
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
    mem_line("server peak memory (VmHWM)", max(server.status("VmHWM"), server.peak_sampled), GOALS["rss"])
    return 0 if errors + tracebacks == 0 and growth < 5e6 else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=10, help="concurrent rating sessions (default 10)")
    ap.add_argument("--seconds", type=float, default=120, help="how long they rate (default 120)")
    ap.add_argument("--retrains", type=int, default=0, help="instead: N successive tiny retrainings, memory after each")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
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
