"""Compare: GNN vs the k-NNs (and the linear filter and item mean) on the seed's target-movie
protocol: saved evaluations, panels of random movies, a live run; the top-N lists' quality from
saved top-N results; and where they disagree for you."""

import streamlit as st

from gnnrec.app import jobs, live, results
from gnnrec.app.glossary import HOW, term
from gnnrec.evaluate import DEFAULT_PRESET, DEFAULT_TARGET
from pages.parts import cache, compare_views, heavy, my_ratings, session, text, topn_view

session.guard()

st.title("Compare the models")
st.caption("How well each model predicts ratings it never saw, on the seed's protocol: a target movie's raters are "
           "split into train, validation and test users.", help=term("protocol"))
text.show_flash()
data = cache.require_data()
labels = cache.labels()

source = st.radio("Results", ["Saved results", "Run live", "List quality (top-N)"], horizontal=True, key="cmp_source")
result = None
if source == "Saved results":
    good = {}
    for path in results.result_files():
        try:
            good[str(path)] = cache.saved_result(str(path), path.stat().st_mtime_ns)
        except (results.ResultError, OSError) as e:
            text.alert("warning", f"Skipped a results file: {e}")
    good = {p: r for p, r in good.items() if r.get("task") != "topn"}  # those are the List quality view's
    if not good:
        st.info("No saved evaluations in the results folder. Make one with "
                "`python -m gnnrec evaluate --target 50 --splits 10 --json results/star-wars.json` (or a panel of "
                "random movies with `--panel 20 --min-raters 100 --seed 1 --splits 3`), or choose **Run live**.")
    else:
        pick = st.selectbox("Evaluation", list(good), key="cmp_file",
                            format_func=lambda p: f"{p.rsplit('/', 1)[-1]} · {results.result_title(good[p])}")
        result = good[pick]
elif source == "List quality (top-N)":
    topn_view.show()
else:
    c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    target = c1.selectbox("Target movie", list(labels), index=DEFAULT_TARGET - 1, format_func=labels.get,
                          key="cmp_target")
    splits = c2.number_input("Splits", 1, live.MAX_LIVE_SPLITS, 1, key="cmp_splits",
                             help=term("splits") + f" About {live.SPLIT_SECONDS} s a split here.")
    preset = c3.selectbox("GNN preset", live.eval_presets(), index=live.eval_presets().index(DEFAULT_PRESET),
                          key="cmp_preset", help=term("preset"))
    ekey = live.eval_key(cache.data_info()["fingerprint"], int(target), int(splits), preset)
    result = live.cached_evaluation(ekey)
    job = st.session_state.get("eval_job")
    other = jobs.running()
    if result is None:
        busy = other is not None and not heavy.mine(other)
        if busy:
            st.info(text.plain(f"The server is busy with another user's {heavy.describe(other)}; Run is open again "
                               "when it ends (one training or evaluation at a time)."))
        st.button("Run the evaluation", key="cmp_run", type="primary", disabled=bool(job and job.running) or busy,
                  on_click=heavy.on_run_evaluation)
        if "cmp_error" in st.session_state:
            text.alert("error", st.session_state.pop("cmp_error"))
        job = st.session_state.get("eval_job")
    if job is not None and (job.running or job.state in ("failed", "cancelled")):
        compare_views.live_progress(job)
    if result is not None:
        st.caption("Seeded: the same request always gives the same result (kept for every user of this app).")

if result is not None and result.get("task") == "panel":
    compare_views.panel_view(result)
elif result is not None:
    compare_views.target_view(result)

# -- this user -------------------------------------------------------------------------------------------
st.divider()
st.subheader("Where the two models disagree for you")
rec, error = cache.recommender()
if not my_ratings.ratings():
    st.info("Rate some movies on the Recommend page to see where GNN and k-NN disagree for you.")
elif rec is None:
    text.alert("error", error)
else:
    compare_views.disagreements(rec, st.session_state.get("knn_kind", "baseline"))
with st.expander("How it works"):
    st.markdown(HOW["compare"])
