"""The neighbourhood graph as a self-contained pyvis page (works offline). No Streamlit in here."""

# The pyvis HTML inlines vis-network's script and style (``cdn_resources="in_line"``) and drops the
# CDN links pyvis 0.3.2's template adds regardless (bootstrap); :func:`external_refs` lists any
# ``src``/``href``/``@import``/``url()`` that still points off the machine, and
# :func:`neighbourhood_html` refuses to return HTML that has one. Titles are user-visible text from
# the data and may hold HTML: every text that reaches HTML is escaped (:func:`esc`, also used by
# :mod:`gnnrec.app.charts`), and the tooltips are turned into DOM elements from that escaped markup.

from __future__ import annotations

import html as html_mod
import json
import math
import re

import pandas as pd

from .neighbourhood import Neighbourhood
from .ratings_io import stars

POSITIVE, NEGATIVE = "#1a9850", "#d73027"  # edge colours: correlation > 0 / < 0
TARGET, RATED, OTHER = "#e66101", "#fdb863", "#5e81ac"  # node colours

_EXTERNAL = re.compile(
    r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//)"""  # attributes
    r"""|(?:@import\s+(?:url\()?\s*["']?\s*(?:https?:)?//)"""  # css imports
    r"""|(?:url\(\s*["']?\s*(?:https?:)?//)""",  # css url()
    re.IGNORECASE)
_TAG_WITH_URL = re.compile(
    r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//[^>]*>(?:\s*</script>)?""",
    re.IGNORECASE | re.DOTALL)


def external_refs(html: str) -> list[str]:
    """Every place in ``html`` that would make a browser fetch from another host."""
    return [html[max(0, m.start() - 20): m.end() + 60] for m in _EXTERNAL.finditer(html)]


def strip_external(html: str) -> str:
    """Remove ``<script src=http...>`` and ``<link href=http...>`` tags."""
    return _TAG_WITH_URL.sub("", html)


def esc(text) -> str:
    """HTML-escape data text. "href" is also broken up (pyvis switches to an innerHTML tooltip
    when a node title contains that word)."""
    return html_mod.escape(str(text), quote=True).replace("href", "hr&#101;f").replace("HREF", "HR&#69;F")


def short(title: str, n: int = 26) -> str:
    """``title`` cut to ``n`` characters (an ellipsis ends a cut one)."""
    return title if len(title) <= n else title[: n - 1] + "…"


# turn each node's escaped-HTML title into a DOM element (vis shows a string title as plain text);
# once the layout has settled, stop the physics (nodes stay where they are) and zoom out a little
# so that labels at the edge stay in view; a click on a node tells the page hosting this one
_NETWORK_JS = """
                  nodes.forEach(function (n) {
                    if (typeof n.title === "string") {
                      var el = document.createElement("div");
                      el.innerHTML = n.title;
                      nodes.update({id: n.id, title: el});
                    }
                  });
                  network = new vis.Network(container, data, options);
                  network.once("stabilizationIterationsDone", function () {
                    network.setOptions({physics: false});
                    network.fit();
                    network.moveTo({scale: network.getScale() * (container.clientWidth < 500 ? 0.72 : 0.88)});
                    window.gnnrecSettled = true;
                  });
                  network.on("click", function (p) {
                    if (p.nodes.length) { window.parent.postMessage({gnnrec: "centre", movie: p.nodes[0]}, "*"); }
                  });"""
LABELLED = 8  # at 2 hops: labels on the movie, your rated movies and this many strongest neighbours only
LEGEND = ("<div id='legend'><span><i class='dot' style='background:{target}'></i>the movie</span>"
          "<span><b style='color:{rated}'>★</b> you rated it</span>"
          "<span><i class='dot' style='background:{other}'></i>size: how many rated it</span>"
          "{lines}<span>click a movie to centre on it</span></div>")
