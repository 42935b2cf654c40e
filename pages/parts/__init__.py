"""What the app's pages share, one concern a module (no page here):

- :mod:`.text`: Markdown-safe text, alerts, messages flashed to the next run;
- :mod:`.cache`: Streamlit caches around the gnnrec functions the pages call (data, models, lists);
- :mod:`.my_ratings`: the session's ratings and the callbacks that change them;
- :mod:`.link`: the ratings (and model) in every page's URL, read back on a new session;
- :mod:`.heavy`: this session's id, the running job seen from any page, the job buttons;
- :mod:`.session`: what app.py runs before each page (legacy-mode guard, heap freezing, set-up);
- :mod:`.sidebar`: model choice, data status, the running job and rating warnings, on every page.
"""
