"""A user's ratings in and out: CSV files, share links and query parameters, MovieLens profiles, display.

Every error a user can cause is a :class:`RatingsError` or ``ValueError`` whose message says what
is wrong and what to do, so a page can show it as it is. No Streamlit in here.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping

import pandas as pd

from .. import data as data_mod
from .. import store
from ..titles import genre_text, natural_title

N_MOVIES, N_USERS = data_mod.N_MOVIES, data_mod.N_USERS
MAX_IMPORT_BYTES = 1_000_000  # an import CSV larger than this is refused
MAX_IMPORT_ROWS = 2_000  # ... and so is one with more data rows (there are only 1,682 movies)
MAX_LINK_RATINGS = 200  # more ratings than this do not fit a sensible share link
MAX_QUERY_CHARS = 4_000
MAX_R_VALUES = 10  # repeated 'r' parameters merged, at most this many
MAX_NAMED_KEYS = 3  # unknown link parameters named in the warning (the rest counted)
_RATING = re.compile(r"[0-9]{1,2}(\.[0-9]{1,6})?")
STREAMLIT_QUERY_KEYS = ("embed", "embed_options")  # Streamlit's own: ignored silently
MOVIE_COLUMNS = ("movie", "movie_id", "movieid", "item", "item_id", "id")
RATING_COLUMNS = ("rating", "stars", "score")


class RatingsError(ValueError):
    """An import file or share link that cannot be read; the message says why and what to do."""


movie_id = data_mod.parse_movie_id  # a movie id in ASCII digits; the range is the caller's to check


def rating_value(text: str) -> float:
    """A rating written as ASCII digits with an optional decimal part (``"4"``, ``"3.5"``)."""
    if not isinstance(text, str) or not _RATING.fullmatch(text):
        raise ValueError(f"rating {str(text)[:30]!r} is not a number")
    return float(text)


# -- display and profiles ------------------------------------------------------------------------------------
def stars(rating: float) -> str:
    """``4 -> "★★★★☆"`` (rounded to whole stars)."""
    n = int(round(float(rating)))
    return "★" * n + "☆" * (5 - n)


def ratings_key(ratings: Mapping[int, float]) -> tuple:
    """A hashable, order-free key of a ratings dict (for caches)."""
    return tuple(sorted((int(m), float(r)) for m, r in ratings.items()))


def ratings_table(data: data_mod.MovieLens, ratings: Mapping[int, float]) -> pd.DataFrame:
    """The user's ratings for display: ``movie, title, year, genres, your rating`` (stars), newest
    last; natural titles ("The Godfather")."""
    ids = [int(m) for m in ratings]
    rows = [m - 1 for m in ids]  # columns indexed as arrays: a row selection of the whole frame is ~10x slower
    return pd.DataFrame({"movie": ids, "title": [natural_title(t) for t in data.movies["title"].array[rows]],
                         "year": data.movies["year"].array[rows],
                         "genres": [genre_text(g) for g in data.movies["genres"].array[rows]],
                         "your rating": [f"{stars(r)}  {r:g}" for r in ratings.values()]})


def user_ratings(data: data_mod.MovieLens, user) -> dict[int, float]:
    """A real MovieLens user's ratings ``{movie: rating}``."""
    try:
        u = int(user)
    except (TypeError, ValueError):
        raise ValueError(f"user id {user!r} is not a number; pick a MovieLens user 1..{N_USERS}") from None
    if u != user or not 1 <= u <= N_USERS:
        raise ValueError(f"no MovieLens user {user!r}: user ids run 1..{N_USERS}")
    r = data.ratings[data.ratings["user"] == u]
    return {int(m): int(v) for m, v in zip(r["movie"], r["rating"])}


