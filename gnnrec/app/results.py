"""Saved target-movie evaluations (JSON from ``gnnrec evaluate``): found, checked, shown as tables.

The files come from ``python -m gnnrec evaluate --task target --json results/FILE.json``; the tables
are the Compare page's.
No Streamlit in here; an unusable file raises :class:`ResultError` naming the problem.
"""

from __future__ import annotations

import json
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


def check_result(obj) -> dict:
    """Raise ResultError unless ``obj`` looks like :func:`gnnrec.evaluate.evaluate_target`'s output."""
    if not isinstance(obj, dict) or obj.get("task") != "target":
        raise ResultError("not a target-movie evaluation (`python -m gnnrec evaluate --task target --json FILE`)")
    splits = obj.get("splits")
    if not isinstance(splits, list) or not splits:
        raise ResultError("it holds no splits")
    for s in splits:
        if not (isinstance(s, dict) and isinstance(s.get("rmse"), dict) and isinstance(s.get("test"), list)):
            raise ResultError("a split lacks its 'rmse' or 'test' records")
        for r in s["test"][:3]:
            if not (isinstance(r, dict) and isinstance(r.get("user"), int) and isinstance(r.get("pred"), dict)):
                raise ResultError("a test record lacks its 'user' or 'pred'")
    if not isinstance(obj.get("summary"), dict) or not obj["summary"]:
        raise ResultError("it has no 'summary'")
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
