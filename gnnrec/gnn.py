"""The GNN as a predictor: input encoding, training for one target movie or for all, presets.

Letters: U training users, B users, N movies, G input channels, T movies predicted at,
E ensemble members.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
from collections.abc import Callable
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch

from . import train as train_mod
from .graph import GraphConfig, ItemGraph
from .localstep import LocalStep
from .models import GNNConfig, LocalGNN, LocalPlan, shift_operator
from .predict import Predictor

Encoding = Literal["raw", "centered", "centered+observed", "baseline", "baseline+observed"]
_PLAN_LOCK = threading.Lock()
LOCAL_MAX = 8  # predicting at most this many movies uses the exact partial forward pass
CHUNK = 64  # users per full-graph forward pass outside training: ~140 MB of activations at N=1682
ENCODINGS = ("raw", "centered", "centered+observed", "baseline", "baseline+observed")


@dataclasses.dataclass(frozen=True)
class GNNPredictorConfig:
    """A GNN predictor: architecture, training, input encoding, task."""

    model: GNNConfig = GNNConfig()  # layers, taps, widths
    train: train_mod.TrainConfig = train_mod.TrainConfig()  # optimiser and schedule
    encoding: Encoding = "raw"  # graph signal and output offset: see encode(); "raw" is the seed's
    target: int | None = None  # movie column the model is trained for; None = every movie
    weights: Literal["best", "last"] = "best"  # which weights predict: best on validation, or last
    ensemble: int = 1  # models trained with seeds seed..seed+E-1, predictions averaged
    hide_fraction: float = 0.2  # all-movies training: share of the ratings made labels, redrawn each epoch
    item_damping: float = 0.0  # baseline encodings: item means (sum + λ·global mean) / (count + λ); 0 = plain
    user_damping: float = 0.0  # baseline encodings: user offset sum(r - item mean) / (count + λ); 0 = plain mean

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding={self.encoding!r}: choose one of {ENCODINGS}")
        if self.weights not in ("best", "last"):
            raise ValueError(f"weights={self.weights!r}: choose 'best' or 'last'")
        if not 0 < self.hide_fraction < 1:
            raise ValueError(f"hide_fraction={self.hide_fraction!r} must be between 0 and 1")
        if self.ensemble < 1:
            raise ValueError(f"ensemble={self.ensemble!r} must be >= 1")
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
            cancel: Callable[[], bool] | None = None) -> GNNPredictor:
        """Train on ``(U, N)`` ratings. Target task: every training user must have rated the
        target; ``valid`` are held-out users (default: 10% of ``train``, seeded). All movies: see
        :meth:`_fit_all`."""
        cfg = self.config
        self._set_means(train)
        self.graph = graph
        self._s = shift_operator(graph.shift)
        if cfg.target is None:
            return self._fit_all(train, valid, on_progress, cancel)
        if valid is None:
            rng = np.random.default_rng(cfg.train.seed)
            perm = rng.permutation(train.shape[0])
            n_valid = max(1, round(0.1 * train.shape[0]))
            train, valid = train[perm[n_valid:]], train[perm[:n_valid]]
        t = cfg.target
        for name, rows in (("training", train), ("validation", valid)):
            if len(rows) == 0 or not (rows[:, t] > 0).all():
                raise ValueError(f"every {name} user must have rated the target movie index {t}")
        self._plan = LocalPlan.build(graph.shift, [t], cfg.model.taps)
        tensors = [self._target_tensors(rows) for rows in (train, valid)]
        plan = self._plan
        local = LocalStep(plan) if LocalStep.supports(cfg.model) else None  # None: the linear filter
        if local is not None:  # the hand-written pass: (U, V_1, J) inputs with the bias's 1
            for part in tensors:
                part[0] = LocalStep.inputs(part[0])
            forward = local.forward
        else:  # autograd on the folded input
            forward = lambda model, z: model.forward_local(z, plan)  # noqa: E731

        def step(model, batch, training):
            z, offset, y = batch
            return forward(model, z)[:, 0] + offset, y

        grad = None if local is None else (lambda model, batch, loss: local.loss_and_grad(model, *batch, loss))
        return self._train_members(tensors[0], tensors[1], step, on_progress, cancel, grad)

    def _train_members(self, train, valid, step, on_progress, cancel, grad=None) -> GNNPredictor:
        cfg = self.config
        self.models, self.results = [], []
        for e in range(cfg.ensemble):
            tc = dataclasses.replace(cfg.train, seed=cfg.train.seed + e)
            torch.manual_seed(tc.seed)
            model = LocalGNN(cfg.model)
            res = train_mod.fit(model, train, valid, step, tc, on_progress, cancel, grad)
            model.load_state_dict(res.best_state if cfg.weights == "best" else res.last_state)
            model.eval()
            self.models.append(model)
            self.results.append(res)
        return self

    def _fit_all(self, train: np.ndarray, valid: np.ndarray | None, on_progress, cancel) -> GNNPredictor:
        """All movies. Every epoch, ``hide_fraction`` of the training ratings (seeded) become
        labels and leave both the input and the *training* graph, which is rebuilt from the
        rest: a graph built with the labels leaks them, and a model trained on such a graph
        learns the leak (it then scores worse than the bare baseline on new ratings). ``valid``
        holds other ratings of the same users, which the graph passed to :meth:`fit` must not
        contain; validation predicts them from ``train`` on that graph, exactly as a test
        rating is predicted. Without ``valid``, 5% of ``train`` is held out and the graph and
        means are rebuilt from the rest."""
        cfg = self.config
        rng = np.random.default_rng(cfg.train.seed)
        if valid is None or valid.shape != train.shape:
            held = (train > 0) & (rng.random(train.shape) < 0.05)
            valid, train = np.where(held, train, 0), np.where(held, 0, train)
            self._set_means(train)
            self.graph = ItemGraph.build(train, self.graph.config)
            self._s = shift_operator(self.graph.shift)
        users = np.flatnonzero((train > 0).sum(1) >= 2)  # a user needs an input and a label
        steps_per_epoch = -(-len(users) // cfg.train.batch_size)
        state = {"calls": 0}

        # Each epoch's graph is built on a second thread while the previous epoch trains (NumPy
        # releases the GIL): the same masks in the same order, 0.5-1 s an epoch off the main thread.
        builder = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="gnnrec-graph")

        def draw():
            label = (train > 0) & (rng.random(train.shape) < cfg.hide_fraction)
            inputs = np.where(label, 0, train)
            graph_cfg = self.graph.config
            return label, inputs, builder.submit(lambda: shift_operator(ItemGraph.build(inputs, graph_cfg).shift))

        def resample() -> None:
            label, inputs, shift = state.pop("next", None) or draw()
            state["x"] = torch.as_tensor(inputs, dtype=torch.float32)  # (U, N)
            state["y"] = torch.as_tensor(np.where(label, train, 0), dtype=torch.float32)  # (U, N)
            state["s"] = shift.result()
            state["next"] = draw()

        def step(model, batch, training):
            if training:
                if state["calls"] % steps_per_epoch == 0:
                    resample()
                state["calls"] += 1
                (rows,) = batch
                x_in, y, s = state["x"][rows], state["y"][rows], state["s"]
            else:
                (x_in, y), s = batch, self._s
            preds = []
            for i in range(0, x_in.shape[0], CHUNK):  # chunks bound the (B, N, K*F) memory
                sig, offset = self._encode(x_in[i:i + CHUNK])
                preds.append(model(sig, s) + offset)  # (b, N)
            known = y > 0
            return torch.cat(preds)[known], y[known]

        has_valid = (valid > 0).any(1)
        as_t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
        try:
            return self._train_members((torch.as_tensor(users),), (as_t(train[has_valid]), as_t(valid[has_valid])),
                                       step, on_progress, cancel)
        finally:
            builder.shutdown(wait=False, cancel_futures=True)  # the one graph drawn ahead is not needed

    def rebase(self, ratings: np.ndarray, graph: ItemGraph) -> GNNPredictor:
        """Predict from now on with the item means of ``ratings`` ``(U, N)`` and with ``graph``
        (built from the same ratings), keeping the trained weights. All-movies training picks
        its weights on held-out ratings that it keeps out of the graph and the means; once the
        weights are chosen, those ratings are ordinary training data again, and a graph and
        means that include them predict better (test RMSE 0.8992 -> 0.8967 on split 0,
        0.9136 -> 0.9113 on split 1)."""
        if graph.shift.shape[0] != ratings.shape[1]:
            raise ValueError(f"the graph has {graph.shift.shape[0]} nodes but the ratings {ratings.shape[1]} movies")
        self._set_means(ratings)
        self.graph, self._s = graph, shift_operator(graph.shift)
        with _PLAN_LOCK:
            self.__dict__.pop("_plans", None)
        if self.config.target is not None:
            self._plan = LocalPlan.build(graph.shift, [self.config.target], self.config.model.taps)
        return self

    def _encode(self, x):
        return encode(x, self.config.encoding, self.global_mean, self.item_means, self.config.user_damping)

    def _set_means(self, train: np.ndarray) -> None:
        """Training means; with ``item_damping`` λ the item means are pulled towards the global
        mean, (Σ r + λ μ) / (n + λ), so a movie with few ratings gets a less noisy baseline."""
        super()._set_means(train)
        lam = self.config.item_damping
        if lam > 0:
            mask = train > 0
            self.item_means = ((train.sum(0, dtype=np.float64) + lam * self.global_mean) / (mask.sum(0) + lam))  # (N,)

    def _target_tensors(self, rows: np.ndarray) -> list[torch.Tensor]:
        t = self.config.target
        x = rows.copy()
        y = torch.tensor(x[:, t], dtype=torch.float32)  # a copy: x[:, t] is zeroed next
        x[:, t] = 0
        sig, offset = self._encode(x)
        offset = offset[:, t]  # (U,)
        z = self._first_input(sig)
        return [z, offset, y]

    def _first_input(self, sig: torch.Tensor, plan: LocalPlan | None = None) -> torch.Tensor:
        plan = plan or self._plan
        z = plan.first_layer_input(sig, self._s, self.config.model.taps[0])  # (U, |V1|, K1*G)
        if self.config.model.nonlinearity == "none" and len(self.config.model.taps) > 1:
            z = plan.fold(z)  # (U, K2, |V2|, K1*G): a linear filter trains on 25 numbers a user
        return z

    def _local_plan(self, movies: np.ndarray) -> LocalPlan | None:
        """The exact partial forward pass for a few movies (the target model's own plan for its
        target; built and kept for up to 8 movies otherwise), or None for the full pass."""
        if self.config.target is not None and len(movies) == 1 and movies[0] == self.config.target:
            return self._plan
        if len(movies) > LOCAL_MAX:
            return None
        key = tuple(int(m) for m in movies)
        with _PLAN_LOCK:  # one predictor may serve several sessions' threads
            cache = self.__dict__.setdefault("_plans", {})
            if key not in cache:
                if len(cache) >= 256:
                    cache.pop(next(iter(cache)))  # oldest first
                cache[key] = LocalPlan.build(self.graph.shift, list(key), self.config.model.taps)
            return cache[key]

    @classmethod
    def restore(cls, config: GNNPredictorConfig, graph: ItemGraph, item_means: np.ndarray, item_known: np.ndarray,
                global_mean: float, states: list[dict], name: str = "gnn") -> GNNPredictor:
        """Rebuild a fitted predictor from stored parts (see :mod:`gnnrec.store`)."""
        pred = cls(config, name)
        pred.graph, pred._s = graph, shift_operator(graph.shift)
        pred.item_means, pred.item_known, pred.global_mean = item_means, item_known, global_mean
        if config.target is not None:
            pred._plan = LocalPlan.build(graph.shift, [config.target], config.model.taps)
        for state in states:
            model = LocalGNN(config.model)
            model.load_state_dict(state)
            model.eval()
            pred.models.append(model)
        return pred

    def with_weights(self, which: Literal["best", "last"]) -> GNNPredictor:
        """A copy predicting with the other weights of the same training (no retraining)."""
        twin = GNNPredictor(dataclasses.replace(self.config, weights=which), self.name)
        twin.__dict__.update({k: v for k, v in self.__dict__.items() if k not in ("config", "models")})
        twin.models = []
        for res in self.results:
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
        cols = torch.as_tensor(movies)
        plan = self._local_plan(movies)  # None: compute every node
        est = np.empty((x.shape[0], len(movies)))  # (B, T)
        with torch.no_grad():
            for i in range(0, x.shape[0], CHUNK):  # chunks bound the (B, N, K*F) activations
                sig, offset = self._encode(x[i:i + CHUNK])
                if plan is not None:
                    z = self._first_input(sig, plan)
                    outs = [m.forward_local(z, plan) for m in self.models]  # E x (b, T)
                else:
                    outs = [m(sig, self._s)[:, cols] for m in self.models]  # E x (b, T)
                est[i:i + CHUNK] = (torch.stack(outs).mean(0) + offset[:, cols]).double().numpy()
        return np.where(self.reached(x, movies), est, np.nan)


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named GNN recipe: the predictor and the graph it runs on."""

    predictor: GNNPredictorConfig
    graph: GraphConfig
    description: str
    task: Literal["target", "all"] = "target"  # what the training schedule is made for


