"""The GNN as a predictor: input encoding, training for one target movie or for all, presets.

Letters: U training users, B users, N movies, G input channels, T movies predicted at,
E ensemble members.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Literal

import numpy as np
import scipy.sparse as sp
import torch

from . import train as train_mod
from .graph import ItemGraph
from .models import GNNConfig, LocalGNN, LocalPlan, diffuse, to_torch_sparse
from .predict import Predictor

Encoding = Literal["raw", "centered", "centered+observed"]
ENCODINGS = ("raw", "centered", "centered+observed")


@dataclasses.dataclass(frozen=True)
class GNNPredictorConfig:
    """A GNN predictor: architecture, training, input encoding, task."""

    model: GNNConfig = GNNConfig()  # layers, taps, widths
    train: train_mod.TrainConfig = train_mod.TrainConfig()  # optimiser and schedule
    encoding: Encoding = "raw"  # raw ratings (seed) / minus the user's mean, added back at the output
    target: int | None = None  # movie column the model is trained for; None = every movie
    weights: Literal["best", "last"] = "best"  # which weights predict: best on validation, or last
    ensemble: int = 1  # models trained with seeds seed..seed+E-1, predictions averaged
    hide_fraction: float = 0.2  # all-movies training: share of a user's ratings hidden per step

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding={self.encoding!r}: choose one of {ENCODINGS}")
        if self.weights not in ("best", "last"):
            raise ValueError(f"weights={self.weights!r}: choose 'best' or 'last'")
        if self.ensemble < 1:
            raise ValueError(f"ensemble={self.ensemble!r} must be >= 1")
        channels = 2 if self.encoding == "centered+observed" else 1
        if self.model.in_features != channels:
            object.__setattr__(self, "model", dataclasses.replace(self.model, in_features=channels))


def encode(x: np.ndarray | torch.Tensor, encoding: str, global_mean: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Ratings ``(B, N)`` (0 = unknown) -> graph signal ``(B, N, G)`` and output offset ``(B,)``.

    ``raw``: the ratings, offset 0. ``centered``: rating minus the user's mean rating on rated
    movies (0 elsewhere), offset the user's mean (the global mean for a user with no ratings).
    ``centered+observed``: that plus a 0/1 channel marking rated movies.
    """
    x = torch.as_tensor(x, dtype=torch.float32)
    if encoding == "raw":
        return x.unsqueeze(-1), torch.zeros(x.shape[0])
    mask = (x > 0).float()  # (B, N)
    count = mask.sum(1)  # (B,)
    mean = torch.where(count > 0, x.sum(1) / count.clamp(min=1), torch.tensor(global_mean))  # (B,)
    centred = (x - mean[:, None]) * mask  # (B, N)
    channels = [centred, mask] if encoding == "centered+observed" else [centred]
    return torch.stack(channels, dim=-1), mean  # (B, N, G), (B,)


