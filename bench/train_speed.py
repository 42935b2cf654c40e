"""Benchmark: one target-task training (40 epochs, batch 5, validation every 5 steps) on Star Wars.

    python bench/train_speed.py [--repeats 3] [--presets seed,best]

Prints the median wall time per preset, the nodes the fast path computes, and the ratio to the
full-graph forward (the same training computed on all 1,682 nodes, timed over a few steps).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from gnnrec import data as data_mod
from gnnrec import evaluate
from gnnrec.gnn import GNNPredictor
from gnnrec.graph import ItemGraph


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--presets", default="seed,best")
    ap.add_argument("--target", type=int, default=50)
    args = ap.parse_args()
    d = data_mod.load()
    x = d.matrix()
    split = evaluate.target_split(d, args.target, 0)
    train, valid = x[split.train_users - 1], x[split.valid_users - 1]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; target {d.title(args.target)}; "
          f"{len(train)} train / {len(valid)} valid users")
    for name in args.presets.split(","):
        cfg, _, gcfg = evaluate.split_models(evaluate.EvalConfig(target=args.target, preset=name), args.target - 1, 0)
        graph = ItemGraph.build(train, gcfg)
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            pred = GNNPredictor(cfg).fit(train, graph, valid)
            times.append(time.perf_counter() - t0)
        res = pred.results[0]
        steps = res.history[-1][0]
        # the full-graph forward on the same batch size, for the ratio
        model, s = pred.models[0], pred._s
        sig, _ = pred._encode(train[:5])
        t0 = time.perf_counter()
        for _ in range(20):
            out = model(sig, s)[:, args.target - 1].sum()
            out.backward()
        full_step = (time.perf_counter() - t0) / 20
        fast_total = statistics.median(times)
        print(f"preset {name:<5} median {fast_total:6.2f} s over {args.repeats} runs ({', '.join(f'{t:.2f}' for t in times)}); "
              f"{steps} steps, {len(res.history)} validations; layer-1 nodes computed {len(pred._plan.nodes[1])} of "
              f"{x.shape[1]}; full-graph step {full_step * 1e3:.1f} ms -> est. full training "
              f"{full_step * steps:.0f} s (x{full_step * steps / fast_total:.0f})")


if __name__ == "__main__":
    main()
