"""Tests for gnnrec.store: save/load roundtrips on disk, safe loading (no pickled code), corrupt,
missing and mismatching files, model names that could leave the folder, atomic saves, and the
committed models."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gnnrec import store
from gnnrec.gnn import GNNPredictor, GNNPredictorConfig
from gnnrec.graph import GraphConfig, ItemGraph
from gnnrec.models import GNNConfig
from gnnrec.store import StoreError
from gnnrec.train import TrainConfig

REPO_MODELS = Path(__file__).resolve().parent.parent / "models"
FP = "0123456789abcdef"


def synthetic_ratings(seed: int = 0, users: int = 40, movies: int = 10) -> np.ndarray:
    """Ratings from one latent taste; every user rated movie 0 (the target)."""
    rng = np.random.default_rng(seed)
    taste = rng.normal(size=(users, 1))
    load = rng.uniform(-1, 1, size=(1, movies))
    x = np.clip(np.round(3 + 1.2 * taste * load + 0.4 * rng.normal(size=(users, movies))), 1, 5)
    x[rng.random((users, movies)) < 0.4] = 0
    x[:, 0] = np.clip(np.round(3 + taste[:, 0]), 1, 5)
    return x.astype(np.float32)


def tiny_predictor(target: int | None) -> tuple[GNNPredictor, np.ndarray]:
    x = synthetic_ratings()
    cfg = GNNPredictorConfig(model=GNNConfig(features=(4,), taps=(2,)),
                             train=TrainConfig(epochs=1, batch_size=8, valid_every=2),
                             encoding="centered", target=target)
    return GNNPredictor(cfg).fit(x, ItemGraph.build(x, GraphConfig(k=3))), x


@pytest.fixture(scope="module", params=[0, None], ids=["target", "all-movies"])
def fitted(request):
    return tiny_predictor(request.param)


@pytest.fixture(scope="module")
def target_model():
    return tiny_predictor(0)[0]


class Payload:
    """Unpickling this runs code: it writes a marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "code ran"))


# -- roundtrip ------------------------------------------------------------------------------------
def test_roundtrip_reproduces_predictions(fitted, tmp_path):
    pred, x = fitted
    path = store.save(pred, "tiny", metrics={"rmse": 0.9}, data_fingerprint=FP, extra={"k": [1, 2]},
                      folder=tmp_path)
    assert path == tmp_path / "tiny.pt" and path.is_file()
    ckpt = store.load("tiny", tmp_path, data_fingerprint=FP)
    assert ckpt.name == "tiny" and ckpt.metrics == {"rmse": 0.9} and ckpt.extra == {"k": [1, 2]}
    assert ckpt.data_fingerprint == FP and ckpt.created
    assert ckpt.config == pred.config
    assert ckpt.graph_config == pred.graph.config
    assert (ckpt.predictor.graph.shift != pred.graph.shift).nnz == 0
    np.testing.assert_array_equal(ckpt.predictor.item_means, pred.item_means)
    assert ckpt.predictor.global_mean == pred.global_mean
    before, after = pred.predict(x), ckpt.predictor.predict(x)
    np.testing.assert_array_equal(after.values, before.values)
    np.testing.assert_array_equal(after.fallback, before.fallback)
    if pred.config.target is not None:  # the fast path of a target model too
        t = [pred.config.target]
        np.testing.assert_array_equal(ckpt.predictor.predict(x, t).values, pred.predict(x, t).values)
    # and the loaded weights are not all zero: the check above could fail
    assert any(float(p.detach().abs().sum()) > 0 for p in ckpt.predictor.models[0].parameters())


def test_file_loads_with_weights_only(target_model, tmp_path):
    path = store.save(target_model, "plain", metrics={}, data_fingerprint=FP, folder=tmp_path)
    blob = torch.load(path, weights_only=True)  # tensors and plain values only
    assert blob["format"] == store.FORMAT and blob["version"] == store.VERSION
    assert blob["data_fingerprint"] == FP


def test_a_copied_or_renamed_file_reports_its_file_name(target_model, tmp_path):
    path = store.save(target_model, "original", metrics={}, data_fingerprint=FP, extra={"k": 1}, folder=tmp_path)
    (tmp_path / "copy.pt").write_bytes(path.read_bytes())
    path.rename(tmp_path / "renamed.pt")
    for name in ("copy", "renamed"):
        ckpt = store.load(name, tmp_path)
        assert ckpt.name == name and ckpt.extra == {"k": 1, "saved_as": "original"}
    raw = (tmp_path / "copy.pt").read_bytes()
    assert store.from_bytes(raw, "other").name == "other"
    assert store.from_bytes(raw).name == "original" and "saved_as" not in store.from_bytes(raw).extra


