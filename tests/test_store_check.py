"""Crafted checkpoints: tensors-only ``.pt`` files (they pass ``weights_only=True``) whose contents
lie. Each is refused with a StoreError naming the field, listed as unusable by the app's model list
and by ``python -m gnnrec models`` (in a subprocess: out-of-range graph indices used to segfault
it), and never used. The files are real: the committed all-movies model, loaded, one field changed,
saved again with ``torch.save``."""

from __future__ import annotations

import copy
import io
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gnnrec.data
from gnnrec import store
from gnnrec.app import catalog

ROOT = Path(__file__).resolve().parent.parent
N = 1682


@pytest.fixture(scope="module")
def blob() -> dict:
    return torch.load(ROOT / "models" / "all-movies.pt", weights_only=True)


def write(folder: Path, name: str, blob: dict) -> Path:
    buf = io.BytesIO()
    torch.save(blob, buf)
    path = folder / f"{name}.pt"
    path.write_bytes(buf.getvalue())
    return path


def _set(blob: dict, path: str, value) -> None:
    *head, last = path.split("/")
    d = blob
    for key in head:
        d = d[int(key)] if isinstance(d, list) else d[key]
    if isinstance(d, list):
        d[int(last)] = value
    elif value is KeyError:
        del d[last]
    else:
        d[last] = value


def _indices(b, fn):
    t = b["graph"]["indices"].clone()
    fn(t)
    return t


def _dip(indptr):
    """One row's start moved past the next row's: decreasing in the middle, still from 0 to the end."""
    t = indptr.clone()
    t[10] = t[12]
    return t


def _one_more_entry(g):
    """An entry past ``indptr[-1]`` (SciPy would drop it; the store never writes one)."""
    return {**g, "indices": torch.cat([g["indices"], torch.tensor([3])]),
            "data": torch.cat([g["data"], torch.tensor([0.5])])}


# (field, new value (a function of the blob, or KeyError: deleted), what the message names)
CRAFTED = {
    "indices-too-high": ("graph/indices", lambda b: _indices(b, lambda t: t.__setitem__(5, 10 ** 9)), "graph.indices"),
    "indices-negative": ("graph/indices", lambda b: _indices(b, lambda t: t.__setitem__(7, -3)), "graph.indices"),
    "indptr-decreasing": ("graph/indptr", lambda b: b["graph"]["indptr"].flip(0), "graph.indptr"),
    "indptr-short": ("graph/indptr", lambda b: b["graph"]["indptr"][:-1], "graph.indptr"),
    "indptr-end": ("graph/indptr", lambda b: b["graph"]["indptr"] * 2, "graph.indptr"),
    "indptr-dip": ("graph/indptr", lambda b: _dip(b["graph"]["indptr"]), "graph.indptr"),
    "indices-past-indptr": ("graph", lambda b: _one_more_entry(b["graph"]), "graph.indptr"),
    "graph-n": ("graph/n", lambda b: 99, "the graph has 99 movies, the data 1682"),
    "graph-n-text": ("graph/n", lambda b: "1682", "graph.n"),
    "graph-data-nan": ("graph/data", lambda b: b["graph"]["data"] * float("nan"), "graph.data"),
    "graph-data-sparse": ("graph/data", lambda b: b["graph"]["data"].to_sparse(), "graph.data"),
    "item-means-short": ("item_means", lambda b: b["item_means"][:10], "item_means"),
    "item-means-nan": ("item_means", lambda b: b["item_means"] * float("nan"), "item_means"),
    "item-known-float": ("item_known", lambda b: b["item_known"].double(), "item_known"),
    "global-mean-text": ("global_mean", lambda b: "3.5", "global_mean"),
    "states-empty": ("states", lambda b: [], "states is empty"),
    "states-two": ("states", lambda b: b["states"] * 2, "weight sets"),
    "state-key-missing": ("states/0/readout.bias", lambda b: KeyError, "states[0] has keys"),
    "state-key-extra": ("states/0/evil", lambda b: torch.zeros(1), "states[0] has keys"),
    "state-shape": ("states/0/layers.0.weight", lambda b: torch.zeros(5, 2, 63), "states[0].layers.0.weight"),
    "state-nan": ("states/0/readout.weight", lambda b: torch.full((1, 32), float("nan")), "states[0].readout.weight"),
    "state-text": ("states/0/readout.bias", lambda b: "0.1", "states[0].readout.bias"),
    "state-expanded": ("states/0/layers.0.weight", lambda b: torch.zeros(1).expand(5, 2, 64), "states[0].layers.0.weight "
                       "is not stored whole"),
    "state-huge": ("states/0/readout.weight", lambda b: torch.full((1, 32), 1e30), "states[0].readout.weight run"),
    "indices-expanded": ("graph/indices", lambda b: torch.zeros(1, dtype=torch.int64).expand(10 ** 8),
                         "graph.indices is not stored whole"),
    "item-means-huge": ("item_means", lambda b: torch.full_like(b["item_means"], 1e300), "item_means run"),
    "item-means-zero": ("item_means", lambda b: b["item_means"] * 0, "item_means run"),
    "global-mean-huge": ("global_mean", lambda b: 1e300, "global_mean 1e+300 is not a rating"),
    "config-huge-width": ("config/model/features", lambda b: (10 ** 9, 32), "config.model.features"),
    "config-huge-taps": ("config/model/taps", lambda b: (10 ** 6, 5), "config.model.taps"),
    "config-unknown": ("config/evil", lambda b: 1, "config has unknown fields"),
    "config-target": ("config/target", lambda b: 5000, "config.target"),
    "graph-config-text": ("graph_config/k", lambda b: "ten", "graph neighbours k"),
    "metric-text": ("metrics/valid_rmse", lambda b: "0.88", "metric 'valid_rmse'"),
    "history-text": ("extra/history", lambda b: [[0, "x", 0.9]], "extra.history"),
    "extra-tensor": ("extra/blob", lambda b: torch.zeros(3), "extra.blob"),
    "created-number": ("created", lambda b: 5, "created"),
    "field-missing": ("metrics", lambda b: KeyError, "fields missing"),
}


