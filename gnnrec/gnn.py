"""The GNN as a predictor: its config, the input encoding, and the fitted model that predicts.

Training lives in :mod:`gnnrec.fitting`; recipes in :mod:`gnnrec.presets`.

Letters: B users, N movies, G input channels, T movies predicted at, E ensemble members.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Literal

import numpy as np
import torch

from . import fast, fitting
from . import train as train_mod
from .fast import local as fast_local
from .fast import ops as fast_ops
from .fast.ops import shift_for
from .graph import ItemGraph, within
from .models import GNNConfig, LocalGNN, load_model
from .predict import Predictor

ENCODINGS = ("raw", "centered", "centered+observed", "baseline", "baseline+observed")
LOCAL_MAX = 8  # predicting at most this many movies uses the exact partial forward pass (fast path)
CHUNK = 64  # users per forward pass outside training: ~140 MB of activations at N=1682
PLANS_KEPT = 256  # partial-pass plans kept per predictor (oldest dropped first)


@dataclasses.dataclass(frozen=True)
class GNNPredictorConfig:
    """A GNN predictor: architecture, training, input encoding, task."""

    model: GNNConfig = GNNConfig()  # layers, taps, widths
    train: train_mod.TrainConfig = train_mod.TrainConfig()  # optimiser and schedule
    encoding: Literal["raw", "centered", "centered+observed", "baseline", "baseline+observed"] = "raw"  # see encode()
    target: int | None = None  # movie column the model is trained for; None = every movie
    weights: Literal["best", "last"] = "best"  # which weights predict: best on validation, or last
    ensemble: int = 1  # models trained with seeds seed..seed+E-1, predictions averaged
    hide_fraction: float = 0.2  # all-movies training: share of the ratings made labels, redrawn each epoch
    item_damping: float = 0.0  # item means (sum + λ·global mean) / (count + λ); 0 = plain means
    user_damping: float = 0.0  # baseline encodings: user offset sum(r - item mean) / (count + λ); 0 = plain mean

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding={self.encoding!r}: choose one of {ENCODINGS}")
        if self.weights not in ("best", "last"):
            raise ValueError(f"weights={self.weights!r}: choose 'best' or 'last'")
        if not 0 < self.hide_fraction < 1:
            raise ValueError(f"hide_fraction={self.hide_fraction!r} must be between 0 and 1")
        if not isinstance(self.ensemble, int) or self.ensemble < 1:
            raise ValueError(f"ensemble={self.ensemble!r} must be an integer >= 1")
        if self.target is not None and (not isinstance(self.target, int) or self.target < 0):
            raise ValueError(f"target={self.target!r} must be a movie column index >= 0, or None for every movie")
        for name in ("item_damping", "user_damping"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be >= 0")
        channels = 2 if self.encoding.endswith("+observed") else 1
        if self.model.in_features != channels:
            object.__setattr__(self, "model", dataclasses.replace(self.model, in_features=channels))


def encode(x: np.ndarray | torch.Tensor, encoding: str, global_mean: float,
           item_means: np.ndarray | torch.Tensor | None = None,
           user_damping: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Ratings ``(B, N)`` (0 = unknown) -> graph signal ``(B, N, G)`` and output offset ``(B, N)``;
    the prediction at node ``n`` is ``offset[:, n]`` plus the GNN's readout there.

    - ``raw``: the ratings; offset 0 (the seed).
    - ``centered``: :math:`r_{uj} - \bar r_u` on rated movies (0 elsewhere); offset :math:`\bar r_u`,
      the user's mean (the global mean for a user with no ratings).
    - ``baseline``: :math:`r_{uj} - \mu_j - b_u` with training item means :math:`\mu_j` and the
      user's offset :math:`b_u = \sum_j (r_{uj} - \mu_j) / (n_u + \lambda_u)` (``user_damping``
      :math:`\lambda_u`, default 0: the mean); offset :math:`\mu_n + b_u`.
    - ``...+observed``: plus a 0/1 channel marking rated movies.
    """
    x = torch.as_tensor(x, dtype=torch.float32)
    if encoding == "raw":
        return x.unsqueeze(-1), torch.zeros_like(x)
    mask = (x > 0).float()  # (B, N)
    count = mask.sum(1, keepdim=True)  # (B, 1)
    if encoding.startswith("baseline"):
        mu = torch.as_tensor(item_means, dtype=torch.float32)[None, :]  # (1, N)
        base = torch.where(count > 0, ((x - mu) * mask).sum(1, keepdim=True) / (count + user_damping).clamp(min=1e-6),
                           0.0)  # (B, 1)
        offset = mu + base  # (B, N)
    else:
        mean = torch.where(count > 0, x.sum(1, keepdim=True) / count.clamp(min=1), global_mean)  # (B, 1)
        offset = mean.expand_as(x)  # (B, N)
    channels = [(x - offset) * mask] + ([mask] if encoding.endswith("+observed") else [])
    return torch.stack(channels, dim=-1), offset  # (B, N, G), (B, N)