LINES = {"correlation": "<span><i class='line' style='background:{pos}'></i>ratings move together</span>"
                        "<span><i class='line dash' style='border-color:{neg}'></i>move apart</span>",
         "co-rating": "<span><i class='line' style='background:{pos}'></i>rated by the same users (thicker: "
                      "more)</span>"}  # the lines' legend per graph (gnnrec.app.neighbourhood.GRAPHS)
STYLE = ("<style>body{margin:0;font-family:sans-serif}.vis-tooltip{max-width:320px;white-space:normal}"
         "#mynetwork{box-sizing:border-box;border-radius:6px}.card{border:0}"
         "#legend{display:flex;flex-wrap:wrap;gap:4px 14px;padding:6px 4px 0;font-size:12px;color:#444}"
         "#legend i{display:inline-block;vertical-align:middle;margin-right:4px}"
         "#legend .dot{width:10px;height:10px;border-radius:50%}#legend .line{width:18px;height:3px}"
         "#legend .dash{height:0;border-top:3px dashed;background:none}</style>")


def labelled_nodes(nb: Neighbourhood, strongest: int = LABELLED) -> set[int]:
    """The movies whose names the graph writes: all at 1 hop; at 2 hops the movie, your rated
    movies and the ``strongest`` neighbours by |correlation| (the others show theirs on hover)."""
    nodes = nb.nodes
    if nodes["hop"].max() < 2:
        return set(int(m) for m in nodes["movie"])
    first = nodes[nodes["hop"] == 1]
    keep = set(first.reindex(first["corr"].abs().sort_values(ascending=False).index)["movie"][:strongest])
    keep |= set(nodes.loc[(nodes["hop"] == 0) | nodes["your_rating"].notna(), "movie"])
    return {int(m) for m in keep}


def drawn_edges(nb: Neighbourhood) -> pd.DataFrame:
    """The edges the graph draws: all at 1 hop; at 2 hops the tree (the movie to its neighbours, each
    neighbour to the movies found through it) and the links among the movie's neighbours, not the
    tangle of links among the outer movies (the table lists every movie)."""
    nodes = nb.nodes
    if nodes["hop"].max() < 2:
        return nb.edges
    hop = dict(zip(nodes["movie"], nodes["hop"]))
    via = dict(zip(nodes["movie"], nodes["via_movie"]))

    def keep(a: int, b: int) -> bool:
        ha, hb = hop.get(a, 2), hop.get(b, 2)
        return min(ha, hb) == 0 or (ha == hb == 1) or via.get(a) == b or via.get(b) == a

    mask = [keep(int(a), int(b)) for a, b in zip(nb.edges["source"], nb.edges["target"])]
    return nb.edges[mask]


