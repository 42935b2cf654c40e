"""Benchmark: predictions for all 1,682 movies plus both top-N lists for a new user.

    python bench/recommend_speed.py [--repeats 50]

Prints the median and p95 wall time of `Recommender.recommend` for a few rating profiles
(3, 20 and 100 ratings), and of `Recommender.explain` for the GNN and the k-NN.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from gnnrec import data as data_mod
from gnnrec.recommender import Recommender


def timed(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3, float(np.percentile(ts, 95)) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args()
    d = data_mod.load()
    t0 = time.perf_counter()
    rec = Recommender.load(data=d)
    print(f"Recommender.load: {time.perf_counter() - t0:.2f} s (model {rec.checkpoint.name})")
    x = d.matrix()
    profiles = {"3 ratings": {50: 5, 181: 4, 1: 2}}
    for n in (20, 100):
        user = int(np.flatnonzero((x > 0).sum(1) >= n)[0])
        rated = np.flatnonzero(x[user])[:n]
        profiles[f"{n} ratings"] = {int(m) + 1: float(x[user, m]) for m in rated}
    for name, ratings in profiles.items():
        med, p95 = timed(lambda ratings=ratings: rec.recommend(ratings, top=10, min_raters=20), args.repeats)
        print(f"recommend, {name:<11}: median {med:6.1f} ms, p95 {p95:6.1f} ms (goal: median <= 50 ms)")
    ratings = profiles["20 ratings"]
    for model in ("knn", "gnn"):
        med, p95 = timed(lambda model=model: rec.explain(ratings, 172, model), max(5, args.repeats // 5))
        print(f"explain {model}, 20 ratings: median {med:6.1f} ms, p95 {p95:6.1f} ms")


if __name__ == "__main__":
    main()
