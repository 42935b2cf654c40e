"""The Train page's model-store browser: every stored model in a table, one model's details and curve."""

from __future__ import annotations

import streamlit as st

from gnnrec.app import catalog, charts, live
from gnnrec.app.glossary import term

from . import cache, text


def show() -> None:
    """The stored models (widget keys ``tr_models``, ``tr_detail``, ``tr_detail_curve``)."""
    st.subheader("Stored models")
    models = cache.models()
    if not models:
        st.info("No models in the models folder yet: train one above.")
        return
    st.dataframe(catalog.models_table(models), hide_index=True, key="tr_models",
                 column_config={"valid RMSE": st.column_config.NumberColumn(format="%.4f", help=term("valid_rmse")),
                                "widths": st.column_config.TextColumn(help=term("widths")),
                                "taps": st.column_config.TextColumn(help=term("taps")),
                                "k": st.column_config.NumberColumn(help=term("k")),
                                "train s": st.column_config.NumberColumn(format="%.0f")})
    names = [m.name for m in models]
    pick = st.selectbox("Details of", names, key="tr_detail",
                        index=names.index(cache.model_name()) if cache.model_name() in names else 0)
    m = next(x for x in models if x.name == pick)
    if not m.ok:
        text.alert("error", m.error)
        return
    a, b = st.columns(2)
    with a:
        st.json({"metrics": m.metrics, "gnn": m.config, "graph": m.graph, "extra": m.extra}, expanded=1)
    with b:
        if m.history:
            st.plotly_chart(charts.training_curve(live.history_table(m.history)), key="tr_detail_curve",
                            config=charts.PLOTLY_CONFIG)
