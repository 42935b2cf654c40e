"""gnnrec: graph-neural-network movie recommendations on MovieLens-100K.

    streamlit run app.py

The pages live in pages/; each reads its widgets, calls a gnnrec function (gnnrec.app.catalog,
ratings_io, insights, neighbourhood, results, live) and shows the result. What they share is in
pages/parts/ (caches, ratings, the link, the sidebar).
"""

import streamlit as st

from pages.parts import first

first.first_query()  # first, before anything is drawn: a cold start's first run may be cut short at the first element
st.set_page_config(page_title="gnnrec: GNN movie recommendations", layout="wide")  # default icon: served locally

PAGES = [
    st.Page("pages/recommend.py", title="Recommend", default=True),
    st.Page("pages/neighbourhood.py", title="Neighbourhood", url_path="neighbourhood"),
    st.Page("pages/compare.py", title="Compare", url_path="compare"),
    st.Page("pages/train.py", title="Train", url_path="train"),
]

loading = first.loading()  # a cold server's first run: say so while the imports below take seconds
page, menu = first.navigation(PAGES, draw=loading is not None)  # cold: the menu after the message, never
# a menu over a blank page; warm: its place only, drawn once by refresh() below

from pages.parts import link, session, sidebar, style  # noqa: E402  (heavy: after the menu and the message)

link.init()
style.apply()
sidebar.show()
link.sync()
menu.refresh()  # its links carry the address sync wrote (a restarted server's new session reads them)
first.fold_after_pick(page)  # a phone's sidebar folds after a menu pick, as Streamlit's own menu does
session.freeze_heap()
try:
    page.run()
finally:
    if loading is not None:  # only now: the page's own imports and first elements take a moment more
        loading.empty()
    session.tidy()
