r"""The exact partial forward pass for a few target nodes, and the folded input of a linear filter.

Letters: B users, N nodes, K taps, G input features, F output features, T target nodes, V_ℓ the
nodes where layer ℓ's output is needed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from ..graph import neighbours
from ..models import GNNConfig, LocalGNN
from .ops import act, combine


def diffuse(x: torch.Tensor, s, taps: int) -> torch.Tensor:
    """The shifted signals :math:`S^k X`, k = 0..K-1, stacked along features: ``(B, N, G)`` ->
    ``(B, N, K*G)``, entry ``[b, n, k*G + g]`` = ``(S^k X_b)[n, g]``."""
    b, n, g = x.shape
    z = x.permute(1, 0, 2).reshape(n, b * g)  # (N, B*G)
    out = [z]
    for _ in range(taps - 1):
        z = s @ z  # (N, B*G)
        out.append(z)
    zs = torch.stack(out, dim=1).reshape(n, taps, b, g)  # (N, K, B, G)
    return zs.permute(2, 0, 1, 3).reshape(b, n, taps * g)  # (B, N, K*G)


@dataclasses.dataclass
class LocalPlan:
    r"""What the output at T target nodes depends on, for an exact partial forward pass.

    With layers :math:`\ell = 1..L`, ``nodes[L]`` are the targets and ``nodes[ℓ-1]`` the nodes
    within :math:`K_\ell - 1` hops of ``nodes[ℓ]``: layer ℓ's output is needed only at
    ``nodes[ℓ]``, and :math:`(S^k Y)[V_\ell] = (S^k)[V_\ell, V_{\ell-1}] Y[V_{\ell-1}]` exactly
    for :math:`k < K_\ell`, because a walk of k steps from :math:`V_\ell` stays in
    :math:`V_{\ell-1}`.

    Attributes:
        nodes: ``nodes[ℓ]`` for ℓ = 1..L (index 0 unused: the input is needed at all nodes).
        blocks: ``blocks[ℓ]`` = ``(K_ℓ, |V_ℓ|, |V_{ℓ-1}|)`` dense powers of S for ℓ = 2..L.
    """

    nodes: list[np.ndarray]
    blocks: list[torch.Tensor | None]

    @classmethod
    def build(cls, s: sp.spmatrix, targets: Sequence[int], taps: Sequence[int]) -> LocalPlan:
        s = sp.csr_matrix(s, dtype=np.float64)
        n_layers = len(taps)
        nodes: list = [None] * (n_layers + 1)
        blocks: list = [None] * (n_layers + 1)
        nodes[n_layers] = np.asarray(targets, dtype=np.int64)
        for layer in range(n_layers, 1, -1):
            here = nodes[layer]
            below = neighbours(s, here, taps[layer - 1] - 1)
            rows = sp.csr_matrix((np.ones(len(here)), (np.arange(len(here)), here)), shape=(len(here), s.shape[0]))
            powers = [rows]
            for _ in range(taps[layer - 1] - 1):
                powers.append(powers[-1] @ s)  # (|V_l|, N)
            blocks[layer] = torch.tensor(np.stack([p[:, below].toarray() for p in powers]), dtype=torch.float32)
            nodes[layer - 1] = below
        return cls(nodes=nodes, blocks=blocks)

    def first_layer_input(self, x: torch.Tensor, s, taps: int) -> torch.Tensor:
        """``(S^k X)`` at ``nodes[1]`` for the whole data: ``(B, N, G)`` -> ``(B, |V_1|, K_1*G)``.
        It depends on no parameter, so a trainer computes it once."""
        return diffuse(x, s, taps)[:, torch.from_numpy(self.nodes[1])].contiguous()

    def fold(self, z: torch.Tensor) -> torch.Tensor:
        r"""For a model whose first layer has no nonlinearity: push layer 2's block contraction
        below layer 1, :math:`P_2[k] (Z H_1 + b_1) = (P_2[k] Z) H_1 + (P_2[k] 1) b_1`, so the
        parameter-free part :math:`P_2[k] Z` is computed once.
        ``(B, |V_1|, K_1*G)`` -> ``(B, K_2, |V_2|, K_1*G)``."""
        if len(self.nodes) <= 2:
            raise ValueError("folding needs a second layer")
        return torch.einsum("kmn,bng->bkmg", self.blocks[2], z)


def local_input(config: GNNConfig, sig: torch.Tensor, s, plan: LocalPlan) -> torch.Tensor:
    """What :func:`forward_local` takes for a model of ``config``: the first layer's input at
    ``nodes[1]`` ``(B, |V_1|, K_1*G)``, folded for a linear model with two layers or more
    (``(B, K_2, |V_2|, K_1*G)``: a linear filter then trains on 25 numbers a user)."""
    z = plan.first_layer_input(sig, s, config.taps[0])
    return plan.fold(z) if config.nonlinearity == "none" and len(config.taps) > 1 else z


def forward_local(model: LocalGNN, z: torch.Tensor, plan: LocalPlan) -> torch.Tensor:
    """``model(x, s)[:, targets]`` from ``z`` = :meth:`LocalPlan.first_layer_input` ``(B, |V_1|,
    K_1*G)`` (or, for a linear model, :meth:`LocalPlan.fold`'s ``(B, K_2, |V_2|, K_1*G)``) ->
    ``(B, T)``."""
    start = 2
    if z.dim() == 4:  # folded input: layer 1 is linear, layer 2 contracted already
        ones = plan.blocks[2].sum(-1)  # (K_2, |V_2|): P_2[k] 1
        y1 = z @ model.layers[0].weight.flatten(0, 1)  # (B, K_2, |V_2|, F_1)
        if model.layers[0].bias is not None:
            y1 = y1 + ones[None, :, :, None] * model.layers[0].bias
        zk = y1.permute(2, 0, 1, 3).flatten(2)  # (|V_2|, B, K_2*F_1)
        y = act(model, combine(model.layers[1], zk))  # (|V_2|, B, F_2)
        start = 3
    else:
        y = act(model, combine(model.layers[0], z.transpose(0, 1)))  # (|V_1|, B, F_1)
    for i, layer in enumerate(model.layers[start - 1:], start=start):
        k, m, v = plan.blocks[i].shape
        _, b, f = y.shape
        # node-major, so both this product and its gradient are plain contiguous 2-D products
        zk = plan.blocks[i].reshape(k * m, v) @ y.reshape(v, b * f)  # (K_l*|V_l|, B*F_{l-1})
        zk = zk.view(k, m, b, f).permute(1, 2, 0, 3).reshape(m, b, k * f)  # (|V_l|, B, K_l*F_{l-1})
        y = act(model, combine(layer, zk))  # (|V_l|, B, F_l)
    return model.readout(y).squeeze(-1).t()  # (B, T)
