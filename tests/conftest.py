"""Shared fixtures: the real MovieLens-100K, loaded once per test session."""

from __future__ import annotations

import pytest

import gnnrec.data


@pytest.fixture(scope="session")
def movielens() -> gnnrec.data.MovieLens:
    """The real MovieLens-100K from the cache (``$GNNREC_DATA_DIR`` or the default cache folder;
    `python -m gnnrec data` fills it). Tests must not mutate it."""
    return gnnrec.data.load()
