"""gnnrec.app.results: saved evaluation files checked (bad ones named), and the Compare page's tables."""

from __future__ import annotations

import json

import pytest

from gnnrec.app import results


# -- evaluation results ----------------------------------------------------------------------------------------
def result(splits: int = 2) -> dict:
    out = []
    for s in range(splits):
        test = [{"user": u, "movie": 50, "rating": 4.0, "pred": {"gnn": 4.0 + 0.1 * s, "knn": 3.5}} for u in range(5)]
        out.append({"seed": s, "test": test, "rmse": {"gnn": 0.1 * s, "knn": 0.5}, "best_step": 3})
    return {"task": "target", "target": 50, "title": "Star Wars (1977)", "splits": out,
            "summary": {"gnn": {"mean": 0.05, "std": 0.05, "per_split": [0, 0.1]},
                        "knn": {"mean": 0.5, "std": 0.0, "per_split": [0.5, 0.5]}}}


def test_result_frames():
    r = result()
    s = results.summary_frame(r)
    assert list(s["model"]) == ["gnn", "knn"] and list(s["label"]) == ["GNN", "k-NN"]
    sp = results.split_frame(r)
    assert list(sp["split"]) == [1, 2] and "GNN best step" in sp.columns
    sc = results.scatter_frame(r, ["gnn"])
    assert len(sc) == 10 and set(sc["model"]) == {"gnn"}


def test_result_files_are_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("GNNREC_RESULTS_DIR", str(tmp_path))
    (tmp_path / "good.json").write_text(json.dumps(result()))
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "other.json").write_text(json.dumps({"task": "all", "splits": []}))
    (tmp_path / "empty.json").write_text(json.dumps({"task": "target", "splits": []}))
    files = {p.name: p for p in results.result_files()}
    assert set(files) == {"good.json", "bad.json", "other.json", "empty.json"}
    assert results.load_result(files["good.json"])["target"] == 50
    for name, message in (("bad.json", "cannot be read"), ("other.json", "not a target"), ("empty.json", "no splits")):
        with pytest.raises(results.ResultError, match=message):
            results.load_result(files[name])
