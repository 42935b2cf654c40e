"""Random panels of target movies: the seed's protocol on movies nobody chose, one summary per panel.

A recipe tuned on a few famous movies can win there and lose elsewhere; a panel draws its
targets at random (seeded) among movies with enough raters, so a result holds for "any movie"
only if it holds on panels whose seed was not used to choose the recipe.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from .data import MovieLens
from .evaluate import DEFAULT_PRESET, EvalConfig, evaluate_target
from .presets import Preset, preset_label

REFERENCE = "knn_baseline"  # the classical model every panel ratio is taken against


def draw_panel(data: MovieLens, n: int, min_raters: int, seed: int) -> list[int]:
    """``n`` GroupLens movie ids drawn without replacement (seeded) among the movies with at
    least ``min_raters`` ratings, in the order drawn."""
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"panel size {n!r} must be an integer >= 1")
    if not isinstance(min_raters, (int, np.integer)) or min_raters < 7:
        raise ValueError(f"min_raters={min_raters!r} must be an integer >= 7 (a split needs 7 raters)")
    eligible = np.flatnonzero(data.n_raters() >= min_raters) + 1  # (M,) ids, ascending
    if len(eligible) < n:
        raise ValueError(f"only {len(eligible)} movies have at least {min_raters} raters; ask for a panel of "
                         f"at most {len(eligible)} or lower --min-raters")
    return [int(m) for m in np.random.default_rng(seed).choice(eligible, size=n, replace=False)]


def movie_row(data: MovieLens, res: dict) -> dict:
    """One panel movie's line: its RMSE per model (mean over splits), the GNN / reference ratio
    and the model with the lowest RMSE."""
    rmse = {m: s["mean"] for m, s in res["summary"].items()}
    best = min(rmse, key=rmse.get)
    ratio = rmse["gnn"] / rmse[REFERENCE] if "gnn" in rmse and REFERENCE in rmse else float("nan")
    return {"movie": res["target"], "title": res["title"], "raters": int(data.n_raters()[res["target"] - 1]),
            "rmse": rmse, "ratio": ratio, "best": best}


def panel_summary(rows: list[dict]) -> dict:
    """Over a panel: each model's mean RMSE (over the movies that have it), how many movies it has
    the lowest RMSE on (``wins``), how many the GNN beats the reference on, and the mean and median
    GNN / reference ratio (over the finite ratios; NaN without any). Also the Compare page's
    summary of a panel file (:func:`gnnrec.app.results.panel_ratios`)."""
    models = list(dict.fromkeys(m for r in rows for m in r["rmse"]))  # every model, first seen first
    ratios = np.array([r.get("ratio") for r in rows], dtype=float)  # (movies,) None or missing -> NaN
    ratios = ratios[np.isfinite(ratios)]
    return {"movies": len(rows),
            "mean_rmse": {m: float(np.mean([r["rmse"][m] for r in rows if m in r["rmse"]])) for m in models},
            "wins": {m: sum(r["best"] == m for r in rows) for m in models},
            "gnn_below_reference": int(np.sum(ratios < 1)),
            "ratio_mean": float(np.mean(ratios)) if ratios.size else float("nan"),
            "ratio_median": float(np.median(ratios)) if ratios.size else float("nan")}


def evaluate_panel(data: MovieLens, n: int = 20, min_raters: int = 100, seed: int = 0, splits: int = 3,
                   split_seed: int = 0, preset: str | Preset = DEFAULT_PRESET, workers: int | None = None,
                   on_movie: Callable[[int, dict], None] | None = None) -> dict:
    """The seed's protocol (``splits`` user splits seeded ``split_seed, ...``) on each movie of a
    random panel (:func:`draw_panel` with ``seed``); the JSON-ready result: the panel, one
    target-task result per movie (the format of :func:`gnnrec.evaluate.evaluate_target`), a row
    per movie and the panel's summary. ``on_movie(i, row)`` is called as each movie finishes."""
    movies = draw_panel(data, n, min_raters, seed)
    EvalConfig(target=movies[0], splits=splits, seed=split_seed, preset=preset)  # a bad preset fails before any work
    t0 = time.perf_counter()
    results, rows = [], []
    for i, movie in enumerate(movies):
        cfg = EvalConfig(target=movie, splits=splits, seed=split_seed, preset=preset)
        results.append(evaluate_target(data, cfg, workers=workers))
        rows.append(movie_row(data, results[-1]))
        if on_movie is not None:
            on_movie(i, rows[-1])
    return {"task": "panel", "panel": {"n": n, "min_raters": min_raters, "seed": seed, "movies": movies},
            "config": {"splits": splits, "split_seed": split_seed, "preset": preset_label(preset), "reference": REFERENCE},
            "data_fingerprint": data.fingerprint(), "results": results, "rows": rows,
            "summary": panel_summary(rows), "seconds": time.perf_counter() - t0}


def format_row(row: dict, models: list[str]) -> str:
    title = row["title"] if len(row["title"]) <= 34 else row["title"][:33] + "…"
    cells = " ".join(f"{row['rmse'][m]:>8.4f}" for m in models)
    return f"{row['movie']:>5} {title:<35} {row['raters']:>6} {cells} {row['ratio']:>7.3f}  {row['best']}"


def format_header(models: list[str]) -> str:
    return f"{'id':>5} {'movie':<35} {'raters':>6} " + " ".join(f"{m[:8]:>8}" for m in models) + \
        f" {'gnn/ref':>7}  best"


def format_summary(summary: dict, models: list[str]) -> str:
    means = " ".join(f"{summary['mean_rmse'][m]:>8.4f}" for m in models)
    wins = ", ".join(f"{m} {summary['wins'][m]}" for m in models)
    return (f"{'':>5} {'mean over the panel':<35} {'':>6} {means} {summary['ratio_mean']:>7.3f}\n"
            f"GNN below {REFERENCE} on {summary['gnn_below_reference']} of {summary['movies']} movies; "
            f"ratio mean {summary['ratio_mean']:.3f}, median {summary['ratio_median']:.3f}; lowest RMSE: {wins}")
