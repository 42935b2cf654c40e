"""gnnrec.app.ratings_io: ratings CSV files (import all or nothing, export safe for spreadsheets), share
links and query parameters, a MovieLens user's ratings."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnnrec import data as data_mod
from gnnrec.app import ratings_io


@pytest.fixture(scope="module")
def data():
    return data_mod.load()


# -- CSV import / export ------------------------------------------------------------------------------------
def test_csv_round_trip(data):
    ratings = {50: 5, 181: 4, 1: 2.5}
    raw = ratings_io.ratings_to_csv(data, ratings)
    assert raw.decode().splitlines()[0] == "movie,title,rating"
    assert ratings_io.parse_ratings_csv(raw) == ratings


def test_csv_accepts_bom_extra_columns_and_blank_lines():
    raw = "\ufeffTitle,Movie_ID,Rating,comment\nA,50,5,great\n\n B ,181, 4 ,\n".encode()
    assert ratings_io.parse_ratings_csv(raw) == {50: 5, 181: 4}


@pytest.mark.parametrize("raw, message", [
    (b"", "empty"),
    (b"movie,rating\n", "no ratings"),
    (b"film,score\n50,5\n", "wrong columns"),
    (b"movie;rating\n50;5\n", "use commas"),
    (b"movie,rating\n0,5\n", "unknown movie id 0"),
    (b"movie,rating\n1683,5\n", "unknown movie id 1683"),
    (b"movie,rating\nfifty,5\n", "not a whole number"),
    (b"movie,rating\n50,0\n", "outside 1-5"),
    (b"movie,rating\n50,5.5\n", "outside 1-5"),
    (b"movie,rating\n50,nan\n", "rating 'nan' of movie 50 is not a number"),
    (b"movie,rating\n50,\n", "not a number"),
    (b"movie,rating\n50,5\n50,4\n", "rated twice"),
    (b"movie,rating\n" + b"1,5\n" * 2001, "limit is 2,000"),
    (b"m" * (ratings_io.MAX_IMPORT_BYTES + 1), "limit is 1 MB"),
    (b"\xff\xfe\x00m\x00o", "not UTF-8"),
    (b"movie,rating\n\x0050,5", "binary"),
])
def test_bad_csv_is_refused_with_a_reason(raw, message):
    with pytest.raises(ratings_io.RatingsError, match=message):
        ratings_io.parse_ratings_csv(raw)


def test_csv_is_all_or_nothing_and_lists_several_problems():
    with pytest.raises(ratings_io.RatingsError) as e:
        ratings_io.parse_ratings_csv(b"movie,rating\n50,5\n9999,4\n181,9\n")
    assert "line 3" in str(e.value) and "line 4" in str(e.value) and "nothing imported" in str(e.value)


def test_export_defuses_spreadsheet_formulas(data, monkeypatch):
    monkeypatch.setattr(type(data), "title", lambda self, m: "=HYPERLINK(\"x\")")
    line = ratings_io.ratings_to_csv(data, {50: 5}).decode().splitlines()[1]
    assert "'=HYPERLINK" in line


# -- share links ------------------------------------------------------------------------------------------
def test_share_round_trip():
    ratings = {50: 5, 181: 4, 7: 3.5}
    assert ratings_io.parse_share(ratings_io.encode_share(ratings)) == (ratings, [])


def test_share_keeps_good_pairs_and_names_bad_ones():
    got, problems = ratings_io.parse_share("50:5,,181:4,x:1,9999:3,1:0,2,50:1,3:inf")
    assert got == {50: 5, 181: 4}
    assert len(problems) == 1 and "ignored 6 bad entries" in problems[0]


def test_share_refuses_huge_values():
    got, problems = ratings_io.parse_share("1:5," * 2000)
    assert got == {} and "characters long" in problems[0]


def test_read_query_names_unknown_and_hostile_parameters():
    ratings, model, problems = ratings_io.read_query(
        {"r": ["50:5"], "model": "../../secrets", "x": "<script>", "embed": "true"})
    assert ratings == {50: 5} and model is None
    text = " ".join(problems)
    assert "'model'" in text and "unknown link parameter 'x'" in text and "embed" not in text
    assert ratings_io.read_query({"model": "all-movies"})[1] == "all-movies"


@pytest.mark.parametrize("text", ["1_0:5", "\u0665\u0660:5", "50:\u0664", "+50:5", "50:+5", "50.0:5", "50:4_0", "50:1e0",
                                  "\uff15\uff10:5"], ids=ascii)
def test_share_accepts_only_ascii_digits(text):
    got, problems = ratings_io.parse_share(text)
    assert got == {} and "ignored 1 bad entry" in problems[0]
    assert ratings_io.parse_share(" 50 : 4.5 ") == ({50: 4.5}, [])


@pytest.mark.parametrize("cell", ["1_0", "\u0665\u0660", "+50", "50.0"], ids=ascii)
def test_csv_accepts_only_ascii_digit_movie_ids(cell):
    with pytest.raises(ratings_io.RatingsError, match="is not a whole number"):
        ratings_io.parse_ratings_csv(f"movie,rating\n{cell},5\n".encode())
    with pytest.raises(ratings_io.RatingsError, match="is not a number"):
        ratings_io.parse_ratings_csv("movie,rating\n50,\u0664\n".encode())


def test_unknown_query_keys_are_named_a_few_at_most():
    params = {f"k{i}": "v" for i in range(500)}
    _, _, problems = ratings_io.read_query(params)
    assert len(problems) == 1 and len(problems[0]) < 300
    assert "'k0', 'k1', 'k2' and 497 more" in problems[0]


def test_repeated_r_parameters_are_merged_and_reported():
    ratings, _, problems = ratings_io.read_query({"r": ["50:5,181:4", "1:2,50:3"]})
    assert ratings == {50: 3, 181: 4, 1: 2}
    assert problems == ["the link has 2 'r' parameters: merged their ratings (3 in all; 1 movie(s) rated "
                        "differently took the later value)"]
    ratings, _, problems = ratings_io.read_query({"r": ["1:5"] * 50})
    assert ratings == {1: 5} and "read the first 10" in problems[0]
    assert ratings_io.read_query({"r": ["50:5"]}) == ({50: 5}, None, [])


def test_user_ratings(data):
    r = ratings_io.user_ratings(data, 1)
    assert len(r) == 272 and all(1 <= v <= 5 for v in r.values())
    for bad in (0, 944, "x", None, 1.5):
        with pytest.raises(ValueError, match="user"):
            ratings_io.user_ratings(data, bad)


# -- hostile input (property-based) --------------------------------------------------------------------------
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
cell = st.one_of(st.integers(-5, 2000).map(str), st.sampled_from(["5", "4.5", "1e0", "nan", "inf", "-1", " 50 ",
                                                                    "５０", "1_0", "0x10", "", '"', "\x00"]),
                 st.text(max_size=12))


def assert_valid(ratings) -> None:
    """What an import or a link may return: movie ids 1..1682 (ints), finite ratings 1-5."""
    assert isinstance(ratings, dict)
    for m, r in ratings.items():
        assert type(m) is int and 1 <= m <= ratings_io.N_MOVIES, m
        assert type(r) in (int, float) and math.isfinite(r) and 1 <= r <= 5, r


def parse_or_refuse(raw: bytes):
    try:
        got = ratings_io.parse_ratings_csv(raw)
    except ratings_io.RatingsError as e:
        assert str(e)  # a message to show
        return None
    assert_valid(got)
    assert got, "an import that succeeds has ratings"
    return got


@FUZZ
@given(st.binary(max_size=2_000))
def test_csv_import_fuzzed_bytes(raw):
    parse_or_refuse(raw)


@FUZZ
@given(st.text(max_size=500))
def test_csv_import_fuzzed_text(text):
    parse_or_refuse(text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.sampled_from(["movie,rating", "Movie_ID;Rating", "item,stars,title", "rating,id", "movie"]),
       st.lists(st.lists(cell, max_size=4), max_size=8), st.sampled_from(["\n", "\r\n", "\r"]))
def test_csv_import_fuzzed_rows(header, rows, newline):
    raw = newline.join([header] + [",".join(r) for r in rows]).encode("utf-8", "surrogatepass")
    parse_or_refuse(raw)


def test_csv_field_over_the_csv_module_limit_is_a_ratings_error():
    """An unclosed quote swallowing the file made csv raise its own error (found by the fuzzing)."""
    with pytest.raises(ratings_io.RatingsError, match="not a readable CSV"):
        ratings_io.parse_ratings_csv(b'movie,rating\n"' + b"x" * 200_000 + b'",5\n')


def test_oversized_import_is_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(ratings_io.csv, "reader", lambda *a, **k: pytest.fail("parsed an oversized file"))
    for raw in (b"movie,rating\n" + b"50,5\n" * 300_000, b"\x00" * (ratings_io.MAX_IMPORT_BYTES + 1)):
        with pytest.raises(ratings_io.RatingsError, match="limit is 1 MB"):
            ratings_io.parse_ratings_csv(raw)


def test_the_server_refuses_uploads_over_the_import_limit():
    """Streamlit itself refuses an upload over ``server.maxUploadSize`` MB, before the app reads it."""
    from pathlib import Path

    import tomllib

    cfg = tomllib.loads((Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["maxUploadSize"] * 1_000_000 <= ratings_io.MAX_IMPORT_BYTES * 1.05


@FUZZ
@given(st.one_of(st.text(max_size=300), st.lists(st.tuples(cell, cell), max_size=20).map(
    lambda ps: ",".join(f"{m}:{r}" for m, r in ps))))
def test_share_link_fuzzed(text):
    got, problems = ratings_io.parse_share(text)  # never raises
    assert_valid(got)
    assert all(isinstance(p, str) and p for p in problems)


@FUZZ
@given(st.dictionaries(st.text(max_size=10), st.one_of(st.text(max_size=60), st.lists(st.text(max_size=60), max_size=3),
                                                       st.none(), st.integers()), max_size=5))
def test_query_params_fuzzed(params):
    ratings, model, problems = ratings_io.read_query(params)  # never raises
    assert_valid(ratings)
    assert model is None or ratings_io.store.NAME_RE.fullmatch(model) and ".." not in model
    assert all(isinstance(p, str) and p for p in problems)