class GNNPredictor(Predictor):
    """A fitted :class:`LocalGNN` ensemble (or, with ``nonlinearity="none"``, a linear graph
    filter) behind the predictor API: its graph, training means and weights. ``estimate`` is NaN
    (so ``predict`` falls back to the item mean) for a user none of whose ratings lies within the
    model's receptive field of the movie. Safe to share between threads once fitted.

    Whether it computes through :mod:`gnnrec.fast` is decided once, when it is built
    (``self.fast``, from :func:`gnnrec.fast.enabled`): its operator, its training and its
    forward order all follow that one decision.

    Args:
        config: :class:`GNNPredictorConfig`.
        name: how evaluation labels it (default ``"gnn"``).
    """

    def __init__(self, config: GNNPredictorConfig = GNNPredictorConfig(), name: str = "gnn"):
        self.config, self.name = config, name
        self.fast = fast.enabled()  # the speed-ups for this predictor's whole life
        self.models: list[LocalGNN] = []
        self.results: list[train_mod.TrainResult] = []  # one per member, when trained here
        self._plans: dict[tuple, object] = {}
        self._plan_lock = threading.Lock()

    def fit(self, train: np.ndarray, graph: ItemGraph, valid: np.ndarray | None = None,
            on_progress=None, cancel=None) -> GNNPredictor:
        """Train on ``(U, N)`` ratings: :func:`gnnrec.fitting.fit_target` for a target model,
        :func:`gnnrec.fitting.fit_all` for all movies."""
        fitter = fitting.fit_all if self.config.target is None else fitting.fit_target
        return fitter(self, train, graph, valid, on_progress, cancel)

    def use(self, ratings: np.ndarray, graph: ItemGraph) -> GNNPredictor:
        """Predict with ``graph`` and the item means of ``ratings`` ``(U, N)`` (built from the same
        ratings); the weights stay. Training calls it; so does all-movies training once
        validation has chosen the weights, with the held-out ratings put back."""
        if graph.shift.shape[0] != ratings.shape[1]:
            raise ValueError(f"the graph has {graph.shift.shape[0]} nodes but the ratings {ratings.shape[1]} movies")
        self._set_means(ratings)
        self._set_graph(graph)
        return self

    def _set_means(self, train: np.ndarray) -> None:
        """Training means; with ``item_damping`` λ the item means are pulled towards the global
        mean, (Σ r + λ μ) / (n + λ), so a movie with few ratings gets a less noisy baseline."""
        super()._set_means(train)
        lam = self.config.item_damping
        if lam > 0:
            self.item_means = (train.sum(0, dtype=np.float64) + lam * self.global_mean) / ((train > 0).sum(0) + lam)

    def _set_graph(self, graph: ItemGraph) -> None:
        self.graph = graph
        self._s = shift_for(graph.shift, self.fast)
        with self._plan_lock:
            self._plans = {}

    @classmethod
    def restore(cls, config: GNNPredictorConfig, graph: ItemGraph, item_means: np.ndarray, item_known: np.ndarray,
                global_mean: float, states: list[dict], name: str = "gnn") -> GNNPredictor:
        """Rebuild a fitted predictor from stored parts (see :mod:`gnnrec.store`)."""
        pred = cls(config, name)
        pred._set_graph(graph)
        pred.item_means, pred.item_known, pred.global_mean = item_means, item_known, global_mean
        pred.models = [load_model(config.model, state) for state in states]
        return pred

    def with_weights(self, which: Literal["best", "last"]) -> GNNPredictor:
        """A copy predicting with the other weights of the same training (no retraining)."""
        twin = GNNPredictor(dataclasses.replace(self.config, weights=which), self.name)
        twin.fast = self.fast
        twin._set_graph(self.graph)
        twin.item_means, twin.item_known, twin.global_mean = self.item_means, self.item_known, self.global_mean
        twin.results = self.results
        twin.models = [load_model(self.config.model, r.best_state if which == "best" else r.last_state)
                       for r in self.results]
        return twin

    # -- predicting -----------------------------------------------------------------------------
    def encode(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        return encode(x, self.config.encoding, self.global_mean, self.item_means, self.config.user_damping)

    def forward(self, model: LocalGNN, sig: torch.Tensor, s=None) -> torch.Tensor:
        """The model on the whole graph (this predictor's, or the shift ``s``): ``(B, N, G)`` ->
        ``(B, N)``."""
        s = self._s if s is None else s
        return fast_ops.forward(model, sig, s) if self.fast else model(sig, s)

    @property
    def shift_operator(self) -> object:
        """The operator of this predictor's graph that its models multiply by (:func:`shift_for`)."""
        return self._s

    def outputs(self, model: LocalGNN, x, s=None) -> torch.Tensor:
        """The model's predictions for ratings ``x`` ``(B, N)`` at every movie, :data:`CHUNK` users
        at a time (chunks bound the ``(B, N, K*F)`` activations): ``(B, N)``."""
        outs = []
        for i in range(0, x.shape[0], CHUNK):
            sig, offset = self.encode(x[i:i + CHUNK])
            outs.append(self.forward(model, sig, s) + offset)  # (b, N)
        return torch.cat(outs)

    def plan(self, movies) -> object:
        """The exact partial forward pass at ``movies`` (:class:`gnnrec.fast.local.LocalPlan`),
        built once and kept: one predictor may serve several sessions' threads."""
        key = tuple(int(m) for m in movies)
        with self._plan_lock:
            if key not in self._plans:
                if len(self._plans) >= PLANS_KEPT:
                    self._plans.pop(next(iter(self._plans)))
                self._plans[key] = fast_local.LocalPlan.build(self.graph.shift, list(key), self.config.model.taps)
            return self._plans[key]

    def receptive_field(self) -> int:
        """Hops from a movie that can move its prediction: Σ (K_ℓ - 1)."""
        return self.config.model.receptive_field

    def reached(self, x: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """``(B, T)`` True where some rated movie lies within the receptive field of the movie."""
        return within(self.graph.shift, (x > 0).T, self.config.model.receptive_field)[movies].T

    # -- explaining -----------------------------------------------------------------------------
    def baseline(self, x_row: np.ndarray, t: int) -> tuple[float, dict[str, float]]:
        """The offset of the input encoding at movie index ``t`` for one user ``(N,)`` and its parts
        (baseline encodings: the movie's damped mean + the user's damped offset; centred: the user's mean)."""
        base = float(self.encode(x_row[None, :])[1][0, t])
        if self.config.encoding.startswith("baseline"):
            mu = float(self.item_means[t])
            return base, {"shrunk movie mean": mu, "you": base - mu}
        return base, {"you": base} if self.config.encoding.startswith("centered") else {}

    def leave_one_out(self, x_row: np.ndarray, t: int, rated: np.ndarray,
                      chunk: int) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """Occlusion at movie index ``t`` for one user ``(N,)``: the unclipped estimate from every
        rating (NaN: none reaches it), each rating in ``rated`` ``(R,)``'s leave-one-out effect on the
        prediction (:meth:`settle`d: clipped, the fallback where nothing reaches), and that effect
        before clipping split in two ``(R,)``: through the encoding's offset (the user's bias) and
        through the graph filters (both NaN where nothing reaches without that rating). ``chunk``
        left-out ratings per forward pass (bounds memory); the first row keeps every rating."""
        drop = np.concatenate([[-1], rated])  # (R+1,): the rating each row leaves out (-1: none)
        raw, offset = np.empty(len(drop)), np.empty(len(drop))
        for i in range(0, len(drop), chunk):
            part = drop[i:i + chunk]
            loo = np.repeat(x_row[None, :], len(part), axis=0)  # (C, N): row j without rating part[j]
            rows = np.flatnonzero(part >= 0)
            loo[rows, part[rows]] = 0
            raw[i:i + len(part)] = self.estimate(loo, np.array([t]))[:, 0]
            offset[i:i + len(part)] = self.encode(loo)[1][:, t].double().numpy()
        shown = self.settle(raw[:, None], np.array([t])).values[:, 0]  # (R+1,)
        via_bias = offset[0] - offset[1:]  # (R,)
        via_graph = (raw[0] - offset[0]) - (raw[1:] - offset[1:])  # (R,) NaN where nothing reaches without it
        return float(raw[0]), shown[0] - shown[1:], np.where(np.isnan(via_graph), np.nan, via_bias), via_graph

    def estimate(self, x: np.ndarray, movies: np.ndarray) -> np.ndarray:
        if self.config.target is not None:
            x = x.copy()
            x[:, self.config.target] = 0  # a target model never sees the rating it predicts
        local = self.fast and len(movies) <= LOCAL_MAX
        est = np.empty((x.shape[0], len(movies)))  # (B, T)
        with torch.no_grad():
            for i in range(0, x.shape[0], CHUNK):  # chunks bound the (B, N, K*F) activations
                sig, offset = self.encode(x[i:i + CHUNK])
                if local:
                    plan = self.plan(movies)
                    z = fast_local.local_input(self.config.model, sig, self._s, plan)
                    outs = [fast_local.forward_local(m, z, plan) for m in self.models]  # E x (b, T)
                else:
                    outs = [self.forward(m, sig)[:, movies] for m in self.models]  # E x (b, T)
                est[i:i + CHUNK] = (torch.stack(outs).mean(0) + offset[:, movies]).double().numpy()
        return np.where(self.reached(x, movies), est, np.nan)
