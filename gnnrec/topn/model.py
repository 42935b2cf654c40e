r"""The ranking GNN: graph filters on the item co-rating graph with a local readout, plus an
edge-varying filter, scoring every movie for a user's list.

.. math::
    s_u = \mathrm{readout}\Big(\sigma\Big(\sum_{k=0}^{K-1} S^k X_u H_k + b\Big)\Big) + c + r_u (W \odot (1 - I))

``X_u`` ``(N, G)`` is the user's graph signal (G = 2 channels: rated or not, and the rating
centred on 3 and scaled to [-1, 1]); ``S`` the normalised co-rating graph (GF-CF's
:math:`\tilde R^\top \tilde R`) sparsified to each movie's strongest neighbours; the readout is
the same linear map at every node (the method's local readout); ``c`` ``(N,)`` a per-movie
offset; ``W`` ``(N, N)`` an edge-varying graph filter (EdgeNets, Isufi, Gama and Ribeiro 2021)
on who-rated-what ``r_u``, started at EASE's closed form (itself a rational filter of the
co-rating graph) and trained with the rest to rank.

Letters: B users, N movies, G input channels, F features, K taps.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from ..graph import sparsify, spectral_radius
from ..models import GraphFilter
from .rankers import normalised_gram

CHANNELS = 2  # rated or not; the rating centred on 3 and scaled to [-1, 1]


@dataclasses.dataclass(frozen=True)
class RankGNNConfig:
    """Architecture of a :class:`RankGNN` (a checkpoint stores it; the store rebuilds from it)."""

    graph_k: int = 50  # neighbours kept per movie in the normalised co-rating graph
    taps: int = 4  # K: S^0 .. S^(K-1)
    features: int = 16  # F: graph-filter outputs per movie before the readout
    edge: bool = True  # add the edge-varying filter W
    ease_lambda: float = 300.0  # λ of the EASE closed form W starts from

    def __post_init__(self) -> None:
        for name, lo, hi in (("graph_k", 1, 1000), ("taps", 1, 10), ("features", 1, 256)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"{name}={v!r} must be a whole number in {lo}..{hi}")
        if not isinstance(self.edge, bool):
            raise ValueError(f"edge={self.edge!r} must be True or False")
        if not 0 < self.ease_lambda < 1e6:
            raise ValueError(f"ease_lambda={self.ease_lambda!r} must be in (0, 1e6)")


def signal(x: torch.Tensor) -> torch.Tensor:
    """``(B, N)`` ratings (0 = not rated) -> ``(B, N, G)`` graph signal."""
    rated = (x > 0).float()
    return torch.stack([rated, rated * (x - 3.0) / 2.0], dim=-1)  # (B, N, 2)


def rank_graph(train: np.ndarray, k: int) -> sp.csr_matrix:
    """The shift operator ``S``: the normalised co-rating graph of ``(U, N)`` training ratings,
    each movie's ``k`` strongest neighbours kept, symmetrised, spectral radius 1."""
    gram, _ = normalised_gram(train)
    np.fill_diagonal(gram, 0.0)
    a = sparsify(gram, k)
    rho = spectral_radius(a)
    return sp.csr_matrix(a / rho if rho > 0 else a, dtype=np.float32)


def ease_weights(train: np.ndarray, lam: float) -> np.ndarray:
    """EASE's ``(N, N)`` closed form on who-rated-what, zero diagonal (float32)."""
    r = (train > 0).astype(np.float64)  # (U, N)
    p = np.linalg.inv(r.T @ r + lam * np.eye(r.shape[1]))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b.astype(np.float32)


class RankGNN(nn.Module):
    """Scores ``(B, N)`` for users' ratings ``(B, N)`` on the shift ``s`` (torch sparse or dense ``(N, N)``)."""

    def __init__(self, config: RankGNNConfig, n_movies: int):
        super().__init__()
        self.config = config
        self.filter = GraphFilter(CHANNELS, config.features, config.taps)
        self.readout = nn.Linear(config.features, 1)
        self.offset = nn.Parameter(torch.zeros(n_movies))  # c
        self.edge = nn.Parameter(torch.zeros(n_movies, n_movies)) if config.edge else None  # W

    @staticmethod
    def shapes(config: RankGNNConfig, n_movies: int) -> dict[str, tuple[int, ...]]:
        """The state dict's shapes, known before anything is allocated (the store checks a file's against these)."""
        out = {"offset": (n_movies,), "filter.weight": (config.taps, CHANNELS, config.features),
               "filter.bias": (config.features,), "readout.weight": (1, config.features), "readout.bias": (1,)}
        return out | ({"edge": (n_movies, n_movies)} if config.edge else {})

    def forward(self, x: torch.Tensor, s: torch.Tensor, edge: torch.Tensor | None = None) -> torch.Tensor:
        """``edge``: :meth:`off_diagonal` when the caller keeps it (inference), else made here."""
        y = torch.relu(self.filter(signal(x), s))  # (B, N, F)
        out = self.readout(y).squeeze(-1) + self.offset  # (B, N)
        if self.edge is not None:
            w = self.off_diagonal() if edge is None else edge
            out = out + (x > 0).float() @ w  # (B, N)
        return out

    def off_diagonal(self) -> torch.Tensor:
        """The edge-varying weights ``(N, N)`` with a zero diagonal: no movie explains itself."""
        return self.edge - torch.diag(torch.diagonal(self.edge))
