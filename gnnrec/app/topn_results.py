"""Saved top-N results (``gnnrec evaluate --task topn --json FILE``): checked, re-scored, shaped for Compare.

A file holds, per split seed, every held-out ``[user, movie]`` pair and every model's list per
user, no ratings (:func:`gnnrec.topn.protocol.evaluate_topn`). :func:`check_topn` bounds its
shape; :func:`prepare` checks it against the data (the pairs are ratings of it, the lists
re-score to the stored metrics, the summary is their mean) and returns it as arrays. No
Streamlit here; an unusable file raises :class:`~gnnrec.app.results.ResultError`.

Letters: U users, K list length, P held-out pairs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..data import N_MOVIES, N_USERS, MovieLens
from ..titles import natural_title
from ..topn import protocol
from .results import ResultError, label

MAX_SPLITS, MAX_MODELS, MAX_LIST, MAX_NAME = 20, 40, 100, 40
SHOWN = ("ndcg", "precision", "recall", "map", "hit_rate", "ndcg_liked", "coverage", "popularity")  # table columns
RATING_LISTS = ("gnn_rating", "knn", "knn_baseline")  # rating models ranked by their predicted rating
GNN, REFERENCE, RATING = "#e66101", "#5e81ac", "#999999"  # bar colours: the app's list, references, rating models


def _whole(v, lo: int, hi: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _pairs(pairs, where: str) -> None:
    if not (isinstance(pairs, list) and pairs):
        raise ResultError(f"{where} has no 'test_pairs'")
    for p in pairs:
        if not (isinstance(p, list) and len(p) == 2 and _whole(p[0], 1, N_USERS) and _whole(p[1], 1, N_MOVIES)):
            raise ResultError(f"{where}: a held-out pair {str(p)[:40]} is not [user 1..{N_USERS}, movie 1..{N_MOVIES}]")
    if len({(u, m) for u, m in pairs}) != len(pairs):
        raise ResultError(f"{where} holds a held-out pair twice")


def _lists(lists, where: str) -> None:
    if not (isinstance(lists, dict) and lists):
        raise ResultError(f"{where} holds no lists")
    for user, movies in lists.items():
        if not (user.isdecimal() and len(user) <= 4 and str(int(user)) == user and 1 <= int(user) <= N_USERS):
            raise ResultError(f"{where}: {user[:20]!r} is not a user id 1..{N_USERS}")
        if not (isinstance(movies, list) and len(movies) <= MAX_LIST and all(_whole(m, 1, N_MOVIES) for m in movies)):
            raise ResultError(f"{where}, user {user}: the list is not at most {MAX_LIST} movie ids 1..{N_MOVIES}")
        if len(set(movies)) != len(movies):
            raise ResultError(f"{where}, user {user}: the list holds a movie twice")


def _split(s, i: int) -> list[str]:
    """Raise ResultError unless split ``i`` is well formed; its model names."""
    if not (isinstance(s, dict) and _whole(s.get("seed"), 0, 2**32 - 1)):
        raise ResultError(f"split {i + 1} lacks a whole-number 'seed'")
    where = f"split seed {s['seed']}"
    _pairs(s.get("test_pairs"), where)
    top, scores = s.get("top"), s.get("metrics")
    if not (isinstance(top, dict) and 0 < len(top) <= MAX_MODELS and isinstance(scores, dict)):
        raise ResultError(f"{where}: 'top' is not 1..{MAX_MODELS} models' lists, or 'metrics' is missing")
    if set(top) != set(scores):
        raise ResultError(f"{where}: 'top' and 'metrics' name different models")
    for name in top:
        if len(name) > MAX_NAME:
            raise ResultError(f"{where}: a model name is over {MAX_NAME} characters")
        _lists(top[name], f"{where}, model {name!r}")
        m = scores[name]
        if not (isinstance(m, dict) and set(SHOWN) <= set(m) and all(_finite(v) for v in m.values())):
            raise ResultError(f"{where}: the metrics of {name!r} are not finite numbers for {', '.join(SHOWN)}")
    return sorted(top)


def check_topn(obj: dict) -> dict:
    """Raise ResultError unless ``obj`` is :func:`~gnnrec.topn.protocol.evaluate_topn`'s output
    with every value the Compare page reads of the right type and within bounds: users 1..943,
    movies 1..1682, lists of at most 100, the same models in every split and in the summary."""
    config, splits, summary = obj.get("config"), obj.get("splits"), obj.get("summary")
    if not (isinstance(config, dict) and _whole(config.get("k"), 1, MAX_LIST)):
        raise ResultError(f"its config's 'k' is not a whole number in 1..{MAX_LIST}")
    if not _finite(config.get("test_ratio", 0.25)) or not 0 < config.get("test_ratio", 0.25) < 1:
        raise ResultError("its config's 'test_ratio' is not a number in (0, 1)")
    if not (isinstance(splits, list) and 0 < len(splits) <= MAX_SPLITS):
        raise ResultError(f"it holds no splits, or more than {MAX_SPLITS}")
    models = [_split(s, i) for i, s in enumerate(splits)]
    if any(m != models[0] for m in models) or len({s["seed"] for s in splits}) != len(splits):
        raise ResultError("its splits name different models, or repeat a seed")
    if not (isinstance(summary, dict) and sorted(summary) == models[0]):
        raise ResultError("its 'summary' does not name the splits' models")
    for name, v in summary.items():
        if not (isinstance(v, dict) and all(isinstance(v.get(m), dict) and _finite(v[m].get("mean"))
                                            and _finite(v[m].get("std")) for m in SHOWN)):
            raise ResultError(f"the summary of {name!r} needs finite 'mean' and 'std' for {', '.join(SHOWN)}")
    if not isinstance(obj.get("data_fingerprint", ""), str):
        raise ResultError("its 'data_fingerprint' is not text")
    return obj


def prepare(obj: dict, data: MovieLens) -> dict:
    """A checked result held against ``data``: made on it (fingerprint, every pair a rating), its
    stored metrics what its lists score (:func:`gnnrec.topn.protocol.rescore`), its summary their
    mean and std. Returned with arrays per split: ``pairs`` ``(P, 2)`` and ``lists``
    ``{model: (U, K)}`` movie ids, 0 for an empty slot."""
    fp = obj.get("data_fingerprint")
    if fp is not None and fp != data.fingerprint():
        raise ResultError(f"it was made on data {fp}, but the loaded data is {data.fingerprint()}")
    x, k = data.matrix(), obj["config"]["k"]  # (U, N)
    out = []
    for s in obj["splits"]:
        pairs = np.asarray(s["test_pairs"], dtype=np.int64)  # (P, 2)
        if not (x[pairs[:, 0] - 1, pairs[:, 1] - 1] > 0).all():
            raise ResultError(f"split seed {s['seed']}: a held-out pair is not a rating of this data")
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
                    raise ResultError(f"split seed {s['seed']}: {name!r}'s stored {metric} {stored.get(metric)} is "
                                      f"not what its lists score ({value:.6g})")
    for name, per in obj["summary"].items():
        for metric in SHOWN:
            v = np.array([s["metrics"][name][metric] for s in obj["splits"]])  # (splits,)
            if not (math.isclose(per[metric]["mean"], v.mean(), abs_tol=1e-9)
                    and math.isclose(per[metric]["std"], v.std(), abs_tol=1e-9)):
                raise ResultError(f"the summary's {metric} of {name!r} is not the mean and std of its splits")


# -- the Compare page's list-quality view -------------------------------------------------------------------
def protocol_text(res: dict) -> str:
    """The protocol in words, from the file's config."""
    c = res["config"]
    test = round(100 * float(c.get("test_ratio", 0.25)))
    seeds = ", ".join(str(s["seed"]) for s in res["splits"])
    return (f"Each user's ratings split {100 - test}/{test} at random (split seeds {seeds}); each model's top "
            f"{c['k']} among the movies the user did not rate in training; a held-out movie is a hit ('liked': a "
            f"held-out rating of 4 or 5). Means over the {len(res['splits'])} splits, ± one standard deviation.")


