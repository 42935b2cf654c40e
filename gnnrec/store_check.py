"""Checks a checkpoint read from disk before anything uses it: every field's type, range and shape.

A ``.pt`` file loaded with ``weights_only=True`` runs no code, but it can still hold anything made
of tensors and plain values: graph indices out of range (SciPy then reads and writes out of
bounds: a segfault), weights of the wrong shape, NaN item means, strings where numbers belong.
:func:`check_blob` accepts only what :func:`gnnrec.store.to_bytes` writes, consistent with its own
config (and with the data's number of movies when known), and raises :class:`CheckpointInvalid`
naming the first problem otherwise. Nothing here builds a real model or touches the graph.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import scipy.sparse as sp
import torch

from .gnn import GNNPredictorConfig
from .graph import GraphConfig
from .models import MAX_LAYERS, MAX_TAPS, MAX_WIDTH, GNNConfig, LocalGNN
from .train import TrainConfig

MAX_ENSEMBLE = 16  # far above every preset and the Train page (the architecture's bounds: gnnrec.models)
MAX_MOVIES = 100_000
MAX_BYTES = 50_000_000  # the largest checkpoint file read, and the most its tensors may claim in all
MAX_WEIGHT = 1e3  # |weight| bound (trained weights stay below 2)
RATING_SCALE = (1.0, 5.0)  # where item means and the global mean must lie
FIELDS = ("format", "version", "name", "created", "config", "graph_config", "graph", "item_means", "item_known",
          "global_mean", "states", "metrics", "data_fingerprint", "extra")


class CheckpointInvalid(ValueError):
    """What is wrong with a checkpoint's contents (the message names the field)."""


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise CheckpointInvalid(message)


def is_number(v) -> bool:
    """A real number (an int or float, not a bool); NaN counts (a training history starts with one)."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _whole(v, lo: int, hi: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _tensor(v, what: str, dtypes: tuple, shape: tuple | None = None) -> torch.Tensor:
    """A plain dense tensor of one of ``dtypes`` (and ``shape``, ``None`` entries free)."""
    _need(isinstance(v, torch.Tensor) and v.layout == torch.strided and not v.is_quantized,
          f"{what} is not a plain tensor ({type(v).__name__})")
    _need(v.dtype in dtypes, f"{what} has dtype {v.dtype}, expected one of {[str(d) for d in dtypes]}")
    if shape is not None:
        _need(v.dim() == len(shape) and all(s is None or s == d for s, d in zip(shape, v.shape)),
              f"{what} has shape {tuple(v.shape)}, expected {tuple('*' if s is None else s for s in shape)}")
    # a stride-0 (expanded) tensor claims more values than the file holds: each must be stored whole
    _need(v.is_contiguous() and v.untyped_storage().nbytes() >= (v.storage_offset() + v.numel()) * v.element_size(),
          f"{what} is not stored whole (an expanded or overlapping view)")
    return v


def _nbytes(*tensors: torch.Tensor) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def _within(t: torch.Tensor, lo: float, hi: float, what: str) -> None:
    _finite(t, what)
    if t.numel():
        _need(lo <= float(t.min()) and float(t.max()) <= hi, f"{what} run {float(t.min()):.4g}..{float(t.max()):.4g}, "
                                                             f"outside {lo:g}..{hi:g}")


def _finite(t: torch.Tensor, what: str) -> None:
    _need(bool(torch.isfinite(t).all()), f"{what} holds NaN or infinite values")


def _known_keys(d, cls, what: str) -> dict:
    _need(isinstance(d, dict), f"{what} is not a mapping")
    names = {f.name for f in dataclasses.fields(cls)}
    extra = sorted(map(str, set(d) - names))
    _need(not extra, f"{what} has unknown fields {extra[:5]}")
    return d


def check_model_config(d) -> GNNConfig:
    """The architecture, bounded before anything is sized from it."""
    d = _known_keys(d, GNNConfig, "config.model")
    for key in ("features", "taps"):
        v = d.get(key)
        _need(isinstance(v, (list, tuple)) and 1 <= len(v) <= MAX_LAYERS,
              f"config.model.{key} must list 1-{MAX_LAYERS} layers")
    _need(all(_whole(f, 1, MAX_WIDTH) for f in d["features"]), f"config.model.features must be whole numbers "
                                                               f"1-{MAX_WIDTH}")
    _need(all(_whole(k, 1, MAX_TAPS) for k in d["taps"]), f"config.model.taps must be whole numbers 1-{MAX_TAPS}")
    _need(_whole(d.get("in_features", 1), 1, 2), "config.model.in_features must be 1 or 2")
    return GNNConfig(**d)


def check_config(d, n: int) -> GNNPredictorConfig:
    """The predictor's config, rebuilt (its own checks run too) and bounded."""
    d = dict(_known_keys(d, GNNPredictorConfig, "config"))
    d["model"] = check_model_config(d.get("model"))
    d["train"] = TrainConfig(**_known_keys(d.get("train"), TrainConfig, "config.train"))
    _need(_whole(d.get("ensemble", 1), 1, MAX_ENSEMBLE), f"config.ensemble must be a whole number 1-{MAX_ENSEMBLE}")
    target = d.get("target")
    _need(target is None or _whole(target, 0, n - 1), f"config.target {target!r} is not a movie index 0..{n - 1}")
    for key in ("hide_fraction", "item_damping", "user_damping"):
        _need(key not in d or (is_number(d[key]) and math.isfinite(d[key])), f"config.{key} is not a number")
    return GNNPredictorConfig(**d)


