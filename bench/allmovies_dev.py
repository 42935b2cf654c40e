"""Development experiments for the all-movies GNN, scored on validation ratings only.

    python bench/allmovies_dev.py VARIANT [--seed 0]

The training ratings of random split ``--seed`` (its test ratings are never read) lose 5% more
ratings (seeded 1000 + seed) as validation ratings; each variant is fitted on the rest and scored
there. Variants (each printed with its validation RMSE and time):

- ``base``: preset ``all`` as it is; ``epochs40``: 40 epochs instead of 20; ``ens2``: two seeds
  averaged;
- ``emb4``: four learned per-movie input channels beside the ratings (node embeddings);
- ``knnchan``: a third input channel, the neighbourhood's normalised residual (S r) / (|S| m);
- ``user``: the same GNN on the user graph (a movie's ratings as a signal over users);
- ``blend``: the base and user models, mixed 0.1 ... 0.9;
- ``knn_baseline``: the classical reference.

``--lr``, ``--epochs``, ``--batch``, ``--features``, ``--k`` and ``--hide`` change preset ``all`` for
any variant (``base --batch 16``).

``emb4`` and ``knnchan`` patch the model for the run (they were not kept, so the package has no
switch for them).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch
from torch import nn

from gnnrec import allmovies, fast, presets
from gnnrec import data as data_mod
from gnnrec import gnn as gnn_mod
from gnnrec.fast import ops as fast_ops
from gnnrec.models import GNNConfig, LocalGNN
from gnnrec.predict import KNNBaseline
from gnnrec.presets import PRESETS

VARIANTS = ("base", "epochs40", "ens2", "emb4", "knnchan", "user", "blend", "knn_baseline")


def patch_extra_channels(kind: str, n_movies: int) -> None:
    """Give every LocalGNN one more input block and compute it in GNNPredictor.forward."""
    extra = 4 if kind == "emb4" else 1
    init, forward = LocalGNN.__init__, gnn_mod.GNNPredictor.forward

    def patched_init(self, config: GNNConfig):  # the package always passes one
        init(self, dataclasses.replace(config, in_features=config.in_features + extra))
        if kind == "emb4":
            self.emb = nn.Parameter(0.1 * torch.randn(n_movies, extra))

    def patched_forward(self, model, sig, s=None):
        if kind == "emb4":
            more = model.emb.expand(sig.shape[0], -1, -1)  # (B, N, 4)
        else:
            op = self._s if s is None else s
            num = op @ sig[..., 0].t().contiguous()  # (N, B): S r
            den = fast_ops.ShiftOperator(abs(op.s)) @ sig[..., 1].t().contiguous()  # (N, B): |S| m
            more = (num / (den + 1e-3)).t().unsqueeze(-1)  # (B, N, 1)
        return forward(self, model, torch.cat([sig, more], -1), s)

    LocalGNN.__init__, gnn_mod.GNNPredictor.forward = patched_init, patched_forward
    gnn_mod.LOCAL_MAX = 0  # the partial pass knows nothing of the patch: predict on the full graph


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("variant", choices=VARIANTS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: the preset's)")
    ap.add_argument("--epochs", type=int, default=None, help="epochs (default: the preset's)")
    ap.add_argument("--batch", type=int, default=None, help="batch size (default: the preset's)")
    ap.add_argument("--features", type=str, default=None, help="layer widths, e.g. 128,64 (default: the preset's)")
    ap.add_argument("--k", type=int, default=None, help="graph neighbours (default: the preset's)")
    ap.add_argument("--hide", type=float, default=None, help="hide_fraction (default: the preset's)")
    args = ap.parse_args()
    fast.configure_process()
    d = data_mod.load()
    train = d.matrix(allmovies.rating_split(d, args.seed)[0])
    held = (train > 0) & (np.random.default_rng(1000 + args.seed).random(train.shape) < 0.05)
    fit_part, valid = np.where(held, 0, train), np.where(held, train, 0)
    u, m = np.nonzero(valid)
    y = valid[u, m].astype(float)
    rmse = lambda p: float(np.sqrt(np.mean((p - y) ** 2)))
    p, t0 = PRESETS["all"], time.perf_counter()
    if args.variant == "knn_baseline":
        print(f"knn_baseline valid RMSE {rmse(KNNBaseline().fit(fit_part).predict(fit_part).values[u, m]):.4f}")
        return
    if args.variant in ("emb4", "knnchan"):
        patch_extra_channels(args.variant, train.shape[1])
    if args.variant == "epochs40" and args.epochs is None:  # the named variant of --epochs 40
        args.epochs = 40
    if args.features is not None or args.k is not None:
        p = presets.customise(p, features=[int(f) for f in args.features.split(",")] if args.features else None, k=args.k)
    train_over = {k: v for k, v in (("lr", args.lr), ("epochs", args.epochs), ("batch_size", args.batch)) if v is not None}
    pred_over = {"hide_fraction": args.hide} if args.hide is not None else {}
    p = dataclasses.replace(p, predictor=dataclasses.replace(
        p.predictor, train=dataclasses.replace(p.predictor.train, **train_over), **pred_over))
    if args.variant == "ens2":
        p = dataclasses.replace(p, predictor=dataclasses.replace(p.predictor, ensemble=2))
    preds, steps = {}, {}
    if args.variant != "user":
        items = allmovies.fit_gnn(fit_part, p, seed=args.seed)
        preds["item"], steps["item"] = items.predict(fit_part).values[u, m], [r.best_step for r in items.results]
    if args.variant in ("user", "blend"):
        users = allmovies.fit_gnn(fit_part.T.copy(), p, seed=args.seed)
        preds["user"], steps["user"] = users.predict(fit_part.T.copy()).values.T[u, m], [r.best_step for r in users.results]
    for name, v in preds.items():
        print(f"{args.variant} ({name} graph) {train_over} {pred_over} {args.features} k={args.k} valid RMSE {rmse(v):.4f} "
              f"({time.perf_counter() - t0:.0f} s, best step {steps[name]})")
    if args.variant == "blend":
        for a in np.linspace(0.1, 0.9, 9):
            print(f"blend {a:.1f} item + {1 - a:.1f} user: valid RMSE {rmse(a * preds['item'] + (1 - a) * preds['user']):.4f}")


if __name__ == "__main__":
    main()