def neighbourhood_html(nb: Neighbourhood, height_px: int = 560) -> str:
    """A self-contained interactive vis-network page of the neighbourhood: node size by
    popularity, edge width and colour by correlation, rated movies starred, a legend; the layout
    settles and stays; a click on a node posts ``{gnnrec: "centre", movie}`` to the parent page."""
    from pyvis.network import Network

    # no font_color here: pyvis would then replace every node's font (sizes included) by that colour alone
    net = Network(height=f"{int(height_px)}px", width="100%", bgcolor="#ffffff", cdn_resources="in_line", directed=False)
    nodes = nb.nodes
    top = max(1, int(nodes["raters"].max()))
    named = labelled_nodes(nb)
    two = bool(nodes["hop"].max() >= 2)  # ~100 movies: the graph is drawn at a third of the size, its names 3x larger
    co = nb.graph != "correlation"  # co-rating weights (0.001-0.06): widths relative to the strongest shown
    scale = float(nb.edges["corr"].abs().max()) if co and len(nb.edges) else 1.0
    word, fmt = ("co-rating weight", ".4f") if co else ("correlation", "+.2f")
    for row in nodes.itertuples(index=False):
        year = f" ({row.year})" if pd.notna(row.year) else ""
        rated = pd.notna(row.your_rating)
        lines = [f"<b>{esc(row.title)}{esc(year)}</b>", esc(row.genres or "no genre"),
                 f"{row.raters} ratings in MovieLens"]
        if row.hop == 0:
            lines.append("the movie you picked")
        else:
            lines.append(f"{word} with it: {row.corr:{fmt}}" if pd.notna(row.corr) else "")
            if row.hop == 2 and row.via:
                lines.append(f"2 hops, via {esc(row.via)}")
        if rated:
            lines.append(f"your rating: {stars(row.your_rating)} ({row.your_rating:g})")
        lines.append("click to centre the graph on it" if row.hop else "")
        label = (short(str(row.title)) + (f"\n{stars(row.your_rating)}" if rated else "")) if row.movie in named else " "
        colour = TARGET if row.hop == 0 else (RATED if rated else OTHER)
        net.add_node(int(row.movie), label=label, title="<br>".join(x for x in lines if x),
                     size=float(8 + 30 * math.sqrt(row.raters / top)),
                     color={"background": colour, "border": "#7f3b08" if rated else "#2e3440",
                            "highlight": {"background": colour, "border": "#000000"}},
                     borderWidth=3 if rated or row.hop == 0 else 1,
                     shape="star" if rated and row.hop != 0 else "dot",
                     font={"size": (16 if row.hop == 0 else 12) * (3 if two else 1), "strokeWidth": 3 * (2 if two else 1),
                           "strokeColor": "#ffffff", "color": "#222222"})
    for e in drawn_edges(nb).itertuples(index=False):
        c, r = float(e.corr), min(1.0, abs(float(e.corr)) / (scale or 1.0))  # r: strength in [0, 1]
        net.add_edge(int(e.source), int(e.target), width=float(1 + 7 * r), title=f"{word} {c:{fmt}}",
                     color={"color": POSITIVE if c > 0 else NEGATIVE, "opacity": 0.35 + 0.6 * r},
                     dashes=bool(c < 0))
    net.set_options(json.dumps({
        "physics": {"solver": "forceAtlas2Based", "stabilization": {"iterations": 250, "fit": True},
                    "forceAtlas2Based": {"gravitationalConstant": -110, "springLength": 110 if two else 150,
                                         "avoidOverlap": 0.6}},
        "interaction": {"hover": True, "tooltipDelay": 80, "navigationButtons": False},
        "nodes": {"scaling": {"label": {"drawThreshold": 3}}},  # names stay drawn when a big graph is zoomed out
        "edges": {"smooth": False},
    }))
    return _finish(net.generate_html(notebook=False), nb.graph)


def _finish(page: str, graph: str = "correlation") -> str:
    """pyvis's page made offline and ours: no CDN links, escaped tooltips, settling, clicks, legend."""
    page = strip_external(page)
    page, n = re.subn(r"\n\s*network = new vis\.Network\(container, data, options\);", lambda m: _NETWORK_JS,
                      page, count=1)
    if n != 1:
        raise RuntimeError("unexpected pyvis template: cannot install the escaped tooltips")
    page = page.replace("<center>\n<h1></h1>\n</center>", "").replace(
        "<center>\n          <h1></h1>\n        </center>", "")
    page = page.replace("<head>", "<head>\n" + STYLE, 1)
    legend = LEGEND.format(target=TARGET, rated=RATED, other=OTHER,
                           lines=LINES[graph].format(pos=POSITIVE, neg=NEGATIVE))
    page, n = re.subn(r"(<div id=\"mynetwork\"[^>]*>\s*</div>)", lambda m: m.group(1) + legend, page, count=1)
    if n != 1:
        raise RuntimeError("unexpected pyvis template: cannot place the legend")
    left = external_refs(page)
    if left:
        raise RuntimeError(f"the graph page would load from the network: {left[:2]}")
    return page
