"""gnnrec.app.topn_results: saved top-N files checked (bounds), held against the data (a file whose
metrics lie is refused), and the Compare page's list-quality tables, on the committed file and real
MovieLens."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from gnnrec.app import results
from gnnrec.app import topn_results as tr
from gnnrec.titles import natural_title

COMMITTED = Path(__file__).resolve().parent.parent / "results" / "topn-1-3.json"


@pytest.fixture(scope="module")
def raw():
    return json.loads(COMMITTED.read_text())


@pytest.fixture(scope="module")
def committed(movielens):
    return results.load_result(COMMITTED, movielens)


@pytest.fixture(scope="module")
def small(movielens):
    """A real top-N result made by the protocol's own code (two quick models, one split)."""
    from gnnrec.topn import protocol

    return json.loads(json.dumps(protocol.evaluate_topn(movielens, seeds=(5,), models=("popular", "item_cosine"))))


def _write(folder, obj) -> Path:
    path = folder / "topn.json"
    path.write_text(json.dumps(obj))
    return path


def test_the_metrics_table_is_the_files_summary(committed, raw):
    frame = tr.metrics_frame(committed)
    assert set(frame["model"]) == set(raw["summary"]) and len(frame) == len(raw["summary"]) == 10
    for row in frame.itertuples(index=False):
        stored = raw["summary"][row.model]
        for metric in tr.SHOWN:
            assert getattr(row, metric) == stored[metric]["mean"], (row.model, metric)
        assert row.ndcg_std == stored["ndcg"]["std"] and row.coverage_std == stored["coverage"]["std"]
        assert row.label == results.label(row.model, "topn")
    assert frame["ndcg"].is_monotonic_decreasing
    assert dict(zip(frame["model"], frame["label"]))["gnn"] == "ranking GNN"
    assert results.label("gnn") == "GNN"  # the rating task's label is unchanged


def test_the_chart_draws_ndcg_and_coverage_with_their_spread(committed):
    frame = tr.metrics_frame(committed)
    fig = tr.quality_bars(frame, 10)
    ndcg, coverage = fig.data
    assert list(ndcg.x) == list(frame["ndcg"][::-1]) and list(ndcg.error_x.array) == list(frame["ndcg_std"][::-1])
    assert list(coverage.x) == list(frame["coverage"][::-1])
    assert list(coverage.error_x.array) == list(frame["coverage_std"][::-1])
    assert ndcg.y[-1] == frame["label"][0]  # the best on top
    text = tr.protocol_text(committed)
    assert "split 75/25 at random" in text and "top 10 among the movies the user did not rate" in text
    assert "held-out movie is a hit" in text and "split seeds 1, 2, 3" in text


@pytest.mark.parametrize("user", [1, 7, 404, 943])
def test_a_users_hits_are_the_plain_intersection_of_held_out_and_list(committed, raw, movielens, user):
    models = list(raw["summary"])
    for split in raw["splits"]:
        held = {m for u, m in split["test_pairs"] if u == user}
        lists, table = tr.user_view(committed, split["seed"], user, movielens, models)
        counts = tr.hits(committed, split["seed"], user, models)
        assert set(table["movie"]) == held == set(tr.held_out(committed, split["seed"], user))
        for model in models:
            plain = split["top"][model][str(user)]
            assert tr.user_list(committed, split["seed"], user, model) == plain
            assert counts[model] == len(held & set(plain)), (split["seed"], model)
            column = list(lists[results.label(model, "topn")])
            assert [c.startswith("✓ ") for c in column] == [m in held for m in plain]
            assert [c.removeprefix("✓ ") for c in column] == [natural_title(movielens.title(m)) for m in plain]
        found = dict(zip(table["movie"], table["found by"]))
        for movie in held:
            by = {results.label(m, "topn") for m in models if movie in split["top"][m][str(user)]}
            assert set(filter(None, found[movie].split(", "))) == by


