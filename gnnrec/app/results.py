"""Saved evaluations (JSON from ``gnnrec evaluate``): found, checked, shown as tables; the one
place where model names get their labels.

The files come from ``python -m gnnrec evaluate --task target --json results/FILE.json`` (one
target movie) or ``... --panel N --min-raters M --seed S --splits K --json results/FILE.json`` (a
random panel of target movies, :mod:`gnnrec.panels`); the tables are the Compare page's.
No Streamlit in here; an unusable file raises :class:`ResultError` naming the problem.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..data import MovieLens
from ..evaluate import attach_ratings
from ..panels import panel_summary
from ..titles import natural_title
from . import safe_read, topn_files

# model name -> (short label for charts and tables, what it is in a sentence)
MODELS = {
    "gnn": ("GNN", "the graph neural network (its weights with the best validation RMSE)"),
    "gnn_last": ("GNN, last", "the same GNN with its weights after the last epoch"),
    "gnn_target": ("GNN, 1 movie", "a GNN trained for this movie alone (what the transfer preset starts from)"),
    "linear": ("Linear filter", "the GNN without its nonlinearity: a linear graph filter"),
    "knn": ("k-NN", "item k-NN: the movie's mean plus the deviations of your ratings of the most correlated movies"),
    "knn_baseline": ("k-NN + baselines", "item k-NN with baselines (Koren; Surprise's KNNBaseline): overall mean + "
                                         "movie bias + user bias, plus similar movies' residuals"),
    "item_mean": ("Item mean", "the movie's mean rating"),
}
MODEL_LABELS = {m: short for m, (short, _) in MODELS.items()}  # the one definition of the labels
# the names of a top-N result (gnnrec.topn.protocol), where "gnn" is the ranking GNN; k-NNs as above
TOPN_LABELS = {"gnn": "ranking GNN", "gnn_rating": "rating GNN (by predicted rating)", "ease": "EASE",
               "gf_cf": "GF-CF (linear)", "gf_cf_ideal": "GF-CF (+ ideal low-pass)", "lightgcn": "LightGCN (PyG)",
               "item_cosine": "item cosine", "popular": "most popular"}


def label(model: str, task: str = "rating") -> str:
    """A model's short label (``"knn_baseline"`` -> ``"k-NN + baselines"``); unknown names as they are.
    ``task="topn"``: the names of a top-N result (``"gnn"`` -> ``"ranking GNN"``)."""
    if task == "topn" and model in TOPN_LABELS:
        return TOPN_LABELS[model]
    return MODEL_LABELS.get(model, str(model))


def describe(model: str) -> str:
    """What a model is, in a sentence (for help texts)."""
    return MODELS[model][1] if model in MODELS else str(model)


class ResultError(ValueError):
    """A results file that is not a target-task evaluation."""


def results_dir() -> Path:
    """``$GNNREC_RESULTS_DIR``, else ``results/`` beside the package."""
    env = os.environ.get("GNNREC_RESULTS_DIR")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "results"


def result_files(folder: Path | None = None) -> list[Path]:
    folder = folder or results_dir()
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _numbers(d, what: str) -> None:
    if not (isinstance(d, dict) and d and all(isinstance(k, str) and _number(v) for k, v in d.items())):
        raise ResultError(f"{what} is not a table of model names to finite numbers")


def check_result(obj) -> dict:
    """Raise ResultError unless ``obj`` is :func:`gnnrec.evaluate.evaluate_target`'s output with
    every value the Compare page draws of the right type: numbers in the summary, every split's
    ``rmse`` and every test record's ``pred``; whole-number user and movie ids; text titles."""
    if not isinstance(obj, dict) or obj.get("task") != "target":
        raise ResultError("not a target-movie evaluation (`python -m gnnrec evaluate --task target --json FILE`), "
                          "a panel (`... --panel N --json FILE`) or top-N lists (`... --task topn --json FILE`)")
    if not isinstance(obj.get("title", ""), str) or not isinstance(obj.get("config", {}), dict):
        raise ResultError("its 'title' is not text or its 'config' not a mapping")
    splits = obj.get("splits")
    if not isinstance(splits, list) or not splits:
        raise ResultError("it holds no splits")
    for i, s in enumerate(splits):
        if not (isinstance(s, dict) and isinstance(s.get("test"), list)):
            raise ResultError(f"split {i + 1} lacks its 'test' records")
        _numbers(s.get("rmse"), f"split {i + 1}'s 'rmse'")
        if "best_step" in s and not _number(s["best_step"]):
            raise ResultError(f"split {i + 1}'s 'best_step' is not a number")
        for r in s["test"]:
            if not (isinstance(r, dict) and all(isinstance(r.get(k), int) and not isinstance(r.get(k), bool)
                                                for k in ("user", "movie"))):
                raise ResultError(f"a test record of split {i + 1} lacks a whole-number 'user' or 'movie'")
            _numbers(r.get("pred"), f"a test record's 'pred' (split {i + 1})")
    summary = obj.get("summary")
    if not isinstance(summary, dict) or not summary:
        raise ResultError("it has no 'summary'")
    for name, v in summary.items():
        if not (isinstance(v, dict) and _number(v.get("mean")) and _number(v.get("std"))
                and isinstance(v.get("per_split", []), list) and all(map(_number, v.get("per_split", [])))):
            raise ResultError(f"the summary of {str(name)[:40]!r} needs finite numbers 'mean', 'std' (and 'per_split')")
    return obj


