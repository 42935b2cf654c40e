"""Tests for gnnrec.fast: every speed-up equals the reference computation of gnnrec.models and
gnnrec.train (values and gradients), and the switch turns them off."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch import nn
from toy import make_model, random_graph, small_dense_graph, synthetic_ratings

from gnnrec import fast
from gnnrec.fast.local import LocalPlan, diffuse, forward_local
from gnnrec.fast.localstep import LocalStep, loss_and_grad
from gnnrec.fast.ops import ShiftOperator, filter_nodes
from gnnrec.fast.ops import forward as fast_forward
from gnnrec.gnn import GNNPredictor, GNNPredictorConfig
from gnnrec.graph import GraphConfig, ItemGraph, neighbours
from gnnrec.models import GNNConfig, GraphFilter, LocalGNN, sparse_shift
from gnnrec.train import TrainConfig

# every test here holds a speed-up against the reference: with GNNREC_FAST=0 there is nothing to compare
pytestmark = pytest.mark.skipif(not fast.enabled(), reason="compares the speed-ups with the reference (GNNREC_FAST=0)")


# -- the SciPy shift operator, the filter orders, the full forward ----------------------------------------
def test_shift_operator_roundtrip():
    a = random_graph(3, n=12, isolated=2)
    t = ShiftOperator(a)
    assert t.shape == a.shape
    np.testing.assert_allclose(t.to_dense().numpy(), a.toarray(), atol=1e-7)
    z = torch.randn(12, 3, dtype=torch.float32, requires_grad=True)
    y = t @ z
    np.testing.assert_allclose(y.detach().numpy(), a.toarray() @ z.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = torch.randn(12, 3)
    y.backward(g)  # the gradient of S @ z is S^T @ g
    np.testing.assert_allclose(z.grad.numpy(), a.toarray().T @ g.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("g,f", [(2, 6), (6, 2), (3, 3)])  # diffuse first / project first (Horner) / equal
@pytest.mark.parametrize("taps", [1, 2, 4])
def test_filter_nodes_equals_the_reference_filter(g, f, taps):
    """Both evaluation orders, node-major, on the SciPy operator: the reference GraphFilter's
    values and gradients."""
    s_np = random_graph(2, n=20, isolated=3)
    x = torch.randn(3, 20, g)
    coef = torch.randn(3, 20, f)
    torch.manual_seed(0)
    layer = GraphFilter(g, f, taps=taps)
    (layer(x, sparse_shift(s_np)) * coef).sum().backward()
    ref = (layer.weight.grad.clone(), layer.bias.grad.clone())
    with torch.no_grad():
        want = layer(x, sparse_shift(s_np))
    layer.zero_grad()
    got = filter_nodes(layer, x.transpose(0, 1), ShiftOperator(s_np)).transpose(0, 1)
    (got * coef).sum().backward()
    assert torch.allclose(got, want, atol=1e-5)
    assert torch.allclose(layer.weight.grad, ref[0], atol=1e-4) and torch.allclose(layer.bias.grad, ref[1], atol=1e-4)


@pytest.mark.parametrize("nonlinearity", ["relu", "none"])
def test_fast_forward_equals_the_reference_forward(nonlinearity):
    s_np = random_graph(5)
    x = torch.randn(4, 40, 2)
    model = make_model(GNNConfig(features=(6, 3), taps=(3, 4), in_features=2, nonlinearity=nonlinearity), 1)
    coef = torch.randn(4, 40)
    (model(x, sparse_shift(s_np)) * coef).sum().backward()
    ref = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    out = fast_forward(model, x, ShiftOperator(s_np))
    (out * coef).sum().backward()
    with torch.no_grad():
        assert torch.allclose(out, model(x, sparse_shift(s_np)), atol=1e-5)
    for n, p in model.named_parameters():
        assert torch.allclose(p.grad, ref[n], atol=1e-4), n


@pytest.mark.parametrize("dense", [True, False])
def test_diffuse_layout(dense):
    rng = np.random.default_rng(0)
    a = small_dense_graph(1)
    b_, n, g, k = 3, 6, 2, 4
    x = rng.normal(size=(b_, n, g))
    s = torch.tensor(a, dtype=torch.float32) if dense else ShiftOperator(sp.csr_matrix(a))
    out = diffuse(torch.tensor(x, dtype=torch.float32), s, k).numpy()
    assert out.shape == (b_, n, k * g)
    for b in range(b_):
        for kk in range(k):
            shifted = np.linalg.matrix_power(a, kk) @ x[b]  # (N, G)
            np.testing.assert_allclose(out[b, :, kk * g:(kk + 1) * g], shifted, atol=1e-5)


# -- the exact partial pass (LocalPlan) -----------------------------------------------------------------------------
CASES = [
    # (features, taps)
    ((3,), (4,)),
    ((4, 3), (1, 1)),
    ((4, 3), (2, 3)),
    ((4, 3), (3, 1)),
    ((4, 3), (1, 5)),
    ((4, 3), (5, 5)),
    ((5, 4, 3), (2, 3, 5)),
    ((5, 4, 3), (5, 1, 2)),
    ((5, 4, 3), (3, 3, 3)),
]
TARGETS = [[0], [7], [30, 2, 17], [4, 12, 12, 39]]  # 0 and 4 are isolated; unsorted; a repeat


@pytest.mark.parametrize("features,taps", CASES)
@pytest.mark.parametrize("targets", TARGETS)
def test_forward_local_equals_forward(features, taps, targets):
    s_np = random_graph(0)
    s = ShiftOperator(s_np)
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=(3, 40, 2)), dtype=torch.float32)
    model = make_model(GNNConfig(features=features, taps=taps, in_features=2), 5)
    plan = LocalPlan.build(s_np, targets, taps)
    with torch.no_grad():
        full = model(x, s)[:, torch.tensor(targets)]
        z = plan.first_layer_input(x, s, taps[0])
        fast = forward_local(model, z, plan)
    assert fast.shape == (3, len(targets))
    assert torch.allclose(fast, full, atol=1e-5), (fast - full).abs().max()
    # and with autograd on (the non-in-place ReLU branch)
    fast_g = forward_local(model, plan.first_layer_input(x, s, taps[0]), plan)
    assert torch.allclose(fast_g, full, atol=1e-5)


@pytest.mark.parametrize("taps", [(2, 3), (5, 5), (3, 2, 4)])
def test_local_plan_nodes_and_blocks(taps):
    s_np = random_graph(0)
    targets = [30, 2, 17]
    plan = LocalPlan.build(s_np, targets, taps)
    n_layers = len(taps)
    np.testing.assert_array_equal(plan.nodes[n_layers], targets)
    dense = s_np.toarray()
    for layer in range(n_layers, 1, -1):
        here, below = plan.nodes[layer], plan.nodes[layer - 1]
        np.testing.assert_array_equal(below, neighbours(s_np, here, taps[layer - 1] - 1))
        blk = plan.blocks[layer].numpy()
        assert blk.shape == (taps[layer - 1], len(here), len(below))
        for k in range(taps[layer - 1]):
            sk = np.linalg.matrix_power(dense, k)
            np.testing.assert_allclose(blk[k], sk[np.ix_(here, below)], atol=1e-6)
            # nothing of S^k[here] falls outside ``below``
            outside = np.setdiff1d(np.arange(40), below)
            assert np.all(sk[np.ix_(here, outside)] == 0)


@pytest.mark.parametrize("features,taps", [((4, 3), (3, 4)), ((5, 4, 3), (2, 3, 5))])
def test_forward_local_gradient_equals_full_gradient(features, taps):
    s_np = random_graph(4)
    s = ShiftOperator(s_np)
    rng = np.random.default_rng(9)
    x = torch.tensor(rng.normal(size=(4, 40, 1)), dtype=torch.float32)
    targets = [6, 21, 33]
    coef = torch.tensor(rng.normal(size=(4, 3)), dtype=torch.float32)
    model = make_model(GNNConfig(features=features, taps=taps), 3)
    plan = LocalPlan.build(s_np, targets, taps)

    model.zero_grad()
    (model(x, s)[:, torch.tensor(targets)] * coef).sum().backward()
    full = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    (forward_local(model, plan.first_layer_input(x, s, taps[0]), plan) * coef).sum().backward()
    fast = {n: p.grad.clone() for n, p in model.named_parameters()}

    assert full.keys() == fast.keys()
    assert any(v.abs().sum() > 0 for v in full.values())
    for name in full:
        assert torch.allclose(fast[name], full[name], atol=1e-5), name




@pytest.mark.parametrize("features,taps", [((4, 3), (3, 4)), ((5, 2, 3), (2, 3, 2)), ((6, 4), (5, 5))])
def test_folded_linear_fast_path_equals_forward(features, taps):
    """A linear model's folded input (P_2 Z computed once) gives the full computation exactly."""
    s_np = random_graph(7)
    s = ShiftOperator(s_np)
    model = make_model(GNNConfig(features=features, taps=taps, nonlinearity="none"), seed=3)
    x = torch.randn(4, s_np.shape[0], 1)
    targets = [0, 9, 17]
    plan = LocalPlan.build(s_np, targets, taps)
    folded = plan.fold(plan.first_layer_input(x, s, taps[0]))
    assert folded.shape == (4, taps[1], len(plan.nodes[2]), taps[0])
    with torch.no_grad():
        assert torch.allclose(forward_local(model, folded, plan), model(x, s)[:, targets], atol=1e-5)


