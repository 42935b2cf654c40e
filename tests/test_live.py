"""gnnrec.app.live: bounds on training requests, new model names, a tiny real training (saved, listed,
usable; never overwriting), cancel, bounded and cached live evaluation, training histories."""

from __future__ import annotations

import numpy as np
import pytest

from gnnrec import data as data_mod
from gnnrec import store
from gnnrec.app import catalog, live
from gnnrec.train import Cancelled


@pytest.fixture(scope="module")
def data():
    return data_mod.load()


# -- training requests and names ---------------------------------------------------------------------------
def test_train_spec_bounds():
    assert live.TrainSpec().problems() == []
    bad = live.TrainSpec(taps=(7, 0), widths=(65, 3), k=41, epochs=11, lr=0.5, batch_size=7, seed=-1)
    text = " ".join(bad.problems())
    for word in ("taps of layer 1", "taps of layer 2", "width of layer 1", "width of layer 2", "k is 41",
                 "epochs is 11", "learning rate", "batch size is 7", "seed is -1"):
        assert word in text
    assert "layers" in " ".join(live.TrainSpec(taps=(2,) * 4, widths=(4,) * 4).problems())
    assert "layers" in " ".join(live.TrainSpec(taps=(2, 2), widths=(4,)).problems())
    assert "never look at the graph" in " ".join(live.TrainSpec(taps=(1,), widths=(4,)).problems())
    assert live.TrainSpec(lr=float("nan")).problems() and live.TrainSpec(epochs=2.5).problems()
    with pytest.raises(ValueError, match="epochs"):
        live.TrainSpec(epochs=0).check()
    # at the bounds: within them; the largest only over the time budget (tests/test_job_limits.py)
    top = live.TrainSpec(taps=(6, 6, 6), widths=(64, 64, 4), k=40, epochs=10, lr=0.05, batch_size=64)
    assert len(top.problems()) == 1 and "budget" in top.problems()[0]
    assert live.TrainSpec(taps=(6, 6, 6), widths=(64, 64, 4), k=40, epochs=1, lr=0.05, batch_size=64).problems() == []
    assert live.TrainSpec(taps=(2,), widths=(4,), k=5, epochs=1, lr=1e-4, batch_size=8).problems() == []


def _spec(key, value) -> live.TrainSpec:
    """A valid small spec with one hyperparameter set to ``value``."""
    if key == "layers":
        return live.TrainSpec(taps=(2,) * value, widths=(4,) * value)
    if key in ("taps", "width"):
        return live.TrainSpec(taps=(value, 2) if key == "taps" else (2, 2), widths=(value, 4) if key == "width" else (4, 4))
    return live.TrainSpec(**{key: value})


def _past(lo, hi):
    if isinstance(lo, float) or isinstance(hi, float):
        return [lo / 2, hi * 2, float("inf"), float("nan")]
    return [lo - 1, hi + 1]


@pytest.mark.parametrize("key", sorted(live.LIMITS))
def test_each_hyperparameter_at_and_past_its_bounds(key):
    """At a bound: accepted. Past it: refused, the message naming the value given and the range."""
    lo, hi = live.LIMITS[key]
    for v in (lo, hi):
        assert _spec(key, v).problems() == [], (key, v)
        _spec(key, v).check()
    for v in _past(lo, hi):
        if key == "layers" and v < 1:
            spec = live.TrainSpec(taps=(), widths=())
        else:
            spec = _spec(key, v)
        with pytest.raises(ValueError) as e:
            spec.check()
        text = str(e.value)
        shown = str(len(spec.taps)) if key == "layers" else repr(v)
        rng = f"{lo:g}-{hi:g}" if key == "lr" else f"{lo}-{hi}"
        assert shown in text and rng in text, (key, v, text)


@pytest.mark.parametrize("value", [True, "5", 5.0, None])
def test_hyperparameters_of_the_wrong_type_are_refused(value):
    assert live.TrainSpec(k=value).problems() and live.TrainSpec(epochs=value).problems()
    assert live.TrainSpec(taps=(value, 2), widths=(4, 4)).problems()


def test_start_training_refuses_out_of_bounds_and_bad_names_before_starting(tmp_path):
    from gnnrec.app import jobs

    with pytest.raises(ValueError, match=r"epochs is 11; use a whole number 1-10"):
        live.start_training(None, live.TrainSpec(epochs=11), "ok", folder=tmp_path)
    with pytest.raises(store.StoreError, match="not allowed"):
        live.start_training(None, live.TrainSpec(), "../../outside", folder=tmp_path)
    assert jobs.HEAVY.current is None and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "-x", "", "x" * 65, "a..b", "con\x00", "ü"])
def test_new_model_names_cannot_escape_the_store(name, tmp_path):
    with pytest.raises(store.StoreError, match="not allowed"):
        live.check_new_name(name, tmp_path)


def test_new_model_name_must_be_new(tmp_path):
    (tmp_path / "taken.pt").write_bytes(b"x")
    with pytest.raises(store.StoreError, match="exists already"):
        live.check_new_name("taken", tmp_path)
    assert live.check_new_name(" fresh-1 ", tmp_path) == "fresh-1"