def metrics_frame(res: dict) -> pd.DataFrame:
    """One row per model, best nDCG first: ``model, label``, each metric's mean, and the std of
    ``ndcg`` and ``coverage`` (``ndcg_std``, ``coverage_std``), from the file's summary."""
    rows = []
    for name, m in res["summary"].items():
        row = {"model": name, "label": label(name, "topn")}
        row.update({metric: float(m[metric]["mean"]) for metric in SHOWN})
        row.update(ndcg_std=float(m["ndcg"]["std"]), coverage_std=float(m["coverage"]["std"]))
        rows.append(row)
    return pd.DataFrame(rows).sort_values("ndcg", ascending=False, kind="stable").reset_index(drop=True)


def quality_bars(frame: pd.DataFrame, k: int):
    """nDCG@k (± std across seeds) and catalogue coverage per model, side by side, best on top."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from .viz import esc

    f = frame.iloc[::-1]  # plotly draws the first category at the bottom
    names = [esc(n) for n in f["label"]]
    colours = [GNN if m == "gnn" else RATING if m in RATING_LISTS else REFERENCE for m in f["model"]]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.62, 0.38], horizontal_spacing=0.04,
                        subplot_titles=(f"nDCG@{k} (higher is better)", "catalogue coverage"))
    for col, metric, fmt in ((1, "ndcg", ".3f"), (2, "coverage", ".2f")):
        fig.add_trace(go.Bar(y=names, x=f[metric], orientation="h", marker_color=colours, showlegend=False,
                             error_x={"type": "data", "array": f[f"{metric}_std"], "visible": True, "color": "#333333",
                                      "thickness": 1.2},
                             text=[format(v, fmt) for v in f[metric]], textposition="inside",
                             insidetextanchor="start", textfont={"color": "#ffffff"},
                             hovertemplate=f"%{{y}}: %{{x:{fmt}}} ± %{{error_x.array:{fmt}}}<extra></extra>"),
                      row=1, col=col)
    fig.update_xaxes(rangemode="tozero")
    fig.update_layout(height=90 + 30 * len(f), margin={"t": 30, "b": 20, "l": 10, "r": 10}, bargap=0.25,
                      yaxis={"automargin": True})
    return fig


def split_seeds(res: dict) -> list[int]:
    return [s["seed"] for s in res["splits"]]


def _split_of(res: dict, seed: int) -> dict:
    for s in res["splits"]:
        if s["seed"] == seed:
            return s
    raise ValueError(f"seed {seed!r}: the file's split seeds are {split_seeds(res)}")


def held_out(res: dict, seed: int, user: int) -> np.ndarray:
    """The movie ids held out of ``user``'s ratings in split ``seed`` (ascending)."""
    pairs = _split_of(res, seed)["pairs"]  # (P, 2)
    return np.sort(pairs[pairs[:, 0] == user, 1]).astype(np.int64)


