"""The app's few style rules: less empty space above each page, and, on a phone, tables and charts
that keep clear of the text around them."""

from __future__ import annotations

import streamlit as st

CSS = """
<style>
/* the quick-rate cards: the title bold, the year and genres right under it */
[class*="st-key-quick_card_"] [data-testid="stMarkdown"] p { font-weight: 600; margin-bottom: -0.6rem; }
/* the title starts near the top (Streamlit leaves ~6rem) */
[data-testid="stMainBlockContainer"] { padding-top: 2.6rem; padding-left: 2.5rem; padding-right: 2.5rem; }
@media (max-width: 640px) {
  [data-testid="stMainBlockContainer"] { padding-left: 0.8rem; padding-right: 0.8rem; padding-top: 3.2rem; }
  h1 { font-size: 2rem !important; }
  /* a table's toolbar (search, download, full screen) would cover the heading above it on a touch screen */
  [data-testid="stElementToolbar"] { display: none; }
}
</style>
"""


def apply() -> None:
    st.html(CSS)