class _Once:
    """The data with its fingerprint and rating matrix made once: a panel looks up the ratings of
    every one of its results (each lookup used to hash and rebuild them: minutes for a large file)."""

    def __init__(self, data: MovieLens) -> None:
        self._data, self._fp, self._x = data, data.fingerprint(), data.matrix()

    def fingerprint(self) -> str:
        return self._fp

    def matrix(self):
        return self._x

    def __getattr__(self, name):
        return getattr(self._data, name)


def load_result(path: Path, data: MovieLens | None = None) -> dict:
    """A saved evaluation (JSON), checked; ResultError names the problem (only a bounded regular
    file is read: :mod:`gnnrec.app.safe_read`). Saved files hold no true ratings (GroupLens's
    terms): with ``data`` they are looked up there (the scatter plot needs them); a file made on
    other data is refused then."""
    path = Path(path)
    try:
        obj = safe_read.read_json(path)
    except safe_read.Refused as e:
        raise ResultError(str(e)) from None
    try:
        if isinstance(obj, dict) and obj.get("task") == "topn":  # lists, checked (and re-scored with data) there
            obj = topn_files.check_topn(obj)
            return obj if data is None else topn_files.prepare(obj, data)
        obj = check_panel(obj) if isinstance(obj, dict) and obj.get("task") == "panel" else check_result(obj)
        return obj if data is None else with_ratings(obj, data)
    except (ResultError, ValueError, IndexError, KeyError, TypeError, OverflowError) as e:
        raise ResultError(f"{path.name}: {e}") from None


def with_ratings(res: dict, data: MovieLens) -> dict:
    """A copy of a result (one target movie, or a panel) whose test records carry their true
    ``rating`` from ``data``: the one way every result reaches the views (a saved file as it is
    loaded, a live evaluation as it ends); ValueError if they cannot be looked up there."""
    if res.get("task") == "panel":
        once = data if isinstance(data, _Once) else _Once(data)  # one fingerprint and matrix for every result
        return {**res, "results": [attach_ratings(r, once) for r in res.get("results", [])]}
    return attach_ratings(res, data)


def result_title(res: dict) -> str:
    if res.get("task") == "topn":
        c = res["config"]
        return (f"top-{c['k']} lists of {len(res['summary'])} models on {len(res['splits'])} split(s), seeds "
                + ", ".join(str(s["seed"]) for s in res["splits"]))
    if res.get("task") == "panel":
        p, c = res["panel"], res.get("config", {})
        return (f"panel of {len(res['rows'])} random movies (at least {p.get('min_raters', '?')} raters, seed "
                f"{p.get('seed', '?')}): {c.get('splits', '?')} split(s) each, preset {c.get('preset', '?')}")
    title = natural_title(res.get("title", "movie " + str(res.get("target"))))
    return f"{title}: {len(res['splits'])} split(s), preset {res.get('config', {}).get('preset', '?')}"


def summary_frame(res: dict) -> pd.DataFrame:
    """``model, label, mean, std, splits`` sorted by mean RMSE."""
    rows = [{"model": n, "label": label(n), "mean": s["mean"], "std": s["std"],
             "splits": len(s.get("per_split", []))} for n, s in res["summary"].items()]
    return pd.DataFrame(rows).sort_values("mean", kind="stable").reset_index(drop=True)


def split_frame(res: dict) -> pd.DataFrame:
    """One row per split: its seed, test users and each model's RMSE."""
    rows = []
    for i, s in enumerate(res["splits"]):
        row = {"split": i + 1, "seed": s.get("seed"), "test users": len(s["test"])}
        row.update({label(n): round(float(v), 4) for n, v in s["rmse"].items()})
        if "best_step" in s:
            row["GNN best step"] = s["best_step"]
        rows.append(row)
    return pd.DataFrame(rows)


