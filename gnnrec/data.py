"""MovieLens-100K: fetch from an official or offline source, verify, cache atomically, load."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

# --- sources -------------------------------------------------------------------------------------
GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
GROUPLENS_MD5 = "0e33842e24a9c977be4e0107933c0723"  # published beside the archive (ml-100k.zip.md5)
RECBOLE_SPEC = "recbole==1.2.1"  # its wheel ships the complete ML-100K with GroupLens's ids
RECBOLE_FILES = {  # member of the wheel -> sha256 of its bytes
    "recbole/dataset_example/ml-100k/ml-100k.inter":
        "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "recbole/dataset_example/ml-100k/ml-100k.item":
        "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
}
NETWORK_TIMEOUT_S = 10.0  # per network attempt: an offline machine falls through in seconds
GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
          "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
          "Romance", "Sci-Fi", "Thriller", "War", "Western")  # u.genre, in column order

N_USERS, N_MOVIES, N_RATINGS = 943, 1682, 100_000


_ASCII_ID = re.compile(r"[0-9]{1,6}")  # ASCII digits only: int() would also take '1_0', '+5' and '٥'


def parse_movie_id(text: str) -> int:
    """A movie id written in ASCII digits (``"50"``; not ``"1_0"``, ``"٥"``, ``"+5"`` or
    ``"5.0"``); ValueError naming the text otherwise. The range is :meth:`MovieLens.check_movie`'s."""
    if not isinstance(text, str) or not _ASCII_ID.fullmatch(text):
        raise ValueError(f"movie id {str(text)[:30]!r} is not an integer written in digits, e.g. 50")
    return int(text)


class DataError(RuntimeError):
    """The data cannot be fetched or is not the MovieLens-100K it claims to be."""


