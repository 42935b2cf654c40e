"""Train: fit your own all-movies GNN (bounded for a shared host), watch it learn, use it."""

import time

import streamlit as st

from gnnrec import store
from gnnrec.app import catalog, charts, jobs, live, progress
from gnnrec.app.glossary import HOW, term
from pages.parts import cache, heavy, model_store, session, text

session.guard()

L = live.LIMITS
st.title("Train a GNN")
st.caption("An all-movies GNN trained on every MovieLens rating except 5% held out for validation (and left "
           "out of its graph); the weights with the best validation RMSE are saved. It never replaces a "
           "stored model: it gets a new name, and nobody's active model changes until they choose it.")
text.show_flash()
data = cache.require_data()
other = jobs.running()
if other is not None and not heavy.mine(other):  # say so before anyone fills the form
    st.info(text.plain(f"The server is busy with another user's {heavy.describe(other)}. You can set up your "
                       "training meanwhile; Train is open again when that job ends (one at a time)."))


def use_model(name: str) -> None:
    st.session_state["model_name"] = name


def spec_from_widgets() -> live.TrainSpec:
    ss = st.session_state
    n = int(ss.get("tr_layers", 2))
    return live.TrainSpec(taps=tuple(int(ss[f"tr_taps_{i}"]) for i in range(n)),
                             widths=tuple(int(ss[f"tr_width_{i}"]) for i in range(n)), k=int(ss["tr_k"]),
                             epochs=int(ss["tr_epochs"]), lr=float(ss["tr_lr"]), batch_size=int(ss["tr_batch"]),
                             seed=int(ss["tr_seed"]))


def start_training() -> None:
    """The Train button (a callback, so the click is never lost to a rerun)."""
    try:
        job = live.start_training(cache.require_data(), spec_from_widgets(), st.session_state.get("tr_name", ""),
                                     owner=heavy.owner(), grace=jobs.ABANDON_GRACE)
    except (ValueError, store.StoreError, jobs.Busy) as e:
        st.session_state["tr_error"] = f"Not started: {e}"
        return
    st.session_state["train_job"] = job
    st.session_state["train_estimate"] = spec_from_widgets().estimate_seconds()  # the bar's prior


def cancel_job() -> None:
    job = st.session_state.get("train_job")
    if job is not None:
        job.cancel("cancelled by you")


job = st.session_state.get("train_job")
busy = job is not None and job.running
blocked = busy or (other is not None and not heavy.mine(other))

# -- settings (no form: the estimate below follows every change) ------------------------------------------------
layers = st.columns([1, 3])[0].number_input("Layers", L["layers"][0], L["layers"][1], 2, key="tr_layers",
                                            disabled=busy, help="Graph filters one after the other.")
with st.container(border=True):
    for i, col in enumerate(st.columns(L["layers"][1])[:int(layers)]):
        with col:
            st.markdown(f"**Layer {i + 1}**")
            st.number_input("Taps (hops + 1)", L["taps"][0], L["taps"][1], 3, key=f"tr_taps_{i}", help=term("taps"))
            st.number_input("Width (features)", L["width"][0], L["width"][1], 32 if i == 0 else 16, step=4,
                            key=f"tr_width_{i}", help=term("widths"))
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.number_input("Graph neighbours k", L["k"][0], L["k"][1], 10, key="tr_k", help=term("k"))
    c2.number_input("Epochs", L["epochs"][0], L["epochs"][1], 2, key="tr_epochs", help=term("epochs"))
    c3.number_input("Learning rate", L["lr"][0], L["lr"][1], 0.005, step=0.001, format="%.4f", key="tr_lr",
                    help=term("lr"))
    c4.number_input("Batch size (users)", L["batch_size"][0], L["batch_size"][1], 32, step=8, key="tr_batch",
                    help=term("batch"))
    c5.number_input("Seed", L["seed"][0], L["seed"][1], 0, key="tr_seed", help=term("seed"))
    st.text_input("Save as (new model name)", value=f"my-gnn-{time.strftime('%m%d-%H%M')}", max_chars=64,
                  key="tr_name", help="1-64 letters, digits, '_', '.', '-'; must be new.")
    spec = spec_from_widgets()
    problems = spec.problems()
    if problems:
        text.alert("warning", "Not accepted: " + "; ".join(problems))
    else:
        st.caption(f"{spec.n_parameters():,} weights · {spec.steps():,} optimiser steps · about "
                   f"**{spec.estimate_seconds():.0f} s** here (a training may take up to "
                   f"{live.BUDGET_SECONDS / 60:.0f} min). " + heavy.RULES)
    st.button("Train", type="primary", disabled=blocked or bool(problems), key="tr_start", on_click=start_training)
