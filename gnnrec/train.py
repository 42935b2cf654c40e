"""Training loop: Smooth L1 + Adam, periodic validation, best and last weights, progress, cancel."""

from __future__ import annotations

import concurrent.futures
import copy
import dataclasses
import math
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.optim.adam import adam as adam_update  # the functional form of torch.optim.Adam

SCHEDULES = ("constant", "cosine")
LOSSES = {"smooth_l1": nn.SmoothL1Loss, "mse": nn.MSELoss}


class Cancelled(RuntimeError):
    """Training was cancelled through the ``cancel`` callable."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the seed's values by default)."""

    epochs: int = 40  # passes over the training users
    batch_size: int = 5  # examples per Adam step
    lr: float = 0.005  # Adam learning rate
    betas: tuple[float, float] = (0.9, 0.999)  # Adam moment decays
    weight_decay: float = 0.0  # L2 penalty in Adam
    valid_every: int = 5  # steps between validations (step 0 included)
    seed: int = 0  # weight initialisation and shuffling
    schedule: str = "constant"  # learning rate: "constant" (the seed) or "cosine" (lr * (1 + cos(pi t/T)) / 2)
    loss: str = "smooth_l1"  # "smooth_l1" (the seed) or "mse" (what RMSE scores)
    average: float = 0.0  # > 0: also score the mean of the snapshots validated in this final share of the steps

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        for name, lo in (("epochs", 1), ("batch_size", 1), ("valid_every", 1)):
            v = getattr(self, name)
            if not isinstance(v, int) or v < lo:
                raise ValueError(f"{name}={v!r} must be an integer >= {lo}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr={self.lr!r} must be a positive number")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule={self.schedule!r}: choose one of {SCHEDULES}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss={self.loss!r}: choose one of {sorted(LOSSES)}")
        if not 0 <= self.average < 1:
            raise ValueError(f"average={self.average!r} must be in [0, 1): the final share of the steps averaged")

    def lr_at(self, step: int, total: int) -> float:
        """The learning rate of optimiser step ``step`` (0-based) of ``total``."""
        if self.schedule == "cosine":
            return self.lr * 0.5 * (1 + math.cos(math.pi * step / max(total, 1)))
        return self.lr


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
    best_state: dict  # weights with the lowest validation RMSE (a snapshot, or their average)
    last_state: dict  # weights after the final step
    best_valid_rmse: float
    best_step: int  # the step of the best snapshot; -1 when the average of the final snapshots won
    history: list  # [(step, train loss, valid RMSE)]
    seconds: float
    averaged_valid_rmse: float = math.nan  # the averaged snapshots' validation RMSE (config.average > 0)


Batch = Sequence[torch.Tensor]
StepFn = Callable[[nn.Module, Batch, bool], tuple[torch.Tensor, torch.Tensor]]
GradFn = Callable[[nn.Module, Batch, str], float]


def fit(model: nn.Module, train: Batch, valid: Batch, step_fn: StepFn, config: TrainConfig = TrainConfig(),
        on_progress: Callable[[Progress], None] | None = None,
        cancel: Callable[[], bool] | None = None, grad_fn: GradFn | None = None) -> TrainResult:
    r"""Train ``model`` in place and return its best and last weights.

    Args:
        model: any module (its weights are re-initialised by the caller, seeded).
        train: tensors whose first dimension indexes training examples; batches are slices.
        valid: the same for validation examples (scored all at once).
        step_fn: ``(model, batch, training) -> (predictions, labels)``, both 1-D.
        config: see :class:`TrainConfig`.
        on_progress: called with a :class:`Progress` after each validation.
        cancel: polled every step; when it returns True, :class:`Cancelled` is raised.
        grad_fn: ``(model, batch, loss name) -> loss``, writing every parameter's gradient to its
            ``.grad``: a hand-written gradient (:class:`gnnrec.localstep.LocalStep`) that
            training then uses instead of autograd through ``step_fn``; validation still calls
            ``step_fn``.

    Returns:
        :class:`TrainResult`. The model is left holding the last weights.

    With ``config.average`` :math:`a > 0`, the snapshots validated at steps
    :math:`\ge (1 - a) T` are also averaged weight by weight (:math:`\bar\theta = \frac1M
    \sum_m \theta_m`, stochastic weight averaging) and the average is validated like a snapshot:
    it becomes the best weights when it scores lower than every snapshot.

    Each op runs on one thread (at these batch sizes a second intra-op thread gains nothing, and
    when another process holds the other core OpenMP's barriers made steps up to 100x slower:
    Adam's fused step 24 ms instead of 0.05 ms); validation runs beside training on a second
    thread instead. ``on_progress`` is called from the calling thread, one validation late.

    Two settings make the small steps cheap without changing the method: the parameters live
    in one flat tensor while training (:func:`_flatten`), so Adam is torch's fused kernel on one
    tensor, called through its functional form (~17 us a step instead of ~150 us); and
    subnormal floats are flushed to zero on both threads (``torch.set_flush_denormal``; Adam's
    second moments decay into subnormals, on which elementwise ops ran 7x slower). The calling
    thread's flush setting is off again afterwards (torch's default; it cannot be read back).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    try:
        return _fit(model, train, valid, step_fn, config, on_progress, cancel, grad_fn)
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(threads)


def _flatten(model: nn.Module) -> torch.Tensor:
    """Make every parameter (and its gradient) a view into one flat leaf tensor (and its
    ``.grad``), which is returned: an optimiser of that tensor updates the model. Autograd
    accumulates into an existing ``.grad`` in place, so gradients land in the flat one."""
    params = list(model.parameters())
    flat = torch.cat([p.detach().reshape(-1) for p in params]).requires_grad_(True)
    flat.grad = torch.zeros_like(flat)
    offset = 0
    for p in params:
        n = p.numel()
        p.data = flat.data[offset:offset + n].view_as(p)
        p.grad = flat.grad[offset:offset + n].view_as(p)
        offset += n
    return flat


def _unflatten(model: nn.Module) -> None:
    """Give every parameter its own storage again, and no gradient."""
    for p in model.parameters():
        p.data = p.data.clone()
        p.grad = None


def _state(model: nn.Module, snapshot: torch.Tensor, last: dict) -> dict:
    """A state dict whose parameters are the flat ``snapshot``'s (in :func:`_flatten`'s order)
    and whose other entries (buffers; none in LocalGNN) are ``last``'s."""
    state, offset = dict(last), 0
    for name, p in model.named_parameters():
        state[name] = snapshot[offset:offset + p.numel()].view_as(p).clone()
        offset += p.numel()
    return state


