"""The Compare page's views: one target-movie evaluation (bars, scatter, splits), a panel of
random movies (who wins where, the GNN / reference ratio per movie), a live evaluation's progress,
and where the two models disagree for you.
"""

from __future__ import annotations

import streamlit as st

from gnnrec.app import charts, insights, progress, results
from gnnrec.app.glossary import term

from . import cache, heavy, my_ratings
from .text import alert, plain


def target_view(result: dict, key: str = "cmp") -> None:
    """One target-movie evaluation: mean RMSE per model, predicted vs true per test user, splits."""
    summary = results.summary_frame(result)
    a, b = st.columns(2, gap="large")
    with a:
        st.markdown("##### Test RMSE per model", help=term("rmse"))
        st.plotly_chart(charts.rmse_bars(summary), key=f"{key}_bars", config=charts.PLOTLY_CONFIG)
        st.caption("Bars: mean over the splits, whiskers: ± one standard deviation. The axis starts at 0.")
    with b:
        st.markdown("##### Predicted vs true rating")
        models = st.multiselect("Models in the scatter", list(summary["model"]),
                                default=[m for m in ("gnn", "knn_baseline", "knn") if m in set(summary["model"])][:2],
                                format_func=results.label, key=f"{key}_models")
        st.plotly_chart(charts.prediction_scatter(results.scatter_frame(result, models)), key=f"{key}_scatter",
                        config=charts.PLOTLY_CONFIG)
    st.markdown("##### Each split", help=term("splits"))
    st.dataframe(results.split_frame(result), hide_index=True, key=f"{key}_splits_table")


def panel_view(panel: dict) -> None:
    """A panel: how often the GNN beats the reference, the ratio per movie, each model's wins and
    mean RMSE, the per-movie table; one movie's evaluation on request."""
    ratios = results.panel_ratios(panel)
    ref = results.label(ratios["reference"])
    models = results.panel_models_frame(panel)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Movies", len(panel["rows"]), help=term("panel"))
    c2.metric(f"GNN better than {ref}", f"{ratios['below']} of {ratios['n']}", help=term("ratio"))
    c3.metric("Ratio, median", f"{ratios['median']:.3f}" if ratios["median"] is not None else "—", help=term("ratio"))
    c4.metric("Ratio, mean", f"{ratios['mean']:.3f}" if ratios["mean"] is not None else "—", help=term("ratio"))
    table = results.panel_frame(panel)
    a, b = st.columns([3, 2], gap="large")
    with a:
        st.markdown(f"##### GNN RMSE / {plain(ref)} RMSE, per movie", help=term("ratio"))
        if ratios["n"]:
            st.plotly_chart(charts.ratio_bars(table, ratios["reference"]), key="panel_ratios", config=charts.PLOTLY_CONFIG)
        else:
            st.info(f"The file holds no ratio to {plain(ref)} for any movie.")
    with b:
        st.markdown("##### Who wins where", help=term("wins"))
        st.dataframe(models.drop(columns="model").rename(columns={"label": "model", "mean": "mean RMSE"}),
                     hide_index=True, key="panel_models",
                     column_config={"mean RMSE": st.column_config.NumberColumn(format="%.4f", help=term("rmse")),
                                    "wins": st.column_config.NumberColumn(help=term("wins"))})
        st.caption("mean RMSE: the mean over the panel's movies of each movie's mean over its splits.")
    st.markdown("##### Each movie")
    st.dataframe(table, hide_index=True, key="panel_table",
                 column_config={"movie": None, "title": st.column_config.TextColumn(width="medium"),
                                "ratio": st.column_config.NumberColumn("GNN / ref", format="%.3f", help=term("ratio")),
                                **{results.label(m): st.column_config.NumberColumn(format="%.3f")
                                   for m in models["model"]}})
    movies = [r["movie"] for r in panel["rows"] if results.panel_movie(panel, r["movie"]) is not None]
    if movies:
        titles = dict(zip(table["movie"], table["title"]))
        pick = st.selectbox("Look at one movie's evaluation", movies, index=None, format_func=titles.get,
                            key="panel_movie", placeholder="Pick a movie of the panel …")
        if pick is not None:
            target_view(results.panel_movie(panel, pick), key="panel_one")


