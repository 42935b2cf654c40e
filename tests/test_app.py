"""Every page of the Streamlit app through ``streamlit.testing.v1.AppTest``: no exception, the main
widgets present (by key), ratings changing the predictions, and bad input (CSV files, link
parameters, model files, names) answered with a message instead of a traceback.

The models folder is a temporary copy (``GNNREC_MODELS_DIR``), so nothing here writes into the
repository; the results folder holds a small synthetic evaluation.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from helpers import app_folders
from streamlit.testing.v1 import AppTest

from gnnrec.app import catalog, graph_view, insights, live, ratings_io

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
TIMEOUT = 90


@pytest.fixture
def folders(tmp_path, monkeypatch):
    made = app_folders(tmp_path, monkeypatch)
    (made["results"] / "broken.json").write_text("{not json")
    return made


def start(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if page:
        at.switch_page(page).run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def texts(elements) -> str:
    """The elements' text as a user reads it (Markdown escapes removed)."""
    return re.sub(r"\\(.)", r"\1", " | ".join(str(e.value) for e in elements))


def top_tables(at: AppTest):
    """The GNN's and the k-NN's top lists (the tables with a 'predicted' column, in page order)."""
    tables = [d.value for d in at.dataframe if "predicted" in d.value.columns]
    assert len(tables) == 2, f"expected the two top lists, found {len(tables)}"
    return tables


def opened_section(at: AppTest, key: str) -> AppTest:
    """Open a folded section of the Recommend page (a tracked expander whose parts are drawn only
    while it is open: "Why this movie?" ``why_open``, "Your ratings" ``ratings_open``, "More ways
    to rate" ``more_ways``), as a click on its label does."""
    at.session_state[key] = True
    return at.run()


def rate(at: AppTest, movie: int, stars: int) -> AppTest:
    at.selectbox(key="rate_movie").set_value(movie).run()
    round_ = at.session_state["rate_round"] if "rate_round" in at.session_state else 0
    at.feedback(key=f"rate_stars_{round_}").set_value(stars - 1).run()
    assert_clean(at)
    return at


def assert_shared_lists_unchanged(at: AppTest, monkeypatch) -> None:
    """The recommendations every session shares (``st.cache_resource``, pages/parts/cache.py) are
    read, never changed: after the pages used them they equal freshly computed ones."""
    from pages.parts import cache

    name = at.session_state["model_name"]
    key, ratings = (name, catalog.model_signature(name)), at.session_state["ratings"]
    rec = cache._recommender(name, key[1], cache.data_info()["fingerprint"])
    fresh = insights.recommend(rec, ratings)
    with monkeypatch.context() as m:  # the page's own entry, not a new computation
        m.setattr(insights, "recommend", lambda *a, **k: pytest.fail("the page's recommendations were not cached"))
        shared = cache.recommendations(key, ratings_io.ratings_key(ratings), 10, insights.DEFAULT_MIN_RATERS, rec,
                                       "baseline", ())  # as pages/recommend.py asks
    assert shared.predictions.equals(fresh.predictions) and shared.ratings == fresh.ratings
    assert all(shared.top[m].equals(fresh.top[m]) for m in ("gnn", "knn"))