def scatter_frame(res: dict, models: Iterable[str] = ("gnn", "knn")) -> pd.DataFrame:
    """Predicted vs true rating of every test user: ``split, user, rating, model, label, pred``
    (of a result loaded with its data, so that the records carry the true ratings)."""
    rows = []
    for i, s in enumerate(res["splits"]):
        for r in s["test"]:
            for m in models:
                if m in r["pred"]:
                    rows.append((i + 1, r.get("user"), float(r["rating"]), m, label(m),
                                 float(r["pred"][m])))
    return pd.DataFrame(rows, columns=["split", "user", "rating", "model", "label", "pred"])


# -- panels: the seed's protocol on random target movies (gnnrec.panels) -------------------------------------
def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_panel(obj: dict) -> dict:
    """Raise ResultError unless ``obj`` is :func:`gnnrec.panels.evaluate_panel`'s output with every
    value the Compare page draws of the right type: the per-movie rows (whole-number ids and
    rater counts, text titles, an RMSE table, a ratio that is a number or null, the best model
    among the RMSE's), the summary's counts, and each movie's target-task result."""
    panel, rows, res = obj.get("panel"), obj.get("rows"), obj.get("results", [])
    if not isinstance(panel, dict) or not isinstance(obj.get("config", {}), dict):
        raise ResultError("its 'panel' or 'config' is not a mapping")
    if not isinstance(obj.get("config", {}).get("reference", ""), str):
        raise ResultError("its config's 'reference' is not a model name")
    if not isinstance(rows, list) or not rows:
        raise ResultError("the panel holds no 'rows'")
    for i, r in enumerate(rows):
        if not (isinstance(r, dict) and _whole(r.get("movie")) and _whole(r.get("raters"))
                and isinstance(r.get("title"), str)):
            raise ResultError(f"row {i + 1} lacks a whole-number 'movie' or 'raters', or a text 'title'")
        _numbers(r.get("rmse"), f"row {i + 1}'s 'rmse'")
        ratio = r.get("ratio")
        if ratio is not None and not (isinstance(ratio, (int, float)) and not isinstance(ratio, bool)):
            raise ResultError(f"row {i + 1}'s 'ratio' is not a number")  # NaN allowed: no reference in the file
        if r.get("best") not in r["rmse"]:
            raise ResultError(f"row {i + 1}'s 'best' is not one of its models")
    if not isinstance(res, list) or (res and len(res) != len(rows)):
        raise ResultError("its 'results' are not one target evaluation per row")
    for i, r in enumerate(res):
        try:
            check_result(r)
        except ResultError as e:
            raise ResultError(f"the result of row {i + 1}: {e}") from None
    return obj


def panel_frame(res: dict) -> pd.DataFrame:
    """One row per panel movie: ``movie, title, raters``, each model's RMSE (mean over splits,
    short labels), ``ratio`` (GNN / reference) and ``best`` (the label of the lowest RMSE)."""
    models = _panel_models(res)
    rows = []
    for r in res["rows"]:
        ratio = r.get("ratio")
        row = {"movie": r["movie"], "title": natural_title(r["title"]), "raters": r["raters"]}
        row.update({label(m): r["rmse"].get(m) for m in models})
        row.update({"ratio": float(ratio) if _number(ratio) else None, "best": label(r["best"])})
        rows.append(row)
    return pd.DataFrame(rows)


def panel_models_frame(res: dict) -> pd.DataFrame:
    """``model, label, mean, wins`` per model over the panel (lowest mean RMSE first): the mean of
    its per-movie RMSEs and on how many movies it has the lowest RMSE (:func:`gnnrec.panels.panel_summary`)."""
    s = panel_summary(res["rows"])
    rows = [{"model": m, "label": label(m), "mean": s["mean_rmse"][m], "wins": s["wins"][m]} for m in s["mean_rmse"]]
    return pd.DataFrame(rows).sort_values("mean", kind="stable").reset_index(drop=True)


def panel_ratios(res: dict) -> dict:
    """The GNN / reference ratios over the panel: ``reference`` (its model name), ``n``, ``below``
    (movies where the GNN's RMSE is lower), ``mean`` and ``median`` (None without ratios), as
    :func:`gnnrec.panels.panel_summary` counts them."""
    s = panel_summary(res["rows"])
    n = sum(_number(r.get("ratio")) for r in res["rows"])
    return {"reference": res.get("config", {}).get("reference", "knn_baseline"), "n": n,
            "below": s["gnn_below_reference"], "mean": s["ratio_mean"] if n else None,
            "median": s["ratio_median"] if n else None}


def panel_movie(res: dict, movie: int) -> dict | None:
    """The target-task result of one panel movie, or None if the file does not hold it."""
    for r in res.get("results", []):
        if r.get("target") == movie:
            return r
    return None


def _panel_models(res: dict) -> list[str]:
    seen: dict[str, None] = {}
    for r in res["rows"]:
        seen.update(dict.fromkeys(r["rmse"]))
    return list(seen)
