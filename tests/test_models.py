"""Tests for gnnrec.models: graph filters against a NumPy polynomial, the diffuse layout, the exact
local fast path (values and gradients), the config checks, linearity and the parameter count."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from gnnrec import graph as graph_mod
from gnnrec.models import GNNConfig, GraphFilter, LocalGNN, LocalPlan, diffuse, shift_operator


# -- fixtures --------------------------------------------------------------------------------------
def random_graph(seed: int, n: int = 40, p: float = 0.08, isolated: int = 5) -> sp.csr_matrix:
    """Sparse symmetric weights of either sign, zero diagonal, the first ``isolated`` nodes with no
    edge, spectral radius 1 (so that S^k stays bounded)."""
    rng = np.random.default_rng(seed)
    a = np.triu(rng.uniform(-1, 1, size=(n, n)) * (rng.random((n, n)) < p), 1)
    a = a + a.T
    a[:isolated, :] = 0
    a[:, :isolated] = 0
    a /= np.max(np.abs(np.linalg.eigvalsh(a)))
    return sp.csr_matrix(a)


def small_dense_graph(seed: int, n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = np.triu(rng.uniform(-1, 1, size=(n, n)), 1)
    a[0, 3] = a[1, 4] = 0.0  # a few missing edges
    a = a + a.T
    return a / np.max(np.abs(np.linalg.eigvalsh(a)))


def make_model(config: GNNConfig, seed: int) -> LocalGNN:
    torch.manual_seed(seed)
    model = LocalGNN(config)
    # non-trivial biases so that ReLUs cut at various places
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape))
    return model


# -- diffuse / GraphFilter ---------------------------------------------------------------------------
@pytest.mark.parametrize("dense", [True, False])
def test_diffuse_layout(dense):
    rng = np.random.default_rng(0)
    a = small_dense_graph(1)
    b_, n, g, k = 3, 6, 2, 4
    x = rng.normal(size=(b_, n, g))
    s = torch.tensor(a, dtype=torch.float32) if dense else shift_operator(sp.csr_matrix(a))
    out = diffuse(torch.tensor(x, dtype=torch.float32), s, k).numpy()
    assert out.shape == (b_, n, k * g)
    for b in range(b_):
        for kk in range(k):
            shifted = np.linalg.matrix_power(a, kk) @ x[b]  # (N, G)
            for node in range(n):
                for gg in range(g):
                    assert out[b, node, kk * g + gg] == pytest.approx(shifted[node, gg], abs=1e-5)


def graph_filter_reference(a: np.ndarray, x: np.ndarray, h: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """Y_b = sum_k S^k X_b H_k + b, loop form."""
    b_, n, _ = x.shape
    k_, _, f = h.shape
    y = np.zeros((b_, n, f))
    for b in range(b_):
        sk = np.eye(n)
        for k in range(k_):
            y[b] += sk @ x[b] @ h[k]
            sk = sk @ a
        if bias is not None:
            y[b] += bias
    return y


@pytest.mark.parametrize("taps", [1, 2, 4])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("sparse_s", [True, False])
@pytest.mark.parametrize("g,f", [(3, 5), (5, 3)])  # diffuse first / project first (Horner)
def test_graph_filter_matches_numpy_polynomial(taps, bias, sparse_s, g, f):
    rng = np.random.default_rng(taps)
    a = small_dense_graph(taps + 10)
    x = rng.normal(size=(2, 6, g))
    torch.manual_seed(0)
    layer = GraphFilter(g, f, taps=taps, bias=bias)
    assert tuple(layer.weight.shape) == (taps, g, f)
    assert (layer.bias is not None) == bias
    s = shift_operator(sp.csr_matrix(a)) if sparse_s else torch.tensor(a, dtype=torch.float32)
    with torch.no_grad():
        y = layer(torch.tensor(x, dtype=torch.float32), s).numpy()
    h = layer.weight.detach().double().numpy()
    bvec = layer.bias.detach().double().numpy() if bias else None
    np.testing.assert_allclose(y, graph_filter_reference(a, x, h, bvec), atol=1e-5)


@pytest.mark.parametrize("g,f", [(2, 6), (6, 2)])
def test_graph_filter_gradients_match_dense_reference(g, f):
    """Both evaluation orders (and the sparse product's custom backward) give the gradients of
    the plain dense polynomial."""
    a = small_dense_graph(3)
    rng = np.random.default_rng(5)
    x = torch.tensor(rng.normal(size=(3, 6, g)), dtype=torch.float64)
    coef = torch.tensor(rng.normal(size=(3, 6, f)), dtype=torch.float64)
    torch.manual_seed(1)
    layer = GraphFilter(g, f, taps=4)
    (layer(x.float(), shift_operator(sp.csr_matrix(a))) * coef.float()).sum().backward()
    h = layer.weight.detach().double().requires_grad_()
    bias = layer.bias.detach().double().requires_grad_()
    sd, y, sk = torch.tensor(a), 0, torch.eye(6, dtype=torch.float64)
    for k in range(4):
        y = y + sk @ x @ h[k]
        sk = sk @ sd
    ((y + bias) * coef).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), h.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.bias.grad.numpy(), bias.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_graph_filter_init_bound():
    torch.manual_seed(0)
    layer = GraphFilter(4, 50, taps=5)
    bound = 1.0 / np.sqrt(4 * 5)
    assert layer.weight.abs().max().item() <= bound
    assert layer.bias.abs().max().item() <= bound
    assert layer.weight.abs().max().item() > 0.8 * bound  # really uniform on the whole range


def test_shift_operator_roundtrip():
    a = random_graph(3, n=12, isolated=2)
    t = shift_operator(a)
    assert t.shape == a.shape
    np.testing.assert_allclose(t.to_dense().numpy(), a.toarray(), atol=1e-7)
    z = torch.randn(12, 3, dtype=torch.float32, requires_grad=True)
    y = t @ z
    np.testing.assert_allclose(y.detach().numpy(), a.toarray() @ z.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = torch.randn(12, 3)
    y.backward(g)  # the gradient of S @ z is S^T @ g
    np.testing.assert_allclose(z.grad.numpy(), a.toarray().T @ g.numpy(), rtol=1e-5, atol=1e-6)


# -- LocalGNN full forward against NumPy ---------------------------------------------------------------
def test_local_gnn_forward_matches_numpy():
    a = small_dense_graph(2)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 6, 1))
    model = make_model(GNNConfig(features=(4, 3), taps=(3, 2)), 0)
    with torch.no_grad():
        out = model(torch.tensor(x, dtype=torch.float32), shift_operator(sp.csr_matrix(a))).numpy()
    h = x
    for layer in model.layers:
        h = np.maximum(graph_filter_reference(a, h, layer.weight.detach().double().numpy(),
                                              layer.bias.detach().double().numpy()), 0)
    w = model.readout.weight.detach().double().numpy()  # (1, F)
    c = model.readout.bias.detach().double().numpy()
    ref = (h @ w.T)[..., 0] + c
    assert out.shape == (2, 6)
    np.testing.assert_allclose(out, ref, atol=1e-5)


# -- LocalGNN fast path -----------------------------------------------------------------------------
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
    s = shift_operator(s_np)
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=(3, 40, 2)), dtype=torch.float32)
    model = make_model(GNNConfig(features=features, taps=taps, in_features=2), 5)
    plan = LocalPlan.build(s_np, targets, taps)
    with torch.no_grad():
        full = model(x, s)[:, torch.tensor(targets)]
        z = plan.first_layer_input(x, s, taps[0])
        fast = model.forward_local(z, plan)
    assert fast.shape == (3, len(targets))
    assert torch.allclose(fast, full, atol=1e-5), (fast - full).abs().max()
    # and with autograd on (the non-in-place ReLU branch)
    fast_g = model.forward_local(plan.first_layer_input(x, s, taps[0]), plan)
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
        np.testing.assert_array_equal(below, graph_mod.neighbours(s_np, here, taps[layer - 1] - 1))
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
    s = shift_operator(s_np)
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
    (model.forward_local(plan.first_layer_input(x, s, taps[0]), plan) * coef).sum().backward()
    fast = {n: p.grad.clone() for n, p in model.named_parameters()}

    assert full.keys() == fast.keys()
    assert any(v.abs().sum() > 0 for v in full.values())
    for name in full:
        assert torch.allclose(fast[name], full[name], atol=1e-5), name


# -- config, linearity, size ---------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    dict(features=(), taps=()),
    dict(features=(4, 3), taps=(0, 5)),
    dict(features=(4, 3), taps=(5, -1)),
    dict(features=(4, 3), taps=(5,)),
    dict(features=(4,), taps=(5, 5)),
    dict(features=(0, 3), taps=(5, 5)),
    dict(in_features=0),
    dict(nonlinearity="tanh"),
])
def test_gnn_config_rejects(kwargs):
    with pytest.raises(ValueError):
        GNNConfig(**kwargs)


def test_gnn_config_normalises_to_int_tuples():
    cfg = GNNConfig(features=[8, 4], taps=[3.0, 2])
    assert cfg.features == (8, 4) and cfg.taps == (3, 2)
    assert all(type(k) is int for k in cfg.taps)


def test_linear_filter_is_affine_in_x():
    s_np = random_graph(2, n=20, isolated=3)
    s = shift_operator(s_np)
    rng = np.random.default_rng(3)
    x1 = torch.tensor(rng.normal(size=(2, 20, 1)), dtype=torch.float32)
    x2 = torch.tensor(rng.normal(size=(2, 20, 1)), dtype=torch.float32)
    a, b = 1.7, -0.6

    def residual(model):
        with torch.no_grad():
            f0 = model(torch.zeros_like(x1), s)
            lhs = model(a * x1 + b * x2, s) - f0
            rhs = a * (model(x1, s) - f0) + b * (model(x2, s) - f0)
        return (lhs - rhs).abs().max().item(), f0

    linear = make_model(GNNConfig(features=(6, 4), taps=(3, 3), nonlinearity="none"), 0)
    err, f0 = residual(linear)
    assert err < 1e-5
    assert f0.abs().max().item() > 1e-3  # the biases make f(0) != 0: the check is not trivial
    # the ReLU network with the same weights is not affine: the check can fail
    relu = LocalGNN(GNNConfig(features=(6, 4), taps=(3, 3), nonlinearity="relu"))
    relu.load_state_dict(linear.state_dict())
    assert residual(relu)[0] > 1e-3


def test_default_parameter_count_matches_alegnn():
    model = LocalGNN(GNNConfig())
    assert model.n_parameters() == 10_689
    # by hand: K*G*F + F per layer, F + 1 for the readout
    assert 5 * 1 * 64 + 64 + 5 * 64 * 32 + 32 + 32 + 1 == 10_689
    # the count does not depend on N: the model runs on a 1682-node graph unchanged
    s = shift_operator(sp.csr_matrix((1682, 1682), dtype=np.float32))
    with torch.no_grad():
        out = model(torch.zeros(1, 1682, 1), s)
    assert out.shape == (1, 1682)
    # with no input and no edges every node gets the same output
    assert torch.allclose(out, out[0, 0].expand_as(out))


@pytest.mark.parametrize("features,taps", [((4, 3), (3, 4)), ((5, 2, 3), (2, 3, 2)), ((6, 4), (5, 5))])
def test_folded_linear_fast_path_equals_forward(features, taps):
    """A linear model's folded input (P_2 Z computed once) gives the full computation exactly."""
    s_np = random_graph(7)
    s = shift_operator(s_np)
    model = make_model(GNNConfig(features=features, taps=taps, nonlinearity="none"), seed=3)
    x = torch.randn(4, s_np.shape[0], 1)
    targets = [0, 9, 17]
    plan = LocalPlan.build(s_np, targets, taps)
    folded = plan.fold(plan.first_layer_input(x, s, taps[0]))
    assert folded.shape == (4, taps[1], len(plan.nodes[2]), taps[0])
    with torch.no_grad():
        assert torch.allclose(model.forward_local(folded, plan), model(x, s)[:, targets], atol=1e-5)