def _fit(model, train, valid, step_fn, config, on_progress, cancel, grad_fn) -> TrainResult:
    gen = torch.Generator().manual_seed(config.seed)
    shadow = copy.deepcopy(model).eval()  # validation's copy
    shadow_flat = _flatten(shadow).detach()  # loading a snapshot into it is one copy
    flat = _flatten(model)
    moments = [torch.zeros_like(flat.grad), torch.zeros_like(flat.grad)]  # Adam's m and v
    adam_steps = torch.zeros(())

    def adam_step(lr: float) -> None:  # torch's fused Adam kernel: elementwise, the same update as per parameter
        adam_update([flat.detach()], [flat.grad], moments[:1], moments[1:], [], [adam_steps], fused=True,
                    amsgrad=False, beta1=config.betas[0], beta2=config.betas[1], lr=lr,
                    weight_decay=config.weight_decay, eps=1e-8, maximize=False)

    loss_fn = LOSSES[config.loss]()
    n = train[0].shape[0]
    steps_per_epoch = math.ceil(n / config.batch_size)
    total = steps_per_epoch * config.epochs
    best_rmse, best_step, best = math.inf, 0, flat.detach().clone()  # best: a flat snapshot
    history, running, seen, step = [], 0.0, 0, 0
    t0 = time.perf_counter()
    # Validation scores a snapshot of the weights on a second thread (the other core) while
    # training goes on: the same numbers as scoring in line, at most one snapshot in flight.
    # Snapshots are flat (one clone, one copy into the shadow model): every Python-level op
    # on that thread holds the GIL that the training thread needs between its own ops.
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="gnnrec-validate",
                                                 initializer=torch.set_flush_denormal, initargs=(True,))
    pending: list = []  # [(future, step, epoch, loss, snapshot)], at most one
    avg_from = math.ceil((1 - config.average) * total) if config.average > 0 else None
    avg_sum, avg_count = torch.zeros_like(best), 0

    def score(snapshot: torch.Tensor) -> float:
        shadow_flat.copy_(snapshot)
        with torch.no_grad():
            pred, label = step_fn(shadow, valid, False)
            return float(torch.sqrt(torch.mean((pred - label) ** 2)))

    def collect() -> None:
        nonlocal best_rmse, best_step, best
        if not pending:
            return
        fut, vstep, epoch, loss, snapshot = pending.pop()
        rmse = fut.result()
        if rmse < best_rmse:
            best_rmse, best_step, best = rmse, vstep, snapshot
        history.append((vstep, loss, rmse))
        if on_progress is not None:
            on_progress(Progress(epoch, vstep, total, loss, rmse, best_rmse))

    def validate(epoch: int) -> None:
        nonlocal running, seen, avg_count
        collect()
        snapshot = flat.detach().clone()
        if avg_from is not None and step >= avg_from:
            avg_sum.add_(snapshot)
            avg_count += 1
        loss = running / seen if seen else math.nan
        running, seen = 0.0, 0
        pending.append((pool.submit(score, snapshot), step, epoch, loss, snapshot))

    try:
        model.train()
        for epoch in range(config.epochs):
            perm = torch.randperm(n, generator=gen)
            for i in range(steps_per_epoch):
                if step % config.valid_every == 0:
                    validate(epoch)
                if cancel is not None and cancel():
                    raise Cancelled(f"training cancelled at step {step} of {total}")
                idx = perm[i * config.batch_size : (i + 1) * config.batch_size]
                batch = [t.index_select(0, idx) for t in train]
                flat.grad.zero_()
                if grad_fn is not None:
                    loss = grad_fn(model, batch, config.loss)
                else:
                    pred, label = step_fn(model, batch, True)
                    loss = loss_fn(pred, label)
                    loss.backward()
                    loss = loss.item()
                adam_step(config.lr_at(step, total))
                running += loss
                seen += 1
                step += 1
        validate(config.epochs - 1)
        collect()
        averaged = math.nan
        if avg_count:
            mean = avg_sum / avg_count
            averaged = score(mean)
            if averaged < best_rmse:
                best_rmse, best_step, best = averaged, -1, mean
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # the pool's thread ends, and its flush setting with it
        _unflatten(model)
    last_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    best_state = _state(model, best, last_state)
    return TrainResult(best_state, last_state, best_rmse, best_step, history, time.perf_counter() - t0, averaged)
