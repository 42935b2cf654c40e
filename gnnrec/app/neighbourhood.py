"""A movie's neighbourhood on a graph of movies (the correlations, or the ranking GNN's co-rating
graph): the nodes and edges the Neighbourhood page draws, and its table.

No Streamlit in here; bad arguments raise ``ValueError`` naming the allowed range.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import data as data_mod
from ..graph import GraphConfig, ItemGraph, top_k_mask
from ..presets import PRESETS
from ..titles import natural_title
from .ratings_io import stars


@dataclasses.dataclass(frozen=True)
class Neighbourhood:
    """A movie's neighbourhood on one of :data:`GRAPHS`.

    nodes: ``movie, title, year, genres, raters, hop, corr (the edge weight with the target: a
    correlation, or a co-rating weight), via (title of the hop-1 movie a hop-2 movie hangs on),
    via_movie (its id, 0 for none), your_rating`` (NaN if not rated); the target first.
    edges: ``source, target, corr`` between shown movies (each movie's strongest links).
    """

    target: int
    nodes: pd.DataFrame
    edges: pd.DataFrame
    graph: str = "correlation"


MAX_NEIGHBOURS, MAX_NODES, MAX_COMMON = 25, 120, 300
GRAPHS = {"correlation": "correlation graph (the rating GNN's)",
          "co-rating": "co-rating graph (the ranking GNN's lists)"}  # graph -> its name on the page


def _rows(w, rows) -> np.ndarray:
    """Rows of a dense or scipy-sparse ``(N, N)`` graph, dense ``(len(rows), N)``."""
    rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
    return w[rows].toarray().astype(np.float64) if sp.issparse(w) else np.asarray(w[rows], dtype=np.float64)


def correlations(data: data_mod.MovieLens, config: GraphConfig | None = None) -> np.ndarray:
    """Pearson correlations of all ratings (used when no model is loaded), read-only."""
    corr = ItemGraph.build(data.matrix(), config or PRESETS["all"].graph).corr
    corr.flags.writeable = False
    return corr


def _strongest(row: np.ndarray, k: int, exclude) -> np.ndarray:
    """Indices of the ``k`` largest |row| entries (non-zero, not excluded), strongest first."""
    score = np.abs(row).astype(np.float64)
    score[np.asarray(list(exclude), dtype=np.int64)] = 0
    k = min(k, int((score > 0).sum()))
    if k <= 0:
        return np.array([], dtype=np.int64)
    idx = np.argpartition(-score, k - 1)[:k]
    return idx[np.argsort(-score[idx], kind="stable")]


def _check_args(k, hops, min_common, graph) -> None:
    """ValueError naming the first of :func:`neighbourhood`'s settings out of its range."""
    whole = lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool)  # noqa: E731
    if not (whole(k) and 1 <= k <= MAX_NEIGHBOURS):
        raise ValueError(f"neighbours={k!r}: choose 1..{MAX_NEIGHBOURS}")
    if hops not in (1, 2):
        raise ValueError(f"hops={hops!r}: choose 1 or 2")
    if not (whole(min_common) and 1 <= min_common <= MAX_COMMON):
        raise ValueError(f"common raters={min_common!r}: choose 1..{MAX_COMMON}")
    if graph not in GRAPHS:
        raise ValueError(f"graph={graph!r}: choose one of {', '.join(GRAPHS)}")