class GNNPredictor(Predictor):
    """A :class:`LocalGNN` (or, with ``nonlinearity="none"``, a linear graph filter) behind the
    predictor API. ``estimate`` is NaN (so ``predict`` falls back to the item mean) for a user
    none of whose ratings lies within the model's receptive field of the movie.

    Args:
        config: :class:`GNNPredictorConfig`.
        name: how evaluation labels it (default ``"gnn"``).
    """

    def __init__(self, config: GNNPredictorConfig = GNNPredictorConfig(), name: str = "gnn"):
        self.config = config
        self.name = name
        self.models: list[LocalGNN] = []
        self.results: list[train_mod.TrainResult] = []

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, train: np.ndarray, graph: ItemGraph, valid: np.ndarray | None = None,
            on_progress: Callable[[train_mod.Progress], None] | None = None,
            cancel: Callable[[], bool] | None = None) -> "GNNPredictor":
        """Train on ``(U, N)`` ratings. Target task: every training user must have rated the
        target; ``valid`` are held-out users (default: 10% of ``train``, seeded)."""
        cfg = self.config
        self._set_means(train)
        self.graph = graph
        self._s = to_torch_sparse(graph.shift)
        if valid is None:
            rng = np.random.default_rng(cfg.train.seed)
            perm = rng.permutation(train.shape[0])
            n_valid = max(1, round(0.1 * train.shape[0]))
            train, valid = train[perm[n_valid:]], train[perm[:n_valid]]
        if cfg.target is None:
            raise NotImplementedError("all-movies training is not built yet")
        t = cfg.target
        for name, rows in (("training", train), ("validation", valid)):
            if len(rows) == 0 or not (rows[:, t] > 0).all():
                raise ValueError(f"every {name} user must have rated the target movie index {t}")
        self._plan = LocalPlan.build(graph.shift, [t], cfg.model.taps)
        tensors = [self._target_tensors(rows) for rows in (train, valid)]
        plan = self._plan

        def step(model, batch, training):
            z, offset, y = batch
            return model.forward_local(z, plan)[:, 0] + offset, y

        self.models, self.results = [], []
        for e in range(cfg.ensemble):
            tc = dataclasses.replace(cfg.train, seed=cfg.train.seed + e)
            torch.manual_seed(tc.seed)
            model = LocalGNN(cfg.model)
            res = train_mod.fit(model, tensors[0], tensors[1], step, tc, on_progress, cancel)
            model.load_state_dict(res.best_state if cfg.weights == "best" else res.last_state)
            model.eval()
            self.models.append(model)
            self.results.append(res)
        return self

    def _target_tensors(self, rows: np.ndarray) -> list[torch.Tensor]:
        t = self.config.target
        x = rows.copy()
        y = torch.tensor(x[:, t], dtype=torch.float32)  # a copy: x[:, t] is zeroed next
        x[:, t] = 0
        sig, offset = encode(x, self.config.encoding, self.global_mean)
        z = self._plan.first_layer_input(sig, self._s, self.config.model.taps[0])  # (U, |V1|, K1*G)
        return [z, offset, y]

    def with_weights(self, which: Literal["best", "last"]) -> "GNNPredictor":
        """A copy predicting with the other weights of the same training (no retraining)."""
        twin = GNNPredictor(dataclasses.replace(self.config, weights=which), self.name)
        twin.__dict__.update({k: v for k, v in self.__dict__.items() if k not in ("config", "models")})
        twin.models = []
        for m, res in zip(self.models, self.results):
            copy_ = LocalGNN(self.config.model)
            copy_.load_state_dict(res.best_state if which == "best" else res.last_state)
            copy_.eval()
            twin.models.append(copy_)
        return twin

    # -- predicting -----------------------------------------------------------------------------
    def receptive_field(self) -> int:
        """Hops from a movie that can move its prediction: Σ (K_ℓ - 1)."""
        return sum(k - 1 for k in self.config.model.taps)

    def reached(self, x: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """``(B, T)`` True where some rated movie (other than the movie itself for a target
        model) lies within the receptive field of the movie."""
        pattern = sp.csr_matrix(self.graph.shift != 0, dtype=np.float32) + sp.eye(x.shape[1], dtype=np.float32, format="csr")
        reach = (x > 0).T.astype(np.float32)  # (N, B)
        for _ in range(self.receptive_field()):
            reach = np.minimum(pattern @ reach, 1.0)
        return reach[movies].T > 0  # (B, T)

    def estimate(self, x: np.ndarray, movies: np.ndarray) -> np.ndarray:
        cfg = self.config
        if cfg.target is not None:
            x = x.copy()
            x[:, cfg.target] = 0  # a target model never sees the rating it predicts
        sig, offset = encode(x, cfg.encoding, self.global_mean)
        with torch.no_grad():
            if cfg.target is not None and len(movies) == 1 and movies[0] == cfg.target:
                z = self._plan.first_layer_input(sig, self._s, cfg.model.taps[0])
                outs = [m.forward_local(z, self._plan) for m in self.models]  # E x (B, 1)
            else:
                outs = [m(sig, self._s)[:, torch.as_tensor(movies)] for m in self.models]  # E x (B, T)
            est = (torch.stack(outs).mean(0) + offset[:, None]).double().numpy()  # (B, T)
        return np.where(self.reached(x, movies), est, np.nan)


PRESETS: dict[str, GNNPredictorConfig] = {
    # the seed's exact configuration: raw ratings, 2 layers (64, 32), 5 taps, best-on-validation
    "seed": GNNPredictorConfig(),
    "seed-linear": GNNPredictorConfig(model=GNNConfig(nonlinearity="none")),
}
