"""Benchmark: how fast the Streamlit app answers, as the server sees it (no browser, no network).

    GNNREC_DATA_DIR=/tmp/gnnrec-cache python bench/app_speed.py [--repeats 5]

Drives app.py with ``streamlit.testing.v1.AppTest``: each number is a whole script run as the
server makes it (widgets, caches, page code, gnnrec calls, element tree); below it, the time of
each gnnrec call inside those runs.
The data must already be in the on-disk cache (``python -m gnnrec data``); the committed models
are read, nothing is written. Each line is a median over ``--repeats`` runs, with its goal and
the ratio time / goal (<= 1 meets it):

* first render of the default page (Recommend), a new session with Streamlit's in-process
  caches empty (data parsed from the disk cache, models listed): goal <= 3 s. Also the very first
  run in this process (imports included, one sample), the same with a share link (``?r=...``,
  which loads the recommender too), and with warm caches (what every later visitor gets).
* a rating change -> new recommendations: the rerun after one more star rating, with both top
  lists and both explanations recomputed (a new ratings key misses every cache): goal p95 <= 300 ms
  (``--repeats`` ratings each). For a few ratings (from the quick-rate grid, as a newcomer rates, and
  from the search box) and for a MovieLens user's 272 (the GNN explanation then covers 64 of them).
* the neighbourhood graph of a movie not drawn yet (nodes, edges, pyvis HTML): goal <= 1 s,
  for 1 and 2 hops.

The host's load average is printed: on a shared machine the numbers include waiting for a core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
TIMEOUT = 300
GOALS = {"render": 3.0, "rating": 0.3, "neighbourhood": 1.0}  # seconds
sys.path.insert(0, str(ROOT))  # app.py imports pages.parts


def p95(seconds: list[float]) -> float:
    """The 95th percentile (nearest rank): with fewer than 20 samples, the largest."""
    ranked = sorted(seconds)
    return ranked[min(len(ranked) - 1, max(0, -(-95 * len(ranked) // 100) - 1))]


def line(label: str, seconds: list[float], goal: float | None, by_p95: bool = False) -> None:
    """One measurement: median, range, n and, with a goal, the ratio to it (of the p95 with ``by_p95``)."""
    med, top = statistics.median(seconds), p95(seconds)
    spread = f"[{min(seconds) * 1e3:7.0f} - {max(seconds) * 1e3:7.0f}]" if len(seconds) > 1 else " " * 19
    judged = top if by_p95 else med
    tail = (f"  goal {'p95' if by_p95 else 'median'} {goal * 1e3:4.0f} ms  ratio {judged / goal:5.2f} "
            f"{'ok' if judged <= goal else 'OVER'}") if goal else ""
    print(f"  {label:<58} median {med * 1e3:7.0f} ms p95 {top * 1e3:6.0f} ms {spread} n={len(seconds)}{tail}",
          flush=True)


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


class Spy:
    """Times the gnnrec calls a page makes: wraps module functions, sums seconds per call label."""

    def __init__(self, targets: list[tuple[object, str, Callable[..., str]]]):
        self.targets, self.seconds, self._saved = targets, {}, []

    def __enter__(self) -> Spy:
        for module, name, label in self.targets:
            fn = getattr(module, name)

            def wrapped(*args, _fn=fn, _label=label, **kwargs):
                t0 = time.perf_counter()
                try:
                    return _fn(*args, **kwargs)
                finally:
                    key = _label(*args, **kwargs)
                    self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - t0

            self._saved.append((module, name, fn))
            setattr(module, name, wrapped)
        return self

    def __exit__(self, *exc) -> None:
        for module, name, fn in self._saved:
            setattr(module, name, fn)

    def take(self) -> dict[str, float]:
        out, self.seconds = self.seconds, {}
        return out


def breakdown(parts: list[dict[str, float]]) -> None:
    """Median seconds per gnnrec call over the runs (0 where a run did not make the call)."""
    for key in sorted({k for p in parts for k in p}):
        line(f"    of which {key}", [p.get(key, 0.0) for p in parts], None)


def clean(at) -> None:
    if at.exception:
        raise SystemExit(f"the app raised: {[e.value for e in at.exception]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    n = max(1, args.repeats)

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    def fresh(query: dict | None = None):
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        for k, v in (query or {}).items():
            at.query_params[k] = v
        return at

    def clear_caches() -> None:
        st.cache_data.clear()
        st.cache_resource.clear()

    print(f"app speed: {n} repeats, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)

    # -- first render ---------------------------------------------------------------------------------
    print("first render of the default page (Recommend)")
    at = fresh()
    line("first run in this process (imports included)", [timed(at.run)], GOALS["render"])
    clean(at)

    from gnnrec.app import catalog, graph_view, insights
    from gnnrec.app import neighbourhood as nb_mod

    cold, link, warm = [], [], []
    for _ in range(n):
        clear_caches()
        at = fresh()
        cold.append(timed(at.run))
        clean(at)
        warm_at = fresh()
        warm.append(timed(warm_at.run))
        clean(warm_at)
        clear_caches()
        at = fresh({"r": "50:5,181:4,1:2"})
        link.append(timed(at.run))
        clean(at)
        assert at.session_state["ratings"] == {50: 5, 181: 4, 1: 2}
    line("new session, caches empty", cold, GOALS["render"])
    line("new session, caches empty, share link with 3 ratings", link, GOALS["render"])
    line("new session, caches warm", warm, None)

    # -- a rating change ------------------------------------------------------------------------------
    data = catalog.load_data()
    popular = [int(i) + 1 for i in (-data.n_raters()).argsort(kind="stable")]

    spy = Spy([(insights, "recommend", lambda *a, **k: "recommend"),
               (insights, "why", lambda rec, ratings, movie, model, *a: f"why {model}"),
               (nb_mod, "neighbourhood", lambda *a, **k: "neighbourhood"),
               (graph_view, "neighbourhood_html", lambda *a, **k: "neighbourhood_html")])

    def rate(at, movie: int, stars: int) -> tuple[float, dict]:
        at.selectbox(key="rate_movie").set_value(movie).run()
        round_ = at.session_state["rate_round"] if "rate_round" in at.session_state else 0
        at.feedback(key=f"rate_stars_{round_}").set_value(stars - 1)
        spy.take()
        dt = timed(at.run)
        clean(at)
        assert movie in at.session_state["ratings"], "the rating did not arrive"
        assert sum("predicted" in d.value.columns for d in at.dataframe) == 2, "no top lists shown"
        return dt, spy.take()

    def quick(at, movie: int, stars: int) -> tuple[float, dict]:
        if f"quick_{movie}" not in [f.key for f in at.feedback]:  # from 5 ratings the grid is folded: open it (untimed)
            at.session_state["quick_more"] = True
            at.run()
        at.feedback(key=f"quick_{movie}").set_value(stars - 1)
        spy.take()
        dt = timed(at.run)
        clean(at)
        assert movie in at.session_state["ratings"] and sum("predicted" in d.value.columns for d in at.dataframe) == 2
        return dt, spy.take()

    def changes(at, movies: list[int]) -> tuple[list[float], list[dict]]:
        runs = [rate(at, m, 1 + i % 5) for i, m in enumerate(movies)][1:]  # the first is a warm-up
        return [r[0] for r in runs], [r[1] for r in runs]

    print("a rating change -> new recommendations (one script rerun)")
    with spy:
        at = fresh()
        at.run()
        from gnnrec.app.catalog import QUICK_RATE

        runs = [quick(at, m, 1 + i % 5) for i, m in enumerate(QUICK_RATE)][1:]  # the first is a warm-up
        line(f"a newcomer's quick-grid ratings 2-{len(QUICK_RATE)}", [r[0] for r in runs], GOALS["rating"], by_p95=True)
        breakdown([r[1] for r in runs])
        at = fresh()
        at.run()
        rate(at, 50, 5)
        rate(at, 181, 4)
        times, parts = changes(at, [m for m in popular if m not in (50, 181)][:n + 1])
        line(f"{4}-{3 + n} ratings (one more)", times, GOALS["rating"], by_p95=True)  # the change to 3: a warm-up
        breakdown(parts)
        at = fresh()
        at.run()
        at.number_input(key="ml_user").set_value(1).run()
        at.button(key="load_user").click().run()
        clean(at)
        user = dict(at.session_state["ratings"])
        times, parts = changes(at, [m for m in popular if m not in user][:n + 1])
        line(f"MovieLens user 1: {len(user) + 2}-{len(user) + 1 + n} ratings (one more)", times, GOALS["rating"],
             by_p95=True)
        breakdown(parts)

        # -- the neighbourhood graph ------------------------------------------------------------------
        print("the neighbourhood graph of a movie not drawn yet")
        at = fresh()
        at.run()
        at.switch_page("pages/neighbourhood.py").run()
        clean(at)
        movies = iter(popular[1:])
        for hops in (1, 2):
            at.radio(key="nb_hops").set_value(hops).run()
            times, parts = [], []
            for _ in range(n):
                at.selectbox(key="nb_movie").set_value(next(movies))
                spy.take()
                times.append(timed(at.run))
                parts.append(spy.take())
                clean(at)
                assert len(at.dataframe[0].value) > 0, "no neighbour table shown"
            line(f"{hops} hop(s), 10 neighbours a movie", times, GOALS["neighbourhood"])
            breakdown(parts)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
