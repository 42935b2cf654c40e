"""Training the ranking GNN: each user's training movies are split once into what the model is
shown and what it must put on top; EASE and the graph are built from the shown part, the filter
learns to rank the rest above the movies it currently ranks highest (BPR on hard negatives); then
EASE and the graph are rebuilt from every training rating, and a ranker lists.

Why this split: a movie the model must rank is then as new to EASE and the graph as a held-out
movie will be (hiding movies from the input alone, as before, left them in EASE's Gram matrix).

Letters: U users, B batch, N movies, M negatives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..models import sparse_shift
from ..train import Cancelled
from .model import RankGNN, RankGNNConfig, rank_graph
from .rankers import Ranker
from .split import holdout


@dataclasses.dataclass(frozen=True)
class RankTrainConfig:
    """How the ranking GNN is trained (chosen on development split 42's validation interactions)."""

    epochs: int = 6  # passes over the training users
    lr: float = 3e-4  # Adam step size
    batch: int = 64  # users per step
    targets: float = 0.25  # share of each user's training movies set apart as targets (a fixed, seeded split)
    negatives: int = 20  # M: per user, the unseen non-target movies ranked highest, each target pushed above them
    seed: int = 0  # the targets' split, the filter's start, the batches' order

    def __post_init__(self) -> None:
        for name, lo, hi in (("epochs", 1, 500), ("batch", 1, 4096), ("negatives", 1, 1000)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"{name}={v!r} must be a whole number in {lo}..{hi}")
        if not 0 < self.lr < 1:
            raise ValueError(f"lr={self.lr!r} must be in (0, 1)")
        if not 0 < self.targets < 1:
            raise ValueError(f"targets={self.targets!r} must be in (0, 1)")


@dataclasses.dataclass(frozen=True)
class RankProgress:
    """One finished epoch: ``epoch`` of ``epochs``, the mean training loss."""

    epoch: int
    epochs: int
    loss: float


def ranking_loss(scores: torch.Tensor, shown: torch.Tensor, targets: torch.Tensor, negatives: int) -> torch.Tensor:
    r"""BPR against hard negatives: for each user, the ``negatives`` movies neither shown nor
    targets that ``scores`` ranks highest (the ones that would take a target's place in the list);
    each target :math:`i` against each such :math:`j` costs :math:`\log(1 + e^{-(s_i - s_j)})`,
    averaged per target, then over all targets. ``(B, N)`` each -> scalar."""
    free = (shown <= 0) & (targets <= 0)  # (B, N) candidates for a negative
    m = min(negatives, scores.shape[1])
    pick = torch.topk(scores.detach().masked_fill(~free, float("-inf")), m, dim=1).indices  # (B, M)
    real = free.gather(1, pick).float()  # (B, M) 0 where a user had fewer than M candidates
    margin = scores.unsqueeze(2) - scores.gather(1, pick).unsqueeze(1)  # (B, N, M)
    per_target = (F.softplus(-margin) * real.unsqueeze(1)).sum(2) / real.sum(1).clamp(min=1.0)[:, None]  # (B, N)
    return (per_target * targets).sum() / targets.sum().clamp(min=1.0)


def fit_rank_gnn(train: np.ndarray, config: RankGNNConfig | None = None, tc: RankTrainConfig | None = None,
                 on_progress: Callable[[RankProgress], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> RankGNNRanker:
    """Fit on ``(U, N)`` training ratings (graph, EASE and targets from these alone); the
    defaults are the recipe chosen on development data (docs/experiments.md)."""
    config, tc = config or RankGNNConfig(), tc or RankTrainConfig()
    torch.manual_seed(tc.seed)
    gen = torch.Generator().manual_seed(tc.seed)
    shown, targets = holdout(np.asarray(train, dtype=np.float32), tc.seed, tc.targets)  # (U, N) each
    model = RankGNN(config, train.shape[1])
    model.set_edge(shown)
    s = sparse_shift(rank_graph(shown, config.graph_k))
    x, t = torch.from_numpy(shown), torch.from_numpy((targets > 0).astype(np.float32))  # (U, N) each
    users = torch.nonzero(t.any(1) & (x > 0).any(1))[:, 0]  # (U',) users with something to learn from
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)  # W is a buffer: not among them
    for epoch in range(tc.epochs):
        perm = users[torch.randperm(len(users), generator=gen)]
        total = 0.0
        for i in range(0, len(perm), tc.batch):
            if cancel is not None and cancel():
                raise Cancelled(f"ranking GNN training cancelled in epoch {epoch + 1} of {tc.epochs}")
            b = perm[i:i + tc.batch]
            loss = ranking_loss(model(x[b], s), x[b], t[b], tc.negatives)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
        if on_progress is not None:
            on_progress(RankProgress(epoch + 1, tc.epochs, total / max(len(users), 1)))
    model.eval()
    model.set_edge(train)  # EASE and the graph from every training rating; the learnt filter kept
    return RankGNNRanker(model, rank_graph(train, config.graph_k), (train > 0).sum(0).astype(np.float64))


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
