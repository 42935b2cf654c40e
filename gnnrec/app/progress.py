"""How far a running job is and how long it has left, learnt from the job's own events.

A live evaluation reports :class:`EvalProgress` events (each split's stages as they start, the
GNN's training as it goes, each split's RMSEs when it ends); a training reports :class:`Stage`
events around its graph builds and :class:`TimedProgress` after every validation. Both carry the
wall-clock time, so :func:`eval_status` and :func:`train_status` can say what the job is doing,
how far it is (a bar that moves every second, interpolating stages that report nothing inside)
and, once it has shown its speed, how long it has left. No Streamlit in here.
"""

from __future__ import annotations

import dataclasses
import math
import time

from ..train import Progress

# the share of one split's time each stage takes (measured on this project's 2-core host, Fargo,
# preset best: graph 1 s, GNN 13 s, linear filter 4 s, k-NN with baselines 2 s); "transfer" is
# only run by the transfer preset
STAGE_SHARE = {"graph": 0.05, "gnn": 0.62, "transfer": 0.10, "linear": 0.21, "knn_baseline": 0.12}
STAGE_WORDS = {"starting": "starting a worker process", "graph": "building the item graph",
               "gnn": "training the GNN", "transfer": "fine-tuning the transfer GNN",
               "linear": "fitting the linear graph filter", "knn_baseline": "fitting the k-NN with baselines",
               "done": "finished"}
FIRST_SPLIT_SECONDS = 25.0  # a prior for the bar before the first split has shown its speed
STARTUP = (0.03, 6.0)  # the worker's start (imports, data): the bar's share of split 1 and its usual seconds


@dataclasses.dataclass(frozen=True)
class EvalProgress:
    """One step of a live evaluation: split ``split`` (0-based) of ``splits`` is at ``stage``
    (``done`` 0..1 inside it; ``"done"`` with its ``rmse`` when the split ends), at time ``t``."""

    split: int
    splits: int
    stage: str
    done: float = 0.0
    t: float = dataclasses.field(default_factory=time.time)
    rmse: dict | None = None

    @property
    def fraction(self) -> float:
        """Share of the whole evaluation done, by the stages' usual shares (the job's progress, as
        the sidebar shows it; the page's bar also moves between events: :func:`eval_status`)."""
        if self.stage == "starting":
            return 0.0
        share = split_share(self.stage, self.done)
        if self.split == 0 and self.stage != "done":
            share = STARTUP[0] + (1 - STARTUP[0]) * share  # split 1's bar begins after the worker's start
        return min(1.0, (self.split + share) / max(1, self.splits))


@dataclasses.dataclass(frozen=True)
class Stage:
    """A training's stage without steps of its own (``graph``, ``final graph``), at time ``t``."""

    stage: str
    t: float = dataclasses.field(default_factory=time.time)


@dataclasses.dataclass(frozen=True)
class TimedProgress(Progress):
    """A training's :class:`gnnrec.train.Progress`, with the time it was reported."""

    t: float = 0.0

    @classmethod
    def of(cls, p: Progress) -> TimedProgress:
        return cls(**dataclasses.asdict(p), t=time.time())


def split_share(stage: str, done: float = 0.0) -> float:
    """Share of one split done at the start of ``stage`` plus ``done`` of that stage (0..1)."""
    if stage == "done":
        return 1.0
    order = [s for s in STAGE_SHARE if s != "transfer" or stage == "transfer"]
    total = sum(STAGE_SHARE[s] for s in order)
    before = sum(STAGE_SHARE[s] for s in order[:order.index(stage)]) if stage in order else 0.0
    return min(0.999, (before + STAGE_SHARE.get(stage, 0.0) * max(0.0, min(1.0, done))) / total)


@dataclasses.dataclass(frozen=True)
class Status:
    """What a progress bar shows: ``fraction``, ``text``, seconds left (None: not known yet) and
    on what the estimate rests."""

    fraction: float
    text: str
    eta: float | None
    basis: str

    def line(self, elapsed: float) -> str:
        left = f"about {_duration(self.eta)} left ({self.basis})" if self.eta is not None else "estimating the time left …"
        return f"{self.text} · {elapsed:.0f} s so far · {left}"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def eval_status(events: list, splits: int, started: float, now: float | None = None) -> Status:
    """Where a live evaluation stands, from its :class:`EvalProgress` events."""
    now = time.time() if now is None else now
    ev = [e for e in events if isinstance(e, EvalProgress)]
    if not ev or ev[-1].stage == "starting":  # the worker process is starting: move the bar with the time
        since = now - (ev[-1].t if ev else started)
        share = STARTUP[0] * min(0.95, since / STARTUP[1])
        return Status(share / splits, f"split 1 of {splits}: {STAGE_WORDS['starting']}", None, "")
    last = ev[-1]
    done = [e for e in ev if e.stage == "done"]
    if len(done) >= splits:
        return Status(1.0, f"all {splits} split(s) done", 0.0, "")
    current = [e for e in ev if e.split == last.split]
    text = f"split {last.split + 1} of {splits}: {STAGE_WORDS.get(last.stage, last.stage)}" + (
        f" ({last.done:.0%})" if last.stage == "gnn" and last.done > 0 else "")
    if done:  # learnt from the finished splits
        ends = [started] + [e.t for e in done]
        per_split = sum(b - a for a, b in zip(ends, ends[1:])) / len(done)
        in_split = min(0.97, (now - done[-1].t) / per_split)
        eta = max(0.0, per_split * (1 - in_split)) + per_split * (splits - len(done) - 1)
        return Status((len(done) + in_split) / splits, text, eta,
                      f"learnt from {len(done)} finished split{'s' * (len(done) > 1)}, {per_split:.0f} s each")
    share = split_share(last.stage, last.done)
    seconds, basis = _first_split_seconds(current, last)
    silent = last.stage != "gnn" or last.done == 0  # no steps reported inside: move with the usual time
    if silent and STAGE_SHARE.get(last.stage, 0.0) > 0:  # towards the stage's end, never reaching it
        room = split_share(last.stage, 0.97 if last.stage != "gnn" else 0.05) - share
        usual = seconds * STAGE_SHARE[last.stage] * (1 if last.stage != "gnn" else 0.05)
        share += room * (1 - math.exp(-(now - last.t) / max(usual, 0.5)))
    eta = None if basis == "" else max(0.0, seconds * (1 - share)) + seconds * (splits - 1)
    start = STARTUP[0] if last.split == 0 else 0.0  # split 1's bar begins after the worker's start
    return Status((start + (1 - start) * share) / splits, text, eta, basis)


