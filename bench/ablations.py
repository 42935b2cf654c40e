"""What moved the error: named variants of a preset, each run on the same splits as its base.

    python bench/ablations.py --task target --variants seed,seed+co-raters,... --targets 50,100 --splits 3
    python bench/ablations.py --task all --variants all,all-plain-means,... --split-seed 0
    python bench/ablations.py --list

Target task: mean RMSE over the movies of ``--targets`` (the seed's protocol, ``--splits`` splits
seeded from ``--seed``). All-movies task: the test RMSE of one random 90/10 split (``--split-seed``).
Every variant is a preset changed in one named way, so each line says what that change did.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from gnnrec import allmovies, evaluate, fast
from gnnrec import data as data_mod
from gnnrec.presets import PRESETS, Preset


def _change(base: str, graph=None, train=None, **predictor) -> Preset:
    p = PRESETS[base]
    cfg = dataclasses.replace(p.predictor, **predictor)
    if train:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **train))
    g = dataclasses.replace(p.graph, **graph) if graph else p.graph
    return dataclasses.replace(p, predictor=cfg, graph=g)


VARIANTS = {  # name -> (task, preset, what changed)
    "seed": ("target", PRESETS["seed"], "the reference configuration"),
    "seed+co-raters": ("target", _change("seed", graph=dict(min_common=10)), "edges need >= 10 co-raters"),
    "seed+centred": ("target", _change("seed", graph=dict(min_common=10), encoding="centered+observed"),
                     "... and the input is user-centred with an observed channel"),
    "best": ("target", PRESETS["best"], "the tuned per-target recipe"),
    "best-centred": ("target", _change("best", encoding="centered+observed"), "user-centred input, not the baseline"),
    "best-unshrunk": ("target", _change("best", graph=dict(shrinkage=0.0)), "correlations not shrunk"),
    "best-1-seed": ("target", _change("best", ensemble=1), "one model, not 3 averaged"),
    "best-mse": ("target", _change("best", train=dict(loss="mse")), "MSE loss, not Smooth L1"),
    "all": ("all", PRESETS["all"], "the all-movies recipe"),
    "all-plain-means": ("all", _change("all", item_damping=0.0, user_damping=0.0), "item means and user offsets "
                        "not damped"),
    "all-smooth-l1": ("all", _change("all", train=dict(loss="smooth_l1")), "Smooth L1 loss, not MSE"),
    "all-10-epochs": ("all", _change("all", train=dict(epochs=10)), "10 epochs, not 20"),
    "all-k10": ("all", _change("all", graph=dict(k=10)), "k = 10 neighbours, not 20"),
    "all-co-raters": ("all", _change("all", graph=dict(min_common=10)), "edges need >= 10 co-raters"),
}


def run_target(d, preset: Preset, targets: list[int], splits: int, seed: int) -> float:
    rmses = []
    for t in targets:
        res = evaluate.evaluate_target(d, evaluate.EvalConfig(target=t, splits=splits, seed=seed, preset=preset),
                                       workers=2)
        rmses.append(res["summary"]["gnn"]["mean"])
    return float(np.mean(rmses))


def run_all(d, preset: Preset, split_seed: int) -> float:
    res = allmovies.evaluate_all(d, splits=1, seed=split_seed, preset_name=preset)
    return res["summary"]["gnn"]["mean"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", choices=["target", "all"], default="target")
    ap.add_argument("--variants", default=None, help="comma-separated names (default: every one of the task)")
    ap.add_argument("--targets", default="50,100,181,258,286")
    ap.add_argument("--splits", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list:
        for name, (task, _, what) in VARIANTS.items():
            print(f"{name:<18} {task:<6} {what}")
        return
    fast.configure_process()
    names = args.variants.split(",") if args.variants else [n for n, v in VARIANTS.items() if v[0] == args.task]
    d = data_mod.load()
    for name in names:
        task, preset, what = VARIANTS[name]
        if task != args.task:
            raise SystemExit(f"variant {name!r} is for --task {task}")
        t0 = time.perf_counter()
        if task == "target":
            value = run_target(d, preset, [int(t) for t in args.targets.split(",")], args.splits, args.seed)
        else:
            value = run_all(d, preset, args.split_seed)
        print(f"{name:<18} RMSE {value:.4f}  ({time.perf_counter() - t0:.0f} s)  {what}", flush=True)


if __name__ == "__main__":
    main()
