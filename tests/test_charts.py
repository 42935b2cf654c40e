"""gnnrec.app.charts: the plotly charts build, draw what they are given and escape the text they show."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnnrec.app import charts

HOSTILE = '</script><script>alert("x")</script><img src=x onerror=alert(1)>'


def test_plotly_charts_build_and_escape():
    summary = pd.DataFrame({"model": ["gnn", "knn_baseline", "<b>x"], "label": ["GNN", "k-NN + baselines", "<b>x"],
                            "mean": [0.9, 1.0, 1.1], "std": [0.02, 0.03, 0.0], "splits": [3, 3, 3]})
    bars = charts.rmse_bars(summary)
    bar = bars.data[0]
    assert bar.orientation == "h" and list(bar.x) == [1.1, 1.0, 0.9]  # the lowest RMSE drawn on top
    assert list(bar.y) == ["&lt;b&gt;x", "k-NN + baselines", "GNN"]  # short labels from results.label, escaped
    assert bars.layout.xaxis.range[0] == 0 and bars.layout.xaxis.range[1] > 1.1  # an axis from 0, room for the text
    assert [a.x for a in bars.layout.annotations] == pytest.approx([1.1, 1.03, 0.92])  # values past the whiskers
    panel = pd.DataFrame({"title": ["A <i>", "B"], "raters": [120, 300], "ratio": [0.9, 1.2]})
    ratios = charts.ratio_bars(panel)
    assert list(ratios.data[0].x) == pytest.approx([0.2, -0.1]) and ratios.data[0].base == 1
    assert list(ratios.data[0].y) == ["B", "A &lt;i&gt;"]
    points = pd.DataFrame({"split": [1, 1], "user": [3, 4], "rating": [4.0, 2.0], "model": ["gnn", "knn"],
                           "label": ["GNN", "k-NN"], "pred": [3.8, 2.5]})
    assert len(charts.prediction_scatter(points).data) == 3  # two models and the diagonal
    hist = pd.DataFrame({"step": [0, 5], "epoch": [1, 1], "train loss": [np.nan, 0.4], "valid RMSE": [1.1, 1.0],
                         "best valid RMSE": [1.1, 1.0]})
    assert len(charts.training_curve(hist).data) == 2
    preds = pd.DataFrame({"title": [HOSTILE, "B"], "gnn": [3.0, 4.0], "knn": [2.0, 4.1]})
    fig = charts.disagreement_scatter(preds, preds.head(1))
    assert all("<script" not in t for trace in fig.data if trace.text is not None for t in trace.text)
