"""Tests for gnnrec.train: learning, determinism, best/last weights, progress, cancel, config."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest
import torch
from torch import nn

from gnnrec.fast.training import BackgroundValidator
from gnnrec.train import Cancelled, Progress, TrainConfig, fit


def synthetic(seed: int = 0, n_train: int = 60, n_valid: int = 20):
    rng = np.random.default_rng(seed)
    w = np.array([1.5, -2.0, 0.5])
    x = rng.normal(size=(n_train + n_valid, 3))
    y = x @ w + 0.7 + 0.05 * rng.normal(size=n_train + n_valid)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    return (xt[:n_train], yt[:n_train]), (xt[n_train:], yt[n_train:])


def step(model, batch, training):
    x, y = batch
    return model(x).squeeze(-1), y


def new_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Linear(3, 1)


def rmse(model, valid) -> float:
    with torch.no_grad():
        pred, label = step(model, valid, False)
    return float(torch.sqrt(torch.mean((pred - label) ** 2)))


CFG = TrainConfig(epochs=4, batch_size=8, lr=0.05, valid_every=3, seed=0)  # 8 steps/epoch, 32 steps


def test_fit_decreases_valid_rmse():
    train, valid = synthetic()
    model = new_model()
    before = rmse(model, valid)
    t0 = time.perf_counter()
    res = fit(model, train, valid, step, CFG)
    assert 0 < res.seconds <= time.perf_counter() - t0  # the training's own time, within the call's
    first, last = res.history[0][2], res.history[-1][2]
    assert first == pytest.approx(before, rel=1e-6)  # step 0 validates the initial weights
    assert last < 0.5 * first
    assert res.best_valid_rmse < 0.5 * before
    # the model is left holding the last weights
    assert rmse(model, valid) == pytest.approx(last, rel=1e-6)
    for k, v in model.state_dict().items():
        assert torch.equal(v, res.last_state[k])


def test_fit_deterministic_with_seed():
    train, valid = synthetic()
    a = fit(new_model(), train, valid, step, CFG)
    b = fit(new_model(), train, valid, step, CFG)
    assert len(a.history) == len(b.history)
    for ha, hb in zip(a.history, b.history):
        assert ha[0] == hb[0]
        assert (math.isnan(ha[1]) and math.isnan(hb[1])) or ha[1] == hb[1]
        assert ha[2] == hb[2]
    assert a.best_step == b.best_step and a.best_valid_rmse == b.best_valid_rmse
    for k in a.last_state:
        assert torch.equal(a.last_state[k], b.last_state[k])
        assert torch.equal(a.best_state[k], b.best_state[k])
    # another shuffling seed gives another trajectory (the seed is really used)
    c = fit(new_model(), train, valid, step, TrainConfig(**{**CFG.__dict__, "seed": 1}))
    assert [h[2] for h in c.history] != [h[2] for h in a.history]


def test_best_state_is_minimum_of_history():
    train, valid = synthetic(1)
    # a large learning rate makes the validation RMSE go up and down
    cfg = TrainConfig(epochs=3, batch_size=4, lr=0.8, valid_every=2, seed=0)
    model = new_model(1)
    res = fit(model, train, valid, step, cfg)
    rmses = [h[2] for h in res.history]
    i = int(np.argmin(rmses))  # first occurrence of the minimum
    assert res.best_valid_rmse == rmses[i]
    assert res.best_step == res.history[i][0]
    model.load_state_dict(res.best_state)
    assert rmse(model, valid) == pytest.approx(res.best_valid_rmse, rel=1e-6)
    # best and last differ here, and best is a copy (not a view of the live weights)
    assert res.best_step != res.history[-1][0]
    assert any(not torch.equal(res.best_state[k], res.last_state[k]) for k in res.best_state)


def test_history_losses_are_means_since_last_report():
    train, valid = synthetic()
    losses = []

    def recording(model, batch, training):
        pred, label = step(model, batch, training)
        if training:
            losses.append(float(nn.SmoothL1Loss()(pred.detach(), label)))
        return pred, label

    res = fit(new_model(), train, valid, recording, CFG)
    steps = [h[0] for h in res.history]
    assert math.isnan(res.history[0][1])  # nothing trained before step 0
    for (s0, _, _), (s1, loss, _) in zip(res.history, res.history[1:]):
        assert loss == pytest.approx(np.mean(losses[s0:s1]), rel=1e-5)
    assert steps[-1] == len(losses) == 32


def test_on_progress_schedule():
    train, valid = synthetic()
    seen: list[Progress] = []
    res = fit(new_model(), train, valid, step, CFG, on_progress=seen.append)
    total = 32  # ceil(60 / 8) = 8 steps per epoch, 4 epochs
    expected_steps = list(range(0, total, 3)) + [total]
    assert [p.step for p in seen] == expected_steps
    assert all(p.total_steps == total for p in seen)
    assert [p.epoch for p in seen] == [min(s // 8, 3) for s in expected_steps]
    assert [p.valid_rmse for p in seen] == [h[2] for h in res.history]
    np.testing.assert_allclose([p.best_valid_rmse for p in seen],
                               np.minimum.accumulate([p.valid_rmse for p in seen]))
    assert seen[-1].best_valid_rmse == res.best_valid_rmse


def test_on_progress_no_duplicate_when_total_divisible():
    train, valid = synthetic()
    seen = []
    cfg = TrainConfig(epochs=2, batch_size=10, lr=0.05, valid_every=4, seed=0)  # 6 steps/epoch, 12 steps
    fit(new_model(), train, valid, step, cfg, on_progress=lambda p: seen.append(p.step))
    assert seen == [0, 4, 8, 12]


def test_cancel_raises_cancelled():
    train, valid = synthetic()
    polls, trained = [], []

    def cancel():
        polls.append(1)
        return len(polls) >= 4

    def counting(model, batch, training):
        if training:
            trained.append(1)
        return step(model, batch, training)

    with pytest.raises(Cancelled, match="step 3"):
        fit(new_model(), train, valid, counting, CFG, cancel=cancel)
    assert len(polls) == 4 and len(trained) == 3


def test_cancel_false_runs_to_the_end():
    train, valid = synthetic()
    polls = []
    res = fit(new_model(), train, valid, step, CFG, cancel=lambda: polls.append(1) or False)
    assert len(polls) == 32 and res.history[-1][0] == 32


@pytest.mark.parametrize("kwargs", [dict(epochs=0), dict(lr=0), dict(lr=-0.1), dict(lr=float("inf")),
                                    dict(lr=float("nan")), dict(batch_size=0), dict(valid_every=0),
                                    dict(epochs=1.5), dict(epochs=True), dict(loss="l1"), dict(betas=(0.9, 1.0)),
                                    dict(weight_decay=-1e-3)])
def test_train_config_rejects(kwargs):
    with pytest.raises(ValueError):
        TrainConfig(**kwargs)


def test_train_config_defaults():
    cfg = TrainConfig(betas=[0.8, 0.99])
    assert cfg.betas == (0.8, 0.99)
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.valid_every) == (40, 5, 0.005, 5)


@pytest.mark.parametrize("loss", ["smooth_l1", "mse"])
def test_loss_choice_is_the_reported_training_loss(loss):
    train, valid = synthetic()
    model = new_model()
    with torch.no_grad():
        err = model(train[0]).squeeze(-1) - train[1]  # the initial weights' errors
    expected = (err ** 2).mean() if loss == "mse" else torch.where(err.abs() < 1, 0.5 * err ** 2, err.abs() - 0.5).mean()
    res = fit(model, train, valid, step, TrainConfig(epochs=1, batch_size=len(train[0]), valid_every=1, loss=loss))
    assert res.history[1][1] == pytest.approx(float(expected), rel=1e-5)  # one step: its loss, at the start weights


def reference_fit(model: nn.Module, train, config: TrainConfig) -> dict:
    """The plain loop: torch.optim.Adam per parameter, autograd, the batches fit() draws."""
    gen = torch.Generator().manual_seed(config.seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    loss_fn = nn.SmoothL1Loss() if config.loss == "smooth_l1" else nn.MSELoss()
    n = train[0].shape[0]
    steps = math.ceil(n / config.batch_size)
    for _ in range(config.epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(steps):
            idx = perm[i * config.batch_size:(i + 1) * config.batch_size]
            pred, label = step(model, [t[idx] for t in train], True)
            opt.zero_grad()
            loss_fn(pred, label).backward()
            opt.step()
    return model.state_dict()


@pytest.mark.parametrize("changes", [{}, dict(weight_decay=0.01, loss="mse")])
@pytest.mark.parametrize("speedups", [True, False])
def test_fit_trains_like_a_plain_adam_loop(changes, speedups):
    """fit() (fused Adam and validation on a thread with the speed-ups on, neither without) gives
    the weights of a plain loop of torch.optim.Adam over the same batches."""
    cfg = dataclasses.replace(CFG, **changes)
    train, valid = synthetic()
    options = {"validator": BackgroundValidator, "fused": True} if speedups else {}
    res = fit(new_model(), train, valid, step, cfg, **options)
    ref = reference_fit(new_model(), train, cfg)
    for k, v in ref.items():
        assert torch.allclose(res.last_state[k], v, rtol=1e-5, atol=1e-6), (k, res.last_state[k], v)


def test_on_epoch_is_called_before_each_epoch():
    train, valid = synthetic()
    steps, calls = [0], []

    def counting(model, batch, training):
        steps[0] += training
        return step(model, batch, training)

    fit(new_model(), train, valid, counting, CFG, on_epoch=lambda e: calls.append((e, steps[0])))
    assert calls == [(0, 0), (1, 8), (2, 16), (3, 24)]  # 8 steps an epoch: each call before its epoch's first


def test_grad_fn_replaces_autograd_in_training_only():
    """A hand-written gradient (grad_fn) trains the model to the same weights as autograd through
    step(); validation still goes through step()."""
    def grad_fn(model, batch, loss):
        assert loss == "mse"
        x, y = batch
        d = model(x).squeeze(-1).detach() - y  # (B,)
        model.weight.grad = (2 / len(d)) * d[None] @ x
        model.bias.grad = (2 / len(d)) * d.sum(0, keepdim=True)
        return float((d * d).mean())

    cfg = dataclasses.replace(CFG, loss="mse")
    train, valid = synthetic()
    auto = fit(new_model(), train, valid, step, cfg)
    hand = fit(new_model(), train, valid, step, cfg, grad_fn=grad_fn)
    for k in auto.last_state:
        assert torch.allclose(hand.last_state[k], auto.last_state[k], rtol=1e-5, atol=1e-6)
    assert [h[0] for h in hand.history] == [h[0] for h in auto.history]
    for (_, la, ra), (_, lh, rh) in zip(auto.history, hand.history):
        assert rh == pytest.approx(ra, rel=1e-5)
        assert (math.isnan(la) and math.isnan(lh)) or lh == pytest.approx(la, rel=1e-5)