# -- Recommend ----------------------------------------------------------------------------------------------
def test_recommend_page_rates_and_changing_ratings_changes_predictions(folders):
    at = start()
    assert at.selectbox(key="rate_movie").value is None
    assert at.number_input(key="ml_user").value == 1
    assert at.feedback(key="rate_stars_0") is not None
    assert at.button(key="load_user") and at.download_button(key="export_csv")
    assert at.file_uploader(key="import_csv") is not None
    assert "Rate at least one movie" in texts(at.info)

    rate(at, 50, 5)
    rate(at, 181, 4)
    assert at.session_state["ratings"] == {50: 5, 181: 4}
    assert at.selectbox(key="rate_movie").value is None  # ready for the next movie
    assert at.slider(key="top_n").value == 10
    gnn1, knn1 = top_tables(at)
    assert len(gnn1) == len(knn1) == 10
    assert not set(gnn1["title"]) & {"Star Wars", "Return of the Jedi"}  # rated movies are not recommended
    # folded under the lists, its parts not drawn (nor computed): why, your ratings, more ways to rate
    labels = [e.label for e in at.expander]
    assert any(x.startswith("**Why this movie?**") for x in labels) and "Your ratings (2)" in labels
    assert not any(k in [w.key for w in at.selectbox] for k in ("explain_movie",))
    assert not any("effect" in d.value.columns for d in at.dataframe)
    assert "remove_sel" not in [m.key for m in at.multiselect] and "ml_user" not in [n.key for n in at.number_input]
    opened_section(at, "why_open")
    # the movie to explain is one of the listed ones (it keeps the user's pick across reruns)
    assert at.selectbox(key="explain_movie").value in set(gnn1["movie"]) | set(knn1["movie"])
    assert any("effect" in d.value.columns for d in at.dataframe)  # the explanations
    assert at.query_params.get("r") in (["50:5,181:4"], "50:5,181:4")  # the share link

    rate(at, 1, 1)
    gnn2, knn2 = top_tables(at)
    assert not gnn1.equals(gnn2) or not knn1.equals(knn2), "a new rating changed nothing"

    at.slider(key="top_n").set_value(5).run()
    assert [len(t) for t in top_tables(at)] == [5, 5]

    assert "target_movie" not in [s.key for s in at.selectbox]  # folded: not drawn
    at.session_state["predict_more"] = True  # "Predict any movie" opened: its search box is drawn only then
    at.run()
    at.selectbox(key="target_movie").set_value(172).run()  # The Empire Strikes Back
    assert_clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert {"GNN predicts", "k-NN + baselines predicts", "MovieLens mean", "You rated it"} <= set(metrics)
    assert all(1 <= float(metrics[k].split()[0]) <= 5 for k in ("GNN predicts", "k-NN + baselines predicts"))


def test_a_newcomer_rates_from_the_quick_grid_and_gets_lists_at_once(folders):
    """An empty page offers well-known movies with stars; one click rates one, says so, and both
    lists appear; the hint about thin lists stays until 5 ratings, and the grid folds away then."""
    at = start()
    grid = [f"quick_{m}" for m in catalog.QUICK_RATE]
    assert all(at.feedback(key=k).value is None for k in grid) and len(grid) == 12
    assert "The Godfather" in texts(at.markdown) and "Crime" in texts(at.caption)  # natural titles, genres
    at.feedback(key="quick_50").set_value(4).run()  # 5 stars for Star Wars
    assert_clean(at)
    assert at.session_state["ratings"] == {50: 5}
    assert "Rated Star Wars (1977) ★★★★★" in texts(at.toast)
    gnn, knn = top_tables(at)
    assert len(gnn) == len(knn) == 10 and gnn["genres"].str.len().gt(0).all()
    assert "1 rating so far: the lists are still thin" in texts(at.caption)
    assert at.feedback(key="quick_50").value == 4  # the grid shows the rating
    for movie, stars in ((100, 5), (1, 2), (127, 4)):
        at.feedback(key=f"quick_{movie}").set_value(stars - 1).run()
    assert "4 ratings so far" in texts(at.caption)
    at.feedback(key="quick_313").set_value(1).run()
    assert_clean(at)
    assert len(at.session_state["ratings"]) == 5 and "still thin" not in texts(at.caption)
    assert "Quick start: well-known movies to rate" in [e.label for e in at.expander]  # folded away
    assert not any(f.key in grid for f in at.feedback)  # folded, its cards are not drawn (nor sent)
    at.session_state["quick_more"] = True  # opened: the cards, showing your ratings
    at.run()
    assert_clean(at)
    assert at.feedback(key="quick_313").value == 1 and at.feedback(key="quick_127").value == 3