def cache_dir() -> Path:
    """Per-user cache folder: ``$GNNREC_DATA_DIR``, else ``$XDG_CACHE_HOME/gnnrec``, else
    ``~/.cache/gnnrec``."""
    if os.environ.get("GNNREC_DATA_DIR"):
        return Path(os.environ["GNNREC_DATA_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gnnrec"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``, so a
    reader sees the old file or the whole new one, never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- the data set --------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class MovieLens:
    """MovieLens-100K with GroupLens's ids.

    ratings: columns ``user, movie, rating, timestamp`` (ints); movies: ``movie, title, year,
    genres`` (``year`` nullable, ``genres`` ``|``-separated), indexed by nothing, sorted by id.
    Users are ``1..943`` and movies ``1..1682``: row/column ``id - 1`` of :meth:`matrix`.
    """

    ratings: pd.DataFrame
    movies: pd.DataFrame
    source: str  # "grouplens" or "recbole"

    @property
    def n_users(self) -> int:
        return N_USERS

    @property
    def n_movies(self) -> int:
        return N_MOVIES

    def matrix(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Dense ``(943, 1682)`` float32 rating matrix, 0 where not rated (a fresh copy); with
        ``rows`` (a boolean mask over :attr:`ratings`), of those ratings only."""
        x = np.zeros((N_USERS, N_MOVIES), dtype=np.float32)
        r = self.ratings if rows is None else self.ratings[rows]
        x[r["user"].to_numpy() - 1, r["movie"].to_numpy() - 1] = r["rating"].to_numpy()
        return x

    def fingerprint(self) -> str:
        """sha256 (first 16 hex digits) of the sorted (user, movie, rating) triples."""
        r = self.ratings.sort_values(["user", "movie"])[["user", "movie", "rating"]]
        return hashlib.sha256(r.to_numpy(dtype=np.int64).tobytes()).hexdigest()[:16]

    def check_movie(self, movie: int) -> int:
        """Return ``movie`` as an int if it is a known id, else raise a ValueError that says
        what the valid ids are."""
        if isinstance(movie, (bool, np.bool_)) or not isinstance(movie, (int, np.integer)):
            raise ValueError(f"movie id {movie!r} is not an integer; use a MovieLens id 1..{N_MOVIES}")
        m = int(movie)
        if not 1 <= m <= N_MOVIES:
            raise ValueError(f"unknown movie id {movie!r}: MovieLens-100K ids run 1..{N_MOVIES}")
        return m

    def title(self, movie: int) -> str:
        row = self.movies.iloc[self.check_movie(movie) - 1]
        return f"{row.title} ({row.year})" if pd.notna(row.year) else str(row.title)

    def n_raters(self) -> np.ndarray:
        """Number of ratings of each movie, ``(1682,)``, index ``id - 1``."""
        return np.bincount(self.ratings["movie"].to_numpy() - 1, minlength=N_MOVIES)


def validate(ratings: pd.DataFrame, movies: pd.DataFrame) -> None:
    """Raise DataError naming what is wrong unless this is the complete MovieLens-100K."""
    problems = []
    if len(ratings) != N_RATINGS:
        problems.append(f"{len(ratings)} ratings (expected {N_RATINGS})")
    if ratings["user"].nunique() != N_USERS or ratings["user"].min() != 1 or ratings["user"].max() != N_USERS:
        problems.append(f"{ratings['user'].nunique()} users (expected ids 1..{N_USERS})")
    if ratings["movie"].nunique() != N_MOVIES or ratings["movie"].max() != N_MOVIES or ratings["movie"].min() != 1:
        problems.append(f"{ratings['movie'].nunique()} rated movies (expected ids 1..{N_MOVIES})")
    if not ratings["rating"].between(1, 5).all():
        problems.append("ratings outside 1..5")
    if ratings.duplicated(["user", "movie"]).any():
        problems.append("duplicate (user, movie) pairs")
    if len(movies) != N_MOVIES or not (movies["movie"].to_numpy() == np.arange(1, N_MOVIES + 1)).all():
        problems.append(f"{len(movies)} movies in the movie table (expected ids 1..{N_MOVIES})")
    if problems:
        raise DataError("not the MovieLens-100K data: " + "; ".join(problems))


# --- parsers -------------------------------------------------------------------------------------
def _finish(ratings: pd.DataFrame, movies: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    ratings = ratings.astype({"user": np.int64, "movie": np.int64, "rating": np.int64, "timestamp": np.int64})
    movies = movies.sort_values("movie").reset_index(drop=True)
    # a year left in the title ("... (1995)", GroupLens "... (1995) (V)"): move it to its column
    m = movies["title"].str.extract(r"^(?P<t>.*?)\s*\((?P<y>\d{4})\)(?:\s*\(V\))?\s*$")
    has = m["t"].notna()
    movies.loc[has, "title"] = m.loc[has, "t"]
    movies["year"] = pd.to_numeric(movies["year"], errors="coerce")
    movies.loc[has & movies["year"].isna(), "year"] = pd.to_numeric(m.loc[has, "y"])
    movies["year"] = movies["year"].astype("Int64")
    return ratings.reset_index(drop=True), movies[["movie", "title", "year", "genres"]]


def parse_grouplens_zip(blob: bytes) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse ``u.data`` and ``u.item`` out of GroupLens's ``ml-100k.zip``."""
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        ratings = pd.read_csv(io.BytesIO(z.read("ml-100k/u.data")), sep="\t", header=None,
                              names=["user", "movie", "rating", "timestamp"])
        items = pd.read_csv(io.BytesIO(z.read("ml-100k/u.item")), sep="|", header=None,
                            encoding="latin-1", names=["movie", "title", "date", "video", "url", *GENRES])
    year = pd.to_datetime(items["date"], format="%d-%b-%Y", errors="coerce").dt.year
    # "Toy Story (1995)" -> "Toy Story": the year lives in its own column
    title = items["title"].str.replace(r"\s*\(\d{4}\)\s*$", "", regex=True).fillna("unknown")
    flags = items[list(GENRES)].to_numpy(dtype=bool)
    genres = ["|".join(g for g, f in zip(GENRES, row) if f) for row in flags]
    movies = pd.DataFrame({"movie": items["movie"], "title": title, "year": year, "genres": genres})
    return _finish(ratings, movies)


def parse_recbole(inter: bytes, item: bytes) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse RecBole's atomic files ``ml-100k.inter`` and ``ml-100k.item`` (GroupLens's ids)."""
    ratings = pd.read_csv(io.BytesIO(inter), sep="\t", header=0, names=["user", "movie", "rating", "timestamp"])
    items = pd.read_csv(io.BytesIO(item), sep="\t", header=0, names=["movie", "title", "year", "genres"],
                        dtype=str, keep_default_na=False)
    movies = pd.DataFrame({
        "movie": items["movie"].astype(int),
        "title": items["title"].replace({"unkonwn": "unknown"}),  # sic, in RecBole's file
        "year": pd.to_numeric(items["year"], errors="coerce"),
        "genres": items["genres"].str.split().str.join("|"),
    })
    return _finish(ratings, movies)


# --- fetching ------------------------------------------------------------------------------------
def _fetch_grouplens(folder: Path) -> None:
    with urllib.request.urlopen(GROUPLENS_URL, timeout=NETWORK_TIMEOUT_S) as resp:
        blob = resp.read(20_000_000)
    digest = hashlib.md5(blob).hexdigest()
    if digest != GROUPLENS_MD5:
        raise DataError(f"ml-100k.zip from GroupLens has md5 {digest}, expected {GROUPLENS_MD5}")
    atomic_write_bytes(folder / "ml-100k.zip", blob)


def _fetch_recbole(folder: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "--timeout", str(int(NETWORK_TIMEOUT_S)), "--retries", "1", "-d", tmp, RECBOLE_SPEC]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            raise DataError("`pip download recbole==1.2.1` took over 120 s") from None
        wheels = list(Path(tmp).glob("recbole-*.whl"))
        if proc.returncode != 0 or not wheels:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise DataError(f"`pip download {RECBOLE_SPEC}` failed: {tail[0]}")
        with zipfile.ZipFile(wheels[0]) as z:
            blobs = {name: z.read(name) for name in RECBOLE_FILES}
    for name, blob in blobs.items():
        digest = hashlib.sha256(blob).hexdigest()
        if digest != RECBOLE_FILES[name]:
            raise DataError(f"{name} in the RecBole wheel has sha256 {digest}, expected {RECBOLE_FILES[name]}")
    for name, blob in blobs.items():
        atomic_write_bytes(folder / Path(name).name, blob)


def _read_cached(folder: Path) -> MovieLens | None:
    """Load from the cache if a complete source is there; a corrupt file is deleted (so it is
    fetched again) and reported through the warning it raises."""
    zip_path = folder / "ml-100k.zip"
    if zip_path.exists():
        blob = zip_path.read_bytes()
        if hashlib.md5(blob).hexdigest() == GROUPLENS_MD5:
            return MovieLens(*parse_grouplens_zip(blob), source="grouplens")
        _warn(f"cached {zip_path} is corrupt (md5 mismatch); deleting it and fetching again")
        zip_path.unlink(missing_ok=True)
    paths = {name: folder / Path(name).name for name in RECBOLE_FILES}
    if all(p.exists() for p in paths.values()):
        blobs = {name: p.read_bytes() for name, p in paths.items()}
        bad = [str(paths[n]) for n, b in blobs.items() if hashlib.sha256(b).hexdigest() != RECBOLE_FILES[n]]
        if not bad:
            inter, item = blobs.values()
            return MovieLens(*parse_recbole(inter, item), source="recbole")
        _warn(f"cached {', '.join(bad)} corrupt (sha256 mismatch); deleting and fetching again")
        for p in paths.values():
            p.unlink(missing_ok=True)
    return None


def _warn(msg: str) -> None:
    print(f"gnnrec.data: {msg}", file=sys.stderr)


SOURCES = (("GroupLens archive " + GROUPLENS_URL, _fetch_grouplens),
           (f"PyPI wheel {RECBOLE_SPEC} (offline mirror)", _fetch_recbole))


def load(folder: Path | str | None = None, *, download: bool = True) -> MovieLens:
    """Load MovieLens-100K from the cache, fetching it first if needed.

    Sources, in order: GroupLens's ``ml-100k.zip`` (md5-verified), then the ML-100K files inside
    the ``recbole==1.2.1`` wheel from PyPI (sha256-verified). Files are written atomically.

    Args:
        folder: cache folder (default :func:`cache_dir`).
        download: fetch when the cache is empty (default True); if False, raise instead.

    Raises:
        DataError: no source could be reached, or the data fails validation; the message names
            both sources and the manual fix.
    """
    folder = Path(folder) if folder is not None else cache_dir()
    data = _read_cached(folder)
    if data is None:
        if not download:
            raise DataError(f"MovieLens-100K is not in the cache {folder}; run `python -m gnnrec data`")
        errors = []
        for name, fetch in SOURCES:
            try:
                fetch(folder)
            except (OSError, DataError, zipfile.BadZipFile) as e:  # URLError/timeouts are OSErrors
                errors.append(f"- {name}: {e}")
                continue
            data = _read_cached(folder)
            if data is not None:
                break
        if data is None:
            raise DataError(
                "could not fetch MovieLens-100K:\n" + "\n".join(errors) +
                f"\nFix: download {GROUPLENS_URL} by hand and put ml-100k.zip in {folder} "
                f"(or set GNNREC_DATA_DIR to a folder that holds it).")
    validate(data.ratings, data.movies)
    return data
