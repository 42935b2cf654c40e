"""gnnrec.app.progress: what a running job's bar says, from its own events (synthetic timelines:
the real ones are in test_live and the browser tests)."""

from __future__ import annotations

import pytest

from gnnrec.app import progress
from gnnrec.app.progress import EvalProgress, Stage, TimedProgress
from gnnrec.train import Progress

T0 = 1000.0


def split(i: int, splits: int, start: float, seconds: float = 20.0) -> list[EvalProgress]:
    """One split's events as the child reports them: graph, the GNN in 10 steps, linear, k-NN, done."""
    out = [EvalProgress(i, splits, "graph", 0.0, start), EvalProgress(i, splits, "gnn", 0.0, start + 0.05 * seconds)]
    for k in range(1, 11):
        out.append(EvalProgress(i, splits, "gnn", k / 10, start + (0.05 + 0.062 * k) * seconds))
    out += [EvalProgress(i, splits, "linear", 0.0, start + 0.67 * seconds),
            EvalProgress(i, splits, "knn_baseline", 0.0, start + 0.88 * seconds),
            EvalProgress(i, splits, "done", 1.0, start + seconds, rmse={"gnn": 0.9, "knn_baseline": 0.95})]
    return out


def test_the_bar_says_what_runs_and_learns_the_time_left():
    first = [EvalProgress(0, 3, "starting", 0.0, T0)]
    s = progress.eval_status(first, 3, T0, now=T0 + 1)
    assert 0 < s.fraction < progress.eval_status(first, 3, T0, now=T0 + 2).fraction < 0.01  # moves while it starts
    assert "starting a worker process" in s.text and s.eta is None
    events = first + split(0, 3, T0 + 4)
    early = progress.eval_status(events[:4], 3, T0, now=T0 + 6)  # the GNN at 10%: its speed is known
    assert "split 1 of 3: training the GNN (10%)" == early.text and early.eta is not None
    assert early.eta == pytest.approx(3 * 20 - 1.24 - 1.0, rel=0.25)  # ~three 20 s splits, less what is done
    silent = progress.eval_status(events[:14], 3, T0, now=T0 + 4 + 0.67 * 20 + 2)  # 2 s into the linear filter
    at_start = progress.eval_status(events[:14], 3, T0, now=T0 + 4 + 0.67 * 20)
    assert "fitting the linear graph filter" in silent.text and silent.fraction > at_start.fraction  # moves anyway
    assert silent.fraction < progress.split_share("knn_baseline") / 3
    learnt = progress.eval_status(events, 3, T0, now=T0 + 24 + 5)
    assert "learnt from 1 finished split, 24 s each" in learnt.basis  # the first split included the start-up
    assert learnt.eta == pytest.approx(24 - 5 + 24, abs=0.5) and 1 / 3 < learnt.fraction < 2 / 3
    assert progress.eval_results(events) == [(0, {"gnn": 0.9, "knn_baseline": 0.95})]
    done = events + split(1, 3, T0 + 24) + split(2, 3, T0 + 44)
    assert progress.eval_status(done, 3, T0, now=T0 + 64).fraction == 1.0


def test_event_fractions_follow_the_stages():
    e = split(0, 2, T0)
    fractions = [x.fraction for x in e]
    assert fractions == sorted(fractions) and fractions[-1] == 0.5
    assert fractions[0] == pytest.approx(progress.STARTUP[0] / 2)  # split 1's stages begin after the worker's start
    assert EvalProgress(0, 2, "starting").fraction == 0 and EvalProgress(1, 2, "graph").fraction == 0.5
    assert progress.split_share("gnn", 1.0) == pytest.approx(0.67)
    assert progress.split_share("transfer", 0.0) == pytest.approx(0.67 / 1.1)  # the transfer preset's extra stage