def live_progress(job) -> None:
    """A live evaluation while it runs (refreshed every second): what it does, how far, how long
    it has left, each split's RMSEs as they come; its owner can cancel it."""
    @st.fragment(run_every=1.0 if job.running else None)
    def show():
        if heavy.mine(job):
            job.touch()  # this tab is still here
        events = job.events()
        status = progress.eval_status(events, job.total or 1, job.started)
        if job.running:
            key = f"_eval_bar_{id(job)}"  # the bar never goes back (a new event may correct an interpolation)
            st.session_state[key] = shown = max(status.fraction, st.session_state.get(key, 0.0))
            st.progress(shown, text=plain(f"Evaluation {job.label}: {status.line(job.elapsed())}"))
            if heavy.mine(job):
                st.button("Cancel the evaluation", key="cmp_cancel", on_click=job.cancel, args=("cancelled by you",),
                          disabled=job.cancel_requested)
        for i, rmse in progress.eval_results(events):
            st.caption(f"split {i + 1}: " + ", ".join(f"{results.label(m)} {v:.3f}" for m, v in rmse.items()))
        if job.state in ("failed", "cancelled"):
            alert("error" if job.state == "failed" else "warning", f"The evaluation {job.state}: {job.error}")
        elif not job.running:
            st.rerun(scope="app")

    show()


def disagreements(rec, knn: str) -> None:
    """The movies where GNN and k-NN disagree most for you, both predicting from your ratings."""
    ss = st.session_state
    top, min_raters = ss.get("top_n", 10), ss.get("min_raters", insights.DEFAULT_MIN_RATERS)
    key, rk = cache.model_key(), my_ratings.rkey()
    table = cache.disagreements(key, rk, top, min_raters, 12, rec, knn)
    res = cache.recommendations(key, rk, top, min_raters, rec, knn)
    name = results.label(insights.knn_name(knn))
    st.caption(f"Among the movies with at least {min_raters} MovieLens ratings (as on the Recommend page) that both "
               f"the GNN and {name} predict from your ratings, where {name} rests on at least "
               f"{insights.MIN_SUPPORT} of them with total similarity at least {insights.MIN_SIMILARITY:.2f} "
               "(one weakly similar rating would otherwise decide alone).")
    if table.empty:
        st.info(f"No movie is predicted from enough of your ratings by both models yet: rate a few more "
                f"(at least {insights.MIN_SUPPORT} similar movies).")
        return
    two = {c: st.column_config.NumberColumn(c, format="%.2f") for c in ("GNN", name, "GNN − k-NN")}
    st.container(key="cmp_disagree_box").dataframe(
                 table.rename(columns={"gnn": "GNN", "knn": name, "gnn − knn": "GNN − k-NN"}), hide_index=True,
                 key="cmp_disagree", height=35 * (len(table) + 1) + 3,
                 column_order=["title", "GNN", name, "GNN − k-NN", "k-NN rests on", "their similarity", "raters",
                               "hops from your ratings", "genres", "closest rated movie", "its similarity"],
                 column_config={"movie": None, "title": st.column_config.TextColumn(width="medium"), **two,
                                "k-NN rests on": st.column_config.NumberColumn(
                                    help=f"how many of your ratings {name}'s prediction rests on (its neighbours)"),
                                "their similarity": st.column_config.NumberColumn(
                                    format="%.2f", help="their total similarity: " + term("similarity")),
                                "hops from your ratings": st.column_config.NumberColumn("hops", help=term("hops")),
                                "its similarity": st.column_config.NumberColumn(format="%.2f", help=term("similarity")),
                                "raters": st.column_config.NumberColumn(help=term("raters"))})
    st.caption(f"hops: steps on the GNN's graph from the nearest movie you rated (it sees {rec.gnn.receptive_field()} "
               "hops far). Closest rated movie: the one the k-NN finds most similar to it, what it leans on most.")
    a, _ = st.columns([3, 2])
    a.plotly_chart(charts.disagreement_scatter(insights.predicted_by_both(res, min_raters), table, name),
                   key="cmp_disagree_plot", config=charts.PLOTLY_CONFIG)
