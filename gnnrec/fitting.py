"""Training a GNN predictor: for one target movie (the seed's task) or for every movie at once.

Both fill a :class:`gnnrec.gnn.GNNPredictor` ``pred`` (its graph, means and weights) through
:func:`gnnrec.train.fit`; with the predictor's speed-ups on (``pred.fast``), the one-target pass
is the exact partial one and its gradient is hand-written, otherwise autograd runs through the
whole graph.

Letters: U training users, N movies, G input channels.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses

import numpy as np
import torch

from . import train as train_mod
from .fast.local import forward_local, local_input
from .fast.localstep import LocalStep
from .fast.ops import shift_for
from .fast.training import BackgroundValidator
from .graph import ItemGraph
from .models import LocalGNN, load_model

VALID_FRACTION = 0.05  # all-movies training: share of the training ratings held out to pick the best weights


def fit_target(pred, train: np.ndarray, graph: ItemGraph, valid: np.ndarray | None = None,
               on_progress=None, cancel=None, init: list[dict] | None = None,
               means_from: np.ndarray | None = None):
    """Train ``pred`` (``config.target`` set) to predict its target from each user's other
    ratings. ``train`` ``(U, N)``: every user rated the target; ``valid``: held-out users
    (default: 10% of ``train``, seeded) who pick the best weights; ``graph``: built from the
    training ratings only. ``init``: starting weights per ensemble member (fine-tuning; default:
    fresh, seeded). ``means_from``: the ratings the item means come from (default ``train``)."""
    cfg, t = pred.config, pred.config.target
    pred.use(train if means_from is None else means_from, graph)  # default: every training user's means
    if valid is None:
        perm = np.random.default_rng(cfg.train.seed).permutation(train.shape[0])
        n_valid = max(1, round(0.1 * train.shape[0]))
        train, valid = train[perm[n_valid:]], train[perm[:n_valid]]
    for name, rows in (("training", train), ("validation", valid)):
        if rows.ndim != 2 or rows.shape[1] != graph.shift.shape[0]:
            raise ValueError(f"{name} ratings of shape {rows.shape}: expected (users, {graph.shift.shape[0]})")
        if len(rows) == 0 or not (rows[:, t] > 0).all():
            raise ValueError(f"every {name} user must have rated the target movie index {t}")
    local = LocalStep(pred.plan([t])) if pred.fast and LocalStep.supports(cfg.model) else None
    examples = [_target_examples(pred, rows, local) for rows in (train, valid)]

    if not pred.fast:  # the reference: autograd through the whole graph
        forward = lambda model, z: model(z, pred.shift_operator)[:, t:t + 1]  # (B, 1)
    elif local is not None:  # the hand-written exact partial pass
        forward = local.forward
    else:  # the linear filter: autograd on its folded input
        plan = pred.plan([t])
        forward = lambda model, z: forward_local(model, z, plan)

    def step(model, batch, training):
        z, offset, label = batch
        return forward(model, z)[:, 0] + offset, label

    grad = None if local is None else (lambda model, batch, loss: local.loss_and_grad(model, *batch, loss))
    return _train_members(pred, examples[0], examples[1], step, on_progress, cancel, grad, init=init)


def _target_examples(pred, rows: np.ndarray, local: LocalStep | None) -> list[torch.Tensor]:
    """``[model input, offset (U,), label (U,)]``: each user's ratings without the target's, encoded
    (the whole signal ``(U, N, G)`` for the reference; its part the target depends on otherwise)."""
    t = pred.config.target
    x = rows.copy()
    label = torch.tensor(x[:, t], dtype=torch.float32)  # a copy: x[:, t] is zeroed next
    x[:, t] = 0
    sig, offset = pred.encode(x)
    if not pred.fast:
        return [sig, offset[:, t], label]
    z = local_input(pred.config.model, sig, pred.shift_operator, pred.plan([t]))  # (U, |V1|, K1*G) or folded
    return [LocalStep.inputs(z) if local is not None else z, offset[:, t], label]


def fit_all(pred, train: np.ndarray, graph: ItemGraph, valid: np.ndarray | None = None,
            on_progress=None, cancel=None, init: list[dict] | None = None):
    """Train ``pred`` (``config.target`` None) to predict every movie. Each epoch,
    ``hide_fraction`` of the training ratings (seeded) become labels and leave both the input and
    the *training* graph, which is rebuilt from the rest: a graph built with the labels leaks
    them, and a model trained on such a graph learns the leak. ``valid`` ``(U, N)`` holds other
    ratings of the same users, kept out of ``graph``; validation predicts them from ``train`` on
    ``graph``, exactly as a test rating is predicted. Without ``valid``, :data:`VALID_FRACTION` of
    ``train`` is held out (seeded) and the graph rebuilt from the rest."""
    cfg = pred.config
    rng = np.random.default_rng(cfg.train.seed)
    if valid is None:
        held = (train > 0) & (rng.random(train.shape) < VALID_FRACTION)
        valid, train = np.where(held, train, 0), np.where(held, 0, train)
        graph = ItemGraph.build(train, graph.config)
    elif valid.shape != train.shape:
        raise ValueError(f"valid has shape {valid.shape} but train {train.shape}: give the held-out ratings of "
                         "the same users and movies (0 elsewhere)")
    pred.use(train, graph)
    labels = EpochLabels(train, cfg.hide_fraction, graph, rng, fast=pred.fast)

    def step(model, batch, training):
        if training:
            (rows,) = batch
            x_in, y, s = labels.inputs[rows], labels.labels[rows], labels.shift
        else:
            (x_in, y), s = batch, pred.shift_operator
        known = y > 0
        return pred.outputs(model, x_in, s)[known], y[known]

    users = torch.as_tensor(np.flatnonzero((train > 0).sum(1) >= 2))  # a user needs an input and a label
    has_valid = (valid > 0).any(1)
    as_t = lambda a: torch.as_tensor(a, dtype=torch.float32)
    try:
        return _train_members(pred, (users,), (as_t(train[has_valid]), as_t(valid[has_valid])), step,
                              on_progress, cancel, on_epoch=labels.draw, init=init)
    finally:
        labels.close()


class EpochLabels:
    """All-movies training data, redrawn every epoch (:meth:`draw` is ``fit``'s ``on_epoch``):
    ``fraction`` of the ``train`` ratings become ``labels``, the rest ``inputs``, and ``shift`` is
    the graph built from the inputs alone. With ``fast`` (the speed-ups), the next epoch's graph
    is built on a second thread while this epoch trains (NumPy releases the GIL) as a
    :class:`gnnrec.fast.ops.ShiftOperator`; the draws come in the same order either way, so the
    data are the same."""

    def __init__(self, train: np.ndarray, fraction: float, graph: ItemGraph, rng: np.random.Generator,
                 fast: bool = False):
        self.train, self.fraction, self.graph_config, self.rng = train, fraction, graph.config, rng
        self.fast = fast
        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="gnnrec-graph") if fast else None
        self.ahead = None

    def _next(self):
        label = (self.train > 0) & (self.rng.random(self.train.shape) < self.fraction)
        inputs = np.where(label, 0, self.train)
        build = lambda: shift_for(ItemGraph.build(inputs, self.graph_config).shift, self.fast)
        return label, inputs, (self.pool.submit(build) if self.pool is not None else build())

    def draw(self, epoch: int) -> None:
        label, inputs, shift = self.ahead or self._next()
        self.inputs = torch.as_tensor(inputs, dtype=torch.float32)  # (U, N)
        self.labels = torch.as_tensor(np.where(label, self.train, 0), dtype=torch.float32)  # (U, N)
        self.shift = shift.result() if self.pool is not None else shift
        self.ahead = self._next() if self.pool is not None else None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)  # the graph drawn ahead is not needed


def _train_members(pred, train, valid, step, on_progress, cancel, grad=None, on_epoch=None,
                   init: list[dict] | None = None):
    """Train ``config.ensemble`` models (seeds seed, seed+1, ...; from ``init`` when given) and
    keep each one's best or last weights."""
    cfg = pred.config
    pred.models, pred.results = [], []
    for e in range(cfg.ensemble):
        tc = dataclasses.replace(cfg.train, seed=cfg.train.seed + e)
        torch.manual_seed(tc.seed)
        model = LocalGNN(cfg.model)
        if init is not None:
            model.load_state_dict(init[e % len(init)])
        res = train_mod.fit(model, train, valid, step, tc, on_progress, cancel, grad, on_epoch,
                            validator=BackgroundValidator if pred.fast else train_mod.Validator, fused=pred.fast)
        pred.models.append(load_model(cfg.model, res.best_state if cfg.weights == "best" else res.last_state))
        pred.results.append(res)
    return pred