# -- CSV files ----------------------------------------------------------------------------------------------
def ratings_to_csv(data: data_mod.MovieLens, ratings: Mapping[int, float]) -> bytes:
    """``movie,title,rating`` CSV (titles that a spreadsheet would run as a formula are quoted)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["movie", "title", "rating"])
    for m, r in ratings.items():
        title = data.title(m)
        if title[:1] in ("=", "+", "-", "@", "\t", "\r"):
            title = "'" + title
        w.writerow([m, title, int(r) if float(r).is_integer() else r])
    return buf.getvalue().encode("utf-8")


def parse_ratings_csv(raw: bytes) -> dict[int, float]:
    """Ratings from an uploaded CSV with a header naming a ``movie`` and a ``rating`` column (other
    columns, such as ``title``, are ignored).

    All or nothing: any bad row rejects the whole file, so a bad import never half-changes the
    ratings. Raises :class:`RatingsError` listing the first problems found.
    """
    if len(raw) > MAX_IMPORT_BYTES:
        raise RatingsError(f"the file is {len(raw) / 1e6:.1f} MB; the limit is {MAX_IMPORT_BYTES / 1e6:.0f} MB "
                           f"({MAX_IMPORT_ROWS:,} rows). Export your ratings from this app for the format.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RatingsError("the file is not UTF-8 text; upload a CSV file such as the one 'Export CSV' "
                           "writes (columns movie,rating)") from None
    if "\x00" in text:
        raise RatingsError("the file is binary, not a CSV; upload a text file with columns movie,rating")
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    except csv.Error as e:  # e.g. a field over csv's 128 KB limit (an unclosed quote swallowing the file)
        raise RatingsError(f"the file is not a readable CSV ({e}); check for an unclosed '\"' quote, or export "
                           "your ratings from this app for the format (columns movie,rating)") from None
    if not rows:
        raise RatingsError("the file is empty; it needs a header line 'movie,rating' and one line per rating")
    movie_col, rating_col = _columns(rows[0])
    body = rows[1:]
    if not body:
        raise RatingsError("the file has a header but no ratings; add lines like '50,5'")
    if len(body) > MAX_IMPORT_ROWS:
        raise RatingsError(f"the file has {len(body):,} rating rows; the limit is {MAX_IMPORT_ROWS:,}")
    out: dict[int, float] = {}
    problems: list[str] = []
    for line, row in enumerate(body, start=2):
        if len(problems) >= 5:
            problems.append("…")
            break
        m_txt, r_txt = (row[i].strip() if i < len(row) else "" for i in (movie_col, rating_col))
        try:
            mid = movie_id(m_txt)
        except ValueError:
            problems.append(f"line {line}: movie id {m_txt[:30]!r} is not a whole number")
            continue
        if not 1 <= mid <= N_MOVIES:
            problems.append(f"line {line}: unknown movie id {mid} (MovieLens-100K ids run 1..{N_MOVIES})")
            continue
        try:
            r = rating_value(r_txt)
        except ValueError:
            problems.append(f"line {line}: rating {r_txt[:30]!r} of movie {mid} is not a number")
            continue
        if not (math.isfinite(r) and 1 <= r <= 5):
            problems.append(f"line {line}: rating {r_txt[:30]} of movie {mid} is outside 1-5")
            continue
        if mid in out:
            problems.append(f"line {line}: movie {mid} is rated twice; keep one line per movie")
            continue
        out[mid] = int(r) if r.is_integer() else r
    if problems:
        raise RatingsError("nothing imported; fix the file and upload it again: " + "; ".join(problems))
    return out


def _columns(first: list[str]) -> tuple[int, int]:
    """The movie and rating columns named by a CSV's header line; RatingsError if either is missing."""
    header = [c.strip().lower() for c in first]
    movie_col = next((header.index(c) for c in MOVIE_COLUMNS if c in header), None)
    rating_col = next((header.index(c) for c in RATING_COLUMNS if c in header), None)
    if movie_col is None or rating_col is None:
        got = ", ".join(repr(c) for c in first[:6]) or "nothing"
        hint = " (it looks separated by ';' or tabs: use commas)" if len(header) == 1 and any(
            s in header[0] for s in (";", "\t")) else ""
        raise RatingsError(f"wrong columns: the first line must name a 'movie' and a 'rating' column, "
                           f"e.g. 'movie,rating'; found {got}{hint}")
    return movie_col, rating_col