_ALL_TRAIN = train_mod.TrainConfig(epochs=20, batch_size=32, valid_every=27, loss="mse")  # all movies: ~28 steps an epoch

PRESETS: dict[str, Preset] = {
    "seed": Preset(GNNPredictorConfig(), GraphConfig(k=10, min_common=1),
                   "the seed/reference: raw ratings in, k=10 graph with no co-rater minimum"),
    "best": Preset(GNNPredictorConfig(encoding="baseline+observed", item_damping=5.0, user_damping=50.0, ensemble=3,
                                      train=dataclasses.replace(train_mod.TrainConfig(), epochs=10, weight_decay=1e-3)),
                   GraphConfig(k=10, min_common=10, sign="abs", shrinkage=100.0),
                   "ratings minus the item mean and the user's offset (damped by 5 and 50 ratings) plus an "
                   "observed channel; k=10 graph by |correlation| shrunk by n/(n+100) (n co-raters), >=10 "
                   "co-raters; 3 seeds averaged, 10 epochs each, weight decay 1e-3"),
    "all": Preset(GNNPredictorConfig(encoding="baseline+observed", train=_ALL_TRAIN, item_damping=5.0, user_damping=5.0),
                  GraphConfig(k=20, min_common=2, shrinkage=25.0),
                  "one model for every movie: ratings minus item mean and user offset (both damped by 5 "
                  "ratings), observed channel; labels resampled each epoch and kept out of the training graph; "
                  "k=20 graph, correlations shrunk by n/(n+25) (n co-raters); 20 epochs, MSE loss", task="all"),
}


