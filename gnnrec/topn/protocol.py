"""The top-N protocol: per-user 75/25 splits, every model's top-K among the movies the user did not
rate in training, scored on the held-out ones; a result file anyone can re-score (no ratings).

Letters: U users, N movies, K list length.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ..data import MovieLens
from . import metrics
from .rankers import EASE, GFCF, ByRating, ItemCosine, Popular, Ranker
from .split import TEST_RATIO, topn_split

K = 10  # list length scored by default
REFERENCES = ("popular", "item_cosine", "ease", "gf_cf", "gf_cf_ideal", "lightgcn")
RATING_LISTS = ("gnn_rating", "knn", "knn_baseline")  # today's rating models, ranked by predicted rating
MODELS = ("gnn", *REFERENCES, *RATING_LISTS)
QUICK = tuple(m for m in MODELS if m not in ("lightgcn", "gnn_rating"))  # the minute-scale subset


def build(name: str, train: np.ndarray, seed: int) -> Ranker:
    """Model ``name`` (one of :data:`MODELS`) fitted on ``(U, N)`` training ratings."""
    if name == "gnn":
        from .training import RankTrainConfig, fit_rank_gnn

        return fit_rank_gnn(train, tc=RankTrainConfig(seed=seed))
    simple = {"popular": Popular, "item_cosine": ItemCosine, "ease": lambda: EASE(500.0),
              "gf_cf": lambda: GFCF(alpha=0.0), "gf_cf_ideal": GFCF}
    if name in simple:
        return simple[name]().fit(train)
    if name == "lightgcn":
        from .lightgcn import LightGCNConfig, LightGCNRanker

        try:
            import torch_geometric  # noqa: F401
        except ImportError:
            raise ValueError("lightgcn needs PyTorch Geometric: pip install 'gnnrec[eval]', or leave lightgcn out of "
                             "--models") from None

        return LightGCNRanker(LightGCNConfig(seed=seed)).fit(train)
    if name in RATING_LISTS:
        return ByRating(_rating_model(name, train, seed), name).fit(train)
    raise ValueError(f"model {name!r} is not one of {', '.join(MODELS)}")


def _rating_model(name: str, train: np.ndarray, seed: int):
    from ..graph import ItemGraph
    from ..predict import ItemKNN, KNNBaseline
    from ..presets import preset

    if name == "knn_baseline":
        return KNNBaseline().fit(train)
    if name == "knn":
        return ItemKNN().fit(train, ItemGraph.build(train, preset("all", task="all").graph))
    from ..allmovies import fit_gnn

    return fit_gnn(train, "all", seed)


def check_models(models) -> tuple[str, ...]:
    models = tuple(models)
    bad = [m for m in models if m not in MODELS]
    if bad or not models:
        raise ValueError(f"models {bad or '(none)'}: choose among {', '.join(MODELS)}")
    return models


def run_split(data: MovieLens, seed: int, models=MODELS, k: int = K, on_model: Callable | None = None) -> dict:
    """One split: every model's lists for every user, their metrics and fit-and-list seconds."""
    split = topn_split(data, seed)
    users = np.arange(split.train.shape[0])  # (U,) every user has held-out movies
    popularity = (split.train > 0).sum(0).astype(np.float64)
    out = {"seed": seed, "test_pairs": split.test_pairs.tolist(), "top": {}, "metrics": {}, "seconds": {}}
    for name in models:
        t0 = time.perf_counter()
        top = build(name, split.train, seed).recommend(split.train, k, users=users)  # (U, K)
        out["seconds"][name] = time.perf_counter() - t0
        out["top"][name] = {str(u + 1): [int(m) + 1 for m in row if m >= 0] for u, row in enumerate(top)}
        out["metrics"][name] = metrics.score_lists(top, split.test, popularity, k)
        if on_model is not None:
            on_model(name, out["metrics"][name], out["seconds"][name])
    return out


def summarise(splits: list[dict]) -> dict:
    """``{model: {metric: {"mean", "std"}}}`` over the splits."""
    out = {}
    for name in splits[0]["metrics"]:
        rows = [s["metrics"][name] for s in splits]
        out[name] = {m: {"mean": float(np.mean([r[m] for r in rows])), "std": float(np.std([r[m] for r in rows]))}
                     for m in rows[0]}
    return out


def evaluate_topn(data: MovieLens, seeds=(42,), k: int = K, models=MODELS,
                  on_model: Callable | None = None) -> dict:
    """The protocol on each split seed; a JSON-ready dict with lists and pairs, no ratings."""
    models = check_models(models)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 100:
        raise ValueError(f"k={k!r} must be a whole number in 1..100 (the list length scored)")
    t0 = time.perf_counter()
    splits = []
    for seed in seeds:
        splits.append(run_split(data, int(seed), models, k,
                                None if on_model is None else lambda n, m, s, seed=seed: on_model(seed, n, m, s)))
    return {"task": "topn", "config": {"seeds": [int(s) for s in seeds], "k": k, "test_ratio": TEST_RATIO,
                                       "models": list(models)},
            "data_fingerprint": data.fingerprint(), "splits": splits, "summary": summarise(splits),
            "seconds": time.perf_counter() - t0}


def rescore(result: dict, data: MovieLens) -> dict:
    """Score a result file's lists again from your own copy of MovieLens: ``{seed: {model: metrics}}``.
    The held-out ratings are looked up from the data by the file's pairs; training popularity is
    every rating minus those pairs."""
    k = int(result["config"]["k"])
    full = data.matrix()  # (U, N)
    out = {}
    for s in result["splits"]:
        pairs = np.asarray(s["test_pairs"], dtype=np.int64).reshape(-1, 2) - 1  # (P, 2) indices
        test = np.zeros_like(full)
        test[pairs[:, 0], pairs[:, 1]] = full[pairs[:, 0], pairs[:, 1]]
        popularity = ((full > 0) & (test == 0)).sum(0).astype(np.float64)
        out[s["seed"]] = {}
        for name, lists in s["top"].items():
            top = np.full((full.shape[0], k), -1, dtype=np.int64)
            for user, movies in lists.items():
                top[int(user) - 1, :len(movies)] = np.asarray(movies[:k], dtype=np.int64) - 1
            out[s["seed"]][name] = metrics.score_lists(top, test, popularity, k)
    return out


def format_table(summary: dict, k: int = K) -> str:
    """One row per model, best nDCG first."""
    cols = ("ndcg", "precision", "recall", "map", "hit_rate", "ndcg_liked", "coverage", "popularity")
    head = f"{'model':<14}" + "".join(f"{c + ('@' + str(k) if c in cols[:4] else ''):>14}" for c in cols)
    rows = [head]
    for name, m in sorted(summary.items(), key=lambda kv: -kv[1]["ndcg"]["mean"]):
        rows.append(f"{name:<14}" + "".join(f"{m[c]['mean']:>14.4f}" if c != "popularity" else f"{m[c]['mean']:>14.1f}"
                                            for c in cols))
    return "\n".join(rows)
