"""Checking what a user gives the recommender: ratings, list length and the raters floor."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from . import data as data_mod


def parse_ratings(ratings: Mapping | Iterable) -> dict[int, float]:
    """Validate ``{movie id: rating}`` (or ``(movie, rating)`` pairs): ids 1..1682, ratings
    numbers in 1..5, at least one, no movie twice. Raises ValueError naming the bad value."""
    if isinstance(ratings, (str, bytes)) or not isinstance(ratings, (Mapping, Iterable)):
        raise ValueError(f"ratings={short(ratings)}: give a mapping {{movie id: rating}} or (movie, rating) pairs, "
                         "e.g. {50: 5, 181: 4}")
    items = list(ratings.items()) if isinstance(ratings, Mapping) else list(ratings)
    if not items:
        raise ValueError("no ratings given: rate at least one movie (ratings 1-5)")
    out: dict[int, float] = {}
    for item in items:
        try:
            movie, value = item
        except (TypeError, ValueError):
            raise ValueError(f"{item!r} is not a (movie id, rating) pair") from None
        if isinstance(movie, (bool, np.bool_)) or not isinstance(movie, (int, np.integer, str)):
            raise ValueError(f"movie id {movie!r} is not an integer id 1..{data_mod.N_MOVIES}")
        try:
            mid = data_mod.parse_movie_id(movie) if isinstance(movie, str) else int(movie)
        except ValueError:
            raise ValueError(f"movie id {movie!r} is not an integer id 1..{data_mod.N_MOVIES}") from None
        if not 1 <= mid <= data_mod.N_MOVIES:
            raise ValueError(f"unknown movie id {movie!r}: MovieLens-100K ids run 1..{data_mod.N_MOVIES}")
        if mid in out:
            raise ValueError(f"movie {mid} is rated twice; give each movie once")
        if isinstance(value, (bool, np.bool_)):
            raise ValueError(f"rating {value!r} of movie {mid} is not a number; use 1-5")
        try:
            r = float(value)
        except (TypeError, ValueError, OverflowError):
            shown = repr(value) if len(repr(value)) <= 30 else repr(value)[:27] + "..."
            raise ValueError(f"rating {shown} of movie {mid} is not a number; use 1-5") from None
        if not math.isfinite(r) or not 1 <= r <= 5:
            raise ValueError(f"rating {value!r} of movie {mid} is outside 1-5")
        out[mid] = r
    return out


def rating_row(ratings: dict[int, float], n_movies: int) -> np.ndarray:
    """Validated ratings ``{movie id: rating}`` as one user's ``(1, N)`` row (0: not rated)."""
    x = np.zeros((1, n_movies), dtype=np.float32)  # (1, N)
    for m, r in ratings.items():
        x[0, m - 1] = r
    return x


def short(value) -> str:
    """``repr(value)``, cut to 30 characters for an error message."""
    text = repr(value)
    return text if len(text) <= 30 else text[:27] + "..."


def check_list_args(top, min_raters) -> tuple[int, float]:
    """``top`` a whole number >= 1, ``min_raters`` a number 0..1e18; ValueError naming the
    argument otherwise (a bool is not a number here)."""
    if isinstance(top, (bool, np.bool_)) or not isinstance(top, (int, np.integer)):
        raise ValueError(f"top={short(top)} must be a whole number >= 1 (how many movies each list shows)")
    if top < 1:
        raise ValueError(f"top={top} must be >= 1")
    if isinstance(min_raters, (bool, np.bool_)) or not isinstance(min_raters, (int, float, np.integer, np.floating)) \
            or not (0 <= min_raters <= 1e18) or not math.isfinite(min_raters):  # 10**400 compared, never made a float
        raise ValueError(f"min_raters={short(min_raters)} must be a number from 0 to 1e18 (skip movies with fewer "
                         "MovieLens ratings)")
    return int(top), float(min_raters)
