"""gnnrec.panels: random target panels (drawn among movies with enough raters, seeded), the per-movie
rows and the panel summary against hand-computed numbers, and one real panel run end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gnnrec import panels


@pytest.mark.integration
def test_draw_panel_is_seeded_and_eligible(movielens):
    a = panels.draw_panel(movielens, 20, 100, seed=5)
    assert a == panels.draw_panel(movielens, 20, 100, seed=5) and a != panels.draw_panel(movielens, 20, 100, seed=6)
    assert len(set(a)) == 20
    raters = movielens.n_raters()
    assert all(raters[m - 1] >= 100 for m in a)
    eligible = int((raters >= 100).sum())
    drawn = set()
    for seed in range(60):  # every eligible movie can be drawn: the draw is not the most popular ones
        drawn |= set(panels.draw_panel(movielens, 20, 100, seed))
    assert len(drawn) > 0.9 * eligible


@pytest.mark.integration
@pytest.mark.parametrize("n, min_raters, message", [(0, 100, "panel size 0"), (20, 3, "min_raters=3"),
                                                    (2000, 100, "only .* movies have at least 100 raters")])
def test_draw_panel_errors(movielens, n, min_raters, message):
    with pytest.raises(ValueError, match=message):
        panels.draw_panel(movielens, n, min_raters, 0)


def test_panel_summary_by_hand():
    rows = [{"rmse": {"gnn": 0.9, "knn_baseline": 1.0, "knn": 0.95}, "ratio": 0.9, "best": "gnn"},
            {"rmse": {"gnn": 1.1, "knn_baseline": 1.0, "knn": 1.05}, "ratio": 1.1, "best": "knn_baseline"},
            {"rmse": {"gnn": 0.8, "knn_baseline": 1.0, "knn": 0.7}, "ratio": 0.8, "best": "knn"}]
    s = panels.panel_summary(rows)
    assert s["movies"] == 3 and s["gnn_below_reference"] == 2
    assert s["mean_rmse"] == pytest.approx({"gnn": 0.9333333, "knn_baseline": 1.0, "knn": 0.9})
    assert s["wins"] == {"gnn": 1, "knn_baseline": 1, "knn": 1}
    assert s["ratio_mean"] == pytest.approx(0.9333333) and s["ratio_median"] == pytest.approx(0.9)


def test_panel_summary_of_uneven_rows():
    """A file's rows need not all hold the same models or a ratio: each mean is over the movies that
    have the model, the ratios over the finite ones (the Compare page reads such files)."""
    rows = [{"rmse": {"gnn": 0.9, "knn_baseline": 1.0}, "ratio": 0.9, "best": "gnn"},
            {"rmse": {"gnn": 1.2, "knn_baseline": 1.0, "linear": 0.8}, "ratio": 1.2, "best": "linear"},
            {"rmse": {"gnn": 0.6}, "ratio": None, "best": "gnn"},
            {"rmse": {"gnn": 0.7}, "best": "gnn"}]
    s = panels.panel_summary(rows)
    assert list(s["mean_rmse"]) == ["gnn", "knn_baseline", "linear"]
    assert s["mean_rmse"] == pytest.approx({"gnn": 0.85, "knn_baseline": 1.0, "linear": 0.8})
    assert s["wins"] == {"gnn": 3, "knn_baseline": 0, "linear": 1}
    assert s["gnn_below_reference"] == 1 and s["ratio_mean"] == pytest.approx(1.05)
    assert s["ratio_median"] == pytest.approx(1.05)
    assert np.isnan(panels.panel_summary(rows[2:])["ratio_mean"])


@pytest.mark.integration
def test_one_movie_panel_end_to_end(movielens):
    seen = []
    res = panels.evaluate_panel(movielens, n=1, min_raters=300, seed=3, splits=1, preset="seed",
                                on_movie=lambda i, row: seen.append(row))
    json.dumps(res)
    (movie,) = res["panel"]["movies"]
    assert movie == panels.draw_panel(movielens, 1, 300, 3)[0] and seen == res["rows"]
    (one,) = res["results"]
    assert one["target"] == movie and one["config"]["preset"] == "seed"
    (row,) = res["rows"]
    assert row["rmse"] == {m: s["mean"] for m, s in one["summary"].items()}
    assert row["ratio"] == pytest.approx(row["rmse"]["gnn"] / row["rmse"]["knn_baseline"])
    assert row["best"] == min(row["rmse"], key=row["rmse"].get)
    assert row["raters"] == int(movielens.n_raters()[movie - 1]) >= 300
    assert res["summary"]["ratio_mean"] == pytest.approx(row["ratio"])
    assert np.isfinite(list(row["rmse"].values())).all()