def check_graph(g, n_movies: int | None) -> int:
    """The CSR graph: ``n`` nodes, sizes bounded before SciPy sees it, then SciPy's own full CSR
    check (``indptr`` of ``n + 1`` from 0, non-decreasing, every index in ``0..n-1``), ``indptr``
    ending at the number of entries, finite weights. Returns ``n``."""
    _need(isinstance(g, dict) and {"indptr", "indices", "data", "n"} <= set(g), "graph lacks indptr/indices/data/n")
    n = g["n"]
    _need(_whole(n, 1, MAX_MOVIES), f"graph.n {n!r} is not a number of movies")
    _need(n_movies is None or n == n_movies, f"the graph has {n} movies, the data {n_movies}")
    ints = (torch.int64, torch.int32)
    indptr = _tensor(g["indptr"], "graph.indptr", ints, (None,))
    indices = _tensor(g["indices"], "graph.indices", ints, (None,))
    data = _tensor(g["data"], "graph.data", (torch.float32, torch.float64), (indices.shape[0],))
    # sizes first: SciPy may copy the arrays (to its index type), so nothing over the limits reaches it
    _need(indices.shape[0] <= n * n, f"graph.indices has {indices.shape[0]:,} entries, more than {n} movies have pairs")
    _need(_nbytes(indptr, indices, data) <= MAX_BYTES, f"the graph's {indices.shape[0]:,} entries are over the "
                                                        f"{MAX_BYTES:,}-byte limit of a checkpoint")
    _csr_check(indptr, indices, data, n)
    # SciPy accepts entries past indptr[-1] (it drops them); the store writes none, so extra ones mean an edited file
    _need(int(indptr[-1]) == indices.shape[0],
          f"graph.indptr ends at {int(indptr[-1])}, expected the {indices.shape[0]} entries")
    _finite(data, "graph.data")
    return n


def _csr_check(indptr: torch.Tensor, indices: torch.Tensor, data: torch.Tensor, n: int) -> None:
    """SciPy's ``check_format(full_check=True)`` on the ``(n, n)`` CSR arrays (what its kernels
    would otherwise read out of bounds), its complaint reported under the field it concerns."""
    try:
        sp.csr_matrix((data.numpy(), indices.numpy(), indptr.numpy()), shape=(n, n)).check_format(full_check=True)
    except ValueError as e:
        reason = str(e)
        if reason.startswith("indices must"):  # "indices must be < n" / ">= 0": say where they run
            raise CheckpointInvalid(f"graph.indices run {int(indices.min())}..{int(indices.max())}, outside the "
                                    f"{n} movies ({reason})") from None
        field = "graph.indptr" if "index pointer" in reason or "indptr" in reason else "graph"
        raise CheckpointInvalid(f"{field} is not a CSR matrix of {n} movies ({reason})") from None


