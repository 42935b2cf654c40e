"""Per-user random splits of interactions (the published MovieLens-100K top-N table's protocol).

Letters: U users, N movies.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..data import MovieLens

TEST_RATIO = 0.25  # each user's ratings held out for scoring (Microsoft Recommenders' 75/25)
DEV_SEEDS = (42,)  # split seeds recipes were chosen on (42 is the published table's seed)
REPORT_SEEDS = (1, 2, 3)  # fresh split seeds the README reports


def stratified_mask(users: np.ndarray, seed: int, test_ratio: float = TEST_RATIO) -> np.ndarray:
    """Which rows go to the test part: each user's rows in a seeded random order, the last
    ``round(test_ratio * count)`` of them (NumPy's round, half to even). The same rows as
    ``recommenders.datasets.python_splitters.python_stratified_split(ratio=1 - test_ratio,
    seed=seed)`` on a frame in the same row order (a test holds the two equal).

    Args:
        users: ``(R,)`` user id of each rating row, in the data's order.
    Returns:
        ``(R,)`` boolean, True = held out.
    """
    if not 0 < test_ratio < 1:
        raise ValueError(f"test_ratio={test_ratio!r} must lie strictly between 0 and 1")
    np.random.seed(seed)  # the reference seeds NumPy's global generator; so do we, for the same draws
    key = np.random.rand(len(users))
    order = np.lexsort((key, users))  # (R,) by user, then by the random key
    sorted_users = users[order]
    start = np.r_[0, np.flatnonzero(np.diff(sorted_users)) + 1]  # first row of each user's block
    count = np.diff(np.r_[start, len(users)])  # (users,)
    rank = np.arange(len(users)) - np.repeat(start, count) + 1  # 1-based rank within the user
    keep = np.round((1 - test_ratio) * np.repeat(count, count))  # the reference's threshold
    test = np.empty(len(users), dtype=bool)
    test[order] = rank > keep
    return test


@dataclasses.dataclass(frozen=True)
class TopNSplit:
    """One split: training ratings and the held-out ones.

    Attributes:
        seed: the split's seed.
        train: ``(U, N)`` float32 training ratings, 0 = not rated (models learn from these only).
        test: ``(U, N)`` float32 held-out ratings, 0 = not held out (scoring only).
    """

    seed: int
    train: np.ndarray
    test: np.ndarray

    @property
    def test_pairs(self) -> np.ndarray:
        """``(P, 2)`` held-out ``[user id, movie id]`` (GroupLens ids), sorted."""
        u, m = np.nonzero(self.test)
        return np.stack([u + 1, m + 1], axis=1)


def topn_split(data: MovieLens, seed: int, test_ratio: float = TEST_RATIO) -> TopNSplit:
    """Split every user's ratings at random, ``1 - test_ratio`` to training."""
    test = stratified_mask(data.ratings["user"].to_numpy(), seed, test_ratio)
    return TopNSplit(seed, data.matrix(~test), data.matrix(test))


def holdout(train: np.ndarray, seed: int, fraction: float = TEST_RATIO) -> tuple[np.ndarray, np.ndarray]:
    """Split a ``(U, N)`` training matrix again, per user, for validation: ``(fit, valid)``
    matrices. Choosing a recipe on ``valid`` never looks at the split's test ratings."""
    u, m = np.nonzero(train)  # (R,) row-major: users in order
    test = stratified_mask(u, seed, fraction)
    fit, valid = np.zeros_like(train), np.zeros_like(train)
    fit[u[~test], m[~test]] = train[u[~test], m[~test]]
    valid[u[test], m[test]] = train[u[test], m[test]]
    return fit, valid