def test_a_file_whose_numbers_lie_is_refused_naming_what(tmp_path, small, movielens):
    assert tr.metrics_frame(results.load_result(_write(tmp_path, small), movielens)).shape[0] == 2
    cases = {
        "metric": (lambda r: r["splits"][0]["metrics"]["popular"].__setitem__("ndcg", 0.9), "not what its lists score"),
        "summary": (lambda r: r["summary"]["item_cosine"]["coverage"].__setitem__("mean", 0.5), "summary's coverage"),
        "list": (lambda r: r["splits"][0]["top"]["popular"]["3"].reverse(), "not what its lists score"),
        "pair": (lambda r: r["splits"][0]["test_pairs"].__setitem__(0, [1, 1682]), "not a rating of this data"),
        "data": (lambda r: r.__setitem__("data_fingerprint", "0" * 16), "made on data"),
    }
    for name, (change, why) in cases.items():
        bad = copy.deepcopy(small)
        change(bad)
        results.load_result(_write(tmp_path, bad))  # well formed: refused only against the data
        with pytest.raises(results.ResultError, match=why):
            results.load_result(_write(tmp_path, bad), movielens)
            pytest.fail(f"{name}: accepted")


BAD_SHAPES = {
    "user-944": (lambda r: r["splits"][0]["top"]["popular"].__setitem__("944", [1]), "not a user id"),
    "user-01": (lambda r: r["splits"][0]["top"]["popular"].__setitem__("01", [1]), "not a user id"),
    "movie-1683": (lambda r: r["splits"][0]["top"]["popular"]["1"].__setitem__(0, 1683), "at most 100 movie ids"),
    "movie-true": (lambda r: r["splits"][0]["top"]["popular"]["1"].__setitem__(0, True), "at most 100 movie ids"),
    "list-101": (lambda r: r["splits"][0]["top"]["popular"].__setitem__("1", list(range(1, 102))), "at most 100"),
    "list-twice": (lambda r: r["splits"][0]["top"]["popular"].__setitem__("1", [5, 5]), "a movie twice"),
    "pair-3": (lambda r: r["splits"][0]["test_pairs"].__setitem__(0, [1, 2, 5]), "held-out pair"),
    "pair-user-0": (lambda r: r["splits"][0]["test_pairs"].__setitem__(0, [0, 2]), "held-out pair"),
    "pair-twice": (lambda r: r["splits"][0]["test_pairs"].append(r["splits"][0]["test_pairs"][0]), "pair twice"),
    "k-0": (lambda r: r["config"].__setitem__("k", 0), "'k'"),
    "no-splits": (lambda r: r.__setitem__("splits", []), "no splits"),
    "metric-text": (lambda r: r["splits"][0]["metrics"]["popular"].__setitem__("ndcg", "0.3"), "metrics of 'popular'"),
    "model-missing": (lambda r: r["splits"][0]["metrics"].pop("popular"), "different models"),
    "summary-model": (lambda r: r["summary"].pop("popular"), "'summary'"),
    "summary-std": (lambda r: r["summary"]["popular"]["ndcg"].pop("std"), "summary of 'popular'"),
    "name-long": (lambda r: [r["splits"][0][f].__setitem__("x" * 41, r["splits"][0][f]["popular"])
                             for f in ("top", "metrics")], "over 40 characters"),
}


@pytest.mark.parametrize("case", sorted(BAD_SHAPES))
def test_a_malformed_file_is_refused_naming_the_field(tmp_path, small, case):
    bad = copy.deepcopy(small)
    change, why = BAD_SHAPES[case]
    change(bad)
    with pytest.raises(results.ResultError, match=why) as info:
        results.load_result(_write(tmp_path, bad))
    assert str(info.value).startswith("topn.json: ")


def test_a_user_outside_the_data_or_a_seed_outside_the_file_is_a_clear_error(committed, movielens):
    with pytest.raises(ValueError, match="choose 1..943"):
        tr.user_view(committed, 1, 944, movielens, ["gnn"])
    with pytest.raises(ValueError, match=r"split seeds are \[1, 2, 3\]"):
        tr.held_out(committed, 42, 1)


def test_randomly_damaged_top_n_files_are_refused_or_fully_usable(tmp_path, small, movielens):
    """40 copies of a real top-N file, each with one random value replaced: loading with the data
    either raises ResultError or gives a result every part of the list-quality view can draw."""
    from helpers import damaged_loads

    def use(loaded):
        frame = tr.metrics_frame(loaded)
        tr.quality_bars(frame, loaded["config"]["k"])
        tr.protocol_text(loaded)
        for user in (1, 943):
            tr.user_view(loaded, tr.split_seeds(loaded)[0], user, movielens, list(frame["model"]))

    values = [None, "x", -1, 0, 1e308, float("nan"), [], {}, True, 3, 2.5, "1"]
    refused = damaged_loads(small, tmp_path / "topn.json", movielens, values, 40, use)
    assert refused > 20  # most damage is caught; the rest is harmless (e.g. the run's seconds)
