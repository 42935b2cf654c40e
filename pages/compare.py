"""Compare: GNN vs k-NN (and the linear filter and item mean) on the seed's target-movie protocol."""

import streamlit as st

from gnnrec.app import live, results, viz
from gnnrec.evaluate import DEFAULT_TARGET
from pages.parts import cache, heavy, my_ratings, session, text

session.guard()

st.title("Compare the models")
st.caption("The seed's protocol: for one target movie, random splits of its raters into train / validation / "
           "test users; each model predicts the test users' rating of that movie from their other ratings.")
text.show_flash()
data = cache.require_data()
labels = cache.labels()

source = st.radio("Results", ["Saved results", "Run live"], horizontal=True, key="cmp_source")
result = None
if source == "Saved results":
    files = results.result_files()
    good = {}
    for path in files:
        try:
            good[str(path)] = cache.saved_result(str(path), path.stat().st_mtime_ns)
        except (results.ResultError, OSError) as e:
            text.alert("warning", f"Skipped a results file: {e}")
    if not good:
        st.info("No saved evaluations in the results folder. Make one with "
                "`python -m gnnrec evaluate --target 50 --splits 10 --json results/star-wars.json`, "
                "or choose **Run live**.")
    else:
        pick = st.selectbox("Evaluation", list(good), key="cmp_file",
                            format_func=lambda p: f"{p.rsplit('/', 1)[-1]} · {results.result_title(good[p])}")
        result = good[pick]
else:
    c1, c2, c3 = st.columns([3, 1, 1])
    target = c1.selectbox("Target movie", list(labels), index=DEFAULT_TARGET - 1, format_func=labels.get,
                          key="cmp_target")
    splits = c2.number_input("Splits", 1, live.MAX_LIVE_SPLITS, 1, key="cmp_splits",
                             help="Each split trains a GNN and a linear filter: 10-30 s here.")
    preset = c3.selectbox("GNN preset", live.eval_presets(), index=live.eval_presets().index("best"),
                          key="cmp_preset")
    ekey = live.eval_key(cache.data_info()["fingerprint"], int(target), int(splits), preset)
    result = live.cached_evaluation(ekey)
    job = st.session_state.get("eval_job")
    if result is None:
        st.button("Run the evaluation", key="cmp_run", type="primary", disabled=bool(job and job.running),
                  on_click=heavy.on_run_evaluation)
        if "cmp_error" in st.session_state:
            text.alert("error", st.session_state.pop("cmp_error"))
        job = st.session_state.get("eval_job")
    if job is not None and (job.running or job.state in ("failed", "cancelled")):
        @st.fragment(run_every=1.0 if job.running else None)
        def progress():
            job.touch()  # this tab is still here
            done = job.events()
            st.progress(min(1.0, len(done) / (job.total or 1)) if job.running else 1.0,
                        text=f"Evaluating {job.label}: {len(done)} split(s) done, {job.elapsed():.0f} s")
            for i, r in done:
                st.caption(f"split {i + 1}: " + ", ".join(f"{results.MODEL_LABELS.get(m, m)} {v:.3f}"
                                                          for m, v in r["rmse"].items()))
            if job.state in ("failed", "cancelled"):
                text.alert("error", f"The evaluation {job.state}: {job.error}")
            elif not job.running:
                st.rerun(scope="app")

        progress()
    if result is not None:
        st.caption("Seeded: the same request always gives the same result (kept for every user of this app).")

if result is not None:
    summary = results.summary_frame(result)
    a, b = st.columns(2, gap="large")
    with a:
        st.plotly_chart(viz.rmse_bars(summary, results.result_title(result)), key="cmp_bars")
    with b:
        models = st.multiselect("Scatter", list(summary["model"]), default=[m for m in ("gnn", "knn")
                                if m in set(summary["model"])], format_func=lambda m: results.MODEL_LABELS.get(m, m),
                                key="cmp_models")
        st.plotly_chart(viz.prediction_scatter(results.scatter_frame(result, models)), key="cmp_scatter")
    st.dataframe(results.split_frame(result), hide_index=True, key="cmp_splits_table")

# -- this user -------------------------------------------------------------------------------------------
st.divider()
st.subheader("Where the two models disagree for you")
ratings = my_ratings.ratings()
rec, error = cache.recommender()
if not ratings:
    st.info("Rate some movies on the Recommend page to see where GNN and k-NN disagree for you.")
elif rec is None:
    text.alert("error", error)
else:
    top, min_raters = st.session_state.get("top_n", 10), st.session_state.get("min_raters", 20)
    key, rk = cache.model_key(), my_ratings.rkey()
    table = cache.disagreements(key, rk, top, min_raters, 12, rec)
    res = cache.recommendations(key, rk, top, min_raters, rec)
    st.dataframe(table, hide_index=True, key="cmp_disagree", column_config={"movie": None})
    st.caption("Hops: graph distance on the GNN's graph from the nearest movie you rated (the GNN sees "
               f"{rec.gnn.receptive_field()} hops far). Closest rated movie: the one most correlated with it, "
               "what the k-NN leans on.")
    a, _ = st.columns([3, 2])
    a.plotly_chart(viz.disagreement_scatter(res.predictions, table), key="cmp_disagree_plot")