# -- the hand-written gradient of the local pass ---------------------------------------------------
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
    s = ShiftOperator(s_np)
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
    s = ShiftOperator(s_np)
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


# -- training: the fast path trains the same weights as the reference ------------------------------------
def _fit_both(cfg: GNNPredictorConfig, x: np.ndarray, graph: ItemGraph, valid=None):
    fast_pred = GNNPredictor(cfg).fit(x, graph, valid)
    with fast.disabled():
        ref_pred = GNNPredictor(cfg).fit(x, graph, valid)
        assert not isinstance(ref_pred._s, ShiftOperator)  # the reference really ran
    assert isinstance(fast_pred._s, ShiftOperator)
    return fast_pred, ref_pred


def _assert_same_training(a: GNNPredictor, b: GNNPredictor) -> None:
    ra, rb = a.results[0], b.results[0]
    assert [h[0] for h in ra.history] == [h[0] for h in rb.history]
    np.testing.assert_allclose([h[2] for h in ra.history], [h[2] for h in rb.history], rtol=1e-4)
    assert ra.best_step == rb.best_step
    for k in ra.last_state:
        assert torch.allclose(ra.last_state[k], rb.last_state[k], atol=1e-4), k
    for k in ra.best_state:
        assert torch.allclose(ra.best_state[k], rb.best_state[k], atol=1e-4), k


