"""Saved top-N files (``gnnrec evaluate --task topn --json FILE``): their shape bounded, then held against the data.

A file holds, per split seed, every held-out ``[user, movie]`` pair and every model's list per
user, no ratings (:func:`gnnrec.topn.protocol.evaluate_topn`). :func:`check_topn` bounds its
shape; :func:`prepare` checks it against the data (the pairs are ratings of it, the lists
re-score to the stored metrics, the summary is their mean) and returns it as arrays. Used by
:func:`gnnrec.app.results.load_result`, which names the file in the error; no Streamlit here.

Letters: U users, K list length, P held-out pairs.
"""

from __future__ import annotations

import math

import numpy as np

from ..data import N_MOVIES, N_USERS, MovieLens
from ..topn import protocol


class TopNFileError(ValueError):
    """A top-N file that is not usable (:func:`gnnrec.app.results.load_result` names the file)."""


MAX_SPLITS, MAX_MODELS, MAX_LIST, MAX_NAME = 20, 40, 100, 40
SHOWN = ("ndcg", "precision", "recall", "map", "hit_rate", "ndcg_liked", "coverage", "popularity")  # table columns


def _whole(v, lo: int, hi: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _pairs(pairs, where: str) -> None:
    if not (isinstance(pairs, list) and pairs):
        raise TopNFileError(f"{where} has no 'test_pairs'")
    for p in pairs:
        if not (isinstance(p, list) and len(p) == 2 and _whole(p[0], 1, N_USERS) and _whole(p[1], 1, N_MOVIES)):
            raise TopNFileError(f"{where}: a held-out pair {str(p)[:40]} is not [user 1..{N_USERS}, movie 1..{N_MOVIES}]")
    if len({(u, m) for u, m in pairs}) != len(pairs):
        raise TopNFileError(f"{where} holds a held-out pair twice")


def _lists(lists, where: str) -> None:
    if not (isinstance(lists, dict) and lists):
        raise TopNFileError(f"{where} holds no lists")
    for user, movies in lists.items():
        if not (user.isdecimal() and len(user) <= 4 and str(int(user)) == user and 1 <= int(user) <= N_USERS):
            raise TopNFileError(f"{where}: {user[:20]!r} is not a user id 1..{N_USERS}")
        if not (isinstance(movies, list) and len(movies) <= MAX_LIST and all(_whole(m, 1, N_MOVIES) for m in movies)):
            raise TopNFileError(f"{where}, user {user}: the list is not at most {MAX_LIST} movie ids 1..{N_MOVIES}")
        if len(set(movies)) != len(movies):
            raise TopNFileError(f"{where}, user {user}: the list holds a movie twice")


def _split(s, i: int) -> list[str]:
    """Raise TopNFileError unless split ``i`` is well formed; its model names."""
    if not (isinstance(s, dict) and _whole(s.get("seed"), 0, 2**32 - 1)):
        raise TopNFileError(f"split {i + 1} lacks a whole-number 'seed'")
    where = f"split seed {s['seed']}"
    _pairs(s.get("test_pairs"), where)
    top, scores = s.get("top"), s.get("metrics")
    if not (isinstance(top, dict) and 0 < len(top) <= MAX_MODELS and isinstance(scores, dict)):
        raise TopNFileError(f"{where}: 'top' is not 1..{MAX_MODELS} models' lists, or 'metrics' is missing")
    if set(top) != set(scores):
        raise TopNFileError(f"{where}: 'top' and 'metrics' name different models")
    for name in top:
        if len(name) > MAX_NAME:
            raise TopNFileError(f"{where}: a model name is over {MAX_NAME} characters")
        _lists(top[name], f"{where}, model {name!r}")
        m = scores[name]
        if not (isinstance(m, dict) and set(SHOWN) <= set(m) and all(_finite(v) for v in m.values())):
            raise TopNFileError(f"{where}: the metrics of {name!r} are not finite numbers for {', '.join(SHOWN)}")
    return sorted(top)


def check_topn(obj: dict) -> dict:
    """Raise TopNFileError unless ``obj`` is :func:`~gnnrec.topn.protocol.evaluate_topn`'s output
    with every value the Compare page reads of the right type and within bounds: users 1..943,
    movies 1..1682, lists of at most 100, the same models in every split and in the summary."""
    config, splits, summary = obj.get("config"), obj.get("splits"), obj.get("summary")
    if not (isinstance(config, dict) and _whole(config.get("k"), 1, MAX_LIST)):
        raise TopNFileError(f"its config's 'k' is not a whole number in 1..{MAX_LIST}")
    if not _finite(config.get("test_ratio", 0.25)) or not 0 < config.get("test_ratio", 0.25) < 1:
        raise TopNFileError("its config's 'test_ratio' is not a number in (0, 1)")
    if not (isinstance(splits, list) and 0 < len(splits) <= MAX_SPLITS):
        raise TopNFileError(f"it holds no splits, or more than {MAX_SPLITS}")
    models = [_split(s, i) for i, s in enumerate(splits)]
    if any(m != models[0] for m in models) or len({s["seed"] for s in splits}) != len(splits):
        raise TopNFileError("its splits name different models, or repeat a seed")
    if not (isinstance(summary, dict) and sorted(summary) == models[0]):
        raise TopNFileError("its 'summary' does not name the splits' models")
    for name, v in summary.items():
        if not (isinstance(v, dict) and all(isinstance(v.get(m), dict) and _finite(v[m].get("mean"))
                                            and _finite(v[m].get("std")) for m in SHOWN)):
            raise TopNFileError(f"the summary of {name!r} needs finite 'mean' and 'std' for {', '.join(SHOWN)}")
    if not isinstance(obj.get("data_fingerprint", ""), str):
        raise TopNFileError("its 'data_fingerprint' is not text")
    return obj


def prepare(obj: dict, data: MovieLens) -> dict:
    """A checked result held against ``data``: made on it (fingerprint, every pair a rating), its
    stored metrics what its lists score (:func:`gnnrec.topn.protocol.rescore`), its summary their
    mean and std. Returned with arrays per split: ``pairs`` ``(P, 2)`` and ``lists``
    ``{model: (U, K)}`` movie ids, 0 for an empty slot."""
    fp = obj.get("data_fingerprint")
    if fp is not None and fp != data.fingerprint():
        raise TopNFileError(f"it was made on data {fp}, but the loaded data is {data.fingerprint()}")
    x, k = data.matrix(), obj["config"]["k"]  # (U, N)
    out = []
    for s in obj["splits"]:
        pairs = np.asarray(s["test_pairs"], dtype=np.int64)  # (P, 2)
        if not (x[pairs[:, 0] - 1, pairs[:, 1] - 1] > 0).all():
            raise TopNFileError(f"split seed {s['seed']}: a held-out pair is not a rating of this data")
        lists = {}
        for name, per_user in s["top"].items():
            arr = np.zeros((N_USERS, k), dtype=np.int32)  # (U, K)
            for user, movies in per_user.items():
                arr[int(user) - 1, :min(k, len(movies))] = movies[:k]
            lists[name] = arr
        out.append({"seed": s["seed"], "pairs": pairs.astype(np.int32), "lists": lists, "metrics": s["metrics"]})
    _same_scores(obj, protocol.rescore(obj, data))
    return {"task": "topn", "config": obj["config"], "data_fingerprint": fp, "summary": obj["summary"],
            "splits": out}


def _same_scores(obj: dict, again: dict) -> None:
    for s in obj["splits"]:
        for name, stored in s["metrics"].items():
            for metric, value in again[s["seed"]][name].items():
                if not math.isclose(stored.get(metric, math.nan), value, rel_tol=1e-9, abs_tol=1e-9):
                    raise TopNFileError(f"split seed {s['seed']}: {name!r}'s stored {metric} {stored.get(metric)} is "
                                      f"not what its lists score ({value:.6g})")
    for name, per in obj["summary"].items():
        for metric in SHOWN:
            v = np.array([s["metrics"][name][metric] for s in obj["splits"]])  # (splits,)
            if not (math.isclose(per[metric]["mean"], v.mean(), abs_tol=1e-9)
                    and math.isclose(per[metric]["std"], v.std(), abs_tol=1e-9)):
                raise TopNFileError(f"the summary's {metric} of {name!r} is not the mean and std of its splits")
