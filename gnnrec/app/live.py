"""What the app runs live in the background: custom training and live evaluation, both bounded.

Custom training: a :class:`TrainSpec` within :data:`LIMITS`, saved under a new name (never
overwriting). Live evaluation: at most :data:`MAX_LIVE_SPLITS` splits, results cached per request.
Both run as :class:`gnnrec.app.jobs.ProcessJob` (a child process; one heavy job per server). Every error a user can
cause is a ``ValueError`` (or :class:`gnnrec.store.StoreError`, :class:`gnnrec.app.jobs.Busy`) whose
message says what to change. No Streamlit in here.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from .. import allmovies, store
from .. import data as data_mod
from ..gnn import GNNPredictorConfig
from ..graph import GraphConfig
from ..models import LocalGNN
from ..presets import PRESETS, Preset, customise
from ..train import Cancelled, Progress
from .jobs import Job, start_job, use_processes
from .progress import EvalProgress, Stage, TimedProgress
from .results import with_ratings

N_USERS = data_mod.N_USERS
MAX_LIVE_SPLITS = 3  # live evaluation on a shared host
SPLIT_SECONDS = "20-40"  # one split's time on a 2-core machine, said to users


# -- custom training ----------------------------------------------------------------------------------
LIMITS = {"layers": (1, 3), "taps": (1, 6), "width": (4, 64), "k": (5, 40), "epochs": (1, 10),
          "lr": (1e-4, 0.05), "batch_size": (8, 64), "seed": (0, 999_999)}
BUDGET_SECONDS = 300.0  # a training estimated to hold the server's one job slot longer is refused
# seconds = fixed + per epoch x epochs + per step x steps + per work unit x work (cost_features), fitted
# by `python bench/job_cost.py --fit` on this project's 2-core host (docs/guarantees.md)
COST = (3.0, 3.6, 0.07, 0.21)


def cost_features(spec: TrainSpec) -> list[float]:
    """What a training's time grows with: ``[1, epochs, steps, work]``. ``work`` counts the
    multiply-adds of every user's pass through the graph filters (dense products and sparse
    shifts), three per user and epoch (forward and backward) and one per user and validation
    (~11 of them), in units of 1e9."""
    n, nnz = data_mod.N_MOVIES, 1.5 * spec.k * data_mod.N_MOVIES  # the graph keeps ~k neighbours, symmetrised
    widths = (2, *spec.widths)  # the input: rating and observed channels
    per_user = sum(k * widths[i] * widths[i + 1] * n + (k - 1) * min(widths[i], widths[i + 1]) * nnz
                   for i, k in enumerate(spec.taps))
    work = (3 * spec.epochs + 11) * N_USERS * per_user / 1e9
    return [1.0, float(spec.epochs), float(spec.steps()), work]


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    """What the Train page lets a user choose (each bounded by :data:`LIMITS`)."""

    taps: tuple[int, ...] = (5, 5)
    widths: tuple[int, ...] = (64, 32)
    k: int = 10
    epochs: int = 2
    lr: float = 0.005
    batch_size: int = 32
    seed: int = 0

    def problems(self) -> list[str]:
        """Everything out of bounds, each with its allowed range (empty: fine)."""
        out = []

        def whole(v) -> bool:
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        lo, hi = LIMITS["layers"]
        if not (lo <= len(self.taps) <= hi) or len(self.taps) != len(self.widths):
            out.append(f"layers: {len(self.widths)} widths and {len(self.taps)} taps given; use {lo}-{hi} layers, "
                       "one width and one tap count each")
        for name, values, key in (("taps", self.taps, "taps"), ("width", self.widths, "width")):
            lo, hi = LIMITS[key]
            for i, v in enumerate(values):
                if not whole(v) or not lo <= v <= hi:
                    out.append(f"{name} of layer {i + 1} is {v!r}; use a whole number {lo}-{hi}")
        if self.taps and all(whole(t) and t == 1 for t in self.taps):
            out.append("every layer has 1 tap, so the GNN would never look at the graph; give a layer 2+ taps")
        for name in ("k", "epochs", "batch_size", "seed"):
            lo, hi = LIMITS[name]
            v = getattr(self, name)
            if not whole(v) or not lo <= v <= hi:
                out.append(f"{name.replace('_', ' ')} is {v!r}; use a whole number {lo}-{hi}")
        lo, hi = LIMITS["lr"]
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and lo <= self.lr <= hi):
            out.append(f"learning rate is {self.lr!r}; use {lo:g}-{hi:g}")
        if not out and self.estimate_seconds() > BUDGET_SECONDS:
            out.append(f"these settings would take about {self.estimate_seconds() / 60:.0f} min here, over the "
                       f"{BUDGET_SECONDS / 60:.0f}-minute budget of one training on this shared server; use fewer "
                       "epochs, layers, taps or neighbours, narrower layers, or a larger batch")
        return out

    def estimate_seconds(self) -> float:
        """Expected wall time of this training here (:data:`COST`; the job is stopped at
        :data:`gnnrec.app.jobs.WALL_LIMIT` whatever the estimate said)."""
        return float(np.dot(COST, cost_features(self)))

    def check(self) -> TrainSpec:
        p = self.problems()
        if p:
            raise ValueError("; ".join(p))
        return self

    def steps(self, users: int = N_USERS) -> int:
        return math.ceil(users / self.batch_size) * self.epochs

    def configs(self) -> tuple[GNNPredictorConfig, GraphConfig]:
        """The ``all`` preset with this spec's layers, neighbours and training (:func:`gnnrec.presets.customise`)."""
        p = customise(PRESETS["all"], features=[int(w) for w in self.widths], taps=[int(t) for t in self.taps],
                      k=int(self.k), epochs=int(self.epochs))
        valid_every = max(1, math.ceil(self.steps() / 10))  # ~10 points on the validation curve
        train = dataclasses.replace(p.predictor.train, batch_size=int(self.batch_size), lr=float(self.lr),
                                    valid_every=valid_every, seed=int(self.seed))
        return dataclasses.replace(p.predictor, train=train), p.graph

    def n_parameters(self) -> int:
        return LocalGNN(self.configs()[0].model).n_parameters()


