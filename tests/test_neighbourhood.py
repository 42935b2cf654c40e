"""gnnrec.app.neighbourhood: a movie's correlation neighbourhood (nodes, hops, edges with enough common
raters), its table, bounds on the request."""

from __future__ import annotations

import numpy as np
import pytest

from gnnrec.app import neighbourhood as nb_mod


# -- neighbourhood ------------------------------------------------------------------------------------------
def test_neighbourhood(rec, data):
    corr = rec.knn.corr
    nb = nb_mod.neighbourhood(corr, data, 50, k=8, hops=1, ratings={181: 4})
    assert nb.nodes["movie"].iloc[0] == 50 and len(nb.nodes) == 9
    assert (nb.nodes["hop"].iloc[1:] == 1).all()
    assert nb.nodes.set_index("movie").loc[181, "your_rating"] == 4  # Return of the Jedi, rated
    assert nb.nodes["your_rating"].notna().sum() == 1
    shown = set(nb.nodes["movie"])
    assert set(nb.edges["source"]) | set(nb.edges["target"]) <= shown
    assert (nb.edges["common"] >= 25).all()
    assert np.allclose(nb.edges["corr"], [corr[a - 1, b - 1] for a, b in zip(nb.edges["source"], nb.edges["target"])],
                       atol=1e-3)
    two = nb_mod.neighbourhood(corr, data, 50, k=8, hops=2)
    assert 9 < len(two.nodes) <= nb_mod.MAX_NODES and set(two.nodes["hop"]) == {0, 1, 2}
    assert two.nodes["via"].iloc[1:].notna().sum() == (two.nodes["hop"] == 2).sum()
    strict = nb_mod.neighbourhood(corr, data, 50, k=8, min_common=300)
    assert (strict.edges["common"] >= 300).all() and len(strict.nodes) <= 9
    table = nb_mod.neighbour_table(nb)
    assert len(table) == 8 and "correlation" in table.columns
    for kwargs in ({"k": 0}, {"k": 26}, {"hops": 3}, {"min_common": 0}, {"movie": 1683}):
        args = {"movie": 50, **kwargs}
        with pytest.raises(ValueError):
            nb_mod.neighbourhood(corr, data, args.pop("movie"), **args)
