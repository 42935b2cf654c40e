"""The app's plotly charts: RMSE bars, panel ratios, prediction and disagreement scatters, training curves."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .graph_view import esc, short
from .results import describe, label

COLOURS = {"gnn": "#e66101", "gnn_last": "#fdb863", "gnn_target": "#f4a582", "linear": "#b2abd2", "knn": "#5e3c99",
           "knn_baseline": "#2166ac", "item_mean": "#999999"}
PLOTLY_CONFIG = {"displayModeBar": False, "responsive": True}  # no mode bar over the charts (it covered titles)


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
    names = [esc(short(t, 30)) for t in p["title"]]
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
