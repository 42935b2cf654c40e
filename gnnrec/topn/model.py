r"""The ranking GNN: graph filters on the item co-rating graph with a local readout, on top of
EASE's edge-varying filter, scoring every movie for a user's list.

.. math::
    s_u = \mathrm{readout}\Big(\sigma\Big(\sum_{k=0}^{K-1} S^k X_u H_k + b\Big)\Big) + c + r_u (W \odot (1 - I))

``X_u`` ``(N, G)`` is the user's graph signal (G = 2 channels: rated or not, and the rating
centred on 3 and scaled to [-1, 1]); ``S`` the normalised co-rating graph (GF-CF's
:math:`\tilde R^\top \tilde R`) sparsified to each movie's strongest neighbours; the readout is
the same linear map at every node (the method's local readout); ``c`` ``(N,)`` a per-movie
offset; ``W`` ``(N, N)`` an edge-varying graph filter (EdgeNets, Isufi, Gama and Ribeiro 2021)
on ``r_u``, who-rated-what weighted by the rating (1 ± β for 5★ and 1★): EASE's closed form
on that input, a rational filter of the co-rating graph designed to rank, computed from the
training ratings and not trained (training it by gradient lowered the lists' quality,
docs/experiments.md). The polynomial filter, the readout and the offsets learn what EASE misses.

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
    edge: bool = True  # add EASE's edge-varying filter W
    ease_lambda: float = 500.0  # λ of the EASE closed form W (as the EASE reference; chosen on validation)
    ease_rating: float = 0.5  # β: W's input is rated + β (rating - 3) / 2, so a 5★ weighs 1.5 and a 1★ 0.5 (validation)

    def __post_init__(self) -> None:
        for name, lo, hi in (("graph_k", 1, 1000), ("taps", 1, 10), ("features", 1, 256)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"{name}={v!r} must be a whole number in {lo}..{hi}")
        if not isinstance(self.edge, bool):
            raise ValueError(f"edge={self.edge!r} must be True or False")
        if not 0 < self.ease_lambda < 1e6:
            raise ValueError(f"ease_lambda={self.ease_lambda!r} must be in (0, 1e6)")
        if not 0 <= self.ease_rating <= 1:
            raise ValueError(f"ease_rating={self.ease_rating!r} must be in [0, 1] (0: who rated what alone)")


def signal(x: torch.Tensor) -> torch.Tensor:
    """``(B, N)`` ratings (0 = not rated) -> ``(B, N, G)`` graph signal."""
    rated = (x > 0).float()
    return torch.stack([rated, rated * (x - 3.0) / 2.0], dim=-1)  # (B, N, 2)


def ease_input(x: np.ndarray | torch.Tensor, beta: float):
    """EASE's input from ``(U, N)`` ratings: rated or not, plus ``beta`` times the rating centred
    on 3 and halved (the two channels of :func:`signal`, mixed)."""
    rated = x > 0
    return rated * (1.0 + beta * (x - 3.0) / 2.0)


def rank_graph(train: np.ndarray, k: int) -> sp.csr_matrix:
    """The shift operator ``S``: the normalised co-rating graph of ``(U, N)`` training ratings,
    each movie's ``k`` strongest neighbours kept, symmetrised, spectral radius 1."""
    gram, _ = normalised_gram(train)
    np.fill_diagonal(gram, 0.0)
    a = sparsify(gram, k)
    rho = spectral_radius(a)
    return sp.csr_matrix(a / rho if rho > 0 else a, dtype=np.float32)


def ease_weights(train: np.ndarray, lam: float, beta: float = 0.0) -> np.ndarray:
    """EASE's ``(N, N)`` closed form on :func:`ease_input` (``beta`` 0: who-rated-what), zero diagonal (float32)."""
    r = ease_input(np.asarray(train, dtype=np.float64), beta)  # (U, N)
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
        nn.init.zeros_(self.readout.weight)  # the start is EASE alone: the filter adds what it learns
        self.offset = nn.Parameter(torch.zeros(n_movies))  # c
        # W, a buffer: computed (set_edge), saved, not trained; None without ``edge``
        self.register_buffer("edge", torch.zeros(n_movies, n_movies) if config.edge else None)

    @staticmethod
    def shapes(config: RankGNNConfig, n_movies: int) -> dict[str, tuple[int, ...]]:
        """The state dict's shapes, known before anything is allocated (the store checks a file's against these)."""
        out = {"offset": (n_movies,), "filter.weight": (config.taps, CHANNELS, config.features),
               "filter.bias": (config.features,), "readout.weight": (1, config.features), "readout.bias": (1,)}
        return out | ({"edge": (n_movies, n_movies)} if config.edge else {})

    def set_edge(self, train: np.ndarray) -> None:
        """``W`` := EASE's closed form on ``(U, N)`` training ratings (nothing without ``edge``)."""
        if self.edge is not None:
            self.edge.copy_(torch.from_numpy(ease_weights(train, self.config.ease_lambda, self.config.ease_rating)))

    def forward(self, x: torch.Tensor, s: torch.Tensor, edge: torch.Tensor | None = None) -> torch.Tensor:
        """``edge``: :meth:`off_diagonal` when the caller keeps it (inference), else made here."""
        y = torch.relu(self.filter(signal(x), s))  # (B, N, F)
        out = self.readout(y).squeeze(-1) + self.offset  # (B, N)
        if self.edge is not None:
            w = self.off_diagonal() if edge is None else edge
            out = out + ease_input(x, self.config.ease_rating).float() @ w  # (B, N)
        return out

    def off_diagonal(self) -> torch.Tensor:
        """The edge-varying weights ``(N, N)`` with a zero diagonal: no movie explains itself."""
        return self.edge - torch.diag(torch.diagonal(self.edge))