# -- share links and query parameters -----------------------------------------------------------------------
def encode_share(ratings: Mapping[int, float]) -> str:
    """``{50: 5, 181: 4}`` -> ``"50:5,181:4"`` (the ``r`` query parameter)."""
    return ",".join(f"{m}:{int(r) if float(r).is_integer() else r:g}" for m, r in ratings.items())


def parse_share(text: str) -> tuple[dict[int, float], list[str]]:
    """Ratings from a share link's ``r`` value, keeping the good pairs; returns them and a list
    of problems (each bad pair named), never raising."""
    problems: list[str] = []
    if not isinstance(text, str):
        return {}, ["the 'r' link parameter is not text; ignored"]
    if len(text) > MAX_QUERY_CHARS:
        return {}, [f"the 'r' link parameter is {len(text):,} characters long (limit {MAX_QUERY_CHARS:,}); "
                    "ignored. Share many ratings as an exported CSV instead"]
    out: dict[int, float] = {}
    bad: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        movie, sep, value = part.partition(":")
        try:
            mid, r = movie_id(movie.strip()), rating_value(value.strip())
        except ValueError:
            bad.append(part)
            continue
        if not sep or not 1 <= mid <= N_MOVIES or not (math.isfinite(r) and 1 <= r <= 5) or mid in out:
            bad.append(part)
            continue
        out[mid] = int(r) if r.is_integer() else r
    if bad:
        shown = ", ".join(repr(b[:20]) for b in bad[:5]) + (" …" if len(bad) > 5 else "")
        problems.append(f"ignored {len(bad)} bad entr{'y' if len(bad) == 1 else 'ies'} in the link ({shown}): "
                        f"each must be MOVIE:RATING with a movie id 1..{N_MOVIES}, a rating 1-5, each movie once")
    return out, problems


def read_query(params: Mapping[str, object]) -> tuple[dict[int, float], str | None, list[str]]:
    """The app's query parameters -> (ratings, model name or None, problems). Repeated ``r``
    parameters are merged (and said so); unknown parameters are named in the problems, a few at
    most; nothing here raises."""
    problems: list[str] = []
    ratings: dict[int, float] = {}
    model = None
    unknown: list[str] = []
    for key, value in params.items():
        values = [str(v) for v in value] if isinstance(value, (list, tuple)) else [value]
        if key in STREAMLIT_QUERY_KEYS:
            continue
        if key == "r":
            ratings, more = _merge_shares(values)
            problems += more
        elif key == "model":
            if len(values) > 1:
                problems.append(f"the link names {len(values)} models; using the last")
            try:
                model = store.check_name(str(values[-1] if values else ""))
            except store.StoreError as e:
                problems.append(f"ignored the 'model' link parameter: {e}")
        else:
            unknown.append(repr(str(key)[:40]))
    if unknown:
        more = f" and {len(unknown) - MAX_NAMED_KEYS} more" if len(unknown) > MAX_NAMED_KEYS else ""
        problems.append(f"ignored the unknown link parameter{'s' if len(unknown) > 1 else ''} "
                        f"{', '.join(unknown[:MAX_NAMED_KEYS])}{more} (this app reads 'r=MOVIE:RATING,...' and "
                        "'model=NAME')")
    return ratings, model, problems


def _merge_shares(values: list) -> tuple[dict[int, float], list[str]]:
    """Several ``r`` values: their ratings merged in order (a movie rated in two: the later value)."""
    if not values:
        return {}, []
    problems: list[str] = []
    if len(values) > MAX_R_VALUES:
        problems.append(f"the link has {len(values)} 'r' parameters; read the first {MAX_R_VALUES}")
        values = values[:MAX_R_VALUES]
    merged: dict[int, float] = {}
    changed = 0
    for value in values:
        got, more = parse_share(value)
        problems += more
        changed += sum(1 for m, r in got.items() if m in merged and merged[m] != r)
        merged.update(got)
    if len(values) > 1:
        clash = f"; {changed} movie(s) rated differently took the later value" if changed else ""
        problems.append(f"the link has {len(values)} 'r' parameters: merged their ratings ({len(merged)} in all"
                        f"{clash})")
    return merged, problems
