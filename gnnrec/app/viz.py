"""Pictures for the app: the pyvis neighbourhood graph (self-contained, works offline) and the
plotly charts. No Streamlit in here.

The pyvis HTML inlines vis-network's script and style (``cdn_resources="in_line"``) and drops the
CDN links pyvis 0.3.2's template adds regardless (bootstrap); :func:`external_refs` lists any
``src``/``href``/``@import``/``url()`` that still points off the machine, and
:func:`neighbourhood_html` refuses to return HTML that has one.

Titles are user-visible text from the data and may hold HTML: every text that reaches HTML is
escaped here, and the tooltips are turned into DOM elements from that escaped markup.
"""

from __future__ import annotations

import html as html_mod
import json
import math
import re

import numpy as np
import pandas as pd

from .neighbourhood import Neighbourhood
from .ratings_io import stars
from .results import describe, label

COLOURS = {"gnn": "#e66101", "gnn_last": "#fdb863", "gnn_target": "#f4a582", "linear": "#b2abd2", "knn": "#5e3c99",
           "knn_baseline": "#2166ac", "item_mean": "#999999"}
PLOTLY_CONFIG = {"displayModeBar": False, "responsive": True}  # no mode bar over the charts (it covered titles)
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


def _short(title: str, n: int = 26) -> str:
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
        label = (_short(str(row.title)) + (f"\n{stars(row.your_rating)}" if rated else "")) if row.movie in named else " "
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


# -- plotly charts ------------------------------------------------------------------------------------------
def _go():
    import plotly.graph_objects as go

    return go


def rmse_bars(summary: pd.DataFrame):
    """Mean RMSE per model with ± std error bars (over splits): horizontal bars on an axis from 0,
    the lowest RMSE on top, each bar's value written beside it."""
    go = _go()
    s = summary.iloc[::-1]  # plotly draws the first category at the bottom
    hi = float((s["mean"] + s["std"]).max())
    fig = go.Figure(go.Bar(
        y=[esc(label(m)) for m in s["model"]], x=s["mean"], orientation="h",
        error_x={"type": "data", "array": s["std"], "visible": True, "color": "#333333", "thickness": 1.2},
        marker_color=[COLOURS.get(m, "#888888") for m in s["model"]],
        customdata=[esc(describe(m)) for m in s["model"]],
        hovertemplate="%{y}: RMSE %{x:.4f} ± %{error_x.array:.4f}<br>%{customdata}<extra></extra>"))
    for y, m, sd in zip(fig.data[0].y, s["mean"], s["std"]):  # the value just past the whisker, never under it
        fig.add_annotation(x=m + sd, y=y, text=f"{m:.3f}", showarrow=False, xanchor="left", xshift=6,
                           font={"size": 12})
    fig.update_layout(xaxis_title="test RMSE (lower is better)", xaxis_range=[0, hi * 1.22 + 0.03],
                      margin={"t": 10, "b": 40, "l": 10, "r": 10}, height=70 + 34 * len(s), bargap=0.3,
                      yaxis={"automargin": True}, title=None)
    return fig


def ratio_bars(panel: pd.DataFrame, reference: str = "knn_baseline"):
    """Per panel movie, the GNN's RMSE over the reference's: bars from 1 (left: the GNN is better)."""
    go = _go()
    p = panel.dropna(subset=["ratio"]).sort_values("ratio", ascending=False, kind="stable")
    names = [esc(_short(t, 30)) for t in p["title"]]
    better = p["ratio"] < 1
    fig = go.Figure(go.Bar(
        y=names, x=p["ratio"] - 1, base=1, orientation="h",
        marker_color=[COLOURS["gnn"] if b else COLOURS.get(reference, "#2166ac") for b in better],
        customdata=np.stack([p["ratio"], p["raters"]], axis=1),
        hovertemplate="%{y}: GNN / " + esc(label(reference)) + " = %{customdata[0]:.3f} "
                      "(%{customdata[1]} raters)<extra></extra>"))
    fig.add_vline(x=1, line={"color": "#333333", "width": 1})
    lo, hi = float(min(p["ratio"].min(), 1)), float(max(p["ratio"].max(), 1))
    pad = 0.05 * (hi - lo) + 0.01
    fig.update_layout(xaxis_title="ratio (below 1: the GNN is better)",
                      xaxis_range=[lo - pad, hi + pad], yaxis={"automargin": True}, height=80 + 24 * len(p),
                      margin={"t": 10, "b": 40, "l": 10, "r": 10}, bargap=0.25)
    return fig


