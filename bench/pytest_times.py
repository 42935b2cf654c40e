"""A pytest plugin: wall and CPU seconds per test file (this process and its reaped children,
so a module's Streamlit server counts where it stops), printed at the end, and written as JSON
to ``$PYTEST_TIMES_JSON`` if set (under pytest-xdist, one file per worker: ``…-gw0.json``, as the
workers print nothing). CPU seconds are the steadier number on a shared host.

    PYTHONPATH=.:bench python -m pytest -q -p pytest_times
    PYTEST_TIMES_JSON=/tmp/t.json PYTHONPATH=.:bench python -m pytest -q -p pytest_times -n 2 --dist loadfile
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections import defaultdict

import pytest

_files: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])


def _cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    wall, cpu = time.perf_counter(), _cpu()
    yield
    f = _files[item.path.name]
    f[0] += time.perf_counter() - wall
    f[1] += _cpu() - cpu
    f[2] += 1


def pytest_terminal_summary(terminalreporter):
    rows = sorted(_files.items(), key=lambda kv: -kv[1][0])
    terminalreporter.write_sep("=", "wall and CPU seconds per test file")
    for name, (wall, cpu, n) in rows:
        terminalreporter.write_line(f"{name:28s} {n:4d} tests  wall {wall:7.1f} s  cpu {cpu:7.1f} s")
    terminalreporter.write_line(f"{'total':28s} {sum(r[2] for _, r in rows):4d} tests  wall "
                                f"{sum(r[0] for _, r in rows):7.1f} s  cpu {sum(r[1] for _, r in rows):7.1f} s")


def pytest_sessionfinish(session):
    out, worker = os.environ.get("PYTEST_TIMES_JSON"), os.environ.get("PYTEST_XDIST_WORKER")
    if out and _files:
        path = f"{out.removesuffix('.json')}-{worker}.json" if worker else out
        rows = sorted(_files.items(), key=lambda kv: -kv[1][0])
        with open(path, "w") as fh:
            json.dump({k: {"wall": round(w, 1), "cpu": round(c, 1), "n": n} for k, (w, c, n) in rows}, fh, indent=1)