def crafted(blob: dict, case: str) -> dict:
    field, make, _ = CRAFTED[case]
    out = copy.deepcopy(blob)
    _set(out, field, make(blob))
    return out


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_a_crafted_checkpoint_is_refused_naming_the_field(blob, case, tmp_path):
    write(tmp_path, "bad", crafted(blob, case))
    with pytest.raises(store.StoreError, match="corrupt or not a gnnrec checkpoint") as info:
        store.load("bad", tmp_path, n_movies=N)
    assert CRAFTED[case][2] in str(info.value), str(info.value)
    assert "retrain" in str(info.value) and str(tmp_path) not in str(info.value)


def test_the_unchanged_blob_loads_and_the_data_size_is_checked(blob, tmp_path):
    write(tmp_path, "same", copy.deepcopy(blob))
    ckpt = store.load("same", tmp_path, n_movies=N)
    assert ckpt.predictor.graph.shift.shape == (N, N) and ckpt.metrics == blob["metrics"]
    with pytest.raises(store.StoreError, match="the graph has 1682 movies, the data 1000"):
        store.load("same", tmp_path, n_movies=1000)


def test_the_app_lists_a_crafted_model_as_unusable_with_the_reason(blob, tmp_path, movielens):
    write(tmp_path, "all-movies", copy.deepcopy(blob))
    write(tmp_path, "crafted", crafted(blob, "indices-too-high"))
    infos = {m.name: m for m in catalog.list_models(movielens.fingerprint(), tmp_path)}
    assert infos["all-movies"].ok and not infos["crafted"].ok
    assert "graph.indices run 0..1000000000" in infos["crafted"].error
    assert catalog.default_model(infos.values()) == "all-movies"


def run_models(folder: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "GNNREC_MODELS_DIR": str(folder), "GNNREC_DATA_DIR": str(gnnrec.data.cache_dir())}
    return subprocess.run([sys.executable, "-m", "gnnrec", "models"], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)


def test_models_command_lists_crafted_files_instead_of_crashing(blob, tmp_path):
    """Before the checks, the first of these segfaulted the process (exit -11)."""
    for case in ("indices-too-high", "indices-negative", "indptr-decreasing", "state-shape", "metric-text"):
        write(tmp_path, case, crafted(blob, case))
    write(tmp_path, "good", copy.deepcopy(blob))
    proc = run_models(tmp_path)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    lines = dict(line.split(None, 1) for line in proc.stdout.splitlines())
    assert lines["good"].startswith("target=None preset=all")
    for case in ("indices-too-high", "indices-negative", "indptr-decreasing", "state-shape", "metric-text"):
        assert lines[case].startswith("UNREADABLE") and CRAFTED[case][2] in lines[case], lines[case]
    assert "Traceback" not in proc.stderr


