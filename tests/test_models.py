"""Tests for gnnrec.models, the reference computation: graph filters against a NumPy polynomial (values
and gradients), the GNN against a NumPy forward, the config checks, linearity and the parameter count.
The speed-ups are held equal to this module in test_fast.py."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from toy import make_model, random_graph, small_dense_graph

from gnnrec.models import GNNConfig, GraphFilter, LocalGNN, sparse_shift


# -- GraphFilter ---------------------------------------------------------------------------
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
@pytest.mark.parametrize("g,f", [(3, 5), (5, 3)])
def test_graph_filter_matches_numpy_polynomial(taps, bias, sparse_s, g, f):
    rng = np.random.default_rng(taps)
    a = small_dense_graph(taps + 10)
    x = rng.normal(size=(2, 6, g))
    torch.manual_seed(0)
    layer = GraphFilter(g, f, taps=taps, bias=bias)
    assert tuple(layer.weight.shape) == (taps, g, f)
    assert (layer.bias is not None) == bias
    s = sparse_shift(sp.csr_matrix(a)) if sparse_s else torch.tensor(a, dtype=torch.float32)
    with torch.no_grad():
        y = layer(torch.tensor(x, dtype=torch.float32), s).numpy()
    h = layer.weight.detach().double().numpy()
    bvec = layer.bias.detach().double().numpy() if bias else None
    np.testing.assert_allclose(y, graph_filter_reference(a, x, h, bvec), atol=1e-5)


@pytest.mark.parametrize("g,f", [(2, 6), (6, 2)])
def test_graph_filter_gradients_match_dense_reference(g, f):
    """Through torch's sparse product the filter has the gradients of the plain dense polynomial."""
    a = small_dense_graph(3)
    rng = np.random.default_rng(5)
    x = torch.tensor(rng.normal(size=(3, 6, g)), dtype=torch.float64)
    coef = torch.tensor(rng.normal(size=(3, 6, f)), dtype=torch.float64)
    torch.manual_seed(1)
    layer = GraphFilter(g, f, taps=4)
    (layer(x.float(), sparse_shift(sp.csr_matrix(a))) * coef.float()).sum().backward()
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


# -- LocalGNN full forward against NumPy ---------------------------------------------------------------
def test_local_gnn_forward_matches_numpy():
    a = small_dense_graph(2)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 6, 1))
    model = make_model(GNNConfig(features=(4, 3), taps=(3, 2)), 0)
    with torch.no_grad():
        out = model(torch.tensor(x, dtype=torch.float32), sparse_shift(sp.csr_matrix(a))).numpy()
    h = x
    for layer in model.layers:
        h = np.maximum(graph_filter_reference(a, h, layer.weight.detach().double().numpy(),
                                              layer.bias.detach().double().numpy()), 0)
    w = model.readout.weight.detach().double().numpy()  # (1, F)
    c = model.readout.bias.detach().double().numpy()
    ref = (h @ w.T)[..., 0] + c
    assert out.shape == (2, 6)
    np.testing.assert_allclose(out, ref, atol=1e-5)


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
    s = sparse_shift(s_np)
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
    assert model.n_parameters() == 10_689  # alegnn's count at N = 1,682 (method notes)
    # by hand from the config: K*G*F + F per layer, F + 1 for the readout
    cfg, widths = model.config, (model.config.in_features, *model.config.features)
    by_hand = sum(k * g * f + f for k, g, f in zip(cfg.taps, widths, widths[1:])) + widths[-1] + 1
    assert by_hand == model.n_parameters()
    assert cfg.receptive_field == 8
    # the count does not depend on N: the model runs on a 1682-node graph unchanged
    s = sparse_shift(sp.csr_matrix((1682, 1682), dtype=np.float32))
    with torch.no_grad():
        out = model(torch.zeros(1, 1682, 1), s)
    assert out.shape == (1, 1682)
    # with no input and no edges every node gets the same output
    assert torch.allclose(out, out[0, 0].expand_as(out))
