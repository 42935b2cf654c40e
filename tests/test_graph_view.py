"""gnnrec.app.graph_view: the neighbourhood page is self-contained (no http(s) script, style or import),
titles are escaped, the encodings (size by popularity, colour by sign, stars on rated movies) hold."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from gnnrec.app import graph_view
from gnnrec.app.neighbourhood import Neighbourhood

HOSTILE = '</script><script>alert("x")</script><img src=x onerror=alert(1)> & <a href="javascript:1">'


def toy() -> Neighbourhood:
    nodes = pd.DataFrame({
        "movie": [50, 181, 1, 7], "title": ["Star Wars", "Return of the Jedi", HOSTILE, "Twelve Monkeys"],
        "year": pd.array([1977, 1983, None, 1995], dtype="Int64"), "genres": ["Sci-Fi", "Sci-Fi, War", "<b>x</b>", ""],
        "raters": [583, 507, 10, 392], "hop": [0, 1, 1, 2], "corr": [np.nan, 0.67, -0.4, 0.1],
        "via": [None, None, None, "Return of the Jedi"], "via_movie": [0, 0, 0, 181],
        "your_rating": [np.nan, 4.0, np.nan, np.nan]})
    edges = pd.DataFrame({"source": [50, 50, 181], "target": [181, 1, 7], "corr": [0.67, -0.4, 0.3],
                          "common": [400, 30, 100]})
    return Neighbourhood(50, nodes, edges)


def network_data(html: str, name: str) -> list[dict]:
    m = re.search(rf"{name} = new vis\.DataSet\((\[.*?\])\);", html, re.DOTALL)
    assert m, f"no {name} in the page"
    return json.loads(m.group(1))


@pytest.fixture(scope="module")
def page() -> str:
    return graph_view.neighbourhood_html(toy())


def test_page_is_self_contained(page):
    assert graph_view.external_refs(page) == []
    # no element fetches anything: every src/href is absent or local
    for m in re.finditer(r"<(script|link|img|iframe)\b[^>]*>", page, re.IGNORECASE):
        assert not re.search(r"\b(src|href)\s*=\s*[\"']?\s*(https?:)?//", m.group(0), re.IGNORECASE), m.group(0)
    assert "bootstrap" not in page.lower().split("<body>")[0]
    assert "vis.Network" in page and len(page) > 300_000  # vis-network itself is inlined


def test_external_refs_finds_every_kind():
    for snippet in ('<script src="https://cdn.example/x.js"></script>', "<link rel=stylesheet href='//cdn/x.css'>",
                    '<style>@import url("https://fonts/x.css");</style>', "<div style=\"background:url(http://x/y.png)\">",
                    '<img src=https://x/y.png>'):
        assert graph_view.external_refs(snippet), snippet
    cleaned = graph_view.strip_external('<head><link href="https://cdn/b.css" rel="stylesheet" />'
                                 '<script src="https://cdn/b.js" integrity="x"></script><script>ok()</script></head>')
    assert cleaned == "<head><script>ok()</script></head>"
    assert graph_view.external_refs('<svg xmlns="http://www.w3.org/2000/svg"></svg> "see https://visjs.org"') == []


def test_titles_are_escaped(page):
    body = page.split("<body>", 1)[1]
    assert "<script>alert" not in body and "<img src=x" not in body and 'href="javascript' not in body
    nodes = network_data(page, "nodes")
    hostile = next(n for n in nodes if n["id"] == 1)
    assert "&lt;/script&gt;&lt;script&gt;" in hostile["title"] and "&lt;img" in hostile["title"]
    assert "href" not in hostile["title"]  # pyvis would switch to an innerHTML popup on that word
    assert "popup.innerHTML" not in page  # ... so that popup is not in the page
    assert "&lt;b&gt;x&lt;/b&gt;" in hostile["title"]  # genres too
    assert "el.innerHTML = n.title" in page  # escaped markup becomes the tooltip element


def test_encodings(page):
    nodes = {n["id"]: n for n in network_data(page, "nodes")}
    sizes = {m: nodes[m]["size"] for m in nodes}
    assert sizes[50] > sizes[181] > sizes[7] > sizes[1]  # by popularity (583 > 507 > 392 > 10 raters)
    assert nodes[181]["shape"] == "star" and "★★★★☆" in nodes[181]["label"]  # rated
    assert nodes[50]["color"]["background"] == graph_view.TARGET and nodes[7]["color"]["background"] == graph_view.OTHER
    assert "correlation with it: +0.67" in nodes[181]["title"] and "1983" in nodes[181]["title"]
    assert "Sci-Fi, War" in nodes[181]["title"] and "2 hops, via Return of the Jedi" in nodes[7]["title"]
    edges = {(e["from"], e["to"]): e for e in network_data(page, "edges")}
    assert edges[(50, 181)]["color"]["color"] == graph_view.POSITIVE and edges[(50, 1)]["color"]["color"] == graph_view.NEGATIVE
    assert edges[(50, 1)]["dashes"] and not edges[(50, 181)]["dashes"]
    assert edges[(50, 181)]["width"] > edges[(181, 7)]["width"]  # |0.67| > |0.3|


# -- hostile titles in the real data -------------------------------------------------------------------------
TITLE_ATTACKS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</script><svg onload=alert(1)>",
                 "[x](javascript:alert(1)) **bold** $x$", "' onmouseover='alert(1)"]


@pytest.fixture(scope="module")
def hostile_data():
    """The real MovieLens with hostile titles on Star Wars and the movies around it (a copy)."""
    import dataclasses

    from gnnrec import data as data_mod

    real = data_mod.load()
    movies = real.movies.copy()
    for i, movie in enumerate((50, 181, 172, 174, 1, 7, 100, 127, 98, 56)):
        movies.loc[movies["movie"] == movie, "title"] = TITLE_ATTACKS[i % len(TITLE_ATTACKS)] + f" #{movie}"
    movies.loc[movies["movie"] == 50, "genres"] = "<b onclick=alert(1)>Sci-Fi</b>"
    data = dataclasses.replace(real, movies=movies)
    assert data.fingerprint() == real.fingerprint()  # same ratings: the stored models still fit
    return data


def test_hostile_titles_from_the_data_are_escaped_in_the_graph_and_table(hostile_data):
    from gnnrec import store
    from gnnrec.app import catalog
    from gnnrec.app import neighbourhood as nb_mod

    rec = catalog.load_recommender("all-movies", hostile_data, store.models_dir())
    nb = nb_mod.neighbourhood(rec.knn.corr, hostile_data, 50, k=25, hops=2, ratings={181: 5, 1: 2})
    shown = set(nb.nodes["title"])
    assert sum(any(a in t for a in TITLE_ATTACKS) for t in shown) >= 3, "the hostile titles are in the graph"
    html = graph_view.neighbourhood_html(nb)
    body = html.split("<body>", 1)[1]
    for raw in ("<script>alert", "<img src=x", "<svg onload", "<b onclick", "' onmouseover='", '"><img'):
        assert raw not in body, raw
    nodes = network_data(html, "nodes")
    tooltips = " ".join(n["title"] for n in nodes)  # HTML for the tooltip element: escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in tooltips and "&quot;&gt;&lt;img src=x onerror" in tooltips
    assert "<script" not in tooltips and "<img" not in tooltips and "<svg" not in tooltips
    assert nodes[0]["label"].startswith("<script>alert(1)</script>")  # labels: canvas text, kept as written
    # the table shows them as plain text (st.dataframe never reads HTML), unchanged
    table = nb_mod.neighbour_table(nb)
    assert set(table["title"]) <= shown and any('"><img src=x onerror=alert(1)>' in t for t in table["title"])


def test_the_graph_settles_labels_few_nodes_at_two_hops_and_reports_clicks(page):
    """The layout stops once stable (nodes stay put), a click posts the movie to the hosting page, a
    legend explains the marks; at 2 hops only the movie, your rated movies and the strongest
    neighbours carry a name."""
    assert 'network.once("stabilizationIterationsDone"' in page and "setOptions({physics: false})" in page
    assert 'postMessage({gnnrec: "centre", movie: p.nodes[0]}' in page
    assert "id='legend'" in page and "you rated it" in page and "move apart" in page
    nodes = pd.DataFrame({"movie": range(1, 22), "title": [f"M{i}" for i in range(1, 22)], "year": [2000] * 21,
                          "genres": [""] * 21, "raters": [100] * 21, "hop": [0] + [1] * 10 + [2] * 10,
                          "corr": [np.nan] + [0.1 * i for i in range(10, 0, -1)] + [0.05] * 10,
                          "via": [None] * 11 + ["M2"] * 10, "via_movie": [0] * 11 + [2] * 10,
                          "your_rating": [np.nan] * 20 + [5.0]})
    edges = pd.DataFrame({"source": [1, 2, 3, 12, 12], "target": [2, 3, 12, 13, 2], "corr": [0.9, 0.5, 0.4, 0.3, 0.2],
                          "common": [50] * 5})
    nb = Neighbourhood(1, nodes, edges)
    drawn = graph_view.drawn_edges(nb)  # the tree and the links among the neighbours; not 3-12 (12 hangs on 2) nor 12-13
    assert list(zip(drawn["source"], drawn["target"])) == [(1, 2), (2, 3), (12, 2)]
    assert graph_view.labelled_nodes(nb) == {1, *range(2, 2 + graph_view.LABELLED), 21}  # the movie, the strongest, yours
    drawn_nodes = network_data(graph_view.neighbourhood_html(nb), "nodes")
    labels = {n["id"]: n["label"] for n in drawn_nodes}
    assert labels[2] == "M2" and labels[15] == " " and labels[21].startswith("M21\n★★★★★")
    # names keep their size in the page (pyvis's font_color once replaced every node's font): 3x at 2 hops,
    # where the graph is drawn about a third of the size
    sizes = {n["id"]: n["font"]["size"] for n in drawn_nodes}
    assert sizes[1] == 48 and sizes[2] == sizes[21] == 36
    one_sizes = {n["font"]["size"] for n in network_data(graph_view.neighbourhood_html(
        Neighbourhood(1, nodes[nodes["hop"] < 2], edges.head(2))), "nodes")}
    assert one_sizes == {16, 12}
    one = Neighbourhood(1, nodes[nodes["hop"] < 2], nb.edges)
    assert graph_view.labelled_nodes(one) == set(range(1, 12))  # at 1 hop every movie is named
