"""Benchmark: the host CPU a browser test's page loads cost, under each set of Chromium flags.

    PYTHONPATH=.:tests python bench/browser_cpu.py [--rounds 3] [VARIANT ...]

One real ``streamlit run app.py`` (tests/helpers.py); for each variant a fresh headless Chromium
(tests/browser.py's flags plus the variant's) opens two new sessions of four pages each (Recommend
with a share link, Compare, Train, Recommend again) and takes one full-page screenshot per session,
as the browser tests do. Printed per variant and round: wall seconds, Chromium's own CPU seconds
(its processes sampled from ``/proc``; a process that ends between samples is missed, so a low
bound) and the host's busy CPU seconds (``/proc/stat``: Chromium, the server and this script; the
number to compare, on a quiet host). ``base`` is the flags the tests run with minus the last one;
``tests`` is them exactly.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, wait_idle  # noqa: E402
from helpers import free_port, models_copy, start_streamlit, stop_streamlit  # noqa: E402
from pytest_times import host_busy  # noqa: E402  (bench/ is this script's folder)

BASE = [a for a in CHROMIUM_ARGS if not a.startswith("--js-flags")]
VARIANTS = {
    "base": BASE,
    "tests": CHROMIUM_ARGS,  # base + V8's optimising compilers off (--js-flags=--no-opt --no-maglev)
    "no-site-isolation": BASE + ["--disable-site-isolation-trials", "--disable-features=IsolateOrigins,site-per-process"],
    "no-zygote": BASE + ["--no-zygote"],
}
PAGES = [("/?r=50:5,181:4,1:2", "Recommendations"), ("/compare?r=50:5,181:4", "Compare"), ("/train", "Train"),
         ("/?r=50:5,181:4,1:3", "Recommendations")]
_seen: dict[str, int] = {}


def chromium_cpu() -> float:
    """CPU seconds of every Chromium process seen so far (the last sample of each)."""
    pids = subprocess.run(["pgrep", "-f", "chromium"], capture_output=True, text=True).stdout.split()
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            _seen[pid] = int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return sum(_seen.values()) / os.sysconf("SC_CLK_TCK")


def one_round(p, url: str, args: list[str]) -> tuple[float, float, float]:
    _seen.clear()
    wall, chrome, busy = time.perf_counter(), chromium_cpu(), host_busy()
    browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
    for _ in range(2):
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        for path, heading in PAGES:
            page.goto(url + path)
            page.get_by_role("heading", level=1).filter(has_text=heading).wait_for(timeout=90_000)
            wait_idle(page)
        page.screenshot(path=str(Path(tempfile.gettempdir()) / "browser_cpu.png"), full_page=True)
        context.close()
    chrome = chromium_cpu() - chrome
    browser.close()
    return time.perf_counter() - wall, chrome, host_busy() - busy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds of every variant, interleaved (default 3)")
    ap.add_argument("variants", nargs="*", default=list(VARIANTS), help=f"of {sorted(VARIANTS)} (default: all)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "server.log", "w") as log:
        port = free_port()
        env = dict(os.environ, GNNREC_MODELS_DIR=str(models_copy(Path(tmp) / "models")))
        proc = start_streamlit(port, env, log)
        try:
            with sync_playwright() as p:
                one_round(p, f"http://127.0.0.1:{port}", BASE)  # warm the server's caches, untimed
                rows: dict[str, list[tuple[float, float, float]]] = {v: [] for v in args.variants}
                for r in range(args.rounds):
                    for v in args.variants:
                        rows[v].append(one_round(p, f"http://127.0.0.1:{port}", VARIANTS[v]))
                        w, c, b = rows[v][-1]
                        print(f"round {r + 1}  {v:18s} wall {w:5.1f} s  chromium {c:5.1f} s  host busy {b:5.1f} s", flush=True)
        finally:
            stop_streamlit(proc)
    means = {v: [sum(x[i] for x in rs) / len(rs) for i in range(3)] for v, rs in rows.items()}
    first = means[args.variants[0]][2]
    print(f"\nmeans over {args.rounds} round(s), load average {os.getloadavg()[0]:.1f}:")
    for v, (w, c, b) in means.items():
        print(f"  {v:18s} wall {w:5.1f} s  chromium {c:5.1f} s  host busy {b:5.1f} s  "
              f"(host busy / {args.variants[0]}'s {b / first:.2f})")


if __name__ == "__main__":
    main()
