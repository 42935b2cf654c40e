"""Benchmark: the item-graph GNN, the same GNN on the user graph, and their blend, on test ratings.

    python bench/blend.py --splits random:1,random:2,u1 [--weight 0.6]

For each split (``random:S``: the random 90/10 split seeded S; ``u1`` .. ``u5``: GroupLens's), fits
preset ``all`` twice on the training ratings, once on the item graph (the app's model: a user's
ratings are a signal over movies) and once on the user graph (the transposed ratings: a movie's
ratings are a signal over users), plus Surprise's KNNBaseline, and prints each one's test RMSE and
that of ``weight`` * item + (1 - weight) * user. The weight 0.6 was chosen on validation ratings of
random split 0 (``python bench/allmovies_dev.py blend``); report on the other splits.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from gnnrec import allmovies, fast
from gnnrec import data as data_mod
from gnnrec.predict import KNNBaseline


def split_masks(d, name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(train mask, test mask, training seed) of ``random:SEED`` or ``u1`` .. ``u5`` (seed 0)."""
    if name.startswith("random:"):
        seed = int(name.split(":")[1])
        return (*allmovies.rating_split(d, seed), seed)
    return (*allmovies.canonical_split(d, name), 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--splits", default="random:1", help="comma-separated: random:SEED or u1..u5")
    ap.add_argument("--weight", type=float, default=0.6, help="the item model's share of the blend")
    args = ap.parse_args()
    fast.configure_process()
    d = data_mod.load()
    for name in args.splits.split(","):
        t0 = time.perf_counter()
        train_rows, test_rows, seed = split_masks(d, name)
        train = d.matrix(train_rows)
        test = d.ratings[test_rows]
        u, m = test["user"].to_numpy() - 1, test["movie"].to_numpy() - 1
        y = test["rating"].to_numpy().astype(float)
        item = allmovies.fit_gnn(train, "all", seed).predict(train).values[u, m]
        user = allmovies.fit_gnn(train.T.copy(), "all", seed).predict(train.T.copy()).values.T[u, m]
        knn = KNNBaseline().fit(train).predict(train).values[u, m]
        blend = np.clip(args.weight * item + (1 - args.weight) * user, 1, 5)
        err = {k: float(np.sqrt(np.mean((p - y) ** 2))) for k, p in
               (("item", item), ("user", user), ("blend", blend), ("knn", knn))}
        print(f"{name}: item GNN {err['item']:.4f}, user GNN {err['user']:.4f}, blend {args.weight:.1f} "
              f"{err['blend']:.4f}, knn_baseline {err['knn']:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
