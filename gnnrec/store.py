"""Model store: GNN checkpoints in ``models/`` (config + graph + weights + metrics), atomic, safe to load."""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import io
import os
import re
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from .data import atomic_write_bytes
from .gnn import GNNPredictor, GNNPredictorConfig
from .graph import GraphConfig, ItemGraph
from .models import GNNConfig
from .train import TrainConfig

FORMAT = "gnnrec-checkpoint"
VERSION = 1
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_BYTES = 50_000_000  # refuse to read a "checkpoint" bigger than this


class StoreError(RuntimeError):
    """A checkpoint is missing, corrupt, unsafe to name, or made for other data."""


def models_dir() -> Path:
    """``$GNNREC_MODELS_DIR``, else the ``models/`` folder beside the package."""
    env = os.environ.get("GNNREC_MODELS_DIR")
    return Path(env).expanduser() if env else Path(__file__).resolve().parent.parent / "models"


def check_name(name: str) -> str:
    """A model name is 1-64 letters, digits, ``_ . -``, not starting with a dot or dash (so it
    can never leave the models folder)."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or ".." in name:
        raise StoreError(f"model name {name!r} is not allowed: use 1-64 letters, digits, '_', '.', '-', "
                         "starting with a letter or digit (no path separators)")
    return name


def path_for(name: str, folder: Path | None = None) -> Path:
    return (folder or models_dir()) / f"{check_name(name)}.pt"


@dataclasses.dataclass
class Checkpoint:
    """A loaded model and what was stored beside it."""

    name: str
    predictor: GNNPredictor
    graph_config: GraphConfig
    metrics: dict
    data_fingerprint: str
    created: str
    extra: dict

    @property
    def config(self) -> GNNPredictorConfig:
        return self.predictor.config


def _config_from_dict(d: dict) -> GNNPredictorConfig:
    d = dict(d)
    d["model"] = GNNConfig(**d["model"])
    d["train"] = TrainConfig(**d["train"])
    return GNNPredictorConfig(**d)


def to_bytes(pred: GNNPredictor, *, name: str, metrics: dict, data_fingerprint: str,
             extra: dict | None = None) -> bytes:
    """Serialise a fitted predictor (tensors and plain values only: loadable with
    ``weights_only=True``)."""
    if not pred.models:
        raise StoreError("the predictor has no trained model: fit it before saving")
    s = pred.graph.shift
    blob = {
        "format": FORMAT, "version": VERSION, "name": name,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "config": dataclasses.asdict(pred.config),
        "graph_config": dataclasses.asdict(pred.graph.config),
        "graph": {"indptr": torch.from_numpy(s.indptr.astype(np.int64)),
                  "indices": torch.from_numpy(s.indices.astype(np.int64)),
                  "data": torch.from_numpy(s.data.astype(np.float32)), "n": int(s.shape[0])},
        "item_means": torch.from_numpy(pred.item_means.astype(np.float64)),
        "item_known": torch.from_numpy(pred.item_known.astype(np.bool_)),
        "global_mean": float(pred.global_mean),
        "states": [m.state_dict() for m in pred.models],
        "metrics": dict(metrics), "data_fingerprint": data_fingerprint, "extra": dict(extra or {}),
    }
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def from_bytes(raw: bytes, name: str | None = None) -> Checkpoint:
    """Rebuild a checkpoint; StoreError if it is not a valid gnnrec checkpoint.

    ``name`` is what the checkpoint is called from now on: :func:`load` passes the file's name, so
    a copied or renamed ``.pt`` reports its new name. The name it was saved under, where that
    differs, is kept as ``extra["saved_as"]``; without ``name`` the saved name is used.
    """
    try:
        blob = torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise ValueError("not a gnnrec checkpoint")
        if blob.get("version") != VERSION:
            raise ValueError(f"format version {blob.get('version')!r}, this gnnrec reads {VERSION}")
        cfg = _config_from_dict(blob["config"])
        g = blob["graph"]
        n = int(g["n"])
        shift = sp.csr_matrix((g["data"].numpy(), g["indices"].numpy(), g["indptr"].numpy()), shape=(n, n))
        graph = ItemGraph(corr=None, shift=shift, config=GraphConfig(**blob["graph_config"]))
        pred = GNNPredictor.restore(cfg, graph, blob["item_means"].numpy(), blob["item_known"].numpy(),
                                    float(blob["global_mean"]), blob["states"])
        saved = str(blob.get("name", "?"))
        extra = dict(blob.get("extra", {}))
        if name is not None and saved != name:
            extra.setdefault("saved_as", saved)
        return Checkpoint(name=saved if name is None else name, predictor=pred, graph_config=graph.config,
                          metrics=dict(blob["metrics"]), data_fingerprint=str(blob["data_fingerprint"]),
                          created=str(blob["created"]), extra=extra)
    except StoreError:
        raise
    except Exception as e:  # torch raises many types on a bad file: all mean "corrupt"
        raise StoreError(f"model {name or '?'!r} is corrupt or not a gnnrec checkpoint ({type(e).__name__}: "
                         f"{str(e)[:200]}); delete the file and retrain it (`python -m gnnrec train ...`)") from None


def save(pred: GNNPredictor, name: str, *, metrics: dict, data_fingerprint: str, extra: dict | None = None,
         folder: Path | None = None) -> Path:
    """Write ``models/<name>.pt`` atomically (a reader sees the old file or the new one, never a
    part); an existing model of that name is replaced.

    Raises:
        StoreError: a bad name, or the file could not be written (disk full, no permission: the
            message says which); then nothing changed, the old file (if any) is intact.
    """
    path = path_for(name, folder)
    blob = to_bytes(pred, name=name, metrics=metrics, data_fingerprint=data_fingerprint, extra=extra)
    try:
        atomic_write_bytes(path, blob)
    except OSError as e:
        why = "the disk is full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
        raise StoreError(f"could not save model {name!r} to {path.parent}: {why} ({e}); nothing was written and "
                         "any existing model of that name is unchanged. Free some space and try again") from e
    return path


def load(name: str, folder: Path | None = None, *, data_fingerprint: str | None = None) -> Checkpoint:
    """Load ``models/<name>.pt``. With ``data_fingerprint``, refuse a model trained on other data.

    Raises:
        StoreError: missing (naming the models that exist), corrupt, or mismatching.
    """
    path = path_for(name, folder)
    if not path.is_file():
        have = ", ".join(list_names(folder)) or "none"
        raise StoreError(f"no model {name!r} in {path.parent} (available: {have}); "
                         f"train it with `python -m gnnrec train --name {name}`")
    if path.stat().st_size > MAX_BYTES:
        raise StoreError(f"model file {path} is {path.stat().st_size} bytes, over the {MAX_BYTES} limit")
    ckpt = from_bytes(path.read_bytes(), name)
    if data_fingerprint is not None and ckpt.data_fingerprint != data_fingerprint:
        raise StoreError(f"model {name!r} was trained on data {ckpt.data_fingerprint}, but the loaded data is "
                         f"{data_fingerprint}; retrain it (`python -m gnnrec train --name {name}`)")
    return ckpt


def list_names(folder: Path | None = None) -> list[str]:
    folder = folder or models_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.pt") if NAME_RE.fullmatch(p.stem))


def delete(name: str, folder: Path | None = None) -> None:
    path_for(name, folder).unlink(missing_ok=True)
