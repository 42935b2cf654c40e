"""The Compare page's list-quality view of saved top-N results: the metrics per model, a chart,
the protocol in words, and one user's held-out movies against each model's list.

The results come from :func:`gnnrec.app.results.load_result` with the data (checked and held
against it by :mod:`gnnrec.app.topn_files`: arrays per split). No Streamlit here.

Letters: U users, K list length, P held-out pairs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import N_USERS, MovieLens
from ..titles import natural_title
from .results import label
from .topn_files import SHOWN

RATING_LISTS = ("gnn_rating", "knn", "knn_baseline")  # rating models ranked by their predicted rating
GNN, REFERENCE, RATING = "#e66101", "#5e81ac", "#999999"  # bar colours: the app's list, references, rating models


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

    from .graph_view import esc

    f = frame.iloc[::-1]  # plotly draws the first category at the bottom
    names = [esc(n) for n in f["label"]]
    colours = [GNN if m == "gnn" else RATING if m in RATING_LISTS else REFERENCE for m in f["model"]]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.62, 0.38], horizontal_spacing=0.04,
                        subplot_titles=(f"nDCG@{k} (higher: better)", "coverage"))
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
    if isinstance(user, bool) or not 1 <= int(user) <= N_USERS:
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