def test_overwrite_and_list_names(target_model, tmp_path):
    assert store.list_names(tmp_path) == []
    assert store.list_names(tmp_path / "absent") == []
    store.save(target_model, "b-model", metrics={"v": 1}, data_fingerprint=FP, folder=tmp_path)
    store.save(target_model, "a.model_2", metrics={"v": 1}, data_fingerprint=FP, folder=tmp_path)
    store.save(target_model, "b-model", metrics={"v": 2}, data_fingerprint=FP, folder=tmp_path)
    (tmp_path / ".hidden.pt").write_bytes(b"x")
    assert store.list_names(tmp_path) == ["a.model_2", "b-model"]
    assert store.load("b-model", tmp_path).metrics == {"v": 2}
    store.delete("b-model", tmp_path)
    assert store.list_names(tmp_path) == ["a.model_2"]


def test_unfitted_predictor_refused(tmp_path):
    with pytest.raises(StoreError, match="fit it before saving"):
        store.save(GNNPredictor(), "x", metrics={}, data_fingerprint=FP, folder=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_models_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("GNNREC_MODELS_DIR", str(tmp_path))
    assert store.models_dir() == tmp_path
    monkeypatch.delenv("GNNREC_MODELS_DIR")
    assert store.models_dir() == REPO_MODELS


# -- unsafe, corrupt, missing, mismatching --------------------------------------------------------
def test_pickled_code_is_not_run(tmp_path):
    marker = tmp_path / "marker.txt"
    buf = io.BytesIO()
    torch.save({"format": store.FORMAT, "version": store.VERSION, "evil": Payload(marker)}, buf)
    (tmp_path / "evil.pt").write_bytes(buf.getvalue())
    with pytest.raises(StoreError, match="corrupt or not a gnnrec checkpoint"):
        store.load("evil", tmp_path)
    assert not marker.exists(), "loading a model must never run pickled code"
    # control: what an unpickler would call does run code (called directly; nothing is unpickled)
    fn, args = Payload(marker).__reduce__()
    fn(*args)
    assert marker.read_text() == "code ran"


def test_plain_object_pickle_rejected(tmp_path):
    buf = io.BytesIO()
    torch.save(Payload(tmp_path / "m"), buf)
    with pytest.raises(StoreError):
        store.from_bytes(buf.getvalue(), "x")
    assert not (tmp_path / "m").exists()


def test_truncated_file(target_model, tmp_path):
    path = store.save(target_model, "cut", metrics={}, data_fingerprint=FP, folder=tmp_path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(StoreError, match="corrupt") as info:
        store.load("cut", tmp_path)
    assert "retrain" in str(info.value)


@pytest.mark.parametrize("blob, message", [
    ({"format": "other"}, "not a gnnrec checkpoint"),
    ([1, 2, 3], "not a gnnrec checkpoint"),
    ({"format": store.FORMAT, "version": 99}, "version 99"),
    ({"format": store.FORMAT, "version": store.VERSION}, "corrupt"),  # fields missing
])
def test_not_a_checkpoint(tmp_path, blob, message):
    buf = io.BytesIO()
    torch.save(blob, buf)
    (tmp_path / "odd.pt").write_bytes(buf.getvalue())
    with pytest.raises(StoreError, match=message):
        store.load("odd", tmp_path)


def test_garbage_bytes(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"\x00not a zip at all" * 10)
    with pytest.raises(StoreError, match="corrupt"):
        store.load("junk", tmp_path)


def test_oversized_file_refused(target_model, tmp_path, monkeypatch):
    path = store.save(target_model, "big", metrics={}, data_fingerprint=FP, folder=tmp_path)
    monkeypatch.setattr(store, "MAX_BYTES", path.stat().st_size - 1)
    with pytest.raises(StoreError, match="over the"):
        store.load("big", tmp_path)


def test_missing_lists_available(target_model, tmp_path):
    with pytest.raises(StoreError, match=r"available: none"):
        store.load("ghost", tmp_path)
    store.save(target_model, "alpha", metrics={}, data_fingerprint=FP, folder=tmp_path)
    store.save(target_model, "beta", metrics={}, data_fingerprint=FP, folder=tmp_path)
    with pytest.raises(StoreError, match=r"no model 'ghost'.*available: alpha, beta") as info:
        store.load("ghost", tmp_path)
    assert "python -m gnnrec train --name ghost" in str(info.value)


def test_fingerprint_mismatch(target_model, tmp_path):
    store.save(target_model, "m", metrics={}, data_fingerprint=FP, folder=tmp_path)
    with pytest.raises(StoreError, match=rf"trained on data {FP}.*loaded data is fedcba9876543210"):
        store.load("m", tmp_path, data_fingerprint="fedcba9876543210")
    assert store.load("m", tmp_path, data_fingerprint=FP).data_fingerprint == FP
    assert store.load("m", tmp_path).data_fingerprint == FP  # no check asked


# -- names ----------------------------------------------------------------------------------------
BAD_NAMES = ["../evil", "a/b", "a\\b", "..", "a..b", ".hidden", "-dash", "", "x" * 65, "/abs", "a b",
             "name\n", "ü", None, 5]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_bad_names_rejected(target_model, tmp_path, name):
    folder = tmp_path / "models"
    folder.mkdir()
    with pytest.raises(StoreError, match="not allowed"):
        store.save(target_model, name, metrics={}, data_fingerprint=FP, folder=folder)
    with pytest.raises(StoreError, match="not allowed"):
        store.load(name, folder)
    with pytest.raises(StoreError, match="not allowed"):
        store.delete(name, folder)
    assert [p for p in tmp_path.rglob("*") if p != folder] == []  # nothing written anywhere


@pytest.mark.parametrize("name", ["a", "x" * 64, "all-movies", "target-50-best", "v1.2_b"])
def test_good_names(name):
    assert store.check_name(name) == name
    assert store.path_for(name, Path("/m")) == Path("/m") / f"{name}.pt"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_no_model_name_leaves_the_models_folder(name):
    """Any text either is refused with StoreError or names a ``.pt`` file directly inside the folder."""
    folder = Path("/srv/app/models")
    try:
        path = store.path_for(name, folder)
    except StoreError as e:
        assert "not allowed" in str(e)
        return
    assert path.parent == folder and path.name == f"{name}.pt"
    assert os.path.normpath(path) == str(path) and "/" not in name and "\\" not in name and not name.startswith(".")


# -- atomic save ----------------------------------------------------------------------------------
def test_save_is_atomic(target_model, tmp_path, monkeypatch):
    path = store.save(target_model, "m", metrics={"v": 1}, data_fingerprint=FP, folder=tmp_path)
    old = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("no space left")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(StoreError, match="could not save model 'm'.*no space left"):
        store.save(target_model, "m", metrics={"v": 2}, data_fingerprint=FP, folder=tmp_path)
    with pytest.raises(StoreError, match="unchanged"):
        store.save(target_model, "new", metrics={}, data_fingerprint=FP, folder=tmp_path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"], "no temporary files left behind"
    assert store.load("m", tmp_path).metrics == {"v": 1}


# -- the committed models -------------------------------------------------------------------------
@pytest.mark.integration
def test_committed_all_movies_model(movielens):
    ckpt = store.load("all-movies", REPO_MODELS, data_fingerprint=movielens.fingerprint())
    assert ckpt.config.target is None  # an all-movies model
    assert ckpt.predictor.graph.shift.shape == (1682, 1682)
    assert ckpt.predictor.item_means.shape == (1682,)
    assert ckpt.extra.get("task") == "all"
    x = movielens.matrix()[:3]
    p = ckpt.predictor.predict(x)
    assert p.values.shape == (3, 1682) and np.isfinite(p.values).all()
    assert 0 < (~p.fallback).mean()  # the GNN predicts (not only falls back)


@pytest.mark.integration
@pytest.mark.parametrize("name", store.list_names(REPO_MODELS))
def test_every_committed_model_loads(movielens, name):
    ckpt = store.load(name, REPO_MODELS, data_fingerprint=movielens.fingerprint())
    assert ckpt.predictor.models
    assert (REPO_MODELS / f"{name}.pt").stat().st_size <= store.MAX_BYTES


@pytest.mark.integration
def test_recommender_refuses_a_model_whose_graph_is_not_the_datas(movielens, tmp_path, monkeypatch):
    """A checkpoint claiming the real data's fingerprint but holding a 10-movie graph is refused
    when loaded, not when the first recommendation indexes past its graph."""
    from gnnrec.recommender import Recommender

    pred, _ = tiny_predictor(None)
    store.save(pred, "small", metrics={"valid_rmse": 1.0}, data_fingerprint=movielens.fingerprint(), folder=tmp_path)
    monkeypatch.setenv("GNNREC_MODELS_DIR", str(tmp_path))
    with pytest.raises(StoreError, match="the graph has 10 movies, the data 1682"):
        Recommender.load("small", data=movielens)
