"""Training the ranking GNN: each epoch hides part of every user's movies and teaches the model to
put them on top (softmax over the movies the user has not shown it), then a ranker that lists.

Letters: U users, B batch, N movies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import torch

from ..models import sparse_shift
from ..train import Cancelled
from .model import RankGNN, RankGNNConfig, ease_weights, rank_graph
from .rankers import Ranker


@dataclasses.dataclass(frozen=True)
class RankTrainConfig:
    """How the ranking GNN is trained (chosen on development split 42's validation interactions)."""

    epochs: int = 20  # passes over the training users
    lr: float = 0.001  # Adam step size
    batch: int = 64  # users per step
    hide: float = 0.5  # share of each user's training movies hidden as targets, redrawn each step
    seed: int = 0  # weights' start and the hidden movies

    def __post_init__(self) -> None:
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or not 1 <= self.epochs <= 500:
            raise ValueError(f"epochs={self.epochs!r} must be a whole number in 1..500")
        if not 0 < self.lr < 1:
            raise ValueError(f"lr={self.lr!r} must be in (0, 1)")
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or not 1 <= self.batch <= 4096:
            raise ValueError(f"batch={self.batch!r} must be a whole number in 1..4096")
        if not 0 < self.hide < 1:
            raise ValueError(f"hide={self.hide!r} must be in (0, 1)")


@dataclasses.dataclass(frozen=True)
class RankProgress:
    """One finished epoch: ``epoch`` of ``epochs``, the mean training loss."""

    epoch: int
    epochs: int
    loss: float


def ranking_loss(scores: torch.Tensor, shown: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy of the hidden movies among those not shown: ``(B, N)`` each -> scalar,
    each user's hidden movies weighted equally."""
    logp = torch.log_softmax(scores.masked_fill(shown > 0, -1e9), dim=1)  # (B, N)
    per_user = -(logp * hidden).sum(1) / hidden.sum(1).clamp(min=1.0)  # (B,)
    return per_user[hidden.sum(1) > 0].mean() if (hidden.sum(1) > 0).any() else scores.sum() * 0.0


def fit_rank_gnn(train: np.ndarray, config: RankGNNConfig | None = None, tc: RankTrainConfig | None = None,
                 on_progress: Callable[[RankProgress], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> RankGNNRanker:
    """Fit on ``(U, N)`` training ratings (graph, EASE start and targets from these alone); the
    defaults are the recipe chosen on development data (docs/experiments.md)."""
    config, tc = config or RankGNNConfig(), tc or RankTrainConfig()
    torch.manual_seed(tc.seed)
    gen = torch.Generator().manual_seed(tc.seed)
    shift = rank_graph(train, config.graph_k)
    model = RankGNN(config, train.shape[1])
    if model.edge is not None:
        with torch.no_grad():
            model.edge.copy_(torch.from_numpy(ease_weights(train, config.ease_lambda)))
    s = sparse_shift(shift)
    x = torch.from_numpy(np.asarray(train, dtype=np.float32))  # (U, N)
    users = torch.nonzero((x > 0).any(1))[:, 0]  # (U',) users with something to learn from
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
    for epoch in range(tc.epochs):
        perm = users[torch.randperm(len(users), generator=gen)]
        total = 0.0
        for i in range(0, len(perm), tc.batch):
            if cancel is not None and cancel():
                raise Cancelled(f"ranking GNN training cancelled in epoch {epoch + 1} of {tc.epochs}")
            xb = x[perm[i:i + tc.batch]]  # (B, N)
            hide = (torch.rand(xb.shape, generator=gen) < tc.hide) & (xb > 0)  # (B, N)
            shown = torch.where(hide, 0.0, xb)
            loss = ranking_loss(model(shown, s), shown, hide.float())
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(xb)
        if on_progress is not None:
            on_progress(RankProgress(epoch + 1, tc.epochs, total / len(users)))
    model.eval()
    return RankGNNRanker(model, shift, (train > 0).sum(0).astype(np.float64))


class RankGNNRanker(Ranker):
    """A fitted :class:`RankGNN` with its graph: lists for any user from their ratings."""

    name = "gnn"

    def __init__(self, model: RankGNN, shift, popularity: np.ndarray):
        self.model, self.shift, self.popularity = model, shift, popularity
        self._s = sparse_shift(shift)
        self._edge: tuple[int, torch.Tensor] | None = None  # (the edge's version, its off-diagonal)

    @property
    def config(self) -> RankGNNConfig:
        return self.model.config

    def fit(self, train: np.ndarray) -> RankGNNRanker:
        raise TypeError("a RankGNNRanker is fitted by fit_rank_gnn(train, ...)")

    def scores(self, x: np.ndarray, users=None) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float32))
        out = np.empty(x.shape, dtype=np.float64)
        with torch.no_grad():
            edge = self._off_diagonal()
            for i in range(0, len(x), 256):  # bounded activations: (256, N, F) at a time
                out[i:i + 256] = self.model(torch.from_numpy(x[i:i + 256]), self._s, edge).numpy()
        return out

    def _off_diagonal(self) -> torch.Tensor | None:
        """The model's :meth:`RankGNN.off_diagonal`, made once (an (N, N) copy, ~1.6 ms a call, two
        calls a rating in the app) and again only if the weights change in place."""
        edge = self.model.edge
        if edge is None:
            return None
        if self._edge is None or self._edge[0] != edge._version:
            self._edge = (edge._version, self.model.off_diagonal())
        return self._edge[1]
