"""The seed's evaluation protocol (one target movie, user splits) and the all-movies rating split."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import time
from collections.abc import Callable

import numpy as np

from . import fast, transfer
from .data import MovieLens
from .gnn import GNNPredictor
from .graph import ItemGraph
from .predict import ItemKNN, ItemMean, KNNBaseline, Predictor
from .presets import Preset, linear_twin, preset, preset_label
from .scoring import attach_ratings as attach_ratings  # the names this module has always offered
from .scoring import rescore as rescore
from .scoring import rmse, scored_records, store_record, summarise

DEFAULT_TARGET = 50  # Star Wars (1977)
DEFAULT_PRESET = "transfer"  # the best honest GNN on development panels (docs/experiments.md)


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
                         "train/validation/test users (at least 7 needed); pick a more popular movie")
    perm = np.random.default_rng(seed).permutation(users)
    return TargetSplit(seed, np.sort(perm[:n_train]), np.sort(perm[n_train:n_train + n_valid]),
                       np.sort(perm[n_train + n_valid:]))


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """What the target-task experiment runs."""

    target: int = DEFAULT_TARGET  # GroupLens movie id
    splits: int = 10  # number of random user splits
    seed: int = 0  # splits are seeded seed, seed+1, ...
    preset: str | Preset = DEFAULT_PRESET  # GNN recipe: a name in presets.PRESETS ("seed": the reference) or a Preset
    knn_k: int = 40  # neighbours of the k-NN baseline
    epochs: int | None = None  # override the preset's epochs (None: keep)

    def __post_init__(self) -> None:
        resolve_preset(self.preset)  # raises on an unknown name or an all-movies recipe
        if self.splits < 1:
            raise ValueError(f"splits={self.splits} must be >= 1")


def resolve_preset(p: str | Preset) -> Preset:
    return preset(p, task="target")


def split_models(cfg: EvalConfig, target_index: int, seed: int):
    """The GNN and linear-filter configs and the graph config of one split."""
    p = resolve_preset(cfg.preset)
    train = dataclasses.replace(p.predictor.train, seed=seed,
                                **({"epochs": cfg.epochs} if cfg.epochs is not None else {}))
    gnn_cfg = dataclasses.replace(p.predictor, target=target_index, train=train)
    return gnn_cfg, linear_twin(gnn_cfg), p.graph


STAGES = ("graph", "gnn", "transfer", "linear", "knn_baseline")  # what a split reports as it goes


def run_target_split(data: MovieLens, x: np.ndarray, split: TargetSplit, cfg: EvalConfig,
                     on_stage: Callable[[str, float], None] | None = None) -> dict:
    """Fit every model on one split; return its JSON record (predictions per test user).
    ``on_stage(stage, done)`` is called as each of :data:`STAGES` starts (``done`` 0) and, for
    the GNN's training, after every validation (``done`` = share of its steps)."""
    stage = on_stage or (lambda name, done: None)
    t = cfg.target - 1
    rows = lambda users: x[users - 1]  # noqa: E731  GroupLens id -> matrix row
    train, valid, test = rows(split.train_users), rows(split.valid_users), rows(split.test_users)
    gnn_cfg, lin_cfg, graph_cfg = split_models(cfg, t, split.seed)
    stage("graph", 0.0)
    graph = ItemGraph.build(train, graph_cfg)
    stage("gnn", 0.0)
    members = gnn_cfg.ensemble
    done = lambda p: stage("gnn", min(1.0, (len(progress) + p.step / max(p.total_steps, 1)) / members))
    progress: list = []  # members trained so far

    def on_progress(p):
        done(p)
        if p.step >= p.total_steps:
            progress.append(p)

    gnn = GNNPredictor(gnn_cfg, "gnn").fit(train, graph, valid, on_progress=on_progress)
    known = np.where(_test_cells(x, split, t), 0, x)  # every rating but the ones this split predicts
    models: dict[str, Predictor] = {"gnn": gnn, "gnn_last": gnn.with_weights("last")}
    p = resolve_preset(cfg.preset)
    if p.transfer:  # the GNN learns from what knn_baseline learns from; the per-target GNN beside it
        stage("transfer", 0.0)
        fold_model = transfer.fold_model_for(t, data)
        models = {"gnn": transfer.fit_transfer(fold_model, known, t, split.train_users - 1, split.valid_users - 1,
                                               p.finetune, seed=split.seed, members=p.finetune_members),
                  "gnn_target": gnn}
    stage("linear", 0.0)
    models.update({"linear": GNNPredictor(lin_cfg, "linear").fit(train, graph, valid),
                   "knn": ItemKNN(cfg.knn_k).fit(train, graph), "item_mean": ItemMean().fit(train)})
    stage("knn_baseline", 0.0)  # the classical reference, fitted on every rating but the test ones
    models["knn_baseline"] = KNNBaseline(cfg.knn_k).fit(known)
    x_test = test.copy()
    x_test[:, t] = 0  # the input never holds the label
    preds = {name: m.predict(x_test, [t]) for name, m in models.items()}
    users, movies = split.test_users, np.full(len(split.test_users), cfg.target)
    return {"seed": split.seed, "train_users": split.train_users.tolist(),
            "valid_users": split.valid_users.tolist(),
            **scored_records(users, movies, test[:, t], {n: (p.values[:, 0], p.fallback[:, 0]) for n, p in preds.items()}),
            "best_step": gnn.results[0].best_step}


