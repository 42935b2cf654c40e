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


# -- a results file that lies: refused with a reason, or fully usable by the Compare page ---------------------
def _compare_page_uses(res: dict) -> None:
    """Everything the Compare page computes from a saved result."""
    from gnnrec.app import charts

    summary = results.summary_frame(res)
    charts.rmse_bars(summary)
    results.result_title(res)
    results.split_frame(res)
    charts.prediction_scatter(results.scatter_frame(res, list(summary["model"])))


BAD = {
    "mean-text": (lambda r: r["summary"]["gnn"].__setitem__("mean", "0.05"), "summary"),
    "std-missing": (lambda r: r["summary"]["gnn"].pop("std"), "summary"),
    "mean-nan": (lambda r: r["summary"]["gnn"].__setitem__("mean", float("nan")), "summary"),
    "summary-list": (lambda r: r.__setitem__("summary", {"gnn": [1, 2]}), "summary"),
    "per-split-text": (lambda r: r["summary"]["gnn"].__setitem__("per_split", ["x"]), "summary"),
    "rmse-text": (lambda r: r["splits"][0]["rmse"].__setitem__("gnn", "low"), "rmse"),
    "pred-text": (lambda r: r["splits"][1]["test"][-1]["pred"].__setitem__("knn", "4"), "pred"),
    "user-text": (lambda r: r["splits"][0]["test"][7].__setitem__("user", "7"), "user"),
    "title-number": (lambda r: r.__setitem__("title", 5), "title"),
    "config-list": (lambda r: r.__setitem__("config", [1]), "config"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_result_with_wrong_types_is_refused_naming_the_field(tmp_path, movielens, case):
    from helpers import synthetic_result

    res = synthetic_result(movielens)
    change, field = BAD[case]
    change(res)
    (tmp_path / "bad.json").write_text(json.dumps(res))
    with pytest.raises(results.ResultError, match=field) as info:
        results.load_result(tmp_path / "bad.json", movielens)
    assert str(info.value).startswith("bad.json: ") and str(tmp_path) not in str(info.value)


def test_randomly_damaged_results_are_refused_or_fully_usable(tmp_path, movielens):
    """200 copies of a good result, each with one random value replaced: loading either raises
    ResultError or gives a result every part of the Compare page can draw."""
    from helpers import damaged_loads, synthetic_result

    good = synthetic_result(movielens, splits=2, users=8)
    _compare_page_uses(results.load_result(_write(tmp_path, good), movielens))
    values = [None, "x", -1, 1e308, float("nan"), [], {}, True, 3, 2.5]
    refused = damaged_loads(good, tmp_path / "r.json", movielens, values, 200, _compare_page_uses)
    assert refused > 50  # most damage is caught; the rest is harmless (e.g. a seed changed)


def _write(folder, res) -> object:
    path = folder / "r.json"
    path.write_text(json.dumps(res))
    return path


# -- panels ---------------------------------------------------------------------------------------------------
def test_a_panel_file_is_loaded_and_tabled(tmp_path, movielens):
    from helpers import PANEL_MOVIES, synthetic_panel

    panel = synthetic_panel(movielens)
    res = results.load_result(_write(tmp_path, panel), movielens)
    assert "panel of 6 random movies (at least 100 raters, seed 7)" in results.result_title(res)
    table = results.panel_frame(res)
    assert list(table["movie"]) == list(PANEL_MOVIES)
    assert table.loc[table["movie"] == 127, "title"].item() == "The Godfather (1972)"  # natural titles
    assert list(table["best"]) == ["GNN", "k-NN + baselines"] * 3  # the GNN wins on the even positions
    assert table["ratio"].round(4).tolist() == [round(r["ratio"], 4) for r in panel["rows"]]
    models = results.panel_models_frame(res)
    assert dict(zip(models["model"], models["wins"])) == {"gnn": 3, "knn_baseline": 3, "knn": 0, "item_mean": 0}
    assert models["mean"].is_monotonic_increasing
    ratios = results.panel_ratios(res)
    assert ratios["below"] == 3 == panel["summary"]["gnn_below_reference"] and ratios["n"] == 6
    assert ratios["median"] == pytest.approx(panel["summary"]["ratio_median"])
    one = results.panel_movie(res, 98)
    assert one["target"] == 98 and all("rating" in r for s in one["splits"] for r in s["test"])  # ratings joined
    assert results.panel_movie(res, 50) is None


@pytest.mark.parametrize("name", ["panel-1000.json", "panel-1001.json", "panel-1002.json"])
def test_the_pages_panel_summary_is_the_panels_own(name):
    """The Compare page's model table and ratios are gnnrec.panels' summary, number for number: the
    one the committed file holds (written by ``evaluate --panel``) and the one computed again."""
    from gnnrec import panels

    res = json.loads((results.results_dir() / name).read_text())
    for summary in (res["summary"], panels.panel_summary(res["rows"])):
        models = results.panel_models_frame(res)
        assert dict(zip(models["model"], models["mean"])) == summary["mean_rmse"]
        assert dict(zip(models["model"], models["wins"])) == summary["wins"]
        ratios = results.panel_ratios(res)
        assert (ratios["n"], ratios["below"], ratios["mean"], ratios["median"]) == (
            summary["movies"], summary["gnn_below_reference"], summary["ratio_mean"], summary["ratio_median"])


@pytest.mark.parametrize("change, field", [
    (lambda p: p.__setitem__("rows", []), "no 'rows'"),
    (lambda p: p["rows"][1].__setitem__("movie", "181"), "row 2 lacks"),
    (lambda p: p["rows"][0]["rmse"].__setitem__("gnn", "low"), "row 1's 'rmse'"),
    (lambda p: p["rows"][0].__setitem__("best", "svd"), "'best' is not one of its models"),
    (lambda p: p["rows"][0].__setitem__("ratio", "1.1"), "'ratio' is not a number"),
    (lambda p: p["results"].pop(), "one target evaluation per row"),
    (lambda p: p["results"][2]["splits"][0]["test"][0].__setitem__("user", None), "the result of row 3"),
    (lambda p: p.setdefault("config", {}).__setitem__("reference", []), "'reference' is not a model name"),
], ids=["no-rows", "movie-text", "rmse-text", "best-unknown", "ratio-text", "results-short", "result-damaged",
        "reference-list"])
def test_a_damaged_panel_is_refused_naming_the_field(tmp_path, movielens, change, field):
    from helpers import synthetic_panel

    panel = synthetic_panel(movielens)
    change(panel)
    with pytest.raises(results.ResultError, match=field):
        results.load_result(_write(tmp_path, panel), movielens)


@pytest.mark.integration
def test_every_committed_result_loads_rescores_and_holds_no_ratings(movielens, monkeypatch):
    """The files in results/ are what the Compare page offers first: each is valid, its summary is
    what its predictions (or lists) score against the real ratings, and no rating is stored in it."""
    from gnnrec import evaluate

    monkeypatch.delenv("GNNREC_RESULTS_DIR", raising=False)
    files = list(results.result_files())
    assert {"panel-1000.json", "panel-1001.json", "star-wars-seed.json", "topn-1-3.json"} <= {p.name for p in files}
    for path in files:
        res = results.load_result(path)
        assert '"rating"' not in path.read_text(), path.name
        if res["task"] == "topn":
            _topn_rescores_and_holds_no_ratings(res, movielens)
            continue
        blocks = res["results"] if res.get("task") == "panel" else [res]
        for block in blocks[:3]:
            again = evaluate.rescore(block, movielens)
            for stored, split in zip(block["splits"], again["splits"], strict=True):
                assert split["rmse"] == pytest.approx(stored["rmse"], abs=1e-9), path.name


def _topn_rescores_and_holds_no_ratings(res: dict, movielens) -> None:
    """Every split's stored metrics are what its lists score against the real ratings; the file
    holds pairs (user, movie), never a third value (a rating)."""
    from gnnrec.topn import protocol

    again = protocol.rescore(res, movielens)
    for split in res["splits"]:
        assert {len(p) for p in split["test_pairs"]} == {2} and all(type(v) is int for p in split["test_pairs"] for v in p)
        assert set(again[split["seed"]]) == set(split["metrics"]) == set(res["summary"])
        for model, stored in split["metrics"].items():
            assert again[split["seed"]][model] == pytest.approx(stored, abs=1e-9), (split["seed"], model)


# -- hostile files in results/: each refused by name, none read without bound, none waited on --------------------
def hostile(folder) -> dict:
    """Real faults, as anyone with write access to the folder could leave them: ``{file: why}``."""
    import os

    os.mkfifo(folder / "fifo.json")  # no writer: opening it for reading used to block for good
    (folder / "zero.json").symlink_to("/dev/zero")  # endless: used to be read until memory ran out
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "digits.json").write_text('{"task": "target", "target": ' + "9" * 5000 + "}")
    (folder / "digits30.json").write_text(json.dumps(result())[:-1] + ', "target2": ' + "9" * 30 + "}")
    with open(folder / "big.json", "w") as f:  # valid JSON, one byte over the limit
        f.write('{"task": "target", "pad": "' + "x" * (results.safe_read.MAX_FILE_BYTES - 28) + '"}')
    return {"fifo.json": "is not a regular file", "zero.json": "is not a regular file",
            "deep.json": "nested too deep", "digits.json": "5000-digit integer", "digits30.json": "30-digit integer",
            "big.json": "over the 20,000,000-byte limit"}


def test_hostile_results_files_are_refused_without_reading_them_whole(tmp_path):
    import threading

    whys = hostile(tmp_path)
    assert (tmp_path / "big.json").stat().st_size == results.safe_read.MAX_FILE_BYTES + 1
    for name, why in whys.items():
        out: list = []

        def load(name=name, out=out):
            try:
                results.load_result(tmp_path / name)
            except Exception as e:  # noqa: BLE001  the type is checked below
                out.append(e)

        t = threading.Thread(target=load, daemon=True)  # a FIFO would block forever: never join it unbounded
        t.start()
        t.join(60)
        assert not t.is_alive(), f"{name}: still reading (blocked)"
        assert len(out) == 1 and isinstance(out[0], results.ResultError), (name, out)
        assert str(out[0]).startswith(name) and why in str(out[0]), (name, str(out[0]))


def test_a_large_panel_is_checked_with_one_lookup_of_the_data(tmp_path, movielens, monkeypatch):
    """A panel's results each need the true ratings: the data's fingerprint and rating matrix are made
    once per file, not once per result (a 10 MB file of many results took 397 s of CPU)."""
    from helpers import synthetic_panel

    panel = synthetic_panel(movielens, splits=1, users=2)
    n = len(panel["rows"])
    panel["rows"], panel["results"] = panel["rows"] * 50, panel["results"] * 50
    (tmp_path / "many.json").write_text(json.dumps(panel))
    calls = {"fingerprint": 0, "matrix": 0}
    for name in calls:
        real = getattr(type(movielens), name)
        monkeypatch.setattr(type(movielens), name,
                            lambda self, *a, _n=name, _f=real: calls.__setitem__(_n, calls[_n] + 1) or _f(self, *a))
    res = results.load_result(tmp_path / "many.json", movielens)
    assert len(res["results"]) == 50 * n and all("rating" in r for r in res["results"][-1]["splits"][0]["test"])
    assert calls == {"fingerprint": 1, "matrix": 1}