@pytest.mark.parametrize("nonlinearity,encoding", [("relu", "raw"), ("relu", "baseline+observed"),
                                                   ("none", "centered")])
def test_target_training_fast_equals_reference(nonlinearity, encoding):
    """Hand-written local gradient (ReLU) or folded input (linear), fused Adam, background
    validation: the weights and validation curve of autograd through the whole graph."""
    x = synthetic_ratings(1, users=50, movies=14)
    graph = ItemGraph.build(x, GraphConfig(k=4))
    cfg = GNNPredictorConfig(model=GNNConfig(features=(6, 3), taps=(3, 3), nonlinearity=nonlinearity),
                             train=TrainConfig(epochs=2, batch_size=5, lr=0.02, valid_every=3, seed=2),
                             target=0, encoding=encoding)
    a, b = _fit_both(cfg, x, graph)
    _assert_same_training(a, b)
    users = x[:9]
    np.testing.assert_allclose(a.predict(users, [0]).values, b.predict(users, [0]).values, atol=1e-4)


def test_all_movies_training_fast_equals_reference():
    """The graph built ahead on a second thread, SciPy products, Horner order: the same training."""
    x = synthetic_ratings(2, users=40, movies=10)
    held = np.random.default_rng(0).random(x.shape) < 0.1
    train, valid = np.where(held, 0, x), np.where(held, x, 0)
    graph = ItemGraph.build(train, GraphConfig(k=3))
    cfg = GNNPredictorConfig(model=GNNConfig(features=(5, 3), taps=(3, 2)), encoding="baseline+observed",
                             train=TrainConfig(epochs=3, batch_size=8, lr=0.01, valid_every=2, seed=1, loss="mse"))
    a, b = _fit_both(cfg, train, graph, valid)
    _assert_same_training(a, b)
    np.testing.assert_allclose(a.predict(x[:5]).values, b.predict(x[:5]).values, atol=1e-4)


def test_the_switch_is_decided_once_per_predictor():
    """A predictor built with the switch off computes plainly all its life, trained and used with
    the switch on again (and one built with it on stays fast): its operator, its training and its
    forward order follow the one decision made when it was built."""
    x = synthetic_ratings(1, users=40, movies=12)
    graph = ItemGraph.build(x, GraphConfig(k=4))
    cfg = GNNPredictorConfig(model=GNNConfig(features=(5, 3), taps=(3, 2)), target=0,
                             train=TrainConfig(epochs=2, batch_size=5, lr=0.02, valid_every=3, seed=2))
    with fast.disabled():
        plain = GNNPredictor(cfg)
    quick = GNNPredictor(cfg)
    plain.fit(x, graph)  # the switch is on here
    with fast.disabled():
        quick.fit(x, graph)
        quick_pred = quick.predict(x[:6], [0]).values
        quick_twin = quick.with_weights("last")
    assert not plain.fast and not isinstance(plain.shift_operator, ShiftOperator)
    assert quick.fast and isinstance(quick.shift_operator, ShiftOperator)
    assert quick_twin.fast and isinstance(quick_twin.shift_operator, ShiftOperator)
    _assert_same_training(quick, plain)  # two paths, one training
    np.testing.assert_allclose(quick_pred, plain.predict(x[:6], [0]).values, atol=1e-4)


def test_the_switch_reads_the_environment():
    import subprocess
    import sys

    code = "import gnnrec.fast as f; print(f.enabled())"
    out = {v: subprocess.run([sys.executable, "-c", code], env={**__import__("os").environ, "GNNREC_FAST": v},
                             capture_output=True, text=True, check=True).stdout.strip() for v in ("0", "1")}
    assert out == {"0": "False", "1": "True"}
    assert fast.enabled()  # the module runs with the switch on (pytestmark)
    with fast.disabled():
        assert not fast.enabled()
    assert fast.enabled()
