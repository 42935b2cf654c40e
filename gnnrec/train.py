"""Training loop: minibatches, Adam, periodic validation, best and last weights, progress, cancel."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn

LOSSES = {"smooth_l1": nn.SmoothL1Loss, "mse": nn.MSELoss}


class Cancelled(RuntimeError):
    """Training was cancelled through the ``cancel`` callable."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the seed's values by default)."""

    epochs: int = 40  # passes over the training examples
    batch_size: int = 5  # examples per Adam step
    lr: float = 0.005  # Adam learning rate
    betas: tuple[float, float] = (0.9, 0.999)  # Adam moment decays
    weight_decay: float = 0.0  # L2 penalty in Adam
    valid_every: int = 5  # steps between validations (step 0 included)
    seed: int = 0  # weight initialisation and shuffling
    loss: str = "smooth_l1"  # "smooth_l1" (the seed) or "mse" (what RMSE scores)

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        for name, lo in (("epochs", 1), ("batch_size", 1), ("valid_every", 1)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ValueError(f"{name}={v!r} must be an integer >= {lo}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr={self.lr!r} must be a positive number")
        if not (len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas)):
            raise ValueError(f"betas={self.betas!r} must be two numbers in [0, 1)")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"weight_decay={self.weight_decay!r} must be >= 0")
        if self.loss not in LOSSES:
            raise ValueError(f"loss={self.loss!r}: choose one of {sorted(LOSSES)}")


@dataclasses.dataclass(frozen=True)
class Progress:
    """Reported to the progress callback after every validation."""

    epoch: int  # 0-based
    step: int  # optimiser steps done
    total_steps: int
    loss: float  # mean training loss since the last report
    valid_rmse: float
    best_valid_rmse: float


@dataclasses.dataclass
class TrainResult:
    best_state: dict  # weights with the lowest validation RMSE
    last_state: dict  # weights after the final step
    best_valid_rmse: float
    best_step: int  # the optimiser step at which the best weights were validated
    history: list  # [(step, train loss, valid RMSE)]
    seconds: float


Batch = Sequence[torch.Tensor]
StepFn = Callable[[nn.Module, Batch, bool], tuple[torch.Tensor, torch.Tensor]]
GradFn = Callable[[nn.Module, Batch, str], float]


def state_of(model: nn.Module) -> dict:
    """A copy of the model's weights."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class Validator:
    """Scores weights on the validation examples (RMSE of ``step_fn``'s predictions) as training
    goes, keeps the best and the history, and reports progress."""

    def __init__(self, model: nn.Module, valid: Batch, step_fn: StepFn, total: int,
                 on_progress: Callable[[Progress], None] | None):
        self.model, self.valid, self.step_fn, self.total, self.on_progress = model, valid, step_fn, total, on_progress
        self.best_rmse, self.best_step, self.best_state, self.history = math.inf, 0, None, []

    def score(self, model: nn.Module) -> float:
        with torch.no_grad():
            pred, label = self.step_fn(model, self.valid, False)
            return float(torch.sqrt(torch.mean((pred - label) ** 2)))

    def record(self, step: int, epoch: int, loss: float, rmse: float, state: dict | Callable[[], dict]) -> None:
        if rmse < self.best_rmse:
            self.best_rmse, self.best_step = rmse, step
            self.best_state = state() if callable(state) else state
        self.history.append((step, loss, rmse))
        if self.on_progress is not None:
            self.on_progress(Progress(epoch, step, self.total, loss, rmse, self.best_rmse))

    def submit(self, step: int, epoch: int, loss: float) -> None:
        """Validate the model's weights as they are now."""
        self.record(step, epoch, loss, self.score(self.model), lambda: state_of(self.model))

    def finish(self) -> None:
        """Every submitted validation is recorded."""

    def close(self) -> None:
        """Nothing left running."""


def _train_step(model: nn.Module, batch: Batch, step_fn: StepFn, grad_fn: GradFn | None, optimizer, loss_fn,
                loss_name: str) -> float:
    """One optimiser step on ``batch`` (gradients by ``grad_fn`` if given, else autograd); its loss."""
    if grad_fn is not None:  # it writes every gradient: nothing to zero
        loss = grad_fn(model, batch, loss_name)
    else:
        optimizer.zero_grad()
        pred, label = step_fn(model, batch, True)
        loss = loss_fn(pred, label)
        loss.backward()
        loss = loss.item()
    optimizer.step()
    return loss


def fit(model: nn.Module, train: Batch, valid: Batch, step_fn: StepFn, config: TrainConfig = TrainConfig(),
        on_progress: Callable[[Progress], None] | None = None, cancel: Callable[[], bool] | None = None,
        grad_fn: GradFn | None = None, on_epoch: Callable[[int], None] | None = None,
        validator: type[Validator] = Validator, fused: bool = False) -> TrainResult:
    """Train ``model`` in place with Adam and return its best and last weights.

    Args:
        model: any module (its weights are initialised by the caller, seeded).
        train: tensors whose first dimension indexes training examples; each epoch visits them
            in a new seeded order, ``batch_size`` at a time.
        valid: the same for validation examples (scored all at once).
        step_fn: ``(model, batch, training) -> (predictions, labels)``, both 1-D.
        config: see :class:`TrainConfig`.
        on_progress: called with a :class:`Progress` after each validation (every
            ``valid_every`` steps, step 0 and the end included).
        cancel: polled every step; when it returns True, :class:`Cancelled` is raised.
        grad_fn: ``(model, batch, loss name) -> loss`` writing every parameter's ``.grad``: a
            hand-written gradient (:class:`gnnrec.fast.localstep.LocalStep`) used instead of
            autograd through ``step_fn`` in training steps.
        on_epoch: called with the epoch index before its first step (e.g. to draw the epoch's
            labels; ``step_fn`` then reads them).
        validator: the :class:`Validator` class that scores and keeps the weights
            (:class:`gnnrec.fast.training.BackgroundValidator`: on a second thread, same numbers).
        fused: torch's fused Adam (the same update in one kernel).

    Returns:
        :class:`TrainResult`; the model is left holding the last weights.
    """
    gen = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas,
                                 weight_decay=config.weight_decay, fused=fused or None)
    loss_fn = LOSSES[config.loss]()
    n = train[0].shape[0]
    steps_per_epoch = math.ceil(n / config.batch_size)
    total = steps_per_epoch * config.epochs
    checker = validator(model, valid, step_fn, total, on_progress)
    running, seen, step, t0 = 0.0, 0, 0, time.perf_counter()
    try:
        model.train()
        for epoch in range(config.epochs):
            if on_epoch is not None:
                on_epoch(epoch)
            order = torch.randperm(n, generator=gen)
            for i in range(steps_per_epoch):
                if step % config.valid_every == 0:
                    checker.submit(step, epoch, running / seen if seen else math.nan)
                    running, seen = 0.0, 0
                if cancel is not None and cancel():
                    raise Cancelled(f"training cancelled at step {step} of {total}")
                rows = order[i * config.batch_size:(i + 1) * config.batch_size]
                batch = [t.index_select(0, rows) for t in train]
                loss = _train_step(model, batch, step_fn, grad_fn, optimizer, loss_fn, config.loss)
                running, seen, step = running + loss, seen + 1, step + 1
        checker.submit(step, config.epochs - 1, running / seen if seen else math.nan)
        checker.finish()
    finally:
        checker.close()
    last = state_of(model)
    return TrainResult(checker.best_state or last, last, checker.best_rmse, checker.best_step,
                       checker.history, time.perf_counter() - t0)
