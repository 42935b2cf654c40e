"""The item k-NNs a Recommender serves, fitted once per ratings and shared by every Recommender on them.

They depend on the ratings (and the plain k-NN on its graph's settings) alone, never on the GNN:
a second model, a reloaded one or the same model in another folder reuses them instead of
refitting (~0.85 s of CPU and ~34 MB for the pair on MovieLens-100K). Fitted objects are
read-only after ``fit``, so sharing them between threads is safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from . import data as data_mod
from .graph import GraphConfig, ItemGraph
from .predict import ItemKNN, KNNBaseline

KEEP = 4  # fits kept, the least recently used dropped first: a few ratings' or graph settings' worth
T = TypeVar("T")
_fits: OrderedDict[tuple, object] = OrderedDict()
_fitting: dict[tuple, threading.Lock] = {}  # one lock per fit under way: its other callers wait, not refit
_lock = threading.Lock()  # guards the two dicts (never held during a fit)


def _shared(key: tuple, fit: Callable[[], T]) -> T:
    with _lock:
        if key in _fits:
            _fits.move_to_end(key)
            return _fits[key]
        this = _fitting.setdefault(key, threading.Lock())
    with this:
        with _lock:
            if key in _fits:  # fitted by the caller this one waited for
                return _fits[key]
        out = fit()
        with _lock:
            _fits[key] = out
            _fitting.pop(key, None)
            while len(_fits) > KEEP:
                _fits.popitem(last=False)
        return out


def item_knn(data: data_mod.MovieLens, graph: GraphConfig) -> ItemKNN:
    """The plain mean-centred k-NN on the correlations of the graph built from every rating with ``graph``."""
    def fit() -> ItemKNN:
        x = data.matrix()
        return ItemKNN().fit(x, ItemGraph.build(x, graph))

    return _shared(("item_knn", data.fingerprint(), graph), fit)


def knn_baseline(data: data_mod.MovieLens) -> KNNBaseline:
    """The k-NN with baselines fitted on every rating."""
    return _shared(("knn_baseline", data.fingerprint()), lambda: KNNBaseline().fit(data.matrix()))


def clear() -> None:
    """Forget every shared fit (their memory goes once no Recommender holds them)."""
    with _lock:
        _fits.clear()
