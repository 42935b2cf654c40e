"""gnnrec.service: ratings files and links, bounds on training requests, model names, the model
list, explanations, neighbourhoods, evaluation results, background jobs and a tiny real training."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from gnnrec import data as data_mod
from gnnrec import jobs, service, store
from gnnrec.train import Cancelled


@pytest.fixture(scope="module")
def data():
    return data_mod.load()


@pytest.fixture(scope="module")
def rec(data):
    return service.load_recommender("all-movies", data, store.models_dir())


# -- CSV import / export ------------------------------------------------------------------------------------
def test_csv_round_trip(data):
    ratings = {50: 5, 181: 4, 1: 2.5}
    raw = service.ratings_to_csv(data, ratings)
    assert raw.decode().splitlines()[0] == "movie,title,rating"
    assert service.parse_ratings_csv(raw) == ratings


def test_csv_accepts_bom_extra_columns_and_blank_lines():
    raw = "\ufeffTitle,Movie_ID,Rating,comment\nA,50,5,great\n\n B ,181, 4 ,\n".encode()
    assert service.parse_ratings_csv(raw) == {50: 5, 181: 4}


@pytest.mark.parametrize("raw, message", [
    (b"", "empty"),
    (b"movie,rating\n", "no ratings"),
    (b"film,score\n50,5\n", "wrong columns"),
    (b"movie;rating\n50;5\n", "use commas"),
    (b"movie,rating\n0,5\n", "unknown movie id 0"),
    (b"movie,rating\n1683,5\n", "unknown movie id 1683"),
    (b"movie,rating\nfifty,5\n", "not a whole number"),
    (b"movie,rating\n50,0\n", "outside 1-5"),
    (b"movie,rating\n50,5.5\n", "outside 1-5"),
    (b"movie,rating\n50,nan\n", "outside 1-5"),
    (b"movie,rating\n50,\n", "not a number"),
    (b"movie,rating\n50,5\n50,4\n", "rated twice"),
    (b"movie,rating\n" + b"1,5\n" * 2001, "limit is 2,000"),
    (b"m" * (service.MAX_IMPORT_BYTES + 1), "limit is 1 MB"),
    (b"\xff\xfe\x00m\x00o", "not UTF-8"),
    (b"movie,rating\n\x0050,5", "binary"),
])
def test_bad_csv_is_refused_with_a_reason(raw, message):
    with pytest.raises(service.RatingsError, match=message):
        service.parse_ratings_csv(raw)


def test_csv_is_all_or_nothing_and_lists_several_problems():
    with pytest.raises(service.RatingsError) as e:
        service.parse_ratings_csv(b"movie,rating\n50,5\n9999,4\n181,9\n")
    assert "line 3" in str(e.value) and "line 4" in str(e.value) and "nothing imported" in str(e.value)


def test_export_defuses_spreadsheet_formulas(data, monkeypatch):
    monkeypatch.setattr(type(data), "title", lambda self, m: "=HYPERLINK(\"x\")")
    line = service.ratings_to_csv(data, {50: 5}).decode().splitlines()[1]
    assert "'=HYPERLINK" in line


# -- share links ------------------------------------------------------------------------------------------
def test_share_round_trip():
    ratings = {50: 5, 181: 4, 7: 3.5}
    assert service.parse_share(service.encode_share(ratings)) == (ratings, [])


def test_share_keeps_good_pairs_and_names_bad_ones():
    got, problems = service.parse_share("50:5,,181:4,x:1,9999:3,1:0,2,50:1,3:inf")
    assert got == {50: 5, 181: 4}
    assert len(problems) == 1 and "ignored 6 bad entries" in problems[0]


def test_share_refuses_huge_values():
    got, problems = service.parse_share("1:5," * 2000)
    assert got == {} and "characters long" in problems[0]


def test_read_query_names_unknown_and_hostile_parameters():
    ratings, model, problems = service.read_query(
        {"r": ["50:5"], "model": "../../secrets", "x": "<script>", "embed": "true"})
    assert ratings == {50: 5} and model is None
    text = " ".join(problems)
    assert "'model'" in text and "unknown link parameter 'x'" in text and "embed" not in text
    assert service.read_query({"model": "all-movies"})[1] == "all-movies"


def test_user_ratings(data):
    r = service.user_ratings(data, 1)
    assert len(r) == 272 and all(1 <= v <= 5 for v in r.values())
    for bad in (0, 944, "x", None, 1.5):
        with pytest.raises(ValueError, match="user"):
            service.user_ratings(data, bad)


# -- training requests and names ---------------------------------------------------------------------------
def test_train_spec_bounds():
    assert service.TrainSpec().problems() == []
    bad = service.TrainSpec(taps=(7, 0), widths=(65, 3), k=41, epochs=11, lr=0.5, batch_size=7, seed=-1)
    text = " ".join(bad.problems())
    for word in ("taps of layer 1", "taps of layer 2", "width of layer 1", "width of layer 2", "k is 41",
                 "epochs is 11", "learning rate", "batch size is 7", "seed is -1"):
        assert word in text
    assert "layers" in " ".join(service.TrainSpec(taps=(2,) * 4, widths=(4,) * 4).problems())
    assert "layers" in " ".join(service.TrainSpec(taps=(2, 2), widths=(4,)).problems())
    assert "never look at the graph" in " ".join(service.TrainSpec(taps=(1,), widths=(4,)).problems())
    assert service.TrainSpec(lr=float("nan")).problems() and service.TrainSpec(epochs=2.5).problems()
    with pytest.raises(ValueError, match="epochs"):
        service.TrainSpec(epochs=0).check()
    # at the bounds: fine
    top = service.TrainSpec(taps=(6, 6, 6), widths=(64, 64, 4), k=40, epochs=10, lr=0.05, batch_size=64)
    assert top.problems() == []
    assert service.TrainSpec(taps=(2,), widths=(4,), k=5, epochs=1, lr=1e-4, batch_size=8).problems() == []


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "-x", "", "x" * 65, "a..b", "con\x00", "ü"])
def test_new_model_names_cannot_escape_the_store(name, tmp_path):
    with pytest.raises(store.StoreError, match="not allowed"):
        service.check_new_name(name, tmp_path)


def test_new_model_name_must_be_new(tmp_path):
    (tmp_path / "taken.pt").write_bytes(b"x")
    with pytest.raises(store.StoreError, match="exists already"):
        service.check_new_name("taken", tmp_path)
    assert service.check_new_name(" fresh-1 ", tmp_path) == "fresh-1"


def test_tiny_training_saves_a_loadable_all_movies_model(data, tmp_path):
    events = []
    spec = service.TrainSpec(taps=(2,), widths=(4,), k=5, epochs=1, lr=0.01, batch_size=64)
    out = service.train_model(data, spec, "tiny", on_progress=events.append, folder=tmp_path)
    assert out["name"] == "tiny" and (tmp_path / "tiny.pt").is_file()
    assert events and events[-1].step == events[-1].total_steps
    assert np.isfinite(out["metrics"]["valid_rmse"])
    [info] = service.list_models(data.fingerprint(), tmp_path)
    assert info.ok and info.all_movies and info.graph["k"] == 5 and tuple(info.config["model"]["features"]) == (4,)
    assert info.extra["made_by"] == "app" and info.history
    rec = service.load_recommender("tiny", data, tmp_path)
    assert len(rec.recommend({50: 5}).top["gnn"]) == 10
    with pytest.raises(store.StoreError, match="exists already"):  # never overwritten
        service.train_model(data, spec, "tiny", folder=tmp_path)


def test_cancelled_training_saves_nothing(data, tmp_path):
    with pytest.raises(Cancelled):
        service.train_model(data, service.TrainSpec(), "nope", cancel=lambda: True, folder=tmp_path)
    assert not list(tmp_path.iterdir())


# -- model list ---------------------------------------------------------------------------------------------
def test_list_models_reports_unreadable_files(data, tmp_path):
    (tmp_path / "broken.pt").write_bytes(b"garbage")
    (tmp_path / "bad name.pt").write_bytes(b"ignored: not a valid model name")
    [info] = service.list_models(data.fingerprint(), tmp_path)
    assert info.name == "broken" and not info.ok and "corrupt" in info.error
    assert service.default_model([info]) is None
    table = service.models_table([info])
    assert table.loc[0, "usable"] == "no: unreadable"
    sig = service.store_signature(tmp_path)
    (tmp_path / "broken.pt").write_bytes(b"garbage, longer")
    assert service.store_signature(tmp_path) != sig
    assert service.model_signature("missing", tmp_path) == (None, None, None)


def test_committed_model_is_listed(data):
    infos = service.list_models(data.fingerprint())
    assert service.default_model(infos) == "all-movies"
    assert "valid RMSE" in next(i for i in infos if i.name == "all-movies").describe()


# -- recommendations, explanations, disagreements ------------------------------------------------------------
def test_top_table_and_prediction(rec):
    res = service.recommend(rec, {50: 5, 181: 4, 1: 1}, top=7, min_raters=30)
    for model in ("gnn", "knn"):
        t = service.top_table(res, model)
        assert len(t) == 7 and (t["raters"] >= 30).all() and t["predicted"].between(1, 5).all()
        assert not set(t["movie"]) & {50, 181, 1}
    p = service.predict_movie(rec, {50: 5, 181: 4}, 181)
    assert p["rated"] == 4 and 1 <= p["gnn"] <= 5 and 1 <= p["knn"] <= 5 and p["raters"] > 100
    assert service.predict_movie(rec, {50: 5}, 172)["rated"] is None


def test_explain_matches_the_recommender_and_is_bounded(rec, data):
    ratings = {50: 5, 181: 4, 1: 2}
    ours, note = service.explain(rec, ratings, 172, "gnn")
    theirs = rec.explain(ratings, 172, "gnn")
    assert "removed" in note
    assert np.allclose(ours.set_index("movie")["effect"].sort_index(), theirs.set_index("movie")["effect"].sort_index(),
                       atol=1e-5)
    knn, note = service.explain(rec, ratings, 172, "knn")
    assert (knn["weight"] > 0).all() and "mean" in note
    many = service.user_ratings(data, 405)  # 737 ratings
    t0 = time.perf_counter()
    big, note = service.explain(rec, many, 50, "gnn")
    assert len(big) == service.EXPLAIN_MAX and f"{service.EXPLAIN_MAX} of your {len(many)}" in note
    assert time.perf_counter() - t0 < 30
    with pytest.raises(ValueError):
        service.explain(rec, ratings, 172, "svd")


def test_disagreements_sorted_and_located(rec):
    res = service.recommend(rec, {50: 5, 181: 4, 1: 1}, top=10, min_raters=20)
    d = service.disagreements(rec, res, n=8)
    assert len(d) == 8
    diffs = d["gnn − knn"].abs().tolist()
    assert diffs == sorted(diffs, reverse=True)
    assert d["closest rated movie"].str.contains("Star Wars|Return of the Jedi|Toy Story").all()


def test_graph_hops():
    import scipy.sparse as sp

    s = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]], dtype=float))
    assert service.graph_hops(s, [0]).tolist() == [0, 1, 2, -1]


# -- neighbourhood ------------------------------------------------------------------------------------------
def test_neighbourhood(rec, data):
    corr = rec.knn.corr
    nb = service.neighbourhood(corr, data, 50, k=8, hops=1, ratings={181: 4})
    assert nb.nodes["movie"].iloc[0] == 50 and len(nb.nodes) == 9
    assert (nb.nodes["hop"].iloc[1:] == 1).all()
    assert nb.nodes.set_index("movie").loc[181, "your_rating"] == 4  # Return of the Jedi, rated
    assert nb.nodes["your_rating"].notna().sum() == 1
    shown = set(nb.nodes["movie"])
    assert set(nb.edges["source"]) | set(nb.edges["target"]) <= shown
    assert (nb.edges["common"] >= 25).all()
    assert np.allclose(nb.edges["corr"], [corr[a - 1, b - 1] for a, b in zip(nb.edges["source"], nb.edges["target"])],
                       atol=1e-3)
    two = service.neighbourhood(corr, data, 50, k=8, hops=2)
    assert 9 < len(two.nodes) <= service.MAX_NODES and set(two.nodes["hop"]) == {0, 1, 2}
    assert two.nodes["via"].iloc[1:].notna().sum() == (two.nodes["hop"] == 2).sum()
    strict = service.neighbourhood(corr, data, 50, k=8, min_common=300)
    assert (strict.edges["common"] >= 300).all() and len(strict.nodes) <= 9
    table = service.neighbour_table(nb)
    assert len(table) == 8 and "correlation" in table.columns
    for kwargs in ({"k": 0}, {"k": 26}, {"hops": 3}, {"min_common": 0}, {"movie": 1683}):
        args = {"movie": 50, **kwargs}
        with pytest.raises(ValueError):
            service.neighbourhood(corr, data, args.pop("movie"), **args)


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
    s = service.summary_frame(r)
    assert list(s["model"]) == ["gnn", "knn"] and list(s["label"]) == ["GNN", "k-NN"]
    sp = service.split_frame(r)
    assert list(sp["split"]) == [1, 2] and "GNN best step" in sp.columns
    sc = service.scatter_frame(r, ["gnn"])
    assert len(sc) == 10 and set(sc["model"]) == {"gnn"}


def test_result_files_are_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("GNNREC_RESULTS_DIR", str(tmp_path))
    (tmp_path / "good.json").write_text(json.dumps(result()))
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "other.json").write_text(json.dumps({"task": "all", "splits": []}))
    (tmp_path / "empty.json").write_text(json.dumps({"task": "target", "splits": []}))
    files = {p.name: p for p in service.result_files()}
    assert set(files) == {"good.json", "bad.json", "other.json", "empty.json"}
    assert service.load_result(files["good.json"])["target"] == 50
    for name, message in (("bad.json", "cannot be read"), ("other.json", "not a target"), ("empty.json", "no splits")):
        with pytest.raises(service.ResultError, match=message):
            service.load_result(files[name])


def test_live_evaluation_requests_are_bounded(data):
    service.check_eval_request(data, 50, 1, "best")
    for args, message in (((50, 4, "best"), "splits=4"), ((50, 0, "best"), "splits=0"), ((50, 1, "all"), "preset"),
                          ((1682, 1, "best"), "at least 20"), ((0, 1, "best"), "unknown movie")):
        with pytest.raises(ValueError, match=message):
            service.check_eval_request(data, *args)


# -- background jobs ---------------------------------------------------------------------------------------
def test_job_runs_reports_and_frees_the_slot():
    job = service.start_job("test", "quick", lambda report, cancelled: [report(i) for i in range(3)] and "ok")
    assert job.wait(10) and job.state == "done" and job.result == "ok" and job.events() == [0, 1, 2]
    assert jobs.HEAVY.current is None


def test_one_job_at_a_time_and_cancel():
    go = threading.Event()

    def slow(report, cancelled):
        go.set()
        while not cancelled():
            time.sleep(0.01)
        raise Cancelled("stop")

    job = service.start_job("test", "slow", slow)
    try:
        assert go.wait(5)
        with pytest.raises(jobs.Busy, match="another user started test slow.*one training or live evaluation"):
            service.start_job("test", "second", lambda r, c: None, owner="bob")
        with pytest.raises(jobs.Busy, match="you started test slow"):
            service.start_job("test", "again", lambda r, c: None, owner="app")
    finally:
        job.cancel()
    assert job.wait(10) and job.state == "cancelled" and "nothing was saved" in job.error


def test_failing_job_says_why():
    def bad(report, cancelled):
        raise ValueError("epochs=99 is too many")

    job = service.start_job("test", "bad", bad)
    assert job.wait(10) and job.state == "failed" and job.error == "epochs=99 is too many"
    boom = service.start_job("test", "boom", lambda r, c: 1 / 0)
    assert boom.wait(10) and boom.state == "failed" and boom.error.startswith("ZeroDivisionError")


def test_evaluation_job_is_cached(data, monkeypatch):
    calls = []

    def fake(data_, target, splits, preset, on_split=None):
        calls.append(target)
        on_split(0, {"seed": 0, "rmse": {"gnn": 0.5}})
        return result(1)

    monkeypatch.setattr(service, "evaluate", fake)
    job = service.start_evaluation(data, 50, 1, "best")
    assert job.wait(10) and job.state == "done" and job.events() == [(0, {"seed": 0, "rmse": {"gnn": 0.5}})]
    assert service.cached_evaluation(service.eval_key(data.fingerprint(), 50, 1, "best")) is job.result
    assert calls == [50]


def test_history_frames():
    from gnnrec.train import Progress

    h = service.history_frame([Progress(0, 5, 10, 0.4, 1.0, 1.0), "not progress"])
    assert list(h["step"]) == [5] and list(h["epoch"]) == [1]
    assert list(service.history_table([[0, float("nan"), 1.1], [27, 0.4, 1.0]])["valid RMSE"]) == [1.1, 1.0]