def test_a_training_bar_moves_during_the_graph_build_and_learns_its_speed():
    prior = 40.0 + progress.STARTUP[1]  # the settings' estimate and the worker's start
    g = progress.train_status([Stage("graph", T0)], 60, 40.0, T0, now=T0 + 2)
    later = progress.train_status([Stage("graph", T0)], 60, 40.0, T0, now=T0 + 3)
    assert 0 < g.fraction < later.fraction < 0.1 and g.text == "building the graphs" and g.eta == prior - 2
    steps = [TimedProgress(0, k, 60, 0.5, 1.0 - k / 600, 0.9, t=T0 + 4 + k / 2) for k in (0, 6, 12, 18)]
    s = progress.train_status([Stage("graph", T0), *steps], 60, 40.0, T0, now=T0 + 13)
    final = 0.05 * 40 * (0.5 * 60 / (0.85 * 40))  # the final graph's prior share, at the steps' learnt speed
    assert "step 18/60" in s.text and s.eta == pytest.approx((60 - 18) * 0.5 + final) and "speed" in s.basis
    assert s.fraction == pytest.approx(0.1 + 0.9 * 18 / 60)
    end = progress.train_status([*steps, Stage("final graph", T0 + 40)], 60, 40.0, T0, now=T0 + 40.5)
    assert "final graph" in end.text and end.eta == pytest.approx(final - 0.5)
    late = progress.train_status([*steps, Stage("final graph", T0 + 40)], 60, 40.0, T0, now=T0 + 45)
    assert late.eta is None and "estimating" in late.line(45)  # overdue: not "0 s left"
    plain = progress.train_status([Progress(0, 6, 60, 0.5, 1.0, 1.0)], 60, 40.0, T0, now=T0 + 10)
    assert plain.eta == 30 and "estimate of these settings" in plain.basis  # untimed: the prior


def loaded_training(slow: float, estimate: float = 9.0, steps: int = 60) -> tuple[list, float]:
    """A training's events on a host ``slow`` times slower than its prior (the worker's start and
    the graphs, validations every 6 steps, the final graph), and when it ends."""
    graphs = slow * (progress.STARTUP[1] + 0.1 * estimate)
    per_step = slow * 0.85 * estimate / steps
    events = [Stage("graph", T0 + slow * progress.STARTUP[1])]
    events += [TimedProgress(0, k, steps, 0.5, 1.0, 0.9, t=T0 + graphs + k * per_step) for k in range(0, steps + 1, 6)]
    events.append(Stage("final graph", events[-1].t))
    return events, events[-1].t + slow * 0.05 * estimate


@pytest.mark.parametrize("slow", [1.0, 3.0, 5.0])
def test_the_training_estimate_is_learnt_from_the_job_on_a_busy_host(slow):
    """Issue 21: "about 9 s" for runs of 31-45 s, "about 0 s left" through 25 s of graph building.
    The estimate now follows the job: unknown while the graphs are overdue, then within a
    quarter of the truth from the graphs' pace, and from the steps' speed once two are timed."""
    events, end = loaded_training(slow)
    now = T0 + 0.9 * (events[1].t - T0)  # step 0 is near: the graphs are almost built
    s = progress.train_status(events[:1], 60, 9.0, T0, now=now)
    assert s.text.startswith("building the graphs")
    if slow > 1.5:  # overdue against the prior: it says so and waits to learn
        assert s.eta is None and "estimating the time left" in s.line(20) and "0 s left" not in s.line(20)
    else:
        assert s.eta == pytest.approx(end - now, rel=0.25)
    for upto, basis in ((2, "graphs took"), (4, "speed so far"), (8, "speed so far")):
        now = events[upto - 1].t + 0.1
        s = progress.train_status(events[:upto], 60, 9.0, T0, now=now)
        assert basis in s.basis and s.eta == pytest.approx(end - now, rel=0.25), (upto, s)
    done = progress.train_status(events, 60, 9.0, T0, now=events[-1].t + 0.1)
    assert done.text == "building the final graph and saving" and done.eta == pytest.approx(end - events[-1].t - 0.1)
