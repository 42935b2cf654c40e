"""Movie titles as people write them: "The Godfather", not GroupLens's "Godfather, The".

GroupLens files a title under its first word after the article ("Godfather, The",
"Star Maker, The (Uomo delle stelle, L')"); lists read better with the article in front. The
data keeps its titles (ids and files stay as published); lists and tables show these.
"""

from __future__ import annotations

import re

import pandas as pd

ARTICLES = ("The", "A", "An", "Il", "La", "Le", "Les", "L'", "Das", "Der", "Die", "Det", "El", "Los", "Las",
            "Lo", "O", "Un", "Une")
_TRAILING = re.compile(r"^(?P<rest>.+), (?P<art>" + "|".join(re.escape(a) for a in ARTICLES) + r")$")
_PARTS = re.compile(r"^(?P<main>.*?)(?P<alt>(?: \([^()]*\))*)$")  # "Main, The (Alt, Le) (Alt 2)"


def _front(part: str) -> str:
    m = _TRAILING.match(part.strip())
    if m is None:
        return part
    art = m["art"]
    return f"{art}{m['rest']}" if art.endswith("'") else f"{art} {m['rest']}"


def natural_title(title: str) -> str:
    """``"Godfather, The"`` -> ``"The Godfather"``; the same in each bracketed alternative title:
    ``"Star Maker, The (Uomo delle stelle, L')"`` -> ``"The Star Maker (L'Uomo delle stelle)"``.
    A title without a trailing article comes back unchanged."""
    title = str(title)
    m = _PARTS.match(title)
    if m is None or not m["main"]:
        return _front(title)
    alts = re.findall(r" \(([^()]*)\)", m["alt"])
    return _front(m["main"]) + "".join(f" ({_front(a)})" for a in alts)


def genre_text(genres) -> str:
    """``"Action|Sci-Fi"`` -> ``"Action, Sci-Fi"`` (empty for none)."""
    return "" if genres is None or (isinstance(genres, float) and pd.isna(genres)) else \
        ", ".join(g for g in str(genres).split("|") if g)


def display_movies(movies: pd.DataFrame) -> pd.DataFrame:
    """A copy of the data's movie table with natural titles and readable genres."""
    return movies.assign(title=movies["title"].map(natural_title), genres=movies["genres"].map(genre_text))
