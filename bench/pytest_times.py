"""A pytest plugin: wall and CPU seconds per test file (this process and its reaped children,
so a module's Streamlit server counts where it stops), and the host's busy CPU seconds over the
file's tests (``/proc/stat``: every process, Chromium's renderers included, which no rusage
sees; a file's whole cost when the suite runs serially on a quiet host, meaningless beside other
work). Printed at the end, and written as JSON to ``$PYTEST_TIMES_JSON`` if set (under
pytest-xdist, one file per worker: ``…-gw0.json``, as the workers print nothing).

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

_files: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0, 0.0])  # wall, cpu, tests, host busy


def host_busy() -> float:
    """The host's busy CPU seconds since boot (all CPUs; 0 where /proc/stat is missing)."""
    try:
        with open("/proc/stat") as fh:
            ticks = [int(v) for v in fh.readline().split()[1:]]
    except OSError:
        return 0.0
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


def _cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    wall, cpu, busy = time.perf_counter(), _cpu(), host_busy()
    yield
    f = _files[item.path.name]
    f[0] += time.perf_counter() - wall
    f[1] += _cpu() - cpu
    f[2] += 1
    f[3] += host_busy() - busy


def pytest_terminal_summary(terminalreporter):
    rows = sorted(_files.items(), key=lambda kv: -kv[1][0])
    terminalreporter.write_sep("=", "wall and CPU seconds per test file (host busy: every process on the host)")
    for name, (wall, cpu, n, busy) in rows:
        terminalreporter.write_line(f"{name:28s} {n:4d} tests  wall {wall:7.1f} s  cpu {cpu:7.1f} s  host busy {busy:7.1f} s")
    total = [sum(r[i] for _, r in rows) for i in range(4)]
    terminalreporter.write_line(f"{'total':28s} {total[2]:4d} tests  wall {total[0]:7.1f} s  cpu {total[1]:7.1f} s  "
                                f"host busy {total[3]:7.1f} s")


def pytest_sessionfinish(session):
    out, worker = os.environ.get("PYTEST_TIMES_JSON"), os.environ.get("PYTEST_XDIST_WORKER")
    if out and _files:
        path = f"{out.removesuffix('.json')}-{worker}.json" if worker else out
        rows = sorted(_files.items(), key=lambda kv: -kv[1][0])
        with open(path, "w") as fh:
            json.dump({k: {"wall": round(w, 1), "cpu": round(c, 1), "n": n, "host_busy": round(b, 1)}
                       for k, (w, c, n, b) in rows}, fh, indent=1)
