"""How far the field's item-based list-makers get on one top-N split: a sweep of closed forms and
simple factor models around EASE, and the ranking GNN's training length, on development seed 42.

    python bench/topn_ceiling.py [--seed 42] [--skip-gnn]
    python bench/topn_ceiling.py --validation    # the ranking GNN's recipe choice

``--validation`` scores on the split's validation interactions instead of its test part (a
per-user 25% holdout of the training part, ``holdout(train, seed)``): how the recipe was chosen.
Prints nDCG@10 (any held-out movie), nDCG@10 (4-5 stars) and coverage per variant. Use it to
choose on development seeds only; the README reports fresh seeds (gnnrec.topn.split.REPORT_SEEDS).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import gnnrec  # noqa: E402
from gnnrec.topn import metrics  # noqa: E402
from gnnrec.topn.rankers import EASE, top_k  # noqa: E402
from gnnrec.topn.split import holdout, topn_split  # noqa: E402


def closed_form(g: np.ndarray, diag: np.ndarray) -> np.ndarray:
    """Zero-diagonal closed form ``B = I - P diag(1/diag P)``, ``P = (G + diag(diag))^-1`` (EASE, EDLAE)."""
    p = np.linalg.inv(g + np.diag(diag))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


def ials(r: np.ndarray, factors: int, reg: float, alpha: float, sweeps: int = 10) -> np.ndarray:
    """Implicit ALS (Hu, Koren, Volinsky 2008), confidence ``1 + alpha r``: ``(U, N)`` scores."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(0, 0.01, (r.shape[0], factors)), rng.normal(0, 0.01, (r.shape[1], factors))
    for _ in range(sweeps):
        for a, b, rows in ((x, y, r), (y, x, r.T)):
            btb = b.T @ b
            for u in range(a.shape[0]):
                idx = rows[u] > 0
                bi = b[idx]  # (n_u, f)
                m = btb + alpha * bi.T @ bi + reg * np.eye(factors)
                a[u] = np.linalg.solve(m, (1 + alpha) * bi.sum(0))
    return x @ y.T


def variants(train: np.ndarray):
    """``(name, (U, N) scores)`` for every variant."""
    r = (train > 0).astype(np.float64)  # (U, N)
    g, pop = r.T @ r, r.sum(0)  # (N, N), (N,)
    for lam in (200, 300, 500, 800):
        yield f"EASE λ {lam}", r @ closed_form(g, np.full(len(g), float(lam)))
    for p, lam in ((0.25, 100), (0.5, 100)):
        yield f"EDLAE p {p} λ {lam}", r @ closed_form(g, p / (1 - p) * np.diag(g) + lam)
    ease = r @ closed_form(g, np.full(len(g), 500.0))
    for gamma in (-0.2, -0.1, 0.1):
        yield f"EASE λ 500 × popularity^{gamma}", ease * np.maximum(pop, 1)[None, :] ** gamma
    a = closed_form(r @ r.T, np.full(len(r), 300.0))  # (U, U) user-user EASE
    users = a.T @ r
    z = [(s - s.mean(1, keepdims=True)) / s.std(1, keepdims=True) for s in (ease, users)]
    yield "user-user EASE λ 300", users
    yield "EASE + user-user EASE (z-scores, equal weights)", z[0] + z[1]
    p_ui, p_iu = r / np.maximum(r.sum(1, keepdims=True), 1), (r / np.maximum(pop, 1)[None, :]).T
    for alpha, beta in ((0.6, 0.35), (0.8, 0.5)):
        w = (p_iu @ p_ui) ** alpha / np.maximum(pop, 1)[None, :] ** beta
        np.fill_diagonal(w, 0.0)
        yield f"RP3beta α {alpha} β {beta}", r @ w
    for f, reg, alpha in ((32, 20, 5), (64, 50, 3)):
        yield f"iALS {f} factors, reg {reg}, α {alpha}", ials(r, f, reg, alpha)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=42, help="split seed (42: development)")
    ap.add_argument("--skip-gnn", action="store_true", help="leave out the ranking GNN's epochs sweep")
    ap.add_argument("--validation", action="store_true",
                    help="the recipe choice: EASE and the GNN (EASE λ 300 / 500) on validation interactions")
    args = ap.parse_args()
    split = topn_split(gnnrec.load_data(), args.seed)
    tr, te = holdout(split.train, args.seed) if args.validation else (split.train, split.test)
    pop = (tr > 0).sum(0).astype(np.float64)

    def show(name: str, s: np.ndarray) -> None:
        m = metrics.score_lists(top_k(np.asarray(s, np.float64), tr > 0, 10, pop), te, pop, 10)
        print(f"{name:<50} nDCG@10 {m['ndcg']:.4f}   4-5★ {m['ndcg_liked']:.4f}   coverage {m['coverage']:.3f}",
              flush=True)

    if args.validation:
        return choose(tr, show)
    for name, s in variants(tr):
        show(name, s)
    if not args.skip_gnn:
        for epochs in (1, 4, 6, 8):
            show(f"ranking GNN, {epochs} epochs", gnn(tr, 500.0, epochs))
        show("EASE λ 500 on the rating-weighted input (β 0.5), alone", weighted_ease(tr, 500.0, 0.5))
    show("EASE λ 500 (the reference)", EASE(500.0).fit(tr).scores(tr))


def gnn(train: np.ndarray, lam: float, epochs: int, beta: float = 0.5) -> np.ndarray:
    """The ranking GNN's ``(U, N)`` scores with EASE λ ``lam`` (input weight ``beta``) inside, after ``epochs``."""
    import torch

    from gnnrec.topn.model import RankGNNConfig
    from gnnrec.topn.training import RankTrainConfig, fit_rank_gnn

    torch.set_num_threads(1)
    return fit_rank_gnn(train, RankGNNConfig(ease_lambda=lam, ease_rating=beta),
                        RankTrainConfig(epochs=epochs)).scores(train)


def weighted_ease(train: np.ndarray, lam: float, beta: float) -> np.ndarray:
    """EASE on the rating-weighted input the ranking GNN uses (``beta`` 0: plain EASE): ``(U, N)`` scores."""
    from gnnrec.topn.model import ease_input, ease_weights

    return ease_input(train, beta) @ ease_weights(train, lam, beta).astype(np.float64)


def choose(fit: np.ndarray, show) -> None:
    """The recipe's choice on validation interactions: EASE's input weight β and λ alone, then the
    GNN around the chosen EASE after 1, 2, 4, 6, 8 epochs."""
    for lam in (300.0, 500.0, 800.0):
        for beta in (0.0, 0.2, 0.35, 0.5, 0.75, 1.0):
            show(f"EASE λ {lam:.0f}, rating weight β {beta} alone", weighted_ease(fit, lam, beta))
    for epochs in (1, 2, 4, 6, 8):
        show(f"ranking GNN, EASE λ 500 β 0.5, {epochs} epochs", gnn(fit, 500.0, epochs, 0.5))


if __name__ == "__main__":
    main()