def _test_cells(x: np.ndarray, split: TargetSplit, t: int) -> np.ndarray:
    """``(U, N)`` True at the ratings a split predicts (its test users' ratings of movie ``t``)."""
    cells = np.zeros(x.shape, dtype=bool)
    cells[split.test_users - 1, t] = True
    return cells


def _split_worker(args) -> dict:
    data, x, split, cfg = args
    fast.configure_process()  # this worker process's entry point
    return run_target_split(data, x, split, cfg)


def evaluate_target(data: MovieLens, cfg: EvalConfig = EvalConfig(),
                    on_split: Callable[[int, dict], None] | None = None, workers: int | None = None,
                    on_stage: Callable[[int, str, float], None] | None = None) -> dict:
    """The seed's protocol over ``cfg.splits`` splits; the JSON-ready result.

    Args:
        workers: processes running splits at once (default 1: in this process; the CLI and the
            benchmarks use 2); results do not depend on it. Workers are spawned: a script calling
            this needs the ``if __name__ == "__main__":`` guard.
        on_split: called as ``on_split(i, record)`` in split order as each split finishes.
        on_stage: called as ``on_stage(i, stage, done)`` as split ``i`` goes (see
            :func:`run_target_split`); in this process only (``workers`` 1).
    """
    data.check_movie(cfg.target)
    t0 = time.perf_counter()
    x = data.matrix()
    splits = [target_split(data, cfg.target, cfg.seed + i) for i in range(cfg.splits)]
    workers = min(workers or 1, cfg.splits)
    records: list[dict] = []
    if workers <= 1:
        for i, split in enumerate(splits):
            report = None if on_stage is None else (lambda name, done, i=i: on_stage(i, name, done))
            records.append(run_target_split(data, x, split, cfg, report))
            if on_split is not None:
                on_split(i, records[-1])
    else:
        ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            for i, rec in enumerate(pool.map(_split_worker, [(data, x, s, cfg) for s in splits])):
                records.append(rec)
                if on_split is not None:
                    on_split(i, rec)
    return {"task": "target", "target": cfg.target, "title": data.title(cfg.target),
            "config": config_dict(cfg), "data_fingerprint": data.fingerprint(),
            "splits": records, "summary": summarise(records), "seconds": time.perf_counter() - t0}


def config_dict(cfg: EvalConfig) -> dict:
    """The experiment's config as plain JSON, the preset spelled out."""
    gnn_cfg, _, graph_cfg = split_models(cfg, cfg.target - 1, cfg.seed)
    d = dataclasses.asdict(cfg)
    d["preset"] = cfg.preset if isinstance(cfg.preset, str) else "custom"
    return {**d, "gnn": dataclasses.asdict(gnn_cfg), "graph": dataclasses.asdict(graph_cfg)}


def train_target_model(data: MovieLens, target: int, preset_name: str | Preset = "best", seed: int = 0,
                       epochs: int | None = None, on_progress=None, cancel=None):
    """Train the target model of one split (seeded) for the store; its test RMSE is the metric.

    Returns:
        ``(predictor, metrics, extra)`` ready for :func:`gnnrec.store.save`.
    """
    cfg = EvalConfig(target=target, splits=1, seed=seed, preset=preset_name, epochs=epochs)
    split = target_split(data, target, seed)
    x = data.matrix()
    t = target - 1
    train, valid, test = x[split.train_users - 1], x[split.valid_users - 1], x[split.test_users - 1]
    gnn_cfg, _, graph_cfg = split_models(cfg, t, seed)
    pred = GNNPredictor(gnn_cfg).fit(train, ItemGraph.build(train, graph_cfg), valid, on_progress, cancel)
    x_test = test.copy()
    x_test[:, t] = 0
    metrics, extra = store_record(pred, preset_label(preset_name), "target",
                                  {"test_rmse": rmse(pred.predict(x_test, [t]).values[:, 0], test[:, t])},
                                  target=target, split_seed=seed, train_users=split.train_users.tolist())
    return pred, metrics, extra
