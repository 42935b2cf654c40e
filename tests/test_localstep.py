"""Tests for gnnrec.localstep: the hand-written local pass and its gradient against autograd through
the full graph, and the losses against torch's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_models import make_model, random_graph  # tests/ is on sys.path (pytest prepend mode)
from torch import nn

from gnnrec.localstep import LocalStep, loss_and_grad
from gnnrec.models import GNNConfig, LocalGNN, LocalPlan, shift_operator


@pytest.mark.parametrize("loss,reference", [("smooth_l1", nn.SmoothL1Loss()), ("mse", nn.MSELoss())])
def test_loss_and_grad_match_torch(loss, reference):
    pred = torch.tensor([0.2, -3.0, 1.7, 4.4, 2.0, 0.999], requires_grad=True)
    label = torch.tensor([0.0, 0.5, 1.0, 2.0, 2.5, 0.0])  # |d| on both sides of 1 (smooth L1's kink)
    ref = reference(pred, label)
    ref.backward()
    value, grad = loss_and_grad(pred.detach(), label, loss)
    assert value == pytest.approx(float(ref.detach()), rel=1e-6)
    assert torch.allclose(grad, pred.grad, rtol=1e-6, atol=1e-7)


def test_loss_and_grad_rejects_unknown_loss():
    with pytest.raises(ValueError, match="loss='l1'.*smooth_l1.*mse"):
        loss_and_grad(torch.zeros(2), torch.zeros(2), "l1")


def _setup(features, taps, g=2, users=5, target=6, seed=1):
    s_np = random_graph(4)
    s = shift_operator(s_np)
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.normal(size=(users, 40, g)), dtype=torch.float32)
    model = make_model(GNNConfig(features=features, taps=taps, in_features=g), seed)
    plan = LocalPlan.build(s_np, [target], taps)
    zt = LocalStep.inputs(plan.first_layer_input(x, s, taps[0]))
    return model, x, s, plan, zt


@pytest.mark.parametrize("features,taps", [((4,), (3,)), ((4, 3), (3, 4)), ((6, 3), (5, 5)), ((5, 4, 3), (2, 3, 5))])
@pytest.mark.parametrize("loss", ["smooth_l1", "mse"])
def test_loss_and_grad_equal_autograd_through_the_full_graph(features, taps, loss):
    """The hand-written gradient of the local pass is autograd's gradient of the full model's
    output at the target, for 1-3 layers and both losses."""
    target = 6
    model, x, s, plan, zt = _setup(features, taps, target=target)
    rng = np.random.default_rng(7)
    offset = torch.tensor(rng.normal(size=5), dtype=torch.float32)
    label = torch.tensor(rng.uniform(1, 5, size=5), dtype=torch.float32)

    model.zero_grad()
    pred = model(x, s)[:, target] + offset
    ref_loss = (nn.SmoothL1Loss() if loss == "smooth_l1" else nn.MSELoss())(pred, label)
    ref_loss.backward()
    ref = {n: p.grad.clone() for n, p in model.named_parameters()}
    assert all(v.abs().sum() > 0 for v in ref.values())  # every parameter gets a gradient here

    model.zero_grad(set_to_none=True)
    value = LocalStep(plan).loss_and_grad(model, zt, offset, label, loss)
    assert value == pytest.approx(float(ref_loss.detach()), rel=1e-5)
    for n, p in model.named_parameters():
        assert p.grad.shape == p.shape
        assert torch.allclose(p.grad, ref[n], rtol=1e-4, atol=1e-6), (n, (p.grad - ref[n]).abs().max())


def test_loss_and_grad_writes_into_existing_grads():
    """An existing .grad (a view into training's flat gradient) is written in place, not replaced."""
    model, x, s, plan, zt = _setup((4, 3), (3, 4))
    views = {n: torch.full_like(p, 7.0) for n, p in model.named_parameters()}
    for n, p in model.named_parameters():
        p.grad = views[n]
    LocalStep(plan).loss_and_grad(model, zt, torch.zeros(5), torch.full((5,), 3.0), "smooth_l1")
    for n, p in model.named_parameters():
        assert p.grad is views[n]
        assert not torch.all(p.grad == 7.0)


@pytest.mark.parametrize("targets", [[6], [6, 21, 33]])
def test_forward_equals_the_full_forward(targets):
    s_np = random_graph(4)
    s = shift_operator(s_np)
    x = torch.randn(3, 40, 1)
    model = make_model(GNNConfig(features=(6, 3), taps=(5, 5)), 2)
    plan = LocalPlan.build(s_np, targets, (5, 5))
    out = LocalStep(plan).forward(model, LocalStep.inputs(plan.first_layer_input(x, s, 5)))
    with torch.no_grad():
        assert torch.allclose(out, model(x, s)[:, targets], atol=1e-5)


def test_loss_and_grad_trains_one_target_only():
    model, x, s, _, _ = _setup((4, 3), (3, 4))
    plan = LocalPlan.build(random_graph(4), [6, 21], (3, 4))
    zt = LocalStep.inputs(plan.first_layer_input(x, s, 3))
    with pytest.raises(ValueError, match="one target.*has 2"):
        LocalStep(plan).loss_and_grad(model, zt, torch.zeros(5), torch.zeros(5), "mse")


def test_supports_relu_models_only():
    assert LocalStep.supports(GNNConfig())
    assert not LocalStep.supports(GNNConfig(nonlinearity="none"))
    assert all(layer.bias is not None for layer in LocalGNN(GNNConfig()).layers)  # what the pass assumes


def test_inputs_appends_a_constant_column():
    z = torch.randn(2, 3, 4)
    zt = LocalStep.inputs(z)
    assert zt.shape == (2, 3, 5) and zt.is_contiguous()
    assert torch.equal(zt[..., :4], z) and torch.all(zt[..., 4] == 1)
