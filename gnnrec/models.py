r"""The method's GNN, computed plainly: polynomial graph filters and the local-readout GNN.

This is the reference computation; :mod:`gnnrec.fast` computes the same numbers faster and is
held equal to this module by tests.

Letters: B batch (users), N nodes (movies), K taps, G input features, F output features.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

# the largest architecture anything here builds or loads (the Train page's limits are far below; one
# definition: GNNConfig enforces them, so `train` refuses what the store would refuse to load)
MAX_LAYERS, MAX_TAPS, MAX_WIDTH, MAX_PARAMETERS = 8, 20, 1024, 500_000


@dataclasses.dataclass(frozen=True)
class GNNConfig:
    """Architecture of a :class:`LocalGNN` (the store rebuilds a model from this)."""

    features: tuple[int, ...] = (64, 32)  # output features of each graph-filter layer
    taps: tuple[int, ...] = (5, 5)  # filter taps K per layer: S^0 .. S^(K-1)
    in_features: int = 1  # features of the input graph signal G (1 = the ratings)
    nonlinearity: Literal["relu", "none"] = "relu"  # "none" gives the linear graph filter

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(int(f) for f in self.features))
        object.__setattr__(self, "taps", tuple(int(k) for k in self.taps))
        if len(self.features) == 0:
            raise ValueError("features=() is empty: give at least one layer width, e.g. (64, 32)")
        if len(self.taps) != len(self.features):
            raise ValueError(f"taps={self.taps} and features={self.features} must have one entry per layer")
        if any(f < 1 for f in self.features):
            raise ValueError(f"features={self.features}: every layer width must be >= 1")
        if any(k < 1 for k in self.taps):
            raise ValueError(f"taps={self.taps}: every layer needs >= 1 tap (1 = no graph shift)")
        if self.in_features < 1:
            raise ValueError(f"in_features={self.in_features} must be >= 1")
        if self.nonlinearity not in ("relu", "none"):
            raise ValueError(f"nonlinearity={self.nonlinearity!r}: choose 'relu' or 'none'")
        if len(self.features) > MAX_LAYERS or max(self.features) > MAX_WIDTH or max(self.taps) > MAX_TAPS:
            raise ValueError(f"features={self.features}, taps={self.taps}: use at most {MAX_LAYERS} layers, widths "
                             f"up to {MAX_WIDTH} and up to {MAX_TAPS} taps per layer")
        if self.n_parameters > MAX_PARAMETERS:
            raise ValueError(f"features={self.features}, taps={self.taps} make {self.n_parameters:,} weights, over "
                             f"the {MAX_PARAMETERS:,} one model may have; use fewer or narrower layers or fewer taps")

    @property
    def n_parameters(self) -> int:
        """The weights of a :class:`LocalGNN` of this config (filters, their biases, the readout)."""
        widths = (self.in_features, *self.features)
        return (sum(k * widths[i] * widths[i + 1] + widths[i + 1] for i, k in enumerate(self.taps))
                + widths[-1] + 1)

    @property
    def receptive_field(self) -> int:
        r"""Hops from a node that can move its output: :math:`\sum_\ell (K_\ell - 1)`."""
        return sum(k - 1 for k in self.taps)


def sparse_shift(s: sp.spmatrix) -> torch.Tensor:
    """A SciPy ``(N, N)`` graph shift operator as a torch sparse CSR tensor (float32), what the
    reference forward multiplies by."""
    s = sp.csr_matrix(s, dtype=np.float32)
    with warnings.catch_warnings():  # torch's one-line "sparse CSR is in beta" notice, on every CLI run
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return torch.sparse_csr_tensor(torch.from_numpy(s.indptr.astype(np.int64)),
                                       torch.from_numpy(s.indices.astype(np.int64)),
                                       torch.from_numpy(s.data), size=s.shape, check_invariants=True)


class GraphFilter(nn.Module):
    r"""Polynomial graph filter (one GNN layer before its nonlinearity).

    .. math::
        Y = \sum_{k=0}^{K-1} S^k X H_k + b

    Args:
        in_features: G.
        out_features: F.
        taps: K (default 5); K = 1 is a node-wise linear map.
        bias: add ``b`` (one per output feature, shared by all nodes; default True).

    Shapes: x ``(B, N, G)``, s ``(N, N)`` (sparse or dense; anything with ``s @ (N, C)``) ->
    ``(B, N, F)``.
    """

    def __init__(self, in_features: int, out_features: int, taps: int = 5, bias: bool = True):
        super().__init__()
        self.taps = taps
        self.weight = nn.Parameter(torch.empty(taps, in_features, out_features))  # H_k: (K, G, F)
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        bound = 1.0 / math.sqrt(in_features * taps)  # alegnn's initialisation
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        b, n, g = x.shape
        z = x.transpose(0, 1).reshape(n, b * g)  # (N, B*G): one product shifts every user's signal
        y = 0
        for k in range(self.taps):
            if k > 0:
                z = s @ z  # (N, B*G) = S^k X
            y = y + z.reshape(n, b, g) @ self.weight[k]  # (N, B, F)
        if self.bias is not None:
            y = y + self.bias
        return y.transpose(0, 1)  # (B, N, F)


class LocalGNN(nn.Module):
    r"""Stacked graph filters with a pointwise nonlinearity and a local linear readout.

    .. math::
        X_\ell = \sigma\Big(\sum_{k=0}^{K_\ell-1} S^k X_{\ell-1} H_{\ell k} + b_\ell\Big), \qquad
        \hat y_n = [X_L]_{n,:}\, w + c

    The readout ``(w, c)`` is the same linear map at every node; the prediction for movie ``n``
    is the readout at node ``n``.

    Args:
        config: :class:`GNNConfig` (layers, taps, widths, nonlinearity).

    Shapes: x ``(B, N, G)``, s ``(N, N)`` -> ``(B, N)``.
    """

    def __init__(self, config: GNNConfig = GNNConfig()):
        super().__init__()
        self.config = config
        widths = (config.in_features, *config.features)
        self.layers = nn.ModuleList(GraphFilter(widths[i], widths[i + 1], config.taps[i])
                                    for i in range(len(config.features)))
        self.readout = nn.Linear(widths[-1], 1)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        y = x
        for layer in self.layers:
            y = layer(y, s)  # (B, N, F_l)
            if self.config.nonlinearity == "relu":
                y = torch.relu(y)
        return self.readout(y).squeeze(-1)  # (B, N)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def load_model(config: GNNConfig, state: dict) -> LocalGNN:
    """A :class:`LocalGNN` of ``config`` holding ``state``, in evaluation mode."""
    model = LocalGNN(config)
    model.load_state_dict(state)
    return model.eval()
