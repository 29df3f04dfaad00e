"""CNN Lab compute core: plain functions on numpy/torch, no Streamlit (except cache.py and ui.py).

Importing the package first shortens PyTorch's OpenMP spin (core/cpu.py), which only works before torch
loads: a page reached by a deep link on a fresh server runs before Home.py does, and its first
``from core import ...`` still comes before any core module imports torch."""
from core import cpu

cpu.calm_openmp()
