"""Numbers from uploaded CSV files: one series (a column) or many signals (one per row, labels optional)."""
from __future__ import annotations

import io

import numpy as np

from core.errors import CNNLabError

MAX_CSV_BYTES = 5 * 2**20
MAX_ROWS = 100_000
MIN_LENGTH = 60
ACCEPTED_CSV = (f"Accepted: a .csv up to {MAX_CSV_BYTES // 2**20} MB whose columns are numbers (a header row is "
                f"fine), at least {MIN_LENGTH} and at most {MAX_ROWS:,} rows; the first numeric column is used.")
LABEL_COLUMNS = ("label", "class", "target", "y")
MAX_SIGNALS = 5000
ACCEPTED_SIGNALS = (f"Accepted: a .csv up to {MAX_CSV_BYTES // 2**20} MB with one signal per row (16 to 4,096 "
                    f"numeric columns, up to {MAX_SIGNALS:,} rows) and optionally a column named "
                    f"{', '.join(repr(c) for c in LABEL_COLUMNS)} holding each row's class.")


def read_frame(data: bytes, name: str, accepted: str):
    """A pandas frame and its numeric columns (>= 90% numbers), trying commas first, then sniffing."""
    import pandas as pd

    if not data:
        raise CNNLabError(f"**{name}** is empty. {accepted}")
    if len(data) > MAX_CSV_BYTES:
        raise CNNLabError(f"**{name}** is {len(data) / 2**20:.1f} MB, over the limit. {accepted}")
    frame, numeric = None, None
    for options in ({}, {"sep": None, "engine": "python"}):
        try:
            header = 0 if _first_row_is_header(data, options) else None
            frame = pd.read_csv(io.BytesIO(data), header=header, nrows=MAX_ROWS + 1, **options)
        except Exception:  # pandas raises many parser error types on binary or ragged input
            continue
        numeric = frame.apply(pd.to_numeric, errors="coerce")
        if any(numeric[c].notna().mean() >= 0.9 for c in numeric.columns):
            break
    if frame is None:
        raise CNNLabError(f"**{name}** could not be read as CSV. {accepted}")
    if frame.empty:
        raise CNNLabError(f"**{name}** has a header row but no data rows. {accepted}")
    columns = [c for c in numeric.columns if numeric[c].notna().mean() >= 0.9]
    if not columns:
        raise CNNLabError(f"**{name}** has no column of numbers. {accepted}")
    if len(frame) > MAX_ROWS:
        raise CNNLabError(f"**{name}** has more than {MAX_ROWS:,} rows. {accepted}")
    return frame, numeric, columns


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _first_row_is_header(data: bytes, options: dict) -> bool:
    """pandas takes the first row as column names; a row of numbers is data (a header-less file,
    or a single signal), not names."""
    import pandas as pd

    first = pd.read_csv(io.BytesIO(data), header=None, nrows=1, dtype=str, keep_default_na=False, **options).iloc[0]
    cells = [c for c in first if c.strip()]
    numbers = int(pd.to_numeric(pd.Series(cells, dtype=object), errors="coerce").notna().sum())
    return 2 * numbers < len(cells)


def read_csv_series(data: bytes, name: str = "upload.csv") -> tuple[np.ndarray, str]:
    """The first numeric column of an uploaded CSV, as float32; and a note on what was read."""
    _, numeric, columns = read_frame(data, name, ACCEPTED_CSV)
    column = numeric[columns[0]]
    missing = int(column.isna().sum())
    values = column.interpolate(limit_direction="both").to_numpy(np.float64)
    if len(values) == 1 and len(columns) >= MIN_LENGTH:
        raise CNNLabError(f"**{name}** has a single row of {len(columns)} numbers; the series must run down one "
                          f"column, one value per line. {ACCEPTED_CSV}")
    if len(values) < MIN_LENGTH or not np.isfinite(values).all():
        raise CNNLabError(f"Column {columns[0]!r} has {_count(len(values), 'usable row')}; at least {MIN_LENGTH} finite "
                          f"numbers are needed. {ACCEPTED_CSV}")
    note = f"Using column {columns[0]!r} ({len(values)} rows)" + (
        f"; {missing} missing values were filled by interpolation." if missing else ".")
    return values.astype(np.float32), note


def read_signals_csv(data: bytes, name: str = "signals.csv"):
    """One signal per row: (signals (N, L) float32, labels (N,) int64 or None, class names, note)."""
    frame, numeric, columns = read_frame(data, name, ACCEPTED_SIGNALS)
    label_col = next((c for c in frame.columns if str(c).strip().lower() in LABEL_COLUMNS), None)
    columns = [c for c in columns if c != label_col]
    if not 16 <= len(columns) <= 4096:
        raise CNNLabError(f"**{name}** has {_count(len(columns), 'numeric column')} per row; a signal needs 16 to 4,096. "
                          f"{ACCEPTED_SIGNALS}")
    if len(frame) > MAX_SIGNALS:
        raise CNNLabError(f"**{name}** has {len(frame):,} rows; the limit is {MAX_SIGNALS:,}. {ACCEPTED_SIGNALS}")
    values = numeric[columns].interpolate(axis=1, limit_direction="both").to_numpy(np.float64)
    keep = np.isfinite(values).all(1)
    notes = [f"{_count(int(keep.sum()), 'signal')} of {len(columns)} samples"]
    if not keep.all():
        notes.append(f"{int((~keep).sum())} rows without usable numbers were left out")
    if not keep.any():
        raise CNNLabError(f"No row of **{name}** holds a usable signal. {ACCEPTED_SIGNALS}")
    labels, classes = None, ()
    if label_col is not None:
        text = frame.loc[keep, label_col].astype(str).str.strip()
        classes = tuple(sorted(set(text)))
        labels = text.map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)
        notes.append(f"labels from column {label_col!r}: {', '.join(classes[:10])}")
    return values[keep].astype(np.float32), labels, classes, "; ".join(notes) + "."
