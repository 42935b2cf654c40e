"""The Compare page's list-quality view: saved top-N results (each model's metrics, a chart, the
protocol in words) and one user's held-out movies against each model's list."""

from __future__ import annotations

import streamlit as st

from gnnrec.app import charts, results, topn_results
from gnnrec.app.glossary import term
from gnnrec.data import N_USERS

from . import cache
from .text import alert

DEFAULT_LISTS = ("gnn", "ease", "lightgcn", "popular", "gnn_rating")  # the per-user lists shown at first
MAKE = "`python -m gnnrec evaluate --task topn --seed 1 --splits 3 --json results/topn-1-3.json`"


def number(name: str, fmt: str = "%.3f", **kw):
    return st.column_config.NumberColumn(name, format=fmt, **kw)


def show() -> None:
    """Pick a saved top-N result; its metrics per model; one user's lists."""
    files = []
    for path in results.result_files():
        try:
            files.append((str(path), path.stat().st_mtime_ns))
        except OSError as e:
            alert("warning", f"Skipped a results file: {path.name} ({e.strerror})")
    good, skipped = cache.saved_topn(tuple(files))
    for why in skipped:
        alert("warning", f"Skipped a results file: {why}")
    if not good:
        st.info(f"No saved top-N results in the results folder. Make one with {MAKE} (about 15 minutes).")
        return
    pick = st.selectbox("Top-N results", list(good), key="topn_file",
                        format_func=lambda p: f"{p.rsplit('/', 1)[-1]} · {results.result_title(good[p])}")
    res, k = good[pick], good[pick]["config"]["k"]
    st.subheader("List quality (top-N)", help=term("topn"))
    st.caption(topn_results.protocol_text(res))
    frame = topn_results.metrics_frame(res)
    st.plotly_chart(topn_results.quality_bars(frame, k), key="topn_bars", config=charts.PLOTLY_CONFIG)
    st.caption("Orange: the ranking GNN, whose list the Recommend page shows; grey: rating models ranked by their "
               "predicted rating; blue: references. Whiskers: ± one standard deviation across split seeds.")
    st.dataframe(frame, hide_index=True, key="topn_table",
                 column_order=["label", "ndcg", "ndcg_std", "precision", "recall", "map", "hit_rate", "ndcg_liked",
                               "coverage", "popularity"],
                 column_config={"label": st.column_config.TextColumn("model", width="medium"),
                                "ndcg": number(f"nDCG@{k}"), "ndcg_std": number("±", "%.3f"),
                                "precision": number(f"Precision@{k}"), "recall": number(f"Recall@{k}"),
                                "map": number(f"MAP@{k}"), "hit_rate": number("hit rate", help=term("hit_rate")),
                                "ndcg_liked": number(f"nDCG@{k}, liked", help=term("liked")),
                                "coverage": number("coverage", "%.2f", help=term("coverage")),
                                "popularity": number("popularity", "%.0f", help=term("popularity"))})
    one_user(res, [m for m in frame["model"]])


def one_user(res: dict, models: list[str]) -> None:
    """A user's held-out movies in one split against the chosen models' lists, hits marked."""
    st.markdown("##### One user: held-out movies against each list")
    c1, c2, c3 = st.columns([1, 1, 4], vertical_alignment="bottom")
    seed = c1.selectbox("Split seed", topn_results.split_seeds(res), key="topn_seed")
    user = c2.number_input("User", 1, N_USERS, 1, key="topn_user", help="A MovieLens user id, 1 to 943.")
    shown = c3.multiselect("Lists", models, default=[m for m in DEFAULT_LISTS if m in models], key="topn_models",
                           format_func=lambda m: results.label(m, "topn"))
    lists, held = topn_results.user_view(res, int(seed), int(user), cache.require_data(), shown)
    hits = topn_results.hits(res, int(seed), int(user), shown)
    st.dataframe(lists, hide_index=True, key="topn_lists",
                 column_config={"rank": st.column_config.NumberColumn("#", width="small")})
    st.caption(f"✓: one of user {int(user)}'s {len(held)} held-out movies (a hit). Hits: "
               + (", ".join(f"{results.label(m, 'topn')} {n}" for m, n in hits.items()) or "no list chosen") + ".")
    st.dataframe(held, hide_index=True, key="topn_held",
                 column_config={"movie": None, "title": st.column_config.TextColumn(width="large"),
                                "lists": st.column_config.NumberColumn(help="How many of the lists shown hold it.")})
