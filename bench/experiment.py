"""Benchmark: the whole target-task experiment (GNN, GNN-last, linear filter, k-NN, item mean, and
the classical reference: k-NN with baselines fitted on every other rating).

    python bench/experiment.py [--targets 50] [--splits 10] [--preset best] [--json out.json]

Prints per target the mean ± std RMSE of every model over the splits, the GNN's ratio to the
k-NN and to the k-NN with baselines, the wall time and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from gnnrec import data as data_mod
from gnnrec import evaluate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="50")
    ap.add_argument("--splits", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preset", default="best")
    ap.add_argument("--json")
    args = ap.parse_args()
    d = data_mod.load()
    out = {}
    for target in (int(t) for t in args.targets.split(",")):
        t0 = time.perf_counter()
        res = evaluate.evaluate_target(d, evaluate.EvalConfig(target=target, splits=args.splits, seed=args.seed,
                                                              preset=args.preset), workers=2)
        secs = time.perf_counter() - t0
        s = res["summary"]
        out[target] = {"title": res["title"], "seconds": secs, "summary": s}
        print(f"{target:>5} {res['title'][:34]:<34} " +
              "  ".join(f"{n} {v['mean']:.4f}±{v['std']:.3f}" for n, v in s.items()) +
              f"  gnn/knn {s['gnn']['mean'] / s['knn']['mean']:.3f}"
              f"  gnn/knn_baseline {s['gnn']['mean'] / s['knn_baseline']['mean']:.3f}  {secs:.1f} s", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"preset {args.preset}, {args.splits} splits from seed {args.seed}; peak RSS {peak:.0f} MiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