def test_why_adds_up_and_the_row_actions_rate_hide_and_explore(folders):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["r"] = "50:5,181:4,1:2,127:5,98:4"
    at.run()
    assert_clean(at)
    gnn, knn = top_tables(at)
    opened_section(at, "why_open")
    movie = at.selectbox(key="explain_movie").value
    assert movie == gnn["movie"].iloc[0]  # the first GNN row until another is chosen
    pick = int(knn["movie"].iloc[3])
    at.selectbox(key="explain_movie").set_value(pick).run()
    why = next(d.value for d in at.dataframe
               if "weight" in d.value.columns and d.value["title"].iloc[0] == "the movie's baseline")
    parts = [float(v) for v in why["effect"]]
    assert parts[0] + sum(parts[1:-1]) == pytest.approx(parts[-1], abs=0.011)  # baseline + contributions = prediction
    summary = texts(at.markdown)
    assert "k-NN + baselines predicts" in summary and "add up exactly" in summary and "Leave-one-out" in summary
    at.button(key="hide_movie").click().run()
    assert_clean(at)
    assert pick not in set(top_tables(at)[1]["movie"]) and at.session_state["hidden"] == [pick]
    assert "from your lists" in texts(at.toast)
    at.button(key="unhide").click().run()
    assert pick in set(top_tables(at)[1]["movie"])
    at.selectbox(key="explain_movie").set_value(pick).run()
    at.feedback(key=f"why_stars_{pick}").set_value(2).run()  # seen it: 3 stars
    assert at.session_state["ratings"][pick] == 3 and pick not in set(top_tables(at)[1]["movie"])
    at.radio(key="knn_kind").set_value("plain").run()
    assert_clean(at)
    assert "k-NN predicts" in texts(at.markdown), [m.value for m in at.markdown][-8:]
    explained = at.selectbox(key="explain_movie").value
    at.button(key="explore_movie").click().run()
    assert_clean(at)
    assert at.title[0].value == "Neighbourhood" and at.selectbox(key="nb_movie").value == explained


def test_remove_clear_undo_and_movielens_user(folders):
    at = start()
    rate(at, 50, 5)
    rate(at, 1, 3)
    opened_section(at, "ratings_open")
    assert next(d.value for d in at.dataframe if "your rating" in d.value.columns)["movie"].tolist() == [50, 1]
    rate(at, 181, 4)  # "Your ratings (3)": a new label, still open
    assert "Your ratings (3)" in [e.label for e in at.expander] and at.multiselect(key="remove_sel") is not None
    at.multiselect(key="remove_sel").set_value([181]).run()
    at.button(key="remove_btn").click().run()
    at.multiselect(key="remove_sel").set_value([1])
    at.button(key="remove_btn").click().run()
    assert at.session_state["ratings"] == {50: 5}
    at.button(key="undo_ratings").click().run()
    assert at.session_state["ratings"] == {50: 5, 1: 3}
    at.button(key="clear_ratings").click().run()
    assert at.session_state["ratings"] == {}
    assert "Rate at least one movie" in texts(at.info)
    at.button(key="undo_ratings").click().run()
    assert at.session_state["ratings"] == {50: 5, 1: 3}

    opened_section(at, "more_ways")
    at.number_input(key="ml_user").set_value(7).run()
    at.button(key="load_user").click().run()
    assert_clean(at)
    assert len(at.session_state["ratings"]) > 100  # user 7 rated many movies
    assert "Loaded MovieLens user 7" in texts(at.success)
    top_tables(at)
    assert at.query_params.get("r") is not None or len(at.session_state["ratings"]) > ratings_io.MAX_LINK_RATINGS


@pytest.mark.parametrize("content, message", [
    (b"id;stars\n50;5\n", "wrong columns"),
    (b"movie,rating\n50,5\n99999,4\n", "unknown movie id 99999"),
    (b"movie,rating\n50,5\n181,7\n", "outside 1-5"),
    (b"movie,rating\n50,five\n", "not a number"),
    (b"movie,rating\n" + b"50,5\n" * 2001, "limit is 2,000"),
    (b"x" * 1_000_001, "limit is 1 MB"),
    (b"\x00\x01\x02binary", "binary"),
])
def test_bad_import_shows_error_and_keeps_ratings(folders, content, message):
    at = start()
    rate(at, 50, 4)
    opened_section(at, "more_ways")  # folded once there are ratings
    at.file_uploader(key="import_csv").set_value(("mine.csv", content, "text/csv")).run()
    assert_clean(at)
    assert message in texts(at.error)
    assert "your ratings are unchanged" in texts(at.error)
    assert at.session_state["ratings"] == {50: 4}


def test_hostile_file_name_is_shown_as_text(folders):
    at = start()
    at.file_uploader(key="import_csv").set_value(("[x](javascript:alert(1))_$1$.csv", b"nope", "text/csv")).run()
    assert_clean(at)
    raw = at.error[0].value
    assert "\\[x\\]\\(javascript" in raw and "\\$1\\$" in raw  # escaped: no link, no formula