def _mutations(blob: dict, rng: random.Random, n: int) -> list[dict]:
    """Blobs with one random leaf replaced by a random value of another kind."""
    leaves: list[str] = []

    def walk(v, path):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{path}/{k}" if path else str(k))
        elif isinstance(v, list) and path == "states":
            for i, x in enumerate(v):
                walk(x, f"{path}/{i}")
        else:
            leaves.append(path)

    walk(blob, "")
    values = [lambda t: -1, lambda t: 10 ** 12, lambda t: float("inf"), lambda t: None, lambda t: "x", lambda t: [],
              lambda t: torch.zeros(0), lambda t: torch.full((3,), 2 ** 40, dtype=torch.int64),
              lambda t: t * -1 if isinstance(t, torch.Tensor) else t, lambda t: t[:-1] if hasattr(t, "__getitem__")
              and not isinstance(t, (int, float)) else t]
    out = []
    for _ in range(n):
        b = copy.deepcopy(blob)
        path = rng.choice(leaves)
        head, d = path.split("/"), b
        for key in head[:-1]:
            d = d[int(key)] if isinstance(d, list) else d[key]
        old = d[int(head[-1])] if isinstance(d, list) else d[head[-1]]
        _set(b, path, rng.choice(values)(old))
        out.append(b)
    return out


def test_randomly_damaged_checkpoints_never_crash_the_process(blob, tmp_path):
    """60 files, each with one random field replaced (a negative, huge, infinite, empty or wrong-typed
    value, a negated or shortened tensor): ``gnnrec models`` lists every one, loadable or not, and exits 0."""
    for i, b in enumerate(_mutations(blob, random.Random(0), 60)):
        write(tmp_path, f"m{i:02d}", b)
    proc = run_models(tmp_path)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    lines = [line for line in proc.stdout.splitlines() if not line.startswith("ranking/")]  # the ranking GNN's line
    assert sorted(line.split()[0] for line in lines) == [f"m{i:02d}" for i in range(60)]
    assert sum("UNREADABLE" in line for line in lines) >= 30  # most damage is caught (a negated tensor may be fine)


def _claiming(blob: dict, features: tuple, taps: tuple, ensemble: int) -> dict:
    """The committed model with a config claiming ``ensemble`` models of these layers, and weights of
    those shapes that are stride-0 views of one value: the file stays small, the claim is huge."""
    out = copy.deepcopy(blob)
    model = {**out["config"]["model"], "features": features, "taps": taps}
    out["config"] = {**out["config"], "model": model, "ensemble": ensemble}
    widths = (model["in_features"], *features)
    state = {}
    for i, k in enumerate(taps):
        state[f"layers.{i}.weight"] = torch.zeros(1).expand(k, widths[i], widths[i + 1])
        state[f"layers.{i}.bias"] = torch.zeros(1).expand(widths[i + 1])
    state["readout.weight"] = torch.zeros(1).expand(1, widths[-1])
    state["readout.bias"] = torch.zeros(1)
    out["states"] = [dict(state) for _ in range(ensemble)]
    return out


@pytest.mark.parametrize("features, taps, ensemble", [
    ((1024, 1024), (20, 20), 1),  # 42 M weights: 168 MB built by any process listing models
    ((1024,) * 8, (20,) * 8, 16),  # the probe's file: 16 x 168 M weights, 10.7 GB
])
def test_a_small_file_claiming_huge_sizes_is_refused_before_anything_is_built(blob, tmp_path, features, taps,
                                                                              ensemble):
    path = write(tmp_path, "claims", _claiming(blob, features, taps, ensemble))
    assert path.stat().st_size < 1_000_000
    with pytest.raises(store.StoreError, match="weights, over the 500,000 one model may have"):
        store.load("claims", tmp_path, n_movies=N)
    with pytest.raises(store.StoreError, match="over the 500,000"):  # without the data's size too
        store.load("claims", tmp_path)


def test_listing_a_file_claiming_gigabytes_stays_small(blob, tmp_path):
    """``gnnrec models`` over the probe's 10.7 GB claim: listed unreadable, the process's peak memory
    that of an ordinary listing (under 1.5 GB; the file's claim was checked before anything was built)."""
    write(tmp_path, "claims", _claiming(blob, (1024,) * 8, (20,) * 8, 16))
    env = {**os.environ, "GNNREC_MODELS_DIR": str(tmp_path), "GNNREC_DATA_DIR": str(gnnrec.data.cache_dir())}
    code = ("import resource, subprocess, sys; p = subprocess.run([sys.executable, '-m', 'gnnrec', 'models'], "
            "capture_output=True, text=True); print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN)"
            ".ru_maxrss); print(p.stdout)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    head, listing = proc.stdout.split("\n", 1)
    rc, peak_kib = map(int, head.split())
    assert rc == 0 and listing.startswith("claims") and "UNREADABLE" in listing and "over the 500,000" in listing
    assert peak_kib < 1_500_000, peak_kib


def test_the_committed_models_pass_the_value_bounds():
    """Trained weights, item means and global means lie well inside the bounds (no false alarms)."""
    for path in sorted((ROOT / "models").rglob("*.pt")):
        if path.parent.name == "ranking":  # the ranking GNN has its own store (tests/test_topn.py)
            continue
        assert store.load(path.stem, path.parent, n_movies=N).name == path.stem
