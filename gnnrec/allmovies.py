"""The all-movies task: rating splits (random 90/10, or GroupLens's canonical u1-u5), one model predicting every movie."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from .data import MovieLens
from .fitting import VALID_FRACTION
from .gnn import GNNPredictor
from .graph import ItemGraph
from .predict import ItemKNN, ItemMean, KNNBaseline, Predictor
from .presets import Preset, preset, preset_label
from .scoring import scored_records, store_record, summarise


def rating_split(data: MovieLens, seed: int, test_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Boolean test mask over ``data.ratings`` rows: ``round(test_fraction * n)`` ratings drawn
    with ``seed``; returns (train mask, test mask)."""
    n = len(data.ratings)
    test = np.zeros(n, dtype=bool)
    test[np.random.default_rng(seed).permutation(n)[: round(test_fraction * n)]] = True
    return ~test, test


CANONICAL = ("u1", "u2", "u3", "u4", "u5")
CANONICAL_SIZE = 20_000  # ratings in each u{i}.test


def canonical_split(data: MovieLens, name: str) -> tuple[np.ndarray, np.ndarray]:
    """GroupLens's ``u{i}.base`` / ``u{i}.test`` (``mku.sh``): ``u{i}.test`` is lines
    ``(i-1)*20000+1 .. i*20000`` of ``u.data``, ``u{i}.base`` the rest. ``data.ratings`` keeps
    ``u.data``'s line order (both sources; u1.test then holds 459 users and 1,410 movies, as
    published). Returns (train mask, test mask) over ``data.ratings`` rows."""
    if name not in CANONICAL:
        raise ValueError(f"unknown canonical split {name!r}: choose one of {', '.join(CANONICAL)}")
    if len(data.ratings) != 5 * CANONICAL_SIZE:
        raise ValueError(f"the canonical splits need all 100,000 ratings of u.data; this data has {len(data.ratings)}")
    i = CANONICAL.index(name)
    test = np.zeros(len(data.ratings), dtype=bool)
    test[i * CANONICAL_SIZE:(i + 1) * CANONICAL_SIZE] = True
    return ~test, test


def split_names(split: str, splits: int, seed: int) -> list[tuple[str, int]]:
    """``(split name, seed)`` pairs: ``random`` gives ``splits`` random splits seeded ``seed,
    seed+1, ...``; ``u1`` .. ``u5`` one canonical split; ``canonical`` all five (trained with
    ``seed``)."""
    if split == "random":
        if splits < 1:
            raise ValueError(f"splits={splits} must be >= 1")
        return [("random", seed + i) for i in range(splits)]
    if split == "canonical":
        return [(n, seed) for n in CANONICAL]
    if split in CANONICAL:
        return [(split, seed)]
    raise ValueError(f"split={split!r}: choose random, canonical or one of {', '.join(CANONICAL)}")


def fit_models(train: np.ndarray, preset_name: str | Preset = "all", seed: int = 0, epochs: int | None = None,
               on_progress=None, cancel=None, knn_k: int = 40) -> dict[str, Predictor]:
    """GNN, k-NN and item mean fitted on one training rating matrix (graph from it alone)."""
    p = preset(preset_name, task="all")
    graph = ItemGraph.build(train, p.graph)
    return {"gnn": fit_gnn(train, p, seed, epochs, on_progress, cancel, graph=graph),
            "knn": ItemKNN(knn_k).fit(train, graph), "knn_baseline": KNNBaseline(knn_k).fit(train),
            "item_mean": ItemMean().fit(train)}


def fit_gnn(train: np.ndarray, preset_name: str | Preset = "all", seed: int = 0, epochs: int | None = None,
            on_progress=None, cancel=None, graph: ItemGraph | None = None) -> GNNPredictor:
    """The all-movies GNN: ``VALID_FRACTION`` of the ratings (drawn with ``seed``) held out to
    pick the best epoch and kept out of its graph (a graph built with them leaks their values, and
    validation would then pick the weights that exploit the leak). Once trained, it
    predicts with the graph and item means of all of ``train`` (:meth:`GNNPredictor.use`;
    ``graph``: that graph if the caller has it already)."""
    p = preset(preset_name, task="all")
    train_cfg = dataclasses.replace(p.predictor.train, seed=seed,
                                    **({"epochs": epochs} if epochs is not None else {}))
    held = (train > 0) & (np.random.default_rng(seed).random(train.shape) < VALID_FRACTION)
    fit_part, valid = np.where(held, 0, train), np.where(held, train, 0)
    gnn = GNNPredictor(dataclasses.replace(p.predictor, train=train_cfg), "gnn")
    gnn.fit(fit_part, ItemGraph.build(fit_part, p.graph), valid, on_progress, cancel)
    return gnn.use(train, graph if graph is not None else ItemGraph.build(train, p.graph))


def evaluate_all(data: MovieLens, splits: int = 5, seed: int = 0, preset_name: str | Preset = "all",
                 epochs: int | None = None, on_split: Callable[[int, dict], None] | None = None,
                 split: str = "random") -> dict:
    """RMSE of every model on held-out ratings; input = each user's training ratings.

    ``split``: ``random`` (``splits`` random 90/10 splits seeded ``seed, seed+1, ...``), one of
    ``u1`` .. ``u5`` (GroupLens's canonical 80/20 split) or ``canonical`` (all five)."""
    plan = split_names(split, splits, seed)
    t0 = time.perf_counter()
    out = []
    for i, (name, s) in enumerate(plan):
        train_rows, test_rows = rating_split(data, s) if name == "random" else canonical_split(data, name)
        train = data.matrix(train_rows)
        models = fit_models(train, preset_name, s, epochs)
        test = data.ratings[test_rows]
        u, m = test["user"].to_numpy() - 1, test["movie"].to_numpy() - 1
        y = test["rating"].to_numpy().astype(float)
        preds = {}
        for model_name, model in models.items():
            p = model.predict(train)  # (943, 1682): every user, every movie
            preds[model_name] = (p.values[u, m], p.fallback[u, m])
        rec = {"split": name, "seed": s, **scored_records(u + 1, m + 1, y, preds),
               "fallback_share": {n: float(f.mean()) for n, (_, f) in preds.items()}}
        out.append(rec)
        if on_split is not None:
            on_split(i, rec)
    p = preset(preset_name, task="all")
    config = {"split": split, "splits": len(plan), "seed": seed, "preset": preset_label(preset_name), "epochs": epochs,
              "gnn": dataclasses.asdict(p.predictor), "graph": dataclasses.asdict(p.graph)}
    return {"task": "all", "config": config, "data_fingerprint": data.fingerprint(), "splits": out,
            "summary": summarise(out), "seconds": time.perf_counter() - t0}


def train_all_model(data: MovieLens, preset_name: str | Preset = "all", seed: int = 0, epochs: int | None = None,
                    on_progress=None, cancel=None, x: np.ndarray | None = None, **fields):
    """Train the all-movies GNN for the store, as :func:`fit_gnn` does (``VALID_FRACTION`` held out
    inside for validation), on ``x`` ``(U, N)`` (default: every rating of ``data``); ``fields``
    go into the stored ``extra`` after the seed (a fold, who made it, ...).

    Returns:
        ``(predictor, metrics, extra)`` ready for :func:`gnnrec.store.save`.
    """
    gnn = fit_gnn(data.matrix() if x is None else x, preset_name, seed, epochs, on_progress, cancel)
    metrics, extra = store_record(gnn, preset_label(preset_name), "all", seed=seed, **fields)
    return gnn, metrics, extra
