"""The app keeps the session's ratings and never crashes on what is left: every page carries the
ratings (and a non-default model) in its URL, a new session on any page (a reload, a restarted
server) gets them back, more ratings than a link holds are warned about when it happens with a
one-click export, repeated link keys are merged, and a page with nothing left to recommend says
so. Through ``streamlit.testing.v1.AppTest`` on the real data and a copy of the models; the
browser side (reload, cold start) is in tests/test_e2e.py."""

from __future__ import annotations

import re
import shutil
import urllib.parse

import pytest
from helpers import ROOT, models_copy
from streamlit.testing.v1 import AppTest

from gnnrec.app import ratings_io

APP = str(ROOT / "app.py")
TIMEOUT = 90
PAGES = ("pages/recommend.py", "pages/neighbourhood.py", "pages/compare.py", "pages/train.py")


@pytest.fixture
def models(tmp_path, monkeypatch):
    folder = models_copy(tmp_path / "models")
    monkeypatch.setenv("GNNREC_MODELS_DIR", str(folder))
    monkeypatch.setenv("GNNREC_RESULTS_DIR", str(tmp_path / "results"))
    return folder


def clean(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> str:
    return re.sub(r"\\(.)", r"\1", " | ".join(str(e.value) for e in elements))


def qp(at: AppTest, key: str):
    v = at.query_params.get(key)
    return v[-1] if isinstance(v, list) and v else v


def opened(page: str | None = None, **params) -> AppTest:
    """A new session (a reload, or a link opened) on ``page`` with these query parameters."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in params.items():
        at.query_params[k] = v
    if page:
        at.switch_page(page)
    return clean(at.run())


def open_section(at: AppTest, key: str) -> AppTest:
    """Open a folded section of the Recommend page, drawn only while open (as a click on it)."""
    at.session_state[key] = True
    return clean(at.run())


def rate(at: AppTest, movie: int, stars: int) -> None:
    at.selectbox(key="rate_movie").set_value(movie).run()
    at.feedback(key=f"rate_stars_{at.session_state['rate_round'] if 'rate_round' in at.session_state else 0}") \
        .set_value(stars - 1).run()
    clean(at)


# -- ratings in every page's URL ----------------------------------------------------------------------------
def test_every_page_carries_the_ratings_and_the_model_in_its_url(models):
    shutil.copy(models / "all-movies.pt", models / "second.pt")
    at = opened()
    rate(at, 50, 5)
    rate(at, 181, 4)
    at.selectbox(key="model_name").set_value("second").run()
    for page in PAGES:
        at.switch_page(page).run()
        clean(at)
        assert qp(at, "r") == "50:5,181:4", page
        assert qp(at, "model") == "second", page
    at.selectbox(key="model_name").set_value("all-movies").run()
    assert qp(at, "model") is None and qp(at, "r") == "50:5,181:4"  # the default model is not named


def menu_params(at: AppTest) -> list[dict]:
    """The query parameters each link of the page menu carries."""
    links = at.get("page_link")
    assert len(links) == len(PAGES)
    return [urllib.parse.parse_qs(link.proto.query_string) for link in links]


def test_the_menu_links_carry_the_ratings_and_the_model(models):
    """A server restarted under an open tab has no session for it: the next click on the menu
    starts an empty one, which only has what the link carries (in Chromium: test_e2e_fixes.py)."""
    shutil.copy(models / "all-movies.pt", models / "second.pt")
    at = opened()
    rate(at, 50, 5)
    at.selectbox(key="model_name").set_value("second").run()
    rate(at, 181, 4)
    want = {"r": ["50:5,181:4"], "model": ["second"]}
    assert menu_params(at) == [want] * len(PAGES)  # the last rating too: drawn after this run's address
    for page in PAGES:
        at.switch_page(page).run()
        assert menu_params(clean(at)) == [want] * len(PAGES), page
    fresh = opened("pages/compare.py", r=want["r"][0], model=want["model"][0])  # that click, on a new server
    assert fresh.session_state["ratings"] == {50: 5, 181: 4} and fresh.session_state["model_name"] == "second"


@pytest.mark.parametrize("page", PAGES)
def test_a_new_session_on_any_page_gets_the_ratings_back(models, page):
    at = opened(page, r="50:5,181:4,1:2")
    assert at.session_state["ratings"] == {50: 5, 181: 4, 1: 2}
    assert "Loaded 3 rating(s) from the link" in texts(at.info)
    assert qp(at, "r") == "50:5,181:4,1:2"  # still in the URL, for the next reload
    assert "You:** 3 rated" in texts(at.sidebar.caption)


def test_repeated_link_keys_are_merged_and_said(models):
    at = opened(r=["50:5,181:4", "1:2"])
    assert at.session_state["ratings"] == {50: 5, 181: 4, 1: 2}
    assert "merged their ratings" in texts(at.warning)
    assert qp(at, "r") == "50:5,181:4,1:2"


# -- more ratings than a link holds ---------------------------------------------------------------------------
def test_too_many_ratings_warn_when_it_happens_and_offer_the_export(models):
    at = opened("pages/recommend.py", r="50:5")
    open_section(at, "more_ways")
    at.number_input(key="ml_user").set_value(405).run()  # 737 ratings
    at.button(key="load_user").click().run()
    clean(at)
    assert len(at.session_state["ratings"]) == 737 and qp(at, "r") is None
    warning = texts(at.warning)
    assert "You have 737 ratings, more than a link holds (200)" in warning and "Export CSV" in warning
    assert at.sidebar.get("download_button"), "the sidebar offers the export"
    for page in PAGES[1:]:  # on every page: the export stays one click away, the warning said once
        at.switch_page(page).run()
        clean(at)
        assert at.sidebar.get("download_button") and "more than a link holds" not in texts(at.warning)
    at.switch_page("pages/recommend.py").run()
    open_section(at, "ratings_open")
    at.button(key="undo_ratings").click().run()  # back under the limit: back in the URL
    assert at.session_state["ratings"] == {50: 5} and qp(at, "r") == "50:5"
    assert not at.sidebar.get("download_button")


def test_the_export_holds_what_the_import_reads_back(models, movielens):
    ratings = ratings_io.user_ratings(movielens, 405)
    raw = ratings_io.ratings_to_csv(movielens, ratings)
    assert ratings_io.parse_ratings_csv(raw) == ratings


# -- nothing left to recommend --------------------------------------------------------------------------------
def test_rating_every_movie_leaves_a_message_not_a_crash(models):
    at = opened("pages/recommend.py")
    every = "movie,rating\n" + "".join(f"{m},{1 + m % 5}\n" for m in range(1, ratings_io.N_MOVIES + 1))
    at.file_uploader(key="import_csv").set_value(("all.csv", every.encode(), "text/csv")).run()
    clean(at.run())  # and again: every rerun
    assert len(at.session_state["ratings"]) == ratings_io.N_MOVIES
    assert "Nothing left to recommend" in texts(at.info)
    at.switch_page("pages/compare.py").run()
    clean(at)


def test_a_raters_filter_leaving_nothing_is_a_message_not_a_crash(models, movielens):
    popular = [m for m, n in enumerate(movielens.n_raters(), start=1) if n >= 200]
    at = opened("pages/recommend.py", r=",".join(f"{m}:4" for m in popular[:100]))
    rest = "movie,rating\n" + "".join(f"{m},3\n" for m in popular[100:])
    open_section(at, "more_ways")
    at.file_uploader(key="import_csv").set_value(("rest.csv", rest.encode(), "text/csv")).run()
    at.slider(key="min_raters").set_value(200).run()
    clean(at.run())
    assert "Nothing left to recommend" in texts(at.info) and "lower" in texts(at.info)
    at.slider(key="min_raters").set_value(150).run()
    open_section(at, "why_open")
    assert at.selectbox(key="explain_movie").value is not None