def test_model_removed_during_a_session_falls_back_with_a_warning(folders):
    at = start()
    shutil.copy(folders["models"] / "all-movies.pt", folders["models"] / "second.pt")
    at.run()
    at.selectbox(key="model_name").set_value("second").run()
    rate(at, 50, 5)
    assert "model second" in texts(at.markdown)
    (folders["models"] / "second.pt").unlink()
    at.run()
    assert_clean(at)
    assert "'second' is no longer usable" in texts(at.warning)
    assert at.session_state["model_name"] == "all-movies" and "model all-movies" in texts(at.markdown)


def test_import_merges_or_replaces(folders):
    at = start()
    rate(at, 50, 4)
    opened_section(at, "more_ways")
    csv = b"movie,title,rating\n181,x,5\n1,y,2\n"
    at.file_uploader(key="import_csv").set_value(("mine.csv", csv, "text/csv")).run()
    assert at.session_state["ratings"] == {50: 4, 181: 5, 1: 2}
    at.radio(key="import_mode").set_value("Replace").run()
    at.file_uploader(key="import_csv").set_value(("other.csv", b"movie,rating\n100,3\n", "text/csv")).run()
    assert at.session_state["ratings"] == {100: 3}
    assert_clean(at)


def test_share_link_loads_ratings_and_odd_parameters_warn(folders):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["r"] = "50:5,181:4,bogus,9999:3,172:9"
    at.query_params["utm_source"] = "<script>"
    at.query_params["model"] = "../../etc/passwd"
    at.run()
    assert_clean(at)
    assert at.session_state["ratings"] == {50: 5, 181: 4}
    warnings = texts(at.warning)
    assert "ignored 3 bad entries" in warnings and "'utm_source'" in warnings and "'model'" in warnings
    top_tables(at)


def test_corrupt_model_is_reported_and_the_app_keeps_working(folders):
    (folders["models"] / "all-movies.pt").write_bytes(b"this is not a checkpoint")
    at = start()
    assert "corrupt" in texts(at.sidebar.error) or "corrupt" in texts(at.error)
    rate(at, 50, 5)
    assert "train one on the Train page" in texts(at.error)  # no model: said so, no traceback
    at.switch_page("pages/neighbourhood.py").run()
    assert_clean(at)
    assert len(at.dataframe) == 1 and graph_html(at)  # the graph works without a model
    at.switch_page("pages/train.py").run()
    assert_clean(at)


# -- Neighbourhood --------------------------------------------------------------------------------------------
def graph_html(at: AppTest) -> str:
    """The page the graph component shows (its ``html`` argument)."""
    frames = [e for e in at.get("component_instance")]
    assert frames, "no graph component"
    return json.loads(frames[0].proto.json_args)["html"]


def test_neighbourhood_page(folders):
    at = start()
    rate(at, 50, 5)
    at.switch_page("pages/neighbourhood.py").run()
    assert_clean(at)
    assert at.selectbox(key="nb_movie").value == 50  # starts at a rated movie
    for key in ("nb_hops", "nb_k", "nb_common"):
        assert at.session_state[key] is not None
    html = graph_html(at)
    assert "vis.Network" in html and graph_view.external_refs(html) == []
    table = at.dataframe[0].value
    assert len(table) == 10 and list(table["correlation"].abs()) == sorted(table["correlation"].abs(), reverse=True)

    at.slider(key="nb_k").set_value(5).run()
    assert len(at.dataframe[0].value) == 5
    at.radio(key="nb_hops").set_value(2).run()
    assert_clean(at)
    two = at.dataframe[0].value
    assert len(two) > 5 and set(two["hop"]) == {1, 2}
    at.selectbox(key="nb_movie").set_value(1).run()
    assert_clean(at)
    assert not two.equals(at.dataframe[0].value)
    assert "Toy Story" in graph_html(at) and "The Empire Strikes Back" not in set(at.dataframe[0].value["title"])


