"""Benchmark: GNN recipes on a random panel of target movies, each against knn_baseline.

    python bench/panel.py --seed 100 --n 20 --splits 3 --presets transfer,best [--json out.json]

Runs the seed's protocol (``--splits`` user splits seeded from ``--split-seed``) on the same random
panel (``--n`` movies with at least ``--min-raters`` raters, drawn with ``--seed``) for each preset
or named variant, and prints per movie the GNN / knn_baseline RMSE ratio of each, then per preset
the mean and median ratio, the movies where the GNN is below knn_baseline, and the wall time.
Panel seeds 100-109 are kept for development (choosing recipes); results are reported on other
seeds (see docs/experiments.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np

from gnnrec import data as data_mod
from gnnrec import fast, panels
from gnnrec.presets import PRESETS
from gnnrec.train import TrainConfig

VARIANTS = {  # named changes of the transfer preset, tried on the development panels
    "transfer-frozen": dataclasses.replace(PRESETS["transfer"], finetune=None),
    "transfer-long": dataclasses.replace(PRESETS["transfer"], finetune=TrainConfig(epochs=6, batch_size=8, lr=0.0005,
                                                                                   valid_every=5, loss="mse")),
    "transfer-ens3": dataclasses.replace(PRESETS["transfer"], finetune_members=3),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=100, help="panel seed (100-109: development)")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--min-raters", type=int, default=100)
    ap.add_argument("--splits", type=int, default=3)
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--presets", default="transfer,best")
    ap.add_argument("--json")
    args = ap.parse_args()
    fast.configure_process()
    d = data_mod.load()
    out = {}
    for name in args.presets.split(","):
        recipe = VARIANTS.get(name, name)
        t0 = time.perf_counter()
        res = panels.evaluate_panel(d, args.n, args.min_raters, args.seed, args.splits, args.split_seed, recipe,
                                    workers=2)
        out[name] = {"rows": res["rows"], "summary": res["summary"], "seconds": time.perf_counter() - t0}
    movies = out[next(iter(out))]["rows"]
    print(f"panel seed {args.seed}: {args.n} movies with >= {args.min_raters} raters, {args.splits} splits; "
          "GNN / knn_baseline RMSE")
    print(f"{'id':>5} {'movie':<34} " + " ".join(f"{n[:16]:>16}" for n in out))
    for i, row in enumerate(movies):
        print(f"{row['movie']:>5} {row['title'][:34]:<34} " + " ".join(f"{o['rows'][i]['ratio']:>16.3f}"
                                                                       for o in out.values()))
    for name, o in out.items():
        ratios = np.array([r["ratio"] for r in o["rows"]])
        print(f"{name:<16} ratio mean {ratios.mean():.4f} median {np.median(ratios):.4f}; below knn_baseline on "
              f"{int((ratios < 1).sum())} of {len(ratios)}; {o['seconds']:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
