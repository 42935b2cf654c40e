"""Saved target-movie evaluations (JSON from ``gnnrec evaluate``): found, checked, shown as tables.

The files come from ``python -m gnnrec evaluate --task target --json results/FILE.json``; the tables
are the Compare page's.
No Streamlit in here; an unusable file raises :class:`ResultError` naming the problem.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..data import MovieLens
from ..evaluate import attach_ratings

MODEL_LABELS = {"gnn": "GNN", "gnn_last": "GNN (last weights)", "linear": "Linear graph filter",
                "knn": "k-NN", "item_mean": "Item mean",
                "knn_baseline": "k-NN + baselines (fitted on every other rating)"}


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
        raise ResultError("not a target-movie evaluation (`python -m gnnrec evaluate --task target --json FILE`)")
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


def load_result(path: Path, data: MovieLens | None = None) -> dict:
    """A saved evaluation (JSON), checked; ResultError names the problem. Saved files hold no
    true ratings (GroupLens's terms): with ``data`` they are looked up there (the scatter plot
    needs them); a file made on other data is refused then."""
    path = Path(path)
    try:
        if path.stat().st_size > 100_000_000:
            raise ResultError(f"{path.name} is over 100 MB")
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ResultError(f"{path.name} cannot be read as JSON ({type(e).__name__}: {str(e)[:120]})") from None
    try:
        obj = check_result(obj)
        return obj if data is None else attach_ratings(obj, data)
    except (ResultError, ValueError, IndexError, KeyError, TypeError) as e:
        raise ResultError(f"{path.name}: {e}") from None


def result_title(res: dict) -> str:
    return f"{res.get('title', 'movie ' + str(res.get('target')))}: {len(res['splits'])} split(s), " \
           f"preset {res.get('config', {}).get('preset', '?')}"


def summary_frame(res: dict) -> pd.DataFrame:
    """``model, label, mean, std, splits`` sorted by mean RMSE."""
    rows = [{"model": n, "label": MODEL_LABELS.get(n, n), "mean": s["mean"], "std": s["std"],
             "splits": len(s.get("per_split", []))} for n, s in res["summary"].items()]
    return pd.DataFrame(rows).sort_values("mean", kind="stable").reset_index(drop=True)


def split_frame(res: dict) -> pd.DataFrame:
    """One row per split: its seed, test users and each model's RMSE."""
    rows = []
    for i, s in enumerate(res["splits"]):
        row = {"split": i + 1, "seed": s.get("seed"), "test users": len(s["test"])}
        row.update({MODEL_LABELS.get(n, n): round(float(v), 4) for n, v in s["rmse"].items()})
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
                    rows.append((i + 1, r.get("user"), float(r["rating"]), m, MODEL_LABELS.get(m, m),
                                 float(r["pred"][m])))
    return pd.DataFrame(rows, columns=["split", "user", "rating", "model", "label", "pred"])
