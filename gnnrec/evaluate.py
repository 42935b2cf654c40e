"""The seed's evaluation protocol (one target movie, user splits) and the all-movies rating split."""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable

import numpy as np

from .data import MovieLens
from .gnn import PRESETS, GNNPredictor, GNNPredictorConfig
from .graph import GraphConfig, ItemGraph
from .predict import ItemKNN, ItemMean, Predictor

DEFAULT_TARGET = 50  # Star Wars (1977)


@dataclasses.dataclass(frozen=True)
class TargetSplit:
    """One user split for a target movie (GroupLens user ids)."""

    seed: int
    train_users: np.ndarray
    valid_users: np.ndarray
    test_users: np.ndarray


def target_split(data: MovieLens, target: int, seed: int) -> TargetSplit:
    """The reference split: users who rated ``target``, permuted with ``seed``;
    ``nTrain = round(0.9 N)``, ``nValid = round(0.1 nTrain)`` taken from it, test = the rest."""
    target = data.check_movie(target)
    r = data.ratings
    users = np.sort(r.loc[r["movie"] == target, "user"].to_numpy())
    n = len(users)
    n_train = round(0.9 * n)
    n_valid = round(0.1 * n_train)
    n_train -= n_valid
    if min(n_train, n_valid, n - n_train - n_valid) < 1:
        raise ValueError(f"movie {target} ({data.title(target)}) has {n} raters: too few to split into "
                         "train/validation/test users; pick a movie with at least 10 ratings")
    perm = np.random.default_rng(seed).permutation(users)
    return TargetSplit(seed, np.sort(perm[:n_train]), np.sort(perm[n_train:n_train + n_valid]),
                       np.sort(perm[n_train + n_valid:]))


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """What the target-task experiment runs."""

    target: int = DEFAULT_TARGET  # GroupLens movie id
    splits: int = 10  # number of random user splits
    seed: int = 0  # splits are seeded seed, seed+1, ...
    graph: GraphConfig = GraphConfig()  # item graph, rebuilt per split from training users
    gnn: str | GNNPredictorConfig = "seed"  # preset name or config of the GNN
    linear: str | GNNPredictorConfig = "seed-linear"  # the linear graph filter
    knn_k: int = 40  # neighbours of the k-NN baseline


def _resolve(cfg: str | GNNPredictorConfig) -> GNNPredictorConfig:
    if isinstance(cfg, GNNPredictorConfig):
        return cfg
    if cfg not in PRESETS:
        raise ValueError(f"unknown preset {cfg!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[cfg]


def rmse(pred, true) -> float:
    pred, true = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    return float(np.sqrt(np.mean((pred - true) ** 2)))


def run_target_split(data: MovieLens, x: np.ndarray, split: TargetSplit, cfg: EvalConfig) -> dict:
    """Fit every model on one split; return its JSON record (predictions per test user)."""
    t = cfg.target - 1
    rows = lambda users: x[users - 1]  # noqa: E731  GroupLens id -> matrix row
    train, valid, test = rows(split.train_users), rows(split.valid_users), rows(split.test_users)
    graph = ItemGraph.build(train, cfg.graph)
    gnn_cfg = dataclasses.replace(_resolve(cfg.gnn), target=t,
                                  train=dataclasses.replace(_resolve(cfg.gnn).train, seed=split.seed))
    lin_cfg = dataclasses.replace(_resolve(cfg.linear), target=t,
                                  train=dataclasses.replace(_resolve(cfg.linear).train, seed=split.seed))
    gnn = GNNPredictor(gnn_cfg, "gnn").fit(train, graph, valid)
    models: dict[str, Predictor] = {
        "gnn": gnn,
        "gnn_last": gnn.with_weights("last"),
        "linear": GNNPredictor(lin_cfg, "linear").fit(train, graph, valid),
        "knn": ItemKNN(cfg.knn_k).fit(train, graph),
        "item_mean": ItemMean().fit(train),
    }
    x_test = test.copy()
    x_test[:, t] = 0  # the input never holds the label
    preds = {name: m.predict(x_test, [t]) for name, m in models.items()}
    records = []
    for i, user in enumerate(split.test_users):
        records.append({"user": int(user), "movie": cfg.target, "rating": float(test[i, t]),
                        "pred": {n: round(float(p.values[i, 0]), 5) for n, p in preds.items()},
                        "fallback": [n for n, p in preds.items() if p.fallback[i, 0]]})
    return {"seed": split.seed, "train_users": split.train_users.tolist(),
            "valid_users": split.valid_users.tolist(), "test": records,
            "rmse": {n: rmse(p.values[:, 0], test[:, t]) for n, p in preds.items()},
            "best_step": gnn.results[0].best_step}


def summarise(splits: list[dict]) -> dict:
    """Mean, std (population, over splits) and per-split RMSE of each model, from the records."""
    names = list(splits[0]["test"][0]["pred"]) if splits and splits[0]["test"] else []
    out = {}
    for n in names:
        per = [rmse([r["pred"][n] for r in s["test"]], [r["rating"] for r in s["test"]]) for s in splits]
        out[n] = {"mean": float(np.mean(per)), "std": float(np.std(per)), "per_split": per}
    return out


def evaluate_target(data: MovieLens, cfg: EvalConfig = EvalConfig(),
                    on_split: Callable[[int, dict], None] | None = None) -> dict:
    """The seed's protocol over ``cfg.splits`` splits; the JSON-ready result."""
    data.check_movie(cfg.target)
    if cfg.splits < 1:
        raise ValueError(f"splits={cfg.splits} must be >= 1")
    t0 = time.perf_counter()
    x = data.matrix()
    splits = []
    for i in range(cfg.splits):
        rec = run_target_split(data, x, target_split(data, cfg.target, cfg.seed + i), cfg)
        splits.append(rec)
        if on_split is not None:
            on_split(i, rec)
    return {"task": "target", "target": cfg.target, "title": data.title(cfg.target),
            "config": config_dict(cfg), "data_fingerprint": data.fingerprint(),
            "splits": splits, "summary": summarise(splits), "seconds": time.perf_counter() - t0}


def config_dict(cfg) -> dict:
    """A dataclass config as plain JSON (presets by name)."""
    d = dataclasses.asdict(cfg)
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in d.items()}
