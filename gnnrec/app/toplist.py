"""One model's top list as the Recommend page shows it: a pandas table, or the same as an Arrow table."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from ..recommender import Recommendations


def short_genres(genres: str, n: int = 2, chars: int = 17) -> str:
    """``"Crime, Drama, Thriller"`` -> ``"Crime, Drama +1"``: at most ``n`` genres and about
    ``chars`` characters for a list's narrow column (``"Animation, Comedy, ..."`` -> ``"Animation +2"``)."""
    parts = [g for g in str(genres).split(", ") if g]
    for k in range(min(n, len(parts)), 0, -1):
        text = ", ".join(parts[:k]) + (f" +{len(parts) - k}" if len(parts) > k else "")
        if len(text) <= chars or k == 1:
            return text
    return ""


def _columns(res: Recommendations, model: str) -> dict:
    """The display columns of ``res.top[model]``: NumPy arrays, the text as the list holds it
    (``title, genres``: arrays of strings) or as Python lists (``genre, genre1``)."""
    t = res.top[model]
    genres = t["genres"].array  # the text columns as they are (a round trip through NumPy objects: 40% of the call)
    return {"movie": t["movie"].to_numpy(), "title": t["title"].array,
            "year": t["year"].to_numpy(), "genres": genres,
            "genre": [short_genres(g) for g in genres],
            "genre1": [short_genres(g, n=1, chars=0) for g in genres],
            "predicted": t[model].to_numpy().round(2), "both": t["agree"].to_numpy(),
            "fallback": t[f"{model}_fallback"].to_numpy(), "raters": t["n_raters"].to_numpy()}


def top_table(res: Recommendations, model: str) -> pd.DataFrame:
    """One model's top list for display: ``movie, title, year, genres, genre`` (at most two),
    ``genre1`` (the first, "+N" for the rest), ``predicted, both, fallback, raters``."""
    return pd.DataFrame(_columns(res, model))


def top_arrow(res: Recommendations, model: str) -> pa.Table:
    """:func:`top_table` as the Arrow table ``st.dataframe`` sends (its columns and types, no
    index: ``pa.Table.from_pandas(top_table(...), preserve_index=False)`` equals it), built from
    the columns directly: pandas' conversion, under the back-to-back load, was ~5% of the
    server's GIL time (py-spy, docs/guarantees.md)."""
    return pa.table({name: _arrow(values) for name, values in _columns(res, model).items()})


def _arrow(values) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, list):  # text made here: pandas' str columns are Arrow large strings
        return pa.array(values, type=pa.large_string())
    return pa.array(values, from_pandas=True)  # NaN: null, as pandas converts; str arrays hand over their Arrow data