def user_list(res: dict, seed: int, user: int, model: str) -> list[int]:
    """``model``'s list for ``user`` in split ``seed``, best first."""
    row = _split_of(res, seed)["lists"][model][user - 1]  # (K,)
    return [int(m) for m in row if m > 0]


def user_view(res: dict, seed: int, user: int, data: MovieLens, models) -> tuple[pd.DataFrame, pd.DataFrame]:
    """For ``user`` in split ``seed``: the lists of ``models`` side by side (``rank`` and one
    column per model label, hits marked ✓) and their held-out movies (``movie, title, found by``
    the labels of the lists that hold it, ``lists``: how many)."""
    if not _whole(int(user), 1, N_USERS):
        raise ValueError(f"user={user!r}: choose 1..{N_USERS}")
    held = set(held_out(res, seed, user).tolist())
    title = lambda m: natural_title(data.title(m))  # noqa: E731
    k = res["config"]["k"]
    lists = {"rank": list(range(1, k + 1))}
    found: dict[int, list[str]] = {m: [] for m in sorted(held)}
    for name in models:
        movies = user_list(res, seed, user, name)
        lists[label(name, "topn")] = [("✓ " if m in held else "") + title(m) for m in movies] + [""] * (k - len(movies))
        for m in held.intersection(movies):
            found[m].append(label(name, "topn"))
    table = pd.DataFrame({"movie": list(found), "title": [title(m) for m in found],
                          "found by": [", ".join(v) for v in found.values()], "lists": [len(v) for v in found.values()]})
    return pd.DataFrame(lists), table.sort_values(["lists", "movie"], ascending=[False, True],
                                                  kind="stable").reset_index(drop=True)


def hits(res: dict, seed: int, user: int, models) -> dict[str, int]:
    """How many of ``user``'s held-out movies each model's list holds."""
    held = set(held_out(res, seed, user).tolist())
    return {name: len(held.intersection(user_list(res, seed, user, name))) for name in models}
