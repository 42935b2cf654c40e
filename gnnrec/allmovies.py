"""The all-movies task: random 90/10 splits of the ratings, one model predicting every movie."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from .data import MovieLens
from .evaluate import rmse, summarise
from .gnn import GNNPredictor, Preset, preset, preset_label
from .graph import ItemGraph
from .predict import ItemKNN, ItemMean, Predictor

VALID_FRACTION = 0.05  # of the training ratings, held out to pick the GNN's best epoch


def rating_split(data: MovieLens, seed: int, test_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Boolean test mask over ``data.ratings`` rows: ``round(test_fraction * n)`` ratings drawn
    with ``seed``; returns (train mask, test mask)."""
    n = len(data.ratings)
    test = np.zeros(n, dtype=bool)
    test[np.random.default_rng(seed).permutation(n)[: round(test_fraction * n)]] = True
    return ~test, test


def ratings_matrix(data: MovieLens, rows: np.ndarray) -> np.ndarray:
    """``(943, 1682)`` matrix of the selected ratings (0 elsewhere)."""
    x = np.zeros((data.n_users, data.n_movies), dtype=np.float32)
    r = data.ratings[rows]
    x[r["user"].to_numpy() - 1, r["movie"].to_numpy() - 1] = r["rating"].to_numpy()
    return x


def fit_models(train: np.ndarray, preset_name: str | Preset = "all", seed: int = 0, epochs: int | None = None,
               on_progress=None, cancel=None, knn_k: int = 40) -> dict[str, Predictor]:
    """GNN, k-NN and item mean fitted on one training rating matrix (graph from it alone)."""
    p = preset(preset_name, task="all")
    graph = ItemGraph.build(train, p.graph)
    return {"gnn": fit_gnn(train, p, seed, epochs, on_progress, cancel, graph=graph),
            "knn": ItemKNN(knn_k).fit(train, graph), "item_mean": ItemMean().fit(train)}


def fit_gnn(train: np.ndarray, preset_name: str | Preset = "all", seed: int = 0, epochs: int | None = None,
            on_progress=None, cancel=None, graph: ItemGraph | None = None) -> GNNPredictor:
    """The all-movies GNN: ``VALID_FRACTION`` of the ratings (drawn with ``seed``) held out to
    pick the best epoch and kept out of its graph (a graph built with them leaks their values:
    validation RMSE 0.90 with the leak against 1.02 without, after one epoch). Once trained, it
    predicts with the graph and item means of all of ``train`` (:meth:`GNNPredictor.rebase`;
    ``graph``: that graph if the caller has it already)."""
    p = preset(preset_name, task="all")
    train_cfg = dataclasses.replace(p.predictor.train, seed=seed,
                                    **({"epochs": epochs} if epochs is not None else {}))
    held = (train > 0) & (np.random.default_rng(seed).random(train.shape) < VALID_FRACTION)
    fit_part, valid = np.where(held, 0, train), np.where(held, train, 0)
    gnn = GNNPredictor(dataclasses.replace(p.predictor, train=train_cfg), "gnn")
    gnn.fit(fit_part, ItemGraph.build(fit_part, p.graph), valid, on_progress, cancel)
    return gnn.rebase(train, graph if graph is not None else ItemGraph.build(train, p.graph))


def evaluate_all(data: MovieLens, splits: int = 5, seed: int = 0, preset_name: str | Preset = "all",
                 epochs: int | None = None, on_split: Callable[[int, dict], None] | None = None) -> dict:
    """RMSE of every model on held-out ratings; input = each user's training ratings."""
    if splits < 1:
        raise ValueError(f"splits={splits} must be >= 1")
    t0 = time.perf_counter()
    out = []
    for i in range(splits):
        train_rows, test_rows = rating_split(data, seed + i)
        train = ratings_matrix(data, train_rows)
        models = fit_models(train, preset_name, seed + i, epochs)
        test = data.ratings[test_rows]
        u, m = test["user"].to_numpy() - 1, test["movie"].to_numpy() - 1
        y = test["rating"].to_numpy().astype(float)
        preds = {}
        for name, model in models.items():
            p = model.predict(train)  # (943, 1682): every user, every movie
            preds[name] = (p.values[u, m], p.fallback[u, m])
        records = [{"user": int(u[j]) + 1, "movie": int(m[j]) + 1, "rating": float(y[j]),
                    "pred": {n: round(float(v[j]), 5) for n, (v, _) in preds.items()}} for j in range(len(y))]
        rec = {"seed": seed + i, "test": records, "rmse": {n: rmse(v, y) for n, (v, _) in preds.items()},
               "fallback_share": {n: float(f.mean()) for n, (_, f) in preds.items()}}
        out.append(rec)
        if on_split is not None:
            on_split(i, rec)
    p = preset(preset_name, task="all")
    return {"task": "all", "config": {"splits": splits, "seed": seed, "preset": preset_label(preset_name), "epochs": epochs,
                                      "gnn": dataclasses.asdict(p.predictor), "graph": dataclasses.asdict(p.graph)},
            "data_fingerprint": data.fingerprint(), "splits": out, "summary": summarise(out),
            "seconds": time.perf_counter() - t0}


def train_all_model(data: MovieLens, preset_name: str | Preset = "all", seed: int = 0, epochs: int | None = None,
                    on_progress=None, cancel=None):
    """Train the all-movies GNN on every rating (5% held out inside for validation) for the store.

    Returns:
        ``(predictor, metrics, extra)`` ready for :func:`gnnrec.store.save`.
    """
    gnn = fit_gnn(data.matrix(), preset_name, seed, epochs, on_progress, cancel)
    res = gnn.results[0]
    metrics = {"valid_rmse": res.best_valid_rmse, "best_step": res.best_step, "train_seconds": res.seconds}
    extra = {"preset": preset_label(preset_name), "task": "all", "seed": seed, "history": [list(h) for h in res.history]}
    return gnn, metrics, extra