if "tr_error" in st.session_state:
    text.alert("error", st.session_state.pop("tr_error"))
job = st.session_state.get("train_job")


# -- progress --------------------------------------------------------------------------------------------
def show(job) -> None:
    events = job.events()
    if job.state == "done":
        st.progress(1.0, text=text.plain(f"Trained {job.label!r} in {job.elapsed():.0f} s"))
    else:
        expected = st.session_state.get("train_estimate", spec.estimate_seconds())
        status = progress.train_status(events, job.total or 1, expected, job.started)
        st.progress(status.fraction, text=text.plain(f"Training {job.label!r}: {status.line(job.elapsed())}"))
    hist = live.history_frame(events)
    if len(hist):
        st.plotly_chart(charts.training_curve(hist), key="tr_curve", config=charts.PLOTLY_CONFIG)


def compared(m: dict) -> None:
    """The new model's validation RMSE beside the default model's."""
    default = next((x for x in cache.models() if x.name == catalog.DEFAULT_MODEL and x.ok), None)
    c1, c2, c3 = st.columns(3)
    base = default.metrics.get("valid_rmse") if default else None
    c1.metric("Validation RMSE, yours", f"{m['valid_rmse']:.4f}", help=term("valid_rmse"),
              delta=f"{m['valid_rmse'] - base:+.4f} vs {catalog.DEFAULT_MODEL}" if base else None, delta_color="inverse")
    c2.metric(f"Validation RMSE, {catalog.DEFAULT_MODEL}", f"{base:.4f}" if base else "—", help=term("valid_rmse"))
    c3.metric("Training time", f"{m['train_seconds']:.0f} s",
              help="The optimiser's time; the job's time above also counts building the graph and saving.")
    if base:
        st.caption("Both on a held-out 5% of the ratings (each model's own draw of them); lower is better. "
                   f"The default model: {catalog.recipe(default)}.")


if job is not None and job.running:
    @st.fragment(run_every=1.0)
    def running_view():
        if not job.running:
            st.rerun(scope="app")  # finished: redraw the whole page (model lists, sidebar)
        job.touch()  # this tab is still here
        show(job)
        st.button("Cancel training", key="tr_cancel", on_click=cancel_job, disabled=job.cancel_requested)

    running_view()
elif job is not None:
    show(job)
    if job.state == "done":
        m = job.result["metrics"]
        st.success(f"Saved model **{job.result['name']}**: validation RMSE {m['valid_rmse']:.4f} "
                   f"(best at step {m['best_step']}), {m['train_seconds']:.0f} s. It is now in the model list "
                   "of the sidebar for you (other users see it there too, but keep their own choice).")
        compared(m)
        st.button(f"Use {job.result['name']} now", key="tr_use", on_click=use_model, args=(job.result["name"],),
                  disabled=cache.model_name() == job.result["name"])
    elif job.state == "cancelled":
        text.alert("warning", f"Training {job.error or 'cancelled; nothing was saved'}.")
    else:
        text.alert("error", f"Training failed: {job.error}")

model_store.show()
with st.expander("How it works"):
    st.markdown(HOW["train"])
