"""Benchmark: one target-task training (40 epochs, batch 5, validation every 5 steps) on Star Wars.

    python bench/train_speed.py [--repeats 3] [--presets seed,best]

Prints the median wall time per preset with the speed-ups of gnnrec.fast, the nodes the partial
pass computes, and the ratio to the reference path (autograd through all 1,682 nodes, timed over a
few steps). ``--reference`` times whole trainings on the reference path instead (slow).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from gnnrec import data as data_mod
from gnnrec import evaluate, fast
from gnnrec.gnn import GNNPredictor
from gnnrec.graph import ItemGraph


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--presets", default="seed,best")
    ap.add_argument("--target", type=int, default=50)
    ap.add_argument("--reference", action="store_true", help="time the reference path (GNNREC_FAST=0) instead")
    args = ap.parse_args()
    fast.configure_process()
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
            if args.reference:
                with fast.disabled():
                    pred = GNNPredictor(cfg).fit(train, graph, valid)
            else:
                pred = GNNPredictor(cfg).fit(train, graph, valid)
            times.append(time.perf_counter() - t0)
        res = pred.results[0]
        steps = res.history[-1][0]
        # a reference step on the same batch size, for the ratio
        with fast.disabled():
            ref = GNNPredictor(cfg).use(train, graph)
            model, sig = pred.models[0], ref.encode(train[:5])[0]
            t0 = time.perf_counter()
            for _ in range(20):
                ref.forward(model, sig)[:, args.target - 1].sum().backward()
            full_step = (time.perf_counter() - t0) / 20
        fast_total = statistics.median(times)
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"preset {name:<5} {'reference' if args.reference else 'fast'} median {fast_total:6.2f} s over "
              f"{args.repeats} runs ({runs}); {steps} steps, {len(res.history)} validations; layer-1 nodes computed "
              f"{len(pred.plan([args.target - 1]).nodes[1])} of "
              f"{x.shape[1]}; full-graph step {full_step * 1e3:.1f} ms -> est. full training "
              f"{full_step * steps:.0f} s (x{full_step * steps / fast_total:.0f} the fast training)")


if __name__ == "__main__":
    main()