# -- Compare --------------------------------------------------------------------------------------------------
def test_compare_page_saved_results_and_disagreements(folders, monkeypatch):
    # live evaluations are shared by every session of the process: start without those another
    # test ran (test_live evaluates the page's default request), so the Run button is offered
    monkeypatch.setattr(live, "_eval_results", {})
    at = start()
    for movie, stars in ((50, 5), (1, 2), (181, 4), (98, 4)):  # the disagreements need 3 similar ratings
        rate(at, movie, stars)
    opened_section(at, "why_open")
    at.switch_page("pages/compare.py").run()
    assert_clean(at)
    assert at.radio(key="cmp_source").value == "Saved results"
    assert "broken.json" in texts(at.warning)  # a bad results file is named, not fatal
    assert at.selectbox(key="cmp_file").value.endswith("synthetic.json")
    assert len(at.get("plotly_chart")) == 3  # RMSE bars, scatter, disagreement scatter
    splits = [d.value for d in at.dataframe if "split" in d.value.columns][0]
    assert len(splits) == 2 and "k-NN" in splits.columns
    bars = at.get("plotly_chart")[0].proto.spec
    assert '"orientation":"h"' in bars and '"range":[0,' in bars  # horizontal bars on an axis from 0
    disagree = [d.value for d in at.dataframe if "GNN − k-NN" in d.value.columns][0]
    diffs = disagree["GNN − k-NN"].abs().tolist()
    assert diffs == sorted(diffs, reverse=True) and len(disagree) == 12
    assert (disagree["raters"] >= 50).all()  # the Recommend page's raters filter (default 50) applies here too
    assert "k-NN + baselines" in disagree.columns  # the k-NN of the lists
    assert (disagree["k-NN rests on"] >= 3).all() and (disagree["their similarity"] >= 0.2).all()
    frame = next(d for d in at.dataframe if "GNN − k-NN" in d.value.columns)
    config = json.loads(frame.proto.columns)  # every number shown with two decimals (4.20, not 4.2)
    shown = {c: config.get(c, {}).get("type_config", {}).get("format") for c in
             ("GNN", "k-NN + baselines", "GNN − k-NN", "their similarity", "its similarity")}
    assert set(shown.values()) == {"%.2f"}, shown
    assert_shared_lists_unchanged(at, monkeypatch)


    at.radio(key="cmp_source").set_value("Run live").run()
    assert_clean(at)
    assert at.number_input(key="cmp_splits").value == 1 and at.button(key="cmp_run")
    at.selectbox(key="cmp_target").set_value(1682).run()  # rated by one user
    at.button(key="cmp_run").click().run()
    assert_clean(at)
    assert "at least 20" in texts(at.error)
    assert "eval_job" not in at.session_state


def test_compare_page_shows_a_panel_file(folders):
    """A panel of random movies: how often the GNN beats the reference, the ratio per movie, wins,
    the per-movie table, and one movie's evaluation on request."""
    from helpers import synthetic_panel

    (folders["results"] / "panel.json").write_text(json.dumps(synthetic_panel(catalog.load_data())))
    at = start("pages/compare.py")
    at.selectbox(key="cmp_file").set_value(str(folders["results"] / "panel.json")).run()
    assert_clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Movies"] == "6" and metrics["GNN better than k-NN + baselines"] == "3 of 6"
    wins = next(d.value for d in at.dataframe if "wins" in d.value.columns)
    assert dict(zip(wins["model"], wins["wins"])) == {"GNN": 3, "k-NN + baselines": 3, "k-NN": 0, "Item mean": 0}
    movies = next(d.value for d in at.dataframe if "ratio" in d.value.columns)
    assert "The Godfather (1972)" in set(movies["title"]) and len(movies) == 6
    assert len(at.get("plotly_chart")) == 1  # the ratio bars
    at.selectbox(key="panel_movie").set_value(98).run()
    assert_clean(at)
    assert len(at.get("plotly_chart")) == 3  # + that movie's RMSE bars and scatter
    assert len(next(d.value for d in at.dataframe if "test users" in d.value.columns)) == 2


