"""CNN Lab compute core: plain functions on numpy/torch, no Streamlit (except cache.py and ui.py)."""
