r"""The full forward pass, faster: a SciPy CSR shift operator and node-major filters evaluated in the
cheaper order. Equal to :meth:`gnnrec.models.LocalGNN.forward` (tests).

Letters: B users, N nodes, K taps, G input features, F output features.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..models import GraphFilter, LocalGNN, sparse_shift


class _SparseMatmul(torch.autograd.Function):
    """``S @ Z`` with SciPy's CSR kernel and its gradient ``Sᵀ @ dY`` (on CPU faster than torch's
    sparse CSR product at these sizes: ``bench/ops_speed.py``)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, s: sp.csr_matrix, st: sp.csr_matrix) -> torch.Tensor:
        ctx.st = st
        return torch.from_numpy(s @ np.ascontiguousarray(z.detach().numpy()))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return torch.from_numpy(ctx.st @ np.ascontiguousarray(grad.numpy())), None, None


class ShiftOperator:
    """A sparse graph shift operator ``S`` that multiplies torch tensors (``S @ z``, autograd
    included). Shapes: ``(N, N) @ (N, C) -> (N, C)``."""

    def __init__(self, s: sp.spmatrix):
        self.s = sp.csr_matrix(s, dtype=np.float32)
        self.st = self.s.T.tocsr()
        self.shape = self.s.shape

    def __matmul__(self, z: torch.Tensor) -> torch.Tensor:
        return _SparseMatmul.apply(z, self.s, self.st)

    def to_dense(self) -> torch.Tensor:
        return torch.from_numpy(self.s.toarray())


def shift_for(s: sp.spmatrix, on: bool = True):
    """The graph shift operator a model multiplies by: SciPy's CSR kernel (:class:`ShiftOperator`)
    with the speed-ups ``on``, torch's sparse CSR tensor (the reference) otherwise."""
    return ShiftOperator(s) if on else sparse_shift(s)


def combine(layer: GraphFilter, z: torch.Tensor) -> torch.Tensor:
    """``z`` = the shifted signals stacked ``(..., K*G)`` (entry ``k*G + g``) -> ``(..., F)``:
    :math:`\\sum_k [S^k X]_{:, k} H_k + b`. ``F.linear``, not ``addmm`` + view: its result is not
    an autograd view, so a ReLU can act on it in place."""
    w = layer.weight.reshape(-1, layer.weight.shape[-1])  # (K*G, F)
    return torch.nn.functional.linear(z, w.t(), layer.bias)  # (..., F)


def filter_nodes(layer: GraphFilter, x: torch.Tensor, s) -> torch.Tensor:
    r""":class:`GraphFilter` node-major, ``(N, B, G)`` -> ``(N, B, F)``, in whichever order shifts
    fewer columns: with :math:`G \le F` diffuse first (:math:`S^k X`, then one product with the
    stacked :math:`H_k`); with :math:`G > F` project first and shift by Horner's rule,
    :math:`Y = P_0 + S(P_1 + S(P_2 + \dots + S P_{K-1}))` with :math:`P_k = X H_k`, so the
    :math:`K-1` sparse products act on F columns, not G (half the work for 64 -> 32)."""
    n, b, g = x.shape
    k, _, f = layer.weight.shape
    if g <= f or k == 1:  # diffuse first: K-1 products on B*G columns
        zs = [x.reshape(n, b * g)]  # (N, B*G)
        for _ in range(k - 1):
            zs.append(s @ zs[-1])  # (N, B*G)
        stacked = torch.stack([t.view(n, b, g) for t in zs], dim=2)  # (N, B, K, G)
        return combine(layer, stacked.view(n, b, k * g))  # (N, B, F)
    w = layer.weight.permute(1, 0, 2).reshape(g, k * f)  # (G, K*F)
    p = (x.reshape(n * b, g) @ w).view(n, b, k, f).unbind(2)  # K x (N, B, F)
    y = p[k - 1].reshape(n, b * f)  # (N, B*F)
    for j in range(k - 2, -1, -1):
        y = ((s @ y).view(n, b, f) + p[j]).view(n, b * f)  # (N, B*F)
    y = y.view(n, b, f)
    return y + layer.bias if layer.bias is not None else y  # (N, B, F)


def act(model: LocalGNN, y: torch.Tensor) -> torch.Tensor:
    """The model's nonlinearity, in place: what produced ``y`` (a product plus bias) does not
    need its output for its gradient, and ReLU's gradient needs only its own output."""
    return y if model.config.nonlinearity == "none" else y.relu_()


def forward(model: LocalGNN, x: torch.Tensor, s) -> torch.Tensor:
    """``model(x, s)``: x ``(B, N, G)`` -> ``(B, N)``, node-major inside (a sparse product then
    needs no transpose, and gradients stay contiguous)."""
    y = x.transpose(0, 1)  # (N, B, G)
    for layer in model.layers:
        y = act(model, filter_nodes(layer, y, s))  # (N, B, F_l)
    return model.readout(y).squeeze(-1).t()  # (B, N)
