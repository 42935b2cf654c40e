"""Benchmark: what a Train-page training costs here, against the estimate the app refuses jobs by.

    python bench/job_cost.py [--fit]

Trains the app's custom all-movies GNN (gnnrec.app.live.train_model, in this process, normal
priority) for several settings, from the smallest to the largest the page allows, and prints per
setting: optimiser steps, measured seconds, the estimate of ``TrainSpec.estimate_seconds`` and
their ratio. ``--fit`` also prints the least-squares coefficients of the cost model
(``live.COST``'s form: seconds = fixed + per epoch + per step + per unit of work) from these runs,
which is how ``live.COST`` was set. The host's CPU count and load average are printed: on a shared
machine the times include waiting for a core.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from gnnrec import data as data_mod
from gnnrec.app import live

SPECS = [
    live.TrainSpec(taps=(2,), widths=(4,), k=5, epochs=1, batch_size=64),
    live.TrainSpec(taps=(2,), widths=(4,), k=5, epochs=1, batch_size=8),
    live.TrainSpec(taps=(3, 3), widths=(32, 16), k=10, epochs=2, batch_size=32),
    live.TrainSpec(taps=(5, 5), widths=(64, 32), k=10, epochs=1, batch_size=32),
    live.TrainSpec(taps=(3,), widths=(64,), k=40, epochs=1, batch_size=64),
    live.TrainSpec(taps=(6, 6, 6), widths=(16, 16, 16), k=20, epochs=1, batch_size=16),
    live.TrainSpec(taps=(4, 4), widths=(48, 24), k=20, epochs=2, batch_size=24),
    live.TrainSpec(taps=(6, 6, 6), widths=(64, 64, 64), k=40, epochs=1, batch_size=8),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fit", action="store_true", help="print the cost model's least-squares coefficients")
    ap.add_argument("--only", type=int, nargs="*", help="indices of SPECS to run (default: all)")
    args = ap.parse_args()
    data = data_mod.load()
    print(f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; budget {live.BUDGET_SECONDS:.0f} s")
    print(f"{'#':>2} {'taps':<9} {'widths':<10} {'k':>3} {'ep':>3} {'batch':>5} {'steps':>5} {'measured s':>10} "
          f"{'estimate s':>10} {'ratio':>6}")
    rows = []
    for i, spec in enumerate(SPECS):
        if args.only and i not in args.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            live.train_model(data, spec, f"cost-{i}", folder=Path(tmp))
            seconds = time.perf_counter() - t0
        est = spec.estimate_seconds()
        rows.append((live.cost_features(spec), seconds))
        print(f"{i:>2} {str(spec.taps):<9} {str(spec.widths):<10} {spec.k:>3} {spec.epochs:>3} {spec.batch_size:>5} "
              f"{spec.steps():>5} {seconds:>10.1f} {est:>10.1f} {est / seconds:>6.2f}", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    if args.fit and len(rows) >= 4:
        x = np.array([f for f, _ in rows])
        y = np.array([s for _, s in rows])
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        print("least-squares cost coefficients (fixed, per epoch, per step, per work unit):",
              ", ".join(f"{c:.4g}" for c in coef))


if __name__ == "__main__":
    main()
