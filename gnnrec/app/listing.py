"""Why the ranking GNN puts a movie on your list, in words and a table (no Streamlit here)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import pandas as pd

from ..recommender import Recommender, parse_ratings
from .ratings_io import stars

SHOWN = 8  # ratings shown in the table (the ones that lift the movie most, then the ones that hold it back)


@dataclasses.dataclass(frozen=True)
class Listed:
    """``rank``: the movie's place among the movies your list may hold; ``table``: one row per
    rating (``title, your rating, without it, link``), the ones that lift it most first;
    ``summary`` in plain words; ``how`` to read the table."""

    movie: int
    title: str
    rank: int
    table: pd.DataFrame
    summary: str
    how: str


def link_words(hops: int, edge: float, reach: int) -> str:
    """How a rated movie reaches the listed one, briefly: hops on the graph and the direct edge."""
    near = f"{hops} hop{'s' * (hops != 1)}" if hops <= reach else "out of reach"
    return f"{near}, edge {edge:+.2f}"


def why_listed(rec: Recommender, ratings: Mapping[int, float], movie: int, min_raters: float = 0,
               hidden: Iterable[int] = ()) -> Listed:
    """Explain the ranking GNN's list entry for ``movie`` (:meth:`Recommender.explain_listing`)."""
    ratings = parse_ratings(ratings)
    movie = rec.data.check_movie(movie)
    rank, df = rec.explain_listing(ratings, movie, min_raters, hidden)
    reach = rec.ranker.config.taps - 1
    table = pd.DataFrame({"movie": df["movie"], "title": df["title"],
                          "your rating": [stars(r) for r in df["your_rating"]],
                          "without it": [f"#{r}" for r in df["rank_without"]],
                          "link": [link_words(h, e, reach) for h, e in zip(df["hops"], df["edge"])],
                          "lift": df["score_effect"]})
    shown = table.head(SHOWN)
    title = rec.title(movie)
    top = shown.iloc[0] if len(shown) else None
    text = (f"The ranking GNN puts {title} at #{rank} of the movies your list may hold. It learnt, from which "
            "movies MovieLens users rated together, to put on top the movies a user goes on to rate.")
    if top is not None and top["lift"] > 0:
        if top["without it"] != f"#{rank}":
            text += (f" Your {top['your rating']} for {top['title']} lifts it most: without it, {title} would be "
                     f"{top['without it']} ({top['link']}).")
        else:
            text += (f" No single rating moves it from #{rank}: it rests on several of them; the one that lifts it "
                     f"most is your {top['your rating']} for {top['title']} ({top['link']}).")
    beta = rec.ranker.config.ease_rating
    how = ("without it: where the movie would rank if you had not rated that movie. link: hops between the two "
           "movies on the co-rating graph the GNN's filters run on (1 = neighbours), and the direct edge between "
           "them in the GNN's EASE filter (+: rating the one lifts the other). A rating counts mostly as 'you saw "
           f"it' (in the EASE filter a 5★ weighs {1 + beta:g}, a 3★ 1, a 1★ {1 - beta:g}), so a 1★ can still bring "
           "in movies people watch alongside it; the stars are the rating GNN's.")
    return Listed(movie, title, rank, shown.reset_index(drop=True), text, how)