def check_new_name(name: str, folder: Path | None = None) -> str:
    """A valid name not yet used in the store (a retraining never replaces a model someone may be
    using); StoreError says what to change."""
    name = (name or "").strip()
    store.check_name(name)
    if name in store.list_names(folder):
        raise store.StoreError(f"a model named {name!r} exists already; choose a new name (models are never "
                               "overwritten from the app, so nobody's active model changes under them)")
    return name


def train_model(data: data_mod.MovieLens, spec: TrainSpec, name: str,
                on_progress: Callable[[Progress], None] | None = None, cancel: Callable[[], bool] | None = None,
                folder: Path | None = None, on_stage: Callable[[Stage], None] | None = None) -> dict:
    """Train an all-movies GNN as :func:`gnnrec.allmovies.train_all_model` does (5% of the ratings
    held out for validation and left out of the graph) and save it; returns ``{name, path, metrics}``.
    ``on_progress`` gets a :class:`gnnrec.app.progress.TimedProgress` after every validation,
    ``on_stage`` a :class:`gnnrec.app.progress.Stage` as the graph builds start.

    Raises ValueError (bad spec), StoreError (bad or taken name), Cancelled.
    """
    spec.check()
    name = check_new_name(name, folder)
    cfg, graph_cfg = spec.configs()
    if cancel is not None and cancel():
        raise Cancelled("training cancelled before it started")
    recipe = Preset(cfg, graph_cfg, "custom (app)", task="all")
    stage = on_stage or (lambda e: None)

    def progress(p: Progress) -> None:
        if on_progress is not None:
            on_progress(TimedProgress.of(p))
        if p.step >= p.total_steps:
            stage(Stage("final graph"))  # fit_gnn builds the graph of every rating next

    stage(Stage("graph"))
    gnn, metrics, extra = allmovies.train_all_model(data, recipe, spec.seed, on_progress=progress, cancel=cancel,
                                                    made_by="app", spec=dataclasses.asdict(spec))
    name = check_new_name(name, folder)  # again: another job may have taken it meanwhile
    path = store.save(gnn, name, metrics=metrics, data_fingerprint=data.fingerprint(), extra=extra, folder=folder)
    return {"name": name, "path": str(path), "metrics": metrics}


def start_training(data: data_mod.MovieLens, spec: TrainSpec, name: str, folder: Path | None = None,
                   owner: str = "app", grace: float | None = None) -> Job:
    """Check the request (bounds, the time budget, the name), then train in the background;
    events are :class:`Progress`. ``owner``/``grace``: see :func:`gnnrec.app.jobs.start_job`."""
    spec.check()
    name = check_new_name(name, folder)
    return start_job("training", name, functools.partial(_train_job, data, spec, name, folder),
                     total=spec.steps(), owner=owner, process=use_processes(), grace=grace, folder=folder)


def _train_job(data, spec, name, folder, report, cancelled) -> dict:  # module level: it runs in a child process
    return train_model(data, spec, name, on_progress=report, cancel=cancelled, folder=folder, on_stage=report)


def history_table(history: Iterable) -> pd.DataFrame:
    """A stored training history ``[(step, train loss, valid RMSE)]`` as a table like :func:`history_frame`."""
    rows = [(int(h[0]), None, h[1], h[2], None) for h in history]
    return pd.DataFrame(rows, columns=["step", "epoch", "train loss", "valid RMSE", "best valid RMSE"])