def neighbourhood(corr, data: data_mod.MovieLens, movie: int, k: int = 10, hops: int = 1,
                  ratings: Mapping[int, float] | None = None, min_common: int = 25,
                  graph: str = "correlation") -> Neighbourhood:
    """The ``k`` movies most strongly linked to ``movie`` on the ``(N, N)`` graph ``corr`` (dense
    correlations, or the ranking GNN's scipy-sparse shift with ``graph="co-rating"``; either sign)
    among those that at least ``min_common`` users rated together with it, and with ``hops=2`` each
    of those movies' own ``k`` strongest (at most :data:`MAX_NODES` movies in all). Edges join
    shown movies where one is among the other's ``k`` strongest, and each movie to the one it was
    found through."""
    movie = data.check_movie(movie)
    _check_args(k, hops, min_common, graph)
    t = movie - 1
    ratings = dict(ratings or {})
    seen = (data.matrix() > 0).astype(np.float32)  # (U, N)

    def supported(i: int) -> np.ndarray:  # row i of the correlations, 0 where too few co-raters
        return np.where(seen[:, i] @ seen >= min_common, _rows(corr, i)[0], 0.0)

    order, hop, via = [t], {t: 0}, {}
    first = _strongest(supported(t), k, [t])
    for j in first:
        order.append(int(j))
        hop[int(j)] = 1
    if hops == 2:
        for i in first:
            for j in _strongest(supported(int(i)), k, order):
                if len(order) >= MAX_NODES:
                    break
                order.append(int(j))
                hop[int(j)], via[int(j)] = 2, int(i)
    idx = np.array(order)
    digits = 3 if graph == "correlation" else 5  # co-rating weights are small (0.001-0.06)
    n_raters = data.n_raters()
    mv = data.movies.iloc[idx]
    nodes = pd.DataFrame({
        "movie": idx + 1, "title": [natural_title(t) for t in mv["title"]], "year": mv["year"].to_numpy(),
        "genres": mv["genres"].str.replace("|", ", ", regex=False).to_numpy(), "raters": n_raters[idx],
        "hop": [hop[i] for i in order], "corr": np.where(idx == t, np.nan, _rows(corr, t)[0, idx]).round(digits),
        "via": [natural_title(data.movies.at[via[i], "title"]) if i in via else None for i in order],
        "via_movie": [via[i] + 1 if i in via else 0 for i in order],
        "your_rating": [float(ratings[i + 1]) if i + 1 in ratings else np.nan for i in order],
    })
    # edges: the k-strongest graph (with the same co-rater minimum) restricted to the shown movies
    common = seen[:, idx].T @ seen[:, idx]  # (V, V)
    sub = np.where(common >= min_common, _rows(corr, idx)[:, idx], 0.0)
    np.fill_diagonal(sub, 0)
    keep = np.zeros(sub.shape, dtype=bool)  # (V, V)
    kk = min(k, len(idx) - 1)
    if kk > 0:  # each movie's kk strongest |corr| (ties at the kk-th kept, as in the graph), either way round
        a = np.abs(sub)
        keep = top_k_mask(a, kk) & (a > 0)
        keep |= keep.T
    pos = {m: p for p, m in enumerate(order)}
    for j in order[1:]:  # the tree: each movie to the one it was found through (else it could float alone)
        p, q = pos[j], pos[via.get(j, t)]
        keep[p, q] = keep[q, p] = sub[p, q] != 0
    ii, jj = np.nonzero(np.triu(keep, 1))
    edges = pd.DataFrame({"source": idx[ii] + 1, "target": idx[jj] + 1, "corr": sub[ii, jj].round(digits),
                          "common": common[ii, jj].astype(int)})
    return Neighbourhood(movie, nodes, edges, graph)


def neighbour_table(nb: Neighbourhood) -> pd.DataFrame:
    """The neighbours (not the movie itself) for a sortable table, strongest first; the link's
    weight is ``correlation`` on the correlation graph, ``weight`` on the co-rating graph."""
    t = nb.nodes.iloc[1:]
    return pd.DataFrame({"title": t["title"].to_numpy(), "correlation" if nb.graph == "correlation" else "weight":
                         t["corr"].to_numpy(),
                         "hop": t["hop"].to_numpy(), "raters": t["raters"].to_numpy(),
                         "your rating": [stars(r) if pd.notna(r) else "" for r in t["your_rating"]],
                         "year": t["year"].to_numpy(),
                         "via": t["via"].to_numpy(), "genres": t["genres"].to_numpy(), "movie": t["movie"].to_numpy()})