def preset(name: str | Preset, task: str | None = None) -> Preset:
    """The preset called ``name`` (a :class:`Preset` passes through); with ``task``, refuse one
    made for the other task."""
    if isinstance(name, Preset):
        p = name
    elif name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    else:
        p = PRESETS[name]
    if task is not None and p.task != task:
        fits = sorted(n for n, q in PRESETS.items() if q.task == task)
        label = name if isinstance(name, str) else "this custom preset"
        raise ValueError(f"preset {label!r} is made for the {p.task!r} task, not {task!r}; choose one of {fits}")
    return p


def preset_label(p: str | Preset) -> str:
    return p if isinstance(p, str) else "custom"


def customise(p: Preset, features=None, taps=None, k=None, epochs=None) -> Preset:
    """A copy of ``p`` with other layer widths, taps, graph neighbours or epochs (None: keep);
    the configs validate the values (e.g. taps < 1 raises ValueError)."""
    model, train, graph = p.predictor.model, p.predictor.train, p.graph
    if features is not None or taps is not None:
        feats = tuple(features) if features is not None else model.features
        tps = tuple(taps) if taps is not None else (model.taps[0],) * len(feats)
        model = dataclasses.replace(model, features=feats, taps=tps)
    if epochs is not None:
        train = dataclasses.replace(train, epochs=epochs)
    if k is not None:
        graph = dataclasses.replace(graph, k=k)
    return dataclasses.replace(p, predictor=dataclasses.replace(p.predictor, model=model, train=train), graph=graph)


def linear_twin(cfg: GNNPredictorConfig) -> GNNPredictorConfig:
    """The same predictor without nonlinearity: a (multi-layer) linear graph filter."""
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, nonlinearity="none"))