# -- Train ----------------------------------------------------------------------------------------------------
def test_train_page_validates_names_and_cancels(folders):
    at = start("pages/train.py")
    for key in ("tr_layers", "tr_taps_0", "tr_width_0", "tr_taps_1", "tr_width_1", "tr_k", "tr_epochs", "tr_lr",
                "tr_batch", "tr_seed"):
        assert at.number_input(key=key) is not None
    assert "all-movies" in set(at.dataframe[0].value["model"])

    at.number_input(key="tr_epochs").set_value(11)  # past the bound: Streamlit keeps the value in bounds
    at.number_input(key="tr_lr").set_value(0.5)
    at.run()
    assert at.number_input(key="tr_epochs").value <= 10 and at.number_input(key="tr_lr").value <= 0.05
    assert not at.warning  # so no "out of bounds" either

    at.text_input(key="tr_name").set_value("../../evil")
    at.button(key="tr_start").click().run()
    assert "not allowed" in texts(at.error)
    at.text_input(key="tr_name").set_value("all-movies")
    at.button(key="tr_start").click().run()
    assert "exists already" in texts(at.error)
    assert "train_job" not in at.session_state

    at.text_input(key="tr_name").set_value("to-cancel")
    at.button(key="tr_start").click().run()  # default settings: long enough to cancel
    assert_clean(at)
    job = at.session_state["train_job"]
    at.button(key="tr_cancel").click().run()
    assert job.wait(60) and job.state == "cancelled"
    at.run()
    assert "nothing was saved" in texts(at.warning)
    assert not (folders["models"] / "to-cancel.pt").exists()


def test_train_page_browses_the_model_store(folders):
    (folders["models"] / "broken.pt").write_bytes(b"not a checkpoint")
    at = start("pages/train.py")
    assert {"all-movies", "broken"} <= set(at.dataframe[0].value["model"])
    assert at.selectbox(key="tr_detail").value == "all-movies"  # the model in use
    details = json.loads(at.json[0].value)
    assert details["metrics"]["valid_rmse"] == pytest.approx(0.8848, abs=1e-4) and "graph" in details
    assert len(at.get("plotly_chart")) == 1  # its training curve (no training on this page yet)
    at.selectbox(key="tr_detail").set_value("broken").run()
    assert_clean(at)
    assert "corrupt or not a gnnrec checkpoint" in texts(at.error) and not at.json


def start_tiny_training(name: str) -> AppTest:
    """The Train page with the smallest settings (1 layer, 2 taps, width 4, 1 epoch), started."""
    at = start("pages/train.py")
    at.number_input(key="tr_layers").set_value(1).run()
    at.number_input(key="tr_taps_0").set_value(2)
    at.number_input(key="tr_width_0").set_value(4)
    at.number_input(key="tr_epochs").set_value(1)
    at.number_input(key="tr_batch").set_value(64)
    at.text_input(key="tr_name").set_value(name)
    at.button(key="tr_start").click().run()
    return at


def test_tiny_training_saves_a_selectable_model(folders):
    at = start_tiny_training("tiny-test")
    assert_clean(at)
    job = at.session_state["train_job"]
    assert job.wait(120) and job.state == "done", job.error
    at.run()
    assert "Saved model **tiny-test**" in texts(at.success)
    metrics = {m.label: m.value for m in at.metric}  # set beside the default model's
    assert float(metrics["Validation RMSE, all-movies"]) == pytest.approx(0.8848, abs=1e-4)
    assert float(metrics["Validation RMSE, yours"]) > 0.5
    assert (folders["models"] / "tiny-test.pt").is_file()
    at.button(key="tr_use").click().run()
    assert at.session_state["model_name"] == "tiny-test"
    at.switch_page("pages/recommend.py").run()
    rate(at, 50, 5)
    assert "model tiny\\-test" in " ".join(m.value for m in at.markdown)  # the recommendations now come from it


def test_missing_data_is_reported_not_raised(folders, monkeypatch):
    import streamlit as st

    from gnnrec import data as data_mod

    def no_data():
        raise data_mod.DataError("could not fetch MovieLens-100K: offline. Fix: download ml-100k.zip by hand")

    st.cache_data.clear()
    st.cache_resource.clear()  # the data is a shared resource (pages/parts/cache.py)
    monkeypatch.setattr(catalog, "load_data", no_data)
    try:
        for page in (None, "pages/neighbourhood.py", "pages/compare.py", "pages/train.py"):
            at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
            if page:
                at.switch_page(page).run()
            assert_clean(at)
            assert "download ml-100k.zip by hand" in texts(at.error)
    finally:
        monkeypatch.undo()
        st.cache_data.clear()
        st.cache_resource.clear()