def _first_split_seconds(current: list, last: EvalProgress) -> tuple[float, str]:
    """How long the first split will take: from the GNN's training speed once it has done 5% of
    its steps, from the time the stages before the current one took, else the prior."""
    graph = next((e.t for e in current if e.stage == "graph"), current[0].t)
    gnn = [e for e in current if e.stage == "gnn"]
    if last.stage == "gnn" and last.done >= 0.05 and len(gnn) > 1:
        gnn_total = (last.t - gnn[0].t) / last.done
        return (gnn[0].t - graph + gnn_total) / split_share("gnn", 1.0), "from the GNN's training speed so far"
    if last.stage not in ("graph", "gnn", "starting") and last.t > graph:
        return (last.t - graph) / max(0.05, split_share(last.stage, 0.0)), "from the stages done so far"
    return FIRST_SPLIT_SECONDS, ""


def eval_results(events: list) -> list[tuple[int, dict]]:
    """``(split index, RMSE per model)`` of every finished split, in order."""
    return [(e.split, e.rmse) for e in events if isinstance(e, EvalProgress) and e.stage == "done" and e.rmse]


# a training's phases, as shares of its settings' estimate (bench/job_cost.py times the whole):
# the graphs and the first validation before step 0, then the steps, then the final graph and the save
TRAIN_SHARE = {"graph": 0.1, "final": 0.05}


def train_status(events: list, total_steps: int, estimate: float, started: float, now: float | None = None) -> Status:
    """Where a training stands, from its :class:`Stage` and :class:`TimedProgress` events;
    ``estimate``: the seconds its settings were expected to take (the prior). As a live
    evaluation's, the time left is learnt from the job itself: from its steps' speed once two
    validations are timed, before that from how much slower (or faster) than the prior its graphs
    were built; while the graphs are still building and overdue, it is not known yet."""
    now = time.time() if now is None else now
    steps = [e for e in events if isinstance(e, Progress)]
    stages = [e for e in events if isinstance(e, Stage)]
    graph = TRAIN_SHARE["graph"]
    # seconds: the worker's start, the graphs and step 0's validation; the steps; the final graph and the save
    prior = {"graph": STARTUP[1] + graph * estimate, "steps": (1 - graph - TRAIN_SHARE["final"]) * estimate,
             "final": TRAIN_SHARE["final"] * estimate}
    if not steps:
        since = now - started
        frac = graph * 0.95 * (1 - math.exp(-since / max(1.0, prior["graph"])))  # towards step 0, never there
        if since <= prior["graph"]:
            return Status(frac, "building the graphs", sum(prior.values()) - since, "the estimate of these settings")
        return Status(frac, "building the graphs (longer than usual here)", None, "")
    last = steps[-1]
    frac = graph + (1 - graph) * last.step / max(1, total_steps)
    text = f"step {last.step}/{total_steps}, epoch {last.epoch + 1}, validation RMSE {last.valid_rmse:.4f} " \
           f"(best {last.best_valid_rmse:.4f})"
    timed = [e for e in steps if getattr(e, "t", 0.0) > 0]
    if not timed:  # events without their time: the prior alone
        return Status(frac, text, max(0.0, estimate - (now - started)), "the estimate of these settings")
    slow = (timed[0].t - started) / prior["graph"]  # how the graph phase went against its prior
    basis = f"the settings' estimate × {slow:.1f}, as its graphs took {slow:.1f}× their usual time"
    if len(timed) >= 2 and timed[-1].step > timed[0].step:
        rate = (timed[-1].t - timed[0].t) / (timed[-1].step - timed[0].step)
        slow = rate * total_steps / max(1e-9, prior["steps"])  # the steps' speed against theirs
        left_steps, basis = rate * (total_steps - last.step) - (now - timed[-1].t), "learnt from its speed so far"
    else:
        left_steps = prior["steps"] * slow * (1 - last.step / max(1, total_steps)) - (now - timed[-1].t)
    final = prior["final"] * slow
    if stages and stages[-1].stage == "final graph" and stages[-1].t >= timed[-1].t:
        left = final - (now - stages[-1].t)
        return Status(0.99, "building the final graph and saving", left if left > 0 else None,
                      basis if left > 0 else "")
    return Status(frac, text, max(0.0, left_steps) + final, basis)
