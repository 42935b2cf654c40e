"""The public API's contract: ``gnnrec.recommend`` answers every bad type or value of its arguments
with a ValueError that names the argument (no TypeError from deep inside pandas, no silently
empty lists)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gnnrec


@pytest.mark.parametrize("kwargs, names", [
    ({"ratings": None}, "ratings"),
    ({"ratings": 5}, "ratings"),
    ({"ratings": {50: 5}, "top": "5"}, "top"),
    ({"ratings": {50: 5}, "top": 2.5}, "top"),
    ({"ratings": {50: 5}, "top": True}, "top"),
    ({"ratings": {50: 5}, "top": None}, "top"),
    ({"ratings": {50: 5}, "top": 0}, "top"),
    ({"ratings": {50: 5}, "min_raters": "x"}, "min_raters"),
    ({"ratings": {50: 5}, "min_raters": math.nan}, "min_raters"),
    ({"ratings": {50: 5}, "min_raters": None}, "min_raters"),
    ({"ratings": {50: 5}, "min_raters": -1}, "min_raters"),
    ({"ratings": {50: 5}, "min_raters": math.inf}, "min_raters"),
    ({"ratings": {50: 5}, "model": 3}, "model"),
    ({"ratings": {50: 5}, "min_raters": 10 ** 400}, "min_raters"),  # was an OverflowError
    ({"ratings": {50: 5}, "model": ""}, "model"),  # was the default model, silently
    ({"ratings": {50: 5}, "model": " "}, "model"),
    ({"ratings": {50: 5}, "model": "no-such-model"}, "model"),  # was a StoreError
    ({"ratings": {50: 5}, "model": "../all-movies"}, "model"),
], ids=lambda v: repr(v)[:60])
def test_bad_arguments_are_value_errors_naming_the_argument(kwargs, names):
    with pytest.raises(ValueError, match=rf"\b{names}\b"):
        gnnrec.recommend(**kwargs)


def test_good_argument_types_are_accepted():
    a = gnnrec.recommend({50: 5, 181: 4}, top=np.int64(3), min_raters=np.int32(20))
    b = gnnrec.recommend({50: 5, 181: 4}, top=3, min_raters=20.0)
    assert len(a.top["gnn"]) == 3 and a.top["gnn"].equals(b.top["gnn"])


def test_a_bad_model_name_is_still_a_store_error_for_those_catching_one():
    from gnnrec import store

    for name in ("no-such-model", "../all-movies"):
        with pytest.raises(store.StoreError):
            gnnrec.recommend({50: 5}, model=name)
