"""What the Streamlit app needs beyond the core: data and model lists, display tables, background jobs, charts.

No Streamlit inside: the pages in ``pages/`` call these functions and draw what they return.
"""
