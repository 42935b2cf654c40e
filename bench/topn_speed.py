"""Benchmark: the ranking GNN's training time on every rating, and a new user's list.

    python bench/topn_speed.py [--repeats 50] [--skip-train]

Prints the seconds `fit_rank_gnn` takes on all of MovieLens-100K (goal: <= 60 s on a 2-core
machine), and the median and p95 of a new user's top-10 from the committed ranking GNN
(`RankGNNRanker.recommend`, goal: <= 20 ms) for profiles of 3, 20 and 100 ratings, beside
`Recommender.recommend` (both lists and every prediction) and `explain_listing`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from recommend_speed import timed  # bench/ is on the path when a bench script runs

from gnnrec import data as data_mod
from gnnrec.recommender import Recommender
from gnnrec.topn.training import fit_rank_gnn


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--skip-train", action="store_true")
    args = ap.parse_args()
    d = data_mod.load()
    if not args.skip_train:
        t0 = time.perf_counter()
        fit_rank_gnn(d.matrix())
        secs = time.perf_counter() - t0
        print(f"fit_rank_gnn on every rating: {secs:.1f} s (goal 60 s: ratio {secs / 60:.2f})")
    rec = Recommender.load(data=d)
    x = d.matrix()
    rng = np.random.default_rng(0)
    for n in (3, 20, 100):
        user = int(rng.choice(np.flatnonzero((x > 0).sum(1) >= n)))
        rated = np.flatnonzero(x[user])[:n]
        ratings = {int(m) + 1: float(x[user, m]) for m in rated}
        v = rec.vector(ratings)
        med, p95 = timed(lambda v=v: rec.ranker.recommend(v, 10), args.repeats)
        print(f"{n:>3} ratings: ranking GNN top-10 median {med:.1f} ms, p95 {p95:.1f} ms (goal 20 ms: ratio "
              f"{p95 / 20:.2f})")
        med, p95 = timed(lambda r=ratings: rec.recommend(r, top=10, min_raters=50), max(5, args.repeats // 5))
        print(f"{'':>12} Recommender.recommend (both lists, every prediction) median {med:.0f} ms, p95 {p95:.0f} ms")
        movie = int(rec.recommend(ratings, top=1).top["gnn"]["movie"][0])
        med, p95 = timed(lambda r=ratings, m=movie: rec.explain_listing(r, m), max(5, args.repeats // 5))
        print(f"{'':>12} explain_listing median {med:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