def history_frame(events: Iterable[Progress]) -> pd.DataFrame:
    """Training progress events -> ``step, epoch, train loss, valid RMSE, best valid RMSE``."""
    rows = [(e.step, e.epoch + 1, e.loss, e.valid_rmse, e.best_valid_rmse) for e in events if isinstance(e, Progress)]
    return pd.DataFrame(rows, columns=["step", "epoch", "train loss", "valid RMSE", "best valid RMSE"])


# -- live evaluation ----------------------------------------------------------------------------------
def check_eval_request(data: data_mod.MovieLens, target: int, splits: int, preset: str) -> None:
    """Raise ValueError (what to change) unless a live evaluation of this can run here."""
    data.check_movie(target)
    if not (isinstance(splits, (int, np.integer)) and 1 <= splits <= MAX_LIVE_SPLITS):
        raise ValueError(f"splits={splits!r}: run 1..{MAX_LIVE_SPLITS} splits live (each takes {SPLIT_SECONDS} s on a shared "
                         f"host); run more with `python -m gnnrec evaluate --splits 10 --json results/FILE.json`")
    if preset not in eval_presets():
        raise ValueError(f"unknown preset {preset!r} for the target task; choose one of {eval_presets()}")
    n = int(data.n_raters()[target - 1])
    if n < 20:
        raise ValueError(f"{data.title(target)} has only {n} ratings; pick a movie with at least 20 so that "
                         "its test users say something")


def evaluate(data: data_mod.MovieLens, target: int, splits: int = 1, preset: str = "best",
             on_split: Callable[[int, dict], None] | None = None,
             on_stage: Callable[[int, str, float], None] | None = None) -> dict:
    """The seed's protocol for one target movie (:func:`gnnrec.evaluate.evaluate_target`, in this
    process: ``on_stage(split, stage, done)`` reports each split's stages)."""
    from ..evaluate import EvalConfig, evaluate_target

    check_eval_request(data, target, splits, preset)
    return evaluate_target(data, EvalConfig(target=int(target), splits=int(splits), preset=preset), on_split,
                           workers=1, on_stage=on_stage)


def eval_presets() -> list[str]:
    """Presets for the target task (the all-movies one is for the other task)."""
    return [n for n in PRESETS if n != "all"]


_eval_results: dict[tuple, dict] = {}  # finished live evaluations, shared by all sessions (bounded)
_eval_lock = threading.Lock()
EVAL_CACHE_SIZE = 16


def eval_key(fingerprint: str, target: int, splits: int, preset: str) -> tuple:
    """What identifies a live evaluation: the data and the request."""
    return (str(fingerprint), int(target), int(splits), str(preset))


def cached_evaluation(key: tuple) -> dict | None:
    """A live evaluation already run in this app (any session), or None. Seeded, so the same
    request always gives the same result."""
    with _eval_lock:
        return _eval_results.get(key)


def _remember(key: tuple, data: data_mod.MovieLens, result: dict) -> dict:
    """A finished live evaluation, with its true ratings as a loaded file has them, kept for all."""
    result = with_ratings(result, data)
    with _eval_lock:
        _eval_results[key] = result
        while len(_eval_results) > EVAL_CACHE_SIZE:
            _eval_results.pop(next(iter(_eval_results)))
    return result


def start_evaluation(data: data_mod.MovieLens, target: int, splits: int, preset: str, owner: str = "app",
                     grace: float | None = None) -> Job:
    """Check the request, then evaluate in the background; events are ``(split index, record)``;
    the result is also kept for :func:`cached_evaluation`."""
    check_eval_request(data, target, splits, preset)
    key = eval_key(data.fingerprint(), target, splits, preset)
    job = start_job("evaluation", f"of {data.title(target)}, {splits} split(s), preset {preset}",
                    functools.partial(_eval_job, data, target, splits, preset), total=int(splits), owner=owner,
                    process=use_processes(), on_done=functools.partial(_remember, key, data), grace=grace,
                    first_event=EvalProgress(0, int(splits), "starting"))  # the worker takes seconds to start
    return job


def _eval_job(data, target, splits, preset, report, cancelled, every: float = 0.5) -> dict:  # in a child process
    """The evaluation with its progress as :class:`EvalProgress` events: every stage as it starts,
    the GNN's training at most every ``every`` seconds, each split's RMSEs as it ends."""
    last = [0.0]

    def on_stage(i: int, stage: str, done: float) -> None:
        if cancelled():
            raise Cancelled("evaluation cancelled")
        now = time.time()
        if stage != "gnn" or done in (0.0, 1.0) or now - last[0] >= every:
            last[0] = now
            report(EvalProgress(i, splits, stage, done, now))

    return evaluate(data, target, splits, preset, on_stage=on_stage,
                    on_split=lambda i, rec: report(EvalProgress(i, splits, "done", 1.0, rmse=rec["rmse"])))
