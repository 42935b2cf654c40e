"""Model store: GNN checkpoints in ``models/`` (config + graph + weights + metrics), atomic, safe to load."""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import io
import os
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from .data import atomic_write_bytes
from .gnn import GNNPredictor, GNNPredictorConfig
from .graph import GraphConfig, ItemGraph
from .store_check import MAX_BYTES, check_blob

FORMAT = "gnnrec-checkpoint"
VERSION = 1
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class StoreError(RuntimeError):
    """A checkpoint is missing, corrupt, unsafe to name, or made for other data."""


class DataMismatch(StoreError):
    """A valid checkpoint made for other data (another fingerprint): retrain it on this data."""


class BadName(StoreError, ValueError):
    """A model name that is not allowed (a bad argument: a ValueError too)."""


class NotFound(StoreError, ValueError):
    """No model of that name (a bad argument: a ValueError too); the message lists those there are."""


def models_dir() -> Path:
    """``$GNNREC_MODELS_DIR``, else the ``models/`` folder beside the package."""
    env = os.environ.get("GNNREC_MODELS_DIR")
    return Path(env).expanduser() if env else Path(__file__).resolve().parent.parent / "models"


def check_name(name: str) -> str:
    """A model name is 1-64 letters, digits, ``_ . -``, not starting with a dot or dash (so it
    can never leave the models folder)."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or ".." in name:
        raise BadName(f"model name {name!r} is not allowed: use 1-64 letters, digits, '_', '.', '-', "
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


def from_bytes(raw: bytes, name: str | None = None, n_movies: int | None = None) -> Checkpoint:
    """Rebuild a checkpoint; StoreError if it is not a valid gnnrec checkpoint.

    Loaded with ``weights_only=True`` (no pickled code runs), then checked field by field
    (:func:`gnnrec.store_check.check_blob`: graph index ranges, shapes against the config,
    finite values, numbers where numbers belong; with ``n_movies``, the data's size) before
    anything is built from it: a crafted file is refused, never used.

    ``name`` is what the checkpoint is called from now on: :func:`load` passes the file's name, so
    a copied or renamed ``.pt`` reports its new name. The name it was saved under, where that
    differs, is kept as ``extra["saved_as"]``; without ``name`` the saved name is used.
    """
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the error below says it all
            warnings.simplefilter("ignore")
            blob = torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise ValueError("not a gnnrec checkpoint")
        if blob.get("version") != VERSION:
            raise ValueError(f"format version {blob.get('version')!r}, this gnnrec reads {VERSION}")
        cfg, graph_cfg = check_blob(blob, n_movies)
        g = blob["graph"]
        n = g["n"]
        shift = sp.csr_matrix((g["data"].numpy().astype(np.float32), g["indices"].numpy().astype(np.int64),
                               g["indptr"].numpy().astype(np.int64)), shape=(n, n))
        graph = ItemGraph(corr=None, shift=shift, config=graph_cfg)
        pred = GNNPredictor.restore(cfg, graph, blob["item_means"].numpy().astype(np.float64),
                                    blob["item_known"].numpy(), float(blob["global_mean"]), blob["states"])
        saved = blob["name"]
        extra = dict(blob["extra"])
        if name is not None and saved != name:
            extra.setdefault("saved_as", saved)
        return Checkpoint(name=saved if name is None else name, predictor=pred, graph_config=graph_cfg,
                          metrics=dict(blob["metrics"]), data_fingerprint=blob["data_fingerprint"],
                          created=blob["created"], extra=extra)
    except StoreError:
        raise
    except Exception as e:  # torch raises many types on a bad file: all mean "corrupt"
        why = str(e).splitlines()[0][:200] if str(e) else ""
        if isinstance(e, pickle.UnpicklingError):  # torch's text advises weights_only=False: never here
            why = "it holds more than tensors and plain values, so it cannot be loaded safely"
        raise StoreError(f"model {name or '?'!r} is corrupt or not a gnnrec checkpoint ({type(e).__name__}: "
                         f"{why}); delete the file and retrain it (`python -m gnnrec train ...`)") from None


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
        raise StoreError(f"could not save model {name!r} in the models folder: {why} ({e.strerror or type(e).__name__}); "
                         "nothing was written and "
                         "any existing model of that name is unchanged. Free some space and try again") from e
    return path


def load(name: str, folder: Path | None = None, *, data_fingerprint: str | None = None,
         n_movies: int | None = None) -> Checkpoint:
    """Load ``models/<name>.pt``. With ``data_fingerprint``, refuse a model trained on other data;
    with ``n_movies``, one whose graph has another number of movies.

    Raises:
        StoreError: missing (naming the models that exist), corrupt, invalid, or mismatching. The
            messages name the file, not the server's folder.
    """
    path = path_for(name, folder)
    if not path.is_file():
        have = ", ".join(list_names(folder)) or "none"
        raise NotFound(f"no model {name!r} in the models folder (available: {have}); "
                         f"train it with `python -m gnnrec train --name {name}`")
    ckpt = from_bytes(read_bounded(path), name, n_movies)
    if data_fingerprint is not None and ckpt.data_fingerprint != data_fingerprint:
        raise DataMismatch(f"model {name!r} was trained on data {ckpt.data_fingerprint}, but the loaded data is "
                         f"{data_fingerprint}; retrain it (`python -m gnnrec train --name {name}`)")
    return ckpt


def read_bounded(path: Path) -> bytes:
    """A model file's bytes, at most :data:`MAX_BYTES` read; StoreError for a bigger file."""
    with open(path, "rb") as f:
        raw = f.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise StoreError(f"model file {path.name} is over the {MAX_BYTES:,}-byte limit; it is not a gnnrec model")
    return raw


def list_names(folder: Path | None = None) -> list[str]:
    folder = folder or models_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.pt") if NAME_RE.fullmatch(p.stem))


def delete(name: str, folder: Path | None = None) -> None:
    path_for(name, folder).unlink(missing_ok=True)
