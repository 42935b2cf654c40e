"""Scoring shared by every protocol: RMSE, a split's test records, summaries, re-scoring, store metrics."""

from __future__ import annotations

import numpy as np

from .data import MovieLens


def rmse(pred, true) -> float:
    pred, true = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    return float(np.sqrt(np.mean((pred - true) ** 2)))


def scored_records(users: np.ndarray, movies: np.ndarray, truth: np.ndarray, preds: dict) -> dict:
    """A split's ``test`` records and ``rmse``: ``preds`` maps a model to ``(values, fallback)``
    (both ``(R,)``). Records hold GroupLens ids and predictions (rounded to 5 decimals), never
    the true ratings: GroupLens's terms forbid redistributing them, and :func:`rescore` puts
    them back from the reader's own copy. The RMSE is of the rounded predictions, so a
    re-scored file gives exactly the stored numbers."""
    rounded = {n: np.round(np.asarray(v, dtype=np.float64), 5) for n, (v, _) in preds.items()}
    records = [{"user": int(u), "movie": int(m), "pred": {n: float(v[j]) for n, v in rounded.items()},
                "fallback": [n for n, (_, f) in preds.items() if f[j]]}
               for j, (u, m) in enumerate(zip(users, movies))]
    return {"test": records, "rmse": {n: rmse(v, truth) for n, v in rounded.items()}}


def summarise(splits: list[dict]) -> dict:
    """Mean, std (population, over splits) and per-split RMSE of each model, from each split's
    ``rmse``."""
    names = list(splits[0]["rmse"]) if splits else []
    out = {}
    for n in names:
        per = [float(s["rmse"][n]) for s in splits]
        out[n] = {"mean": float(np.mean(per)), "std": float(np.std(per)), "per_split": per}
    return out


def attach_ratings(result: dict, data: MovieLens) -> dict:
    """A copy of an evaluation (target or all-movies task) whose test records carry their true
    ``rating``, read from ``data`` (which must be the data the evaluation ran on)."""
    fp = result.get("data_fingerprint")
    if fp is not None and fp != data.fingerprint():
        raise ValueError(f"this evaluation ran on data {fp}, but the loaded data is {data.fingerprint()}; "
                         "its ratings cannot be looked up")
    x = data.matrix()

    def rating(r: dict) -> float:
        u, m = int(r["user"]), int(r["movie"])
        if not (1 <= u <= x.shape[0] and 1 <= m <= x.shape[1]) or x[u - 1, m - 1] == 0:
            raise ValueError(f"test record (user {r['user']!r}, movie {r['movie']!r}) is not a rating of this data")
        return float(x[u - 1, m - 1])

    out = dict(result)
    out["splits"] = [{**s, "test": [{**r, "rating": rating(r)} for r in s["test"]]} for s in result["splits"]]
    return out


def rescore(result: dict, data: MovieLens) -> dict:
    """Recompute every split's RMSE and the summary from the stored predictions and the true
    ratings in ``data``: what anyone holding MovieLens can check a results file with."""
    res = attach_ratings(result, data)
    for s in res["splits"]:
        y = [r["rating"] for r in s["test"]]
        s["rmse"] = {n: rmse([r["pred"][n] for r in s["test"]], y) for n in (s["test"][0]["pred"] if s["test"] else {})}
    res["summary"] = summarise(res["splits"])
    return res


def store_record(pred, preset: str, task: str, scores: dict | None = None, **fields) -> tuple[dict, dict]:
    """What the store keeps of a trained GNN predictor (:func:`gnnrec.store.save`'s ``metrics``
    and ``extra``): ``scores`` (e.g. a test RMSE), then the first member's best validation RMSE
    and its step, the training seconds of every member; the recipe's label, the task, ``fields``
    (seeds, folds, ...) and the first member's validation history."""
    res = pred.results[0]
    metrics = {**(scores or {}), "valid_rmse": res.best_valid_rmse, "best_step": res.best_step,
               "train_seconds": sum(r.seconds for r in pred.results)}
    extra = {"preset": preset, "task": task, **fields, "history": [list(h) for h in res.history]}
    return metrics, extra