def test_tiny_training_saves_a_loadable_all_movies_model(data, tmp_path):
    events = []
    spec = live.TrainSpec(taps=(2,), widths=(4,), k=5, epochs=1, lr=0.01, batch_size=64)
    out = live.train_model(data, spec, "tiny", on_progress=events.append, folder=tmp_path)
    assert out["name"] == "tiny" and (tmp_path / "tiny.pt").is_file()
    assert events and events[-1].step == events[-1].total_steps
    assert np.isfinite(out["metrics"]["valid_rmse"])
    [info] = catalog.list_models(data.fingerprint(), tmp_path)
    assert info.ok and info.all_movies and info.graph["k"] == 5 and tuple(info.config["model"]["features"]) == (4,)
    assert info.extra["made_by"] == "app" and info.history
    rec = catalog.load_recommender("tiny", data, tmp_path)
    assert len(rec.recommend({50: 5}).top["gnn"]) == 10
    with pytest.raises(store.StoreError, match="exists already"):  # never overwritten
        live.train_model(data, spec, "tiny", folder=tmp_path)


def test_cancelled_training_saves_nothing(data, tmp_path):
    with pytest.raises(Cancelled):
        live.train_model(data, live.TrainSpec(), "nope", cancel=lambda: True, folder=tmp_path)
    assert not list(tmp_path.iterdir())


# -- live evaluation -------------------------------------------------------------------------------------
def test_live_evaluation_requests_are_bounded(data):
    live.check_eval_request(data, 50, 1, "best")
    for args, message in (((50, 4, "best"), "splits=4"), ((50, 0, "best"), "splits=0"), ((50, 1, "all"), "preset"),
                          ((1682, 1, "best"), "at least 20"), ((0, 1, "best"), "unknown movie")):
        with pytest.raises(ValueError, match=message):
            live.check_eval_request(data, *args)


def test_evaluation_job_runs_in_a_child_process_and_is_cached(data, monkeypatch):
    monkeypatch.setattr(live, "_eval_results", {})
    job = live.start_evaluation(data, 50, 1, "best")  # real: one split of the seed protocol
    assert job.events()[0].stage == "starting"  # at once, before the worker process has started
    assert job.wait(300) and job.state == "done", job.error
    events = job.events()
    stages = list(dict.fromkeys(e.stage for e in events))
    assert stages == ["starting", "graph", "gnn", "linear", "knn_baseline", "done"], stages
    gnn = [e.done for e in events if e.stage == "gnn"]
    assert len(gnn) >= 3 and gnn == sorted(gnn) and gnn[-1] == 1.0  # the GNN's training, as it goes
    assert [e.t for e in events] == sorted(e.t for e in events)
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    summary = job.result["summary"]
    rmse = events[-1].rmse  # the split's progress event, sent by the child as it finished
    assert set(rmse) == set(summary) and all(rmse[m] == pytest.approx(s["mean"], abs=1e-5) for m, s in summary.items())
    assert 0.3 < summary["gnn"]["mean"] < 1.5
    assert live.cached_evaluation(live.eval_key(data.fingerprint(), 50, 1, "best")) is job.result


def test_history_frames():
    from gnnrec.train import Progress

    h = live.history_frame([Progress(0, 5, 10, 0.4, 1.0, 1.0), "not progress"])
    assert list(h["step"]) == [5] and list(h["epoch"]) == [1]
    assert list(live.history_table([[0, float("nan"), 1.1], [27, 0.4, 1.0]])["valid RMSE"]) == [1.1, 1.0]


def _old_configs(spec: live.TrainSpec):
    """TrainSpec.configs as written before it called presets.customise (kept as the reference)."""
    import dataclasses
    import math

    from gnnrec.gnn import GNNPredictorConfig
    from gnnrec.models import GNNConfig
    from gnnrec.presets import PRESETS
    from gnnrec.train import TrainConfig

    base = PRESETS["all"]
    valid_every = max(1, math.ceil(spec.steps() / 10))
    cfg = GNNPredictorConfig(
        model=GNNConfig(features=tuple(int(w) for w in spec.widths), taps=tuple(int(t) for t in spec.taps)),
        train=TrainConfig(epochs=int(spec.epochs), batch_size=int(spec.batch_size), lr=float(spec.lr),
                          valid_every=valid_every, seed=int(spec.seed), loss=base.predictor.train.loss),
        encoding=base.predictor.encoding, item_damping=base.predictor.item_damping,
        user_damping=base.predictor.user_damping)
    return cfg, dataclasses.replace(base.graph, k=int(spec.k))


@pytest.mark.parametrize("spec", [
    live.TrainSpec(),
    live.TrainSpec(taps=(3,), widths=(16,), k=5, epochs=1, lr=0.01, batch_size=8, seed=7),
    live.TrainSpec(taps=(2, 4, 6), widths=(8, 32, 64), k=40, epochs=10, lr=1e-4, batch_size=64, seed=999_999),
    live.TrainSpec(taps=(np.int64(4), 2), widths=(np.int64(24), 12), k=np.int64(15), epochs=3, lr=0.05, batch_size=16),
], ids=["default", "one-layer", "three-layers", "numpy-ints"])
def test_train_spec_configs_are_the_customised_all_preset(spec):
    assert spec.configs() == _old_configs(spec)
    cfg, graph = spec.configs()
    assert cfg.train.valid_every == max(1, -(-spec.steps() // 10)) and graph.k == spec.k
    assert all(type(v) is int for v in (*cfg.model.features, *cfg.model.taps, graph.k, cfg.train.epochs))  # store_check: ints
