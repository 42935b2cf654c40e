"""Shared fixtures: the real MovieLens-100K, loaded once per test session; a full disk; both paths of
the speed-up switch. The ``core`` marker: the algorithm's own tests (``make test-unit``);
``reference``: those of them whose code reads the switch, each run on both paths."""

from __future__ import annotations

import errno
import os

import pytest

import gnnrec.data
import gnnrec.fast

# the method and its speed-ups: graph, models, training, the GNN predictor, the classical models, imports
CORE_FILES = {"test_graph.py", "test_models.py", "test_train.py", "test_gnn.py", "test_predict.py", "test_fast.py",
              "test_imports.py"}
# the core files whose code reads the switch (``GNNPredictor`` decides it in its __init__, the one reader
# in the library: tests/test_imports.py holds that): each of their tests runs twice, ``[fast]`` and
# ``[reference]`` (the ``speedups`` fixture below). The other core files run the same code either way (graph,
# models, train.fit with its validator given, predict).
REFERENCE_FILES = {"test_gnn.py"}
# the files that take longest (browser servers, live runs, trainings), run first: ``make test`` hands whole files
# to two pytest-xdist workers in collection order (``--dist loadfile --no-loadscope-reorder``), and a long file
# handed out last would leave one worker running it alone. An order, not a check: a file not named runs after.
SLOW_FIRST = ("test_e2e.py", "test_e2e_ux.py", "test_app.py", "test_e2e_fixes.py", "test_bench_load.py",
              "test_app_links.py", "test_app_jobs.py", "test_faults.py", "test_jobs.py", "test_job_limits.py",
              "test_e2e_lists.py", "test_live.py", "test_e2e_topn.py", "test_cli.py", "test_transfer.py")


def pytest_configure(config):
    config.addinivalue_line("markers", "core: the algorithm's own tests, about a minute (make test-unit)")
    config.addinivalue_line("markers", "reference: core tests of code that reads the switch (run on both paths)")


def pytest_generate_tests(metafunc):
    if metafunc.definition.path.name in REFERENCE_FILES:
        metafunc.parametrize("speedups", ["fast", "reference"], indirect=True, scope="module")


@pytest.fixture(scope="module", autouse=True)
def speedups(request):
    """In a REFERENCE_FILES module, the path its tests run on: ``fast`` (the switch as the environment
    sets it, on by default) or ``reference`` (:func:`gnnrec.fast.disabled`: what the tests build computes
    plainly, as under ``GNNREC_FAST=0``). A module fixture that builds a predictor takes ``speedups``, so
    that it is built once per path. Elsewhere it changes nothing."""
    path = getattr(request, "param", "fast")
    if path == "reference":
        with gnnrec.fast.disabled():
            yield path
    else:
        yield path


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's own order is kept
    for item in items:
        if item.path.name in CORE_FILES:
            item.add_marker(pytest.mark.core)
        if item.path.name in REFERENCE_FILES:
            item.add_marker(pytest.mark.reference)


@pytest.fixture(scope="session")
def movielens() -> gnnrec.data.MovieLens:
    """The real MovieLens-100K from the cache (``$GNNREC_DATA_DIR`` or the default cache folder;
    `python -m gnnrec data` fills it). Tests must not mutate it."""
    return gnnrec.data.load()


class FullDiskOS:
    """``os`` as gnnrec.data sees it, except that a file opened by ``fdopen`` takes 100 bytes and
    then fails with ENOSPC, as a full disk does (a partial temporary file is left to clean up)."""

    def __getattr__(self, name):
        return getattr(os, name)

    @staticmethod
    def fdopen(fd, *args, **kwargs):
        f = os.fdopen(fd, *args, **kwargs)

        class Full:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                f.close()

            def write(self, blob):
                f.write(blob[:100])
                f.flush()
                raise OSError(errno.ENOSPC, "No space left on device")

            def __getattr__(self, name):
                return getattr(f, name)

        return Full()


@pytest.fixture
def disk_full(monkeypatch):
    """Every write through :func:`gnnrec.data.atomic_write_bytes` (all model and cache saves)
    fails with ENOSPC until ``monkeypatch.undo()``."""
    monkeypatch.setattr(gnnrec.data, "os", FullDiskOS())


@pytest.fixture(scope="session")
def data(movielens):
    """The real data under the name the app-module tests use."""
    return movielens


@pytest.fixture(scope="session")
def rec(movielens):
    """The committed all-movies model loaded as the app loads it (a file may define its own)."""
    from gnnrec import store
    from gnnrec.app import catalog

    return catalog.load_recommender("all-movies", movielens, store.models_dir())
