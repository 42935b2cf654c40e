"""Benchmark: how often a live evaluation on the Compare page shows progress, as its bar sees it.

    python bench/live_progress.py [--target 100] [--splits 2] [--preset best]

Starts the evaluation as the page does (``gnnrec.app.live.start_evaluation``: a child process at the
lowest CPU priority) and samples what the page's bar would show every 0.1 s
(:func:`gnnrec.app.progress.eval_status`, never going back, in whole percent as the browser's
progress bar has it). Prints: seconds from Run to the first progress on the bar and to the first
event from the worker process; the longest wait between two changes of the bar (goal: progress
within 2 s of Run and at least every 5 s after) and between two events of the worker; and how
good the learnt estimate of the time left was at 25%, 50% and 75% of the run.

The host's load average is printed: on a shared machine the numbers include waiting for a core.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
GOALS = {"first": 2.0, "gap": 5.0}  # seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", type=int, default=100, help="GroupLens movie id (default 100, Fargo)")
    ap.add_argument("--splits", type=int, default=2)
    ap.add_argument("--preset", default="best")
    args = ap.parse_args()

    from gnnrec import data as data_mod
    from gnnrec.app import live, progress

    data = data_mod.load()
    print(f"live progress: {data.title(args.target)}, {args.splits} split(s), preset {args.preset}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    t0 = time.monotonic()
    job = live.start_evaluation(data, args.target, args.splits, args.preset)
    shown, bar, changes, etas = 0.0, None, [], []
    first_worker = None
    while job.running:
        now = time.monotonic()
        events = job.events()
        if first_worker is None and any(e.stage != "starting" for e in events):
            first_worker = now - t0
        status = progress.eval_status(events, args.splits, job.started)
        shown = max(shown, status.fraction)
        if round(shown * 100) != bar:
            bar = round(shown * 100)
            changes.append(now - t0)
        etas.append((now - t0, shown, status.eta))
        time.sleep(0.1)
    total = time.monotonic() - t0
    if job.state != "done":
        raise SystemExit(f"the evaluation {job.state}: {job.error}")
    worker = [e.t for e in job.events() if e.stage != "starting"]
    gaps = [b - a for a, b in zip(changes, changes[1:])]
    worker_gaps = [b - a for a, b in zip(worker, worker[1:])]
    line("Run -> first progress on the bar", changes[0], GOALS["first"])
    line("Run -> first event from the worker process", first_worker, None)
    line("longest wait between two changes of the bar", max(gaps), GOALS["gap"])
    line("longest wait between two events of the worker", max(worker_gaps), None)
    line("whole evaluation", total, None)
    for share in (0.25, 0.5, 0.75):
        at = next(((t, eta) for t, s, eta in etas if s >= share and eta is not None), None)
        if at is not None:
            print(f"  estimate at {share:.0%} of the bar ({at[0]:5.1f} s): {at[1]:5.1f} s left, "
                  f"actually {total - at[0]:5.1f} s", flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


def line(label: str, seconds: float, goal: float | None) -> None:
    tail = f"  goal {goal:.1f} s  {'ok' if seconds <= goal else 'OVER'}" if goal else ""
    print(f"  {label:<50} {seconds:6.2f} s{tail}", flush=True)


if __name__ == "__main__":
    main()
