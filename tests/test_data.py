"""Tests for gnnrec.data: the loaded MovieLens-100K, the matrix and fingerprint, the offline cache
(copy, corruption, missing sources), the GroupLens parser, validation and atomic writes.

No test touches the network: fetchers are replaced, and the real data comes from the existing cache.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gnnrec import data as data_mod
from gnnrec.data import DataError


# -- helpers --------------------------------------------------------------------------------------
def cached_source_files() -> list[Path]:
    """The source files in the real cache: GroupLens's zip, else RecBole's two files."""
    folder = data_mod.cache_dir()
    zip_path = folder / "ml-100k.zip"
    if zip_path.exists():
        return [zip_path]
    files = [folder / Path(name).name for name in data_mod.RECBOLE_FILES]
    if all(f.exists() for f in files):
        return files
    pytest.skip(f"no MovieLens-100K source files in {folder}; run `python -m gnnrec data`")


def copy_cache(dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for f in cached_source_files():
        shutil.copyfile(f, dest / f.name)
        out.append(dest / f.name)
    return out


def failing(message: str):
    def fetch(folder: Path) -> None:
        raise OSError(message)

    return fetch


def item_line(movie: int, title: str, date: str, genres: set[str]) -> str:
    flags = "|".join("1" if g in genres else "0" for g in data_mod.GENRES)
    return f"{movie}|{title}|{date}||http://example.org/{movie}|{flags}\n"


def tiny_zip(items: list[str], ratings: list[tuple[int, int, int, int]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("ml-100k/u.data", "".join(f"{u}\t{m}\t{r}\t{t}\n" for u, m, r, t in ratings))
        z.writestr("ml-100k/u.item", "".join(items).encode("latin-1"))
    return buf.getvalue()


# -- the real data --------------------------------------------------------------------------------
@pytest.mark.integration
def test_counts_and_ranges(movielens):
    r = movielens.ratings
    assert len(r) == 100_000
    assert r["user"].nunique() == 943 and r["user"].min() == 1 and r["user"].max() == 943
    assert r["movie"].nunique() == 1682 and r["movie"].min() == 1 and r["movie"].max() == 1682
    assert set(r["rating"].unique()) == {1, 2, 3, 4, 5}
    assert not r.duplicated(["user", "movie"]).any()
    assert list(r.columns) == ["user", "movie", "rating", "timestamp"]
    assert len(movielens.movies) == 1682
    assert (movielens.movies["movie"].to_numpy() == np.arange(1, 1683)).all()
    assert movielens.n_users == 943 and movielens.n_movies == 1682
    assert movielens.source in ("grouplens", "recbole")
    data_mod.validate(movielens.ratings, movielens.movies)  # the real data passes


@pytest.mark.integration
def test_star_wars(movielens):
    row = movielens.movies.iloc[49]
    assert row.movie == 50
    assert row.title == "Star Wars"
    assert row.year == 1977
    assert "Sci-Fi" in row.genres.split("|")
    assert movielens.title(50) == "Star Wars (1977)"
    assert movielens.n_raters()[49] == 583  # the reference's 583 Star Wars raters


@pytest.mark.integration
def test_titles_have_no_year_suffix(movielens):
    m = movielens.movies
    assert (m["title"].str.len() > 0).all()
    dated = m[m["year"].notna()]
    # the year lives in its own column, not (also) at the end of the title
    assert not dated["title"].str.contains(r"\(\d{4}\)\s*$", regex=True).any()
    assert m["year"].isna().sum() <= 2  # 267 "unknown" (and 1412 from RecBole's file, see below)
    assert dated["year"].between(1920, 1998).all()


@pytest.mark.integration
def test_matrix_agrees_with_ratings(movielens):
    x = movielens.matrix()
    r = movielens.ratings
    assert x.shape == (943, 1682) and x.dtype == np.float32
    assert np.count_nonzero(x) == 100_000
    assert x.sum() == r["rating"].sum()
    np.testing.assert_array_equal(x[r["user"].to_numpy() - 1, r["movie"].to_numpy() - 1], r["rating"].to_numpy())
    np.testing.assert_array_equal((x > 0).sum(0), movielens.n_raters())
    assert movielens.n_raters().sum() == 100_000
    # a fresh copy: writing to it leaves the data alone
    x[0, 0] = 99
    assert movielens.matrix()[0, 0] != 99


@pytest.mark.integration
def test_fingerprint_stable(movielens):
    fp = movielens.fingerprint()
    assert re.fullmatch(r"[0-9a-f]{16}", fp)
    assert movielens.fingerprint() == fp
    shuffled = data_mod.MovieLens(movielens.ratings.sample(frac=1, random_state=0), movielens.movies,
                                  movielens.source)
    assert shuffled.fingerprint() == fp  # row order does not matter
    changed = movielens.ratings.copy()
    changed.loc[0, "rating"] = 1 if changed.loc[0, "rating"] != 1 else 2
    assert data_mod.MovieLens(changed, movielens.movies, movielens.source).fingerprint() != fp


@pytest.mark.integration
def test_check_movie(movielens):
    assert movielens.check_movie(50) == 50
    assert movielens.check_movie(np.int64(1682)) == 1682
    for bad in (0, 1683, -1, 99999):
        with pytest.raises(ValueError, match=rf"unknown movie id {bad}"):
            movielens.check_movie(bad)
    with pytest.raises(ValueError, match="not an integer"):
        movielens.check_movie("abc")
    with pytest.raises(ValueError):
        movielens.check_movie(50.5)


# -- the cache, offline ---------------------------------------------------------------------------
def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("GNNREC_DATA_DIR", str(tmp_path / "d"))
    assert data_mod.cache_dir() == tmp_path / "d"
    monkeypatch.delenv("GNNREC_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert data_mod.cache_dir() == tmp_path / "x" / "gnnrec"


@pytest.mark.integration
def test_load_from_copied_cache_offline(movielens, tmp_path, monkeypatch):
    copy_cache(tmp_path)
    # any network attempt would fail the test
    monkeypatch.setattr(data_mod, "SOURCES", (("no network", failing("network used")),))
    monkeypatch.setenv("GNNREC_DATA_DIR", str(tmp_path))
    d = data_mod.load(download=False)  # through $GNNREC_DATA_DIR
    assert d.fingerprint() == movielens.fingerprint()
    assert len(d.ratings) == 100_000
    pd.testing.assert_frame_equal(d.movies, movielens.movies)


@pytest.mark.integration
def test_fallback_to_second_source(movielens, tmp_path, monkeypatch):
    """The first source fails, the second writes the files: load uses them."""
    calls = []

    def copying(folder: Path) -> None:
        calls.append("second")
        copy_cache(folder)

    monkeypatch.setattr(data_mod, "SOURCES", (("first", failing("unreachable")), ("second", copying)))
    d = data_mod.load(tmp_path / "cache")
    assert calls == ["second"]
    assert d.fingerprint() == movielens.fingerprint()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(f.name for f in cached_source_files())


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_cache_detected(tmp_path, capsys, damage):
    files = copy_cache(tmp_path)
    victim = files[0]
    raw = bytearray(victim.read_bytes())
    if damage == "truncate":
        victim.write_bytes(bytes(raw[: len(raw) // 2]))
    else:
        raw[len(raw) // 2] ^= 0xFF
        victim.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"python -m gnnrec data"):
        data_mod.load(tmp_path, download=False)
    err = capsys.readouterr().err
    assert "corrupt" in err and victim.name in err
    assert not victim.exists(), "a corrupt cached file must be deleted so it is fetched again"


@pytest.mark.integration
def test_corrupt_cache_is_fetched_again(movielens, tmp_path, monkeypatch, capsys):
    """A truncated cached source with downloads allowed: deleted, fetched again, the data loads
    unchanged; if the fetch fails too, a DataError says how to fix it (never a parser error)."""
    sources = cached_source_files()
    victim = copy_cache(tmp_path)[0]
    good = victim.read_bytes()
    victim.write_bytes(good[: len(good) // 3])
    fetched = []

    def refetch(folder: Path) -> None:
        fetched.append(folder)
        for f in sources:
            shutil.copyfile(f, folder / f.name)

    monkeypatch.setattr(data_mod, "SOURCES", (("the mirror", refetch),))
    monkeypatch.setenv("GNNREC_DATA_DIR", str(tmp_path))
    d = data_mod.load()
    assert fetched == [tmp_path] and d.fingerprint() == movielens.fingerprint()
    assert victim.read_bytes() == good and "corrupt" in capsys.readouterr().err

    victim.write_bytes(good[: len(good) // 3])
    monkeypatch.setattr(data_mod, "SOURCES", (("the mirror", failing("offline")),))
    with pytest.raises(DataError, match=r"could not fetch MovieLens-100K:\n- the mirror: offline") as info:
        data_mod.load()
    assert "Fix:" in str(info.value) and not victim.exists()


def test_empty_cache_without_download(tmp_path):
    with pytest.raises(DataError, match=r"not in the cache .*run `python -m gnnrec data`"):
        data_mod.load(tmp_path, download=False)


def test_all_sources_failing(tmp_path, monkeypatch):
    names = [name for name, _ in data_mod.SOURCES]
    assert len(names) == 2
    monkeypatch.setattr(data_mod, "SOURCES", tuple((name, failing(f"boom {i}")) for i, name in enumerate(names)))
    with pytest.raises(DataError) as info:
        data_mod.load(tmp_path)
    msg = str(info.value)
    assert data_mod.GROUPLENS_URL in msg and data_mod.RECBOLE_SPEC in msg  # both sources named
    assert "boom 0" in msg and "boom 1" in msg  # with why each failed
    assert "Fix:" in msg and "ml-100k.zip" in msg and str(tmp_path) in msg and "GNNREC_DATA_DIR" in msg


# -- parsers --------------------------------------------------------------------------------------
def test_parse_grouplens_zip_tiny():
    items = [
        item_line(2, "Café Olé (1995)", "01-Jan-1995", {"Comedy", "Romance"}),
        item_line(1, "Foo (1995)", "15-Mar-1995", {"Action", "Sci-Fi"}),
        item_line(3, "unknown", "", {"unknown"}),
    ]
    blob = tiny_zip(items, [(1, 1, 5, 881250949), (2, 1, 3, 881250950), (1, 2, 4, 881250951)])
    ratings, movies = data_mod.parse_grouplens_zip(blob)
    assert list(movies["movie"]) == [1, 2, 3]  # sorted by id
    assert list(movies["title"]) == ["Foo", "Café Olé", "unknown"]
    assert movies.loc[0, "year"] == 1995 and movies.loc[1, "year"] == 1995
    assert pd.isna(movies.loc[2, "year"])
    assert list(movies["genres"]) == ["Action|Sci-Fi", "Comedy|Romance", "unknown"]
    assert list(movies.columns) == ["movie", "title", "year", "genres"]
    assert ratings.to_dict("list") == {"user": [1, 2, 1], "movie": [1, 1, 2], "rating": [5, 3, 4],
                                       "timestamp": [881250949, 881250950, 881250951]}
    assert all(dt == np.int64 for dt in ratings.dtypes)


def test_parse_recbole_tiny():
    inter = b"user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t2\t4\t100\n3\t1\t5\t101\n"
    item = (b"item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
            b"2\tToy Story\t1995\tAnimation Children's Comedy\n1\tunkonwn\tunkonwn\tunknown\n")
    ratings, movies = data_mod.parse_recbole(inter, item)
    assert list(movies["movie"]) == [1, 2]
    assert list(movies["title"]) == ["unknown", "Toy Story"]  # RecBole's typo fixed
    assert pd.isna(movies.loc[0, "year"]) and movies.loc[1, "year"] == 1995
    assert movies.loc[1, "genres"] == "Animation|Children's|Comedy"
    assert ratings.to_dict("list") == {"user": [1, 3], "movie": [2, 1], "rating": [4, 5], "timestamp": [100, 101]}


def test_parse_recbole_year_in_title():
    inter = b"user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t1412\t4\t100\n"
    item = (b"item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
            b"1412\tLand Before Time III: The Time of the Great Giving (1995)\tV\tAnimation Children's\n")
    _, movies = data_mod.parse_recbole(inter, item)
    assert movies.loc[0, "year"] == 1995


# -- validate -------------------------------------------------------------------------------------
@pytest.mark.integration
def test_validate_wrong_count(movielens):
    with pytest.raises(DataError, match=r"99999 ratings \(expected 100000\)"):
        data_mod.validate(movielens.ratings.iloc[1:], movielens.movies)


@pytest.mark.integration
@pytest.mark.parametrize("value", [0, 6, -3])
def test_validate_rating_out_of_range(movielens, value):
    bad = movielens.ratings.copy()
    bad.loc[123, "rating"] = value
    with pytest.raises(DataError, match="ratings outside 1..5"):
        data_mod.validate(bad, movielens.movies)


@pytest.mark.integration
def test_validate_duplicates(movielens):
    bad = movielens.ratings.copy()
    # user 1 rated movie 1; give a second user-1 rating the same movie (counts of ids unchanged)
    other = bad.index[(bad["user"] == 1) & (bad["movie"] == 2)][0]
    bad.loc[other, "movie"] = 1
    with pytest.raises(DataError, match=r"duplicate \(user, movie\) pairs"):
        data_mod.validate(bad, movielens.movies)


@pytest.mark.integration
def test_validate_missing_users_and_movies(movielens):
    r = movielens.ratings
    with pytest.raises(DataError, match=r"942 users") as info:
        data_mod.validate(r[r["user"] != 943], movielens.movies)
    assert "ratings (expected 100000)" in str(info.value)  # every problem is listed
    with pytest.raises(DataError, match=r"1681 movies in the movie table"):
        data_mod.validate(r, movielens.movies.iloc[:-1])


# -- atomic writes --------------------------------------------------------------------------------
def test_atomic_write_bytes_success(tmp_path):
    path = tmp_path / "sub" / "f.bin"
    data_mod.atomic_write_bytes(path, b"hello")
    assert path.read_bytes() == b"hello"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    data_mod.atomic_write_bytes(path, b"world")
    assert path.read_bytes() == b"world"
    assert os.listdir(path.parent) == ["f.bin"]


def test_atomic_write_bytes_failure_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old contents")

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        data_mod.atomic_write_bytes(path, b"new contents")
    assert path.read_bytes() == b"old contents"
    assert os.listdir(tmp_path) == ["f.bin"], "the temporary file must be removed"