# -- faults ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["delete", "truncate"])
def test_active_model_damaged_under_a_running_session(folders, damage):
    """The only usable model (the active one) is deleted or truncated while a session runs: the
    next rerun says so (no exception), the ratings and the share link survive, other pages work."""
    at = start()
    rate(at, 50, 5)
    rate(at, 181, 4)
    top_tables(at)
    path = folders["models"] / "all-movies.pt"
    if damage == "delete":
        path.unlink()
    else:
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) // 2])
    at.run()
    assert_clean(at)
    assert "'all-movies' is no longer usable" in texts(at.warning)
    assert "No usable all-movies model" in texts(at.sidebar.error)
    assert "train one on the Train page" in texts(at.error)
    if damage == "truncate":
        assert "corrupt" in texts(at.sidebar.error)
    assert at.session_state["ratings"] == {50: 5, 181: 4}
    assert at.query_params.get("r") in (["50:5,181:4"], "50:5,181:4")
    at.switch_page("pages/neighbourhood.py").run()  # k-NN graph from the data instead
    assert_clean(at)
    assert graph_html(at)
    assert at.session_state["ratings"] == {50: 5, 181: 4}


def test_ratings_survive_a_server_restart_through_the_share_link(folders):
    import streamlit as st

    at = start()
    for movie, stars in ((50, 5), (181, 4), (1, 2)):
        rate(at, movie, stars)
    link = at.query_params["r"]
    link = link[-1] if isinstance(link, list) else link
    st.cache_data.clear()  # a restart: no caches, no sessions
    st.cache_resource.clear()
    again = AppTest.from_file(APP, default_timeout=TIMEOUT)
    again.query_params["r"] = link
    again.run()
    assert_clean(again)
    assert again.session_state["ratings"] == {50: 5, 181: 4, 1: 2}
    assert "Loaded 3 rating(s) from the link" in texts(again.info)
    top_tables(again)


def test_disk_full_while_saving_a_trained_model_is_an_error_not_a_traceback(folders, disk_full, monkeypatch):
    # the simulated full disk is this process's (a child's error comes back the same way: test_jobs)
    monkeypatch.setenv("GNNREC_JOBS", "thread")
    before = sorted(p.name for p in folders["models"].iterdir())
    at = start_tiny_training("no-room")
    job = at.session_state["train_job"]
    assert job.wait(120) and job.state == "failed"
    at.run()
    assert_clean(at)
    assert "Training failed: could not save model 'no-room'" in texts(at.error)
    assert "the disk is full" in texts(at.error)
    assert sorted(p.name for p in folders["models"].iterdir()) == before  # nothing new, no temp file


# -- hostile data ---------------------------------------------------------------------------------------------
def test_hostile_titles_are_shown_as_text(folders, monkeypatch):
    """A movie title with HTML/JS or Markdown: every Markdown element that names it escapes it."""
    import dataclasses

    import streamlit as st

    from gnnrec import data as data_mod

    real = data_mod.load()
    movies = real.movies.copy()
    movies.loc[movies["movie"] == 50, "title"] = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    movies.loc[movies["movie"] == 181, "title"] = "[x](javascript:alert(1)) **bold**"
    hostile = dataclasses.replace(real, movies=movies)
    st.cache_data.clear()
    st.cache_resource.clear()
    monkeypatch.setattr(catalog, "load_data", lambda: hostile)
    try:
        at = start()
        kinds = ("markdown", "caption", "subheader", "title", "info", "warning", "error", "success")
        rate(at, 50, 5)  # one rating: the explanations' notes name it as the driver
        opened_section(at, "why_open")
        shown = [str(e.value) for kind in kinds for e in at.get(kind)]
        at.session_state["ratings"] = {}
        rate(at, 181, 4)  # then the other hostile title alone
        opened_section(at, "why_open")
        shown += [str(e.value) for kind in kinds for e in at.get(kind)]
        assert any("alert" in s for s in shown), "the hostile titles are named somewhere (the explanations)"
        named = [s for s in shown if "alert" in s]
        assert any("script" in s for s in named) and any("javascript" in s for s in named)
        for s in named:  # every Markdown/HTML character of the titles arrives backslash-escaped
            assert not re.search(r"(?<!\\)[<>\[\]*]", s), s
        at.switch_page("pages/neighbourhood.py").run()
        assert_clean(at)
        body = graph_html(at).split("<body>", 1)[-1]
        assert "<script>alert" not in body and "<img src=x" not in body
    finally:
        monkeypatch.undo()
        st.cache_data.clear()
        st.cache_resource.clear()