def prediction_scatter(points: pd.DataFrame):
    """Predicted vs true rating per test user (true ratings jittered so that points separate)."""
    go = _go()
    fig = go.Figure()
    rng = np.random.default_rng(0)
    for model, g in points.groupby("model", sort=False):
        fig.add_trace(go.Scatter(
            x=g["rating"] + rng.uniform(-0.18, 0.18, len(g)), y=g["pred"], mode="markers",
            name=esc(label(model)),
            marker={"size": 6, "opacity": 0.6, "color": COLOURS.get(model, "#888888")},
            customdata=np.stack([g["rating"], g["split"], g["user"].fillna(-1)], axis=1),
            hovertemplate="true %{customdata[0]:.0f}, predicted %{y:.2f}<br>split %{customdata[1]}, "
                          "user %{customdata[2]}<extra>%{fullData.name}</extra>"))
    fig.add_trace(go.Scatter(x=[0.6, 5.4], y=[0.6, 5.4], mode="lines", name="perfect",
                             line={"dash": "dot", "color": "#888888"}, hoverinfo="skip"))
    fig.update_layout(xaxis_title="true rating (jittered)", yaxis_title="predicted rating", height=400,
                      margin={"t": 10, "b": 40, "l": 50, "r": 10}, legend={"orientation": "h", "y": -0.18})
    return fig


def training_curve(history: pd.DataFrame):
    """Training loss and validation RMSE against optimiser steps."""
    go = _go()
    from plotly.subplots import make_subplots

    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=history["step"], y=history["valid RMSE"], name="validation RMSE",
                             mode="lines+markers", line={"color": "#e66101"}), secondary_y=False)
    fig.add_trace(go.Scatter(x=history["step"], y=history["train loss"], name="training loss",
                             mode="lines+markers", line={"color": "#5e3c99", "dash": "dot"}), secondary_y=True)
    fig.update_layout(height=360, margin={"t": 10, "b": 40, "l": 60, "r": 60}, legend={"orientation": "h", "y": -0.25},
                      xaxis_title="optimiser step")
    fig.update_yaxes(title_text="validation RMSE", secondary_y=False)
    fig.update_yaxes(title_text="training loss", secondary_y=True)
    return fig


def disagreement_scatter(predictions: pd.DataFrame, highlight: pd.DataFrame, knn_label: str = "k-NN"):
    """GNN vs k-NN predicted rating of the movies given; the largest disagreements marked."""
    go = _go()
    p = predictions
    fig = go.Figure(go.Scattergl(
        x=p["knn"], y=p["gnn"], mode="markers", name="movies", marker={"size": 4, "opacity": 0.35, "color": "#5e81ac"},
        text=[esc(t) for t in p["title"]],
        hovertemplate="%{text}<br>" + esc(knn_label) + " %{x:.2f}, GNN %{y:.2f}<extra></extra>"))
    if len(highlight):
        fig.add_trace(go.Scatter(
            x=highlight["knn"], y=highlight["gnn"], mode="markers", name="largest disagreements",
            marker={"size": 10, "color": "#e66101", "line": {"width": 1, "color": "#000"}},
            text=[esc(t) for t in highlight["title"]],
            hovertemplate="%{text}<br>k-NN %{x:.2f}, GNN %{y:.2f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[1, 5], y=[1, 5], mode="lines", name="agree", line={"dash": "dot", "color": "#888"},
                             hoverinfo="skip"))
    fig.update_layout(xaxis_title=f"{esc(knn_label)} prediction", yaxis_title="GNN prediction", height=380,
                      margin={"t": 10, "b": 40, "l": 50, "r": 10}, legend={"orientation": "h", "y": -0.2})
    return fig
