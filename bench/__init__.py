"""Benchmarks: `python -m bench [GROUP]` prints `name value unit` lines."""
