"""Ranking-model store: the ranking GNN in ``models/ranking/<name>.pt`` (config, graph, weights,
metrics), written atomically, checked field by field before anything is built from it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import io
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from ..data import atomic_write_bytes
from ..store import DataMismatch, NotFound, StoreError, check_name, models_dir, read_bounded
from .model import RankGNN, RankGNNConfig
from .training import RankGNNRanker

FORMAT = "gnnrec-ranker"
VERSION = 2  # 2: W is EASE on the star-weighted input (config.ease_rating); 1 files are refused: retrain
DEFAULT_RANKER = "ranking"  # the committed ranking GNN the app's lists come from
MAX_MOVIES = 10_000  # a claimed catalogue beyond this is refused before anything is allocated


def folder_for(folder: Path | None = None) -> Path:
    return folder or models_dir() / "ranking"


def save(ranker: RankGNNRanker, name: str = DEFAULT_RANKER, *, metrics: dict, data_fingerprint: str,
         extra: dict | None = None, folder: Path | None = None) -> Path:
    """Write the ranker atomically (a reader sees the old file or the new one, never a part)."""
    path = folder_for(folder) / f"{check_name(name)}.pt"
    s = ranker.shift
    blob = {"format": FORMAT, "version": VERSION, "name": name,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "config": dataclasses.asdict(ranker.config), "n": int(s.shape[0]),
            "graph": {"indptr": torch.from_numpy(s.indptr.astype(np.int64)),
                      "indices": torch.from_numpy(s.indices.astype(np.int64)),
                      "data": torch.from_numpy(s.data.astype(np.float32))},
            "popularity": torch.from_numpy(ranker.popularity.astype(np.float64)),
            "state": ranker.model.state_dict(), "metrics": dict(metrics),
            "data_fingerprint": data_fingerprint, "extra": dict(extra or {})}
    buf = io.BytesIO()
    torch.save(blob, buf)
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError as e:
        why = "the disk is full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
        raise StoreError(f"could not save ranking model {name!r}: {why}; nothing was written and any existing "
                         "model of that name is unchanged") from e
    return path


@dataclasses.dataclass
class RankCheckpoint:
    name: str
    ranker: RankGNNRanker
    metrics: dict
    data_fingerprint: str
    created: str
    extra: dict


def _check(blob, n_movies: int | None) -> tuple[RankGNNConfig, int, sp.csr_matrix]:
    """Validate what a file claims before building anything; ValueError saying what is wrong."""
    if not isinstance(blob, dict) or blob.get("format") != FORMAT or blob.get("version") != VERSION:
        raise ValueError("not a gnnrec ranking model of this version")
    cfg = blob.get("config")
    if not isinstance(cfg, dict) or set(cfg) != {f.name for f in dataclasses.fields(RankGNNConfig)}:
        raise ValueError("its config does not have RankGNNConfig's fields")
    config = RankGNNConfig(**cfg)  # bounds checked there
    n = blob.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_MOVIES or (n_movies and n != n_movies):
        raise ValueError(f"it claims {n!r} movies; this data has {n_movies}")
    g = blob.get("graph")
    parts = [g.get(k) if isinstance(g, dict) else None for k in ("indptr", "indices", "data")]
    if not all(isinstance(t, torch.Tensor) and t.ndim == 1 for t in parts) or len(parts[0]) != n + 1 \
            or len(parts[1]) != len(parts[2]) or len(parts[1]) > n * n:
        raise ValueError("its graph arrays have the wrong shapes")
    shift = sp.csr_matrix((parts[2].numpy().astype(np.float32), parts[1].numpy().astype(np.int64),
                           parts[0].numpy().astype(np.int64)), shape=(n, n))
    shift.check_format(full_check=True)  # index ranges and order: SciPy's own check
    pop = blob.get("popularity")
    if not isinstance(pop, torch.Tensor) or pop.shape != (n,) or not bool(torch.isfinite(pop).all()) \
            or bool((pop < 0).any()):
        raise ValueError("its popularity is not n finite counts")
    if not np.isfinite(shift.data).all():
        raise ValueError("its graph has non-finite weights")
    return config, n, shift


def from_bytes(raw: bytes, name: str, n_movies: int | None = None) -> RankCheckpoint:
    """Rebuild a ranker from file bytes (``weights_only=True``, then validated); StoreError if bad."""
    try:
        blob = torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
        config, n, shift = _check(blob, n_movies)
        state = blob.get("state")
        want = RankGNN.shapes(config, n)
        if not isinstance(state, dict) or {k: tuple(getattr(v, "shape", ())) for k, v in state.items()} != want:
            raise ValueError("its weights do not match its config")
        if not all(bool(torch.isfinite(v).all()) and float(v.abs().max()) < 1e6 for v in state.values()):
            raise ValueError("its weights are not finite and bounded")
        model = RankGNN(config, n)  # built only now: every size it allocates was checked above
        model.load_state_dict(state, strict=True)
        model.eval()
        ranker = RankGNNRanker(model, shift, blob["popularity"].numpy().astype(np.float64))
        return RankCheckpoint(name, ranker, dict(blob.get("metrics") or {}), str(blob.get("data_fingerprint")),
                              str(blob.get("created")), dict(blob.get("extra") or {}))
    except Exception as e:  # torch and the checks raise many types: all mean "not usable"
        why = " ".join(str(e).split())[:200]
        raise StoreError(f"ranking model {name!r} is corrupt or not a gnnrec ranking model ({type(e).__name__}: "
                         f"{why}); delete it and retrain (`python -m gnnrec train --task topn --force`)") from None


def load(name: str = DEFAULT_RANKER, folder: Path | None = None, *, data_fingerprint: str | None = None,
         n_movies: int | None = None) -> RankCheckpoint:
    """Load ``models/ranking/<name>.pt``; refuse other data's model with ``data_fingerprint``."""
    path = folder_for(folder) / f"{check_name(name)}.pt"
    if not path.is_file():
        raise NotFound(f"no ranking model {name!r}; train it with `python -m gnnrec train --task topn`")
    ckpt = from_bytes(read_bounded(path), name, n_movies)
    if data_fingerprint is not None and ckpt.data_fingerprint != data_fingerprint:
        raise DataMismatch(f"ranking model {name!r} was trained on data {ckpt.data_fingerprint}, not on the loaded "
                           f"{data_fingerprint}; retrain it (`python -m gnnrec train --task topn --force`)")
    return ckpt
