"""The TCN forecaster against the seasonal naive baseline, and CSV series uploads."""
import re

import numpy as np
import pytest

from core import csvdata, forecast
from core.errors import CNNLabError
from tests.inputs.csvs import SERIES_BAD, SERIES_OK, SIGNALS_BAD, SIGNALS_OK, WAVE


def test_tcn_beats_seasonal_naive_when_there_is_a_trend():
    """Seeded: 360 steps, period 24, trend 0.02, noise 0.15; 300 Adam steps. MAE 0.26 vs 0.51."""
    result = forecast.forecast(forecast.seasonal_series(), 24)
    assert result.split == 288 and len(result.tcn) == len(result.naive) == 72
    assert result.mae_tcn < 0.8 * result.mae_naive and result.receptive_field == 63


def test_seasonal_naive_is_exactly_one_period_back():
    s = forecast.seasonal_series(length=100, period=10, noise=0.0, trend=0.0)
    result = forecast.forecast(s, 10, steps=1)
    assert np.allclose(result.naive, s[80 - 10:100 - 10]) and result.mae_naive < 1e-5  # a pure cycle


def test_too_short_a_series_is_refused():
    with pytest.raises(CNNLabError, match="too short"):
        forecast.forecast(np.zeros(30, np.float32), 24)


def test_csv_first_numeric_column_with_header_and_gaps():
    data = b"date,load,comment\n" + b"".join(
        f"2024-01-{i % 28 + 1:02d},{'' if i == 5 else i * 0.5},x\n".encode() for i in range(80))
    values, note = csvdata.read_csv_series(data, "load.csv")
    assert len(values) == 80 and values[5] == pytest.approx(2.5) and "'load'" in note and "1 missing" in note


@pytest.mark.parametrize("data,message", [
    (b"", "is empty"),
    (b"a,b\nx,y\nz,w\n", "no column of numbers"),
    (b"v\n" + b"1\n" * 10, "at least 60"),
    (bytes(range(256)) * 4, "no column of numbers|could not be read"),
])
def test_bad_csv_is_refused_with_a_message(data, message):
    with pytest.raises(CNNLabError, match=message):
        csvdata.read_csv_series(data, "x.csv")


def _signals_csv(rows: int = 24, length: int = 64, labels: bool = True) -> bytes:
    from core.temporal import make_signals

    x, y = make_signals(rows, family="motion sensor (accelerometer-like)", length=length, seed=4)
    names = ("still", "walking", "running")
    header = (["label"] if labels else []) + [f"t{i}" for i in range(length)]
    lines = [",".join(header)] + [",".join(([names[c]] if labels else []) + [f"{v:.4f}" for v in row])
                                  for row, c in zip(x, y)]
    return "\n".join(lines).encode()


def test_signals_csv_one_per_row_with_labels():
    x, labels, classes, note = csvdata.read_signals_csv(_signals_csv())
    assert x.shape == (24, 64) and classes == ("running", "still", "walking") and len(labels) == 24
    assert "24 signals of 64 samples" in note and "labels from column 'label'" in note


def test_signals_csv_without_labels_and_with_a_broken_row():
    data = _signals_csv(labels=False) + b"\n" + b",".join([b"x"] * 64)
    x, labels, classes, note = csvdata.read_signals_csv(data)
    assert labels is None and x.shape == (24, 64) and "1 rows without usable numbers were left out" in note


@pytest.mark.parametrize("data,message", [
    (b"a,b,c\n1,2,3\n", "3 numeric columns per row; a signal needs 16"),
    (b"", "is empty"),
])
def test_bad_signals_csv(data, message):
    with pytest.raises(CNNLabError, match=message):
        csvdata.read_signals_csv(data)


def test_a_header_less_csv_keeps_its_first_row():
    x, labels, _, note = csvdata.read_signals_csv(b"\n".join([b",".join([b"1"] * 16), b",".join([b"2"] * 16)]))
    assert x.shape == (2, 16) and x[0, 0] == 1 and labels is None and "2 signals of 16 samples" in note
    values, note = csvdata.read_csv_series(b"\n".join(str(i).encode() for i in range(70)))
    assert len(values) == 70 and values[0] == 0 and note.startswith("Using column 0 (70 rows)")


@pytest.mark.parametrize("case,data,expected", SIGNALS_OK + SIGNALS_BAD, ids=[c[0] for c in SIGNALS_OK + SIGNALS_BAD])
def test_signals_csv_of_one_row_or_one_column(case, data, expected):
    if (case, data, expected) in SIGNALS_BAD:
        with pytest.raises(CNNLabError, match=re.escape(expected)):
            csvdata.read_signals_csv(data, f"{case}.csv")
    else:
        x, _, _, note = csvdata.read_signals_csv(data, f"{case}.csv")
        assert x.shape == (1, 64) and np.allclose(x[0], WAVE[:64]) and expected in note


@pytest.mark.parametrize("case,data,expected", SERIES_OK + SERIES_BAD, ids=[c[0] for c in SERIES_OK + SERIES_BAD])
def test_series_csv_of_one_row_or_one_column(case, data, expected):
    if (case, data, expected) in SERIES_BAD:
        with pytest.raises(CNNLabError, match=re.escape(expected)):
            csvdata.read_csv_series(data, f"{case}.csv")
    else:
        values, note = csvdata.read_csv_series(data, f"{case}.csv")
        assert expected in note and np.allclose(values, WAVE[:len(values)])  # no row lost to a header guess