def check_states(states, cfg: GNNPredictorConfig) -> None:
    """One state per ensemble member, each with exactly the keys and shapes ``LocalGNN(cfg.model)``
    has (computed on the meta device: nothing is allocated), finite weights."""
    _need(isinstance(states, list) and states, "states is empty: the checkpoint holds no trained weights")
    _need(len(states) == cfg.ensemble, f"{len(states)} weight sets for an ensemble of {cfg.ensemble}")
    claimed = 4 * cfg.ensemble * cfg.model.n_parameters  # float32, before any model is built
    _need(claimed <= MAX_BYTES, f"config claims {claimed:,} bytes of weights ({cfg.ensemble} x "
                                f"{cfg.model.n_parameters:,}), over the {MAX_BYTES:,}-byte limit of a checkpoint")
    with torch.device("meta"):
        want = {k: tuple(v.shape) for k, v in LocalGNN(cfg.model).state_dict().items()}
    for i, state in enumerate(states):
        _need(isinstance(state, dict), f"states[{i}] is not a mapping")
        _need(set(state) == set(want), f"states[{i}] has keys {sorted(map(str, state))[:8]}, "
                                       f"the config needs {sorted(want)}")
        for key, shape in want.items():
            _within(_tensor(state[key], f"states[{i}].{key}", (torch.float32, torch.float64), shape),
                    -MAX_WEIGHT, MAX_WEIGHT, f"states[{i}].{key}")


def check_plain(v, what: str, depth: int = 0) -> None:
    """JSON-like values only (no tensors), nested at most a few levels."""
    _need(depth <= 4, f"{what} is nested too deep")
    if isinstance(v, dict):
        for k, x in v.items():
            _need(isinstance(k, str), f"{what} has a non-text key {k!r}")
            check_plain(x, f"{what}.{k}", depth + 1)
    elif isinstance(v, (list, tuple)):
        for x in v:
            check_plain(x, what, depth + 1)
    else:
        _need(v is None or isinstance(v, (str, bool, int, float)), f"{what} holds a {type(v).__name__}")


def check_metadata(blob: dict) -> None:
    """Metrics are numbers; the history is ``[step, loss, valid RMSE]`` rows; text is text."""
    for key in ("name", "created", "data_fingerprint"):
        _need(isinstance(blob[key], str) and len(blob[key]) <= 200, f"{key} is not a short text")
    metrics = blob["metrics"]
    _need(isinstance(metrics, dict), "metrics is not a mapping")
    for k, v in metrics.items():
        _need(isinstance(k, str) and is_number(v), f"metric {str(k)[:40]!r} is {type(v).__name__}, not a number")
    extra = blob["extra"]
    _need(isinstance(extra, dict), "extra is not a mapping")
    check_plain(extra, "extra")
    history = extra.get("history", [])
    _need(isinstance(history, list) and all(isinstance(h, (list, tuple)) and len(h) == 3 and all(map(is_number, h))
                                            for h in history), "extra.history is not a list of [step, loss, RMSE]")
    _need(isinstance(extra.get("preset", ""), str), "extra.preset is not text")


def check_blob(blob, n_movies: int | None = None) -> tuple[GNNPredictorConfig, GraphConfig]:
    """Everything :func:`gnnrec.store.from_bytes` will use, checked; returns the rebuilt configs.

    Raises:
        CheckpointInvalid: the first problem found (ValueError/TypeError from a config's own
            checks pass through as they are).
    """
    missing = [f for f in FIELDS if f not in blob]
    _need(not missing, f"fields missing: {missing}")
    n = check_graph(blob["graph"], n_movies)
    cfg = check_config(blob["config"], n)
    graph_cfg = GraphConfig(**_known_keys(blob["graph_config"], GraphConfig, "graph_config"))
    _within(_tensor(blob["item_means"], "item_means", (torch.float64, torch.float32), (n,)), *RATING_SCALE,
            "item_means")
    _tensor(blob["item_known"], "item_known", (torch.bool,), (n,))
    gm = blob["global_mean"]
    lo, hi = RATING_SCALE
    _need(is_number(gm) and math.isfinite(gm) and lo <= gm <= hi, f"global_mean {gm!r} is not a rating {lo:g}..{hi:g}")
    check_states(blob["states"], cfg)
    check_metadata(blob)
    return cfg, graph_cfg
