"""CSV files of degenerate shape for the signals and series uploaders, as data.

Each entry: (case id, bytes, what the page must say). For a file the page accepts, that is a caption
it shows; for one it refuses, a piece of its error message.
"""
from __future__ import annotations

import numpy as np

WAVE = np.round(np.sin(np.arange(200) / 4), 4)


def row(values) -> str:
    return ",".join(v if isinstance(v, str) else f"{v:g}" for v in values)


def column(name: str, values) -> bytes:
    return "\n".join([name, *(f"{v:g}" for v in values)]).encode()


# The Specialized page's "one signal per row" uploader.
SIGNALS_OK = [
    ("one-row", row(WAVE[:64]).encode(), "1 signal of 64 samples"),
    ("one-row-header", f"{row(f't{i}' for i in range(64))}\n{row(WAVE[:64])}".encode(), "1 signal of 64 samples"),
    ("one-row-labelled", f"label,{row(f't{i}' for i in range(64))}\nwalking,{row(WAVE[:64])}".encode(),
     "labels from column 'label': walking"),
]
SIGNALS_BAD = [
    ("one-column", column("value", WAVE), "1 numeric column per row; a signal needs 16"),
    ("one-row-too-short", row(WAVE[:5]).encode(), "5 numeric columns per row; a signal needs 16"),
    ("header-only", row(f"t{i}" for i in range(64)).encode(), "no data rows"),
]
# The forecaster's "numeric column" uploader.
SERIES_OK = [
    ("one-column", column("value", WAVE), "Using column 'value' (200 rows)."),
    ("one-column-shortest", column("value", WAVE[:60]), "Using column 'value' (60 rows)."),
    ("one-column-no-header", column(f"{WAVE[0]:g}", WAVE[1:]), "(200 rows)"),
]
SERIES_BAD = [
    ("one-row-header", column("value", WAVE[:1]), "has 1 usable row; at least 60"),
    ("one-row", row(WAVE).encode(), "a single row of 200 numbers"),
]
