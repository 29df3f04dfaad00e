"""Forecasting with a small causal TCN against the seasonal naive baseline (course section 8)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.errors import CNNLabError
from core.temporal import TCN, receptive_field



def seasonal_series(length: int = 360, period: int = 24, trend: float = 0.02, noise: float = 0.15,
                    seed: int = 0) -> np.ndarray:
    """A trend plus a daily-like cycle (with a weaker second harmonic) plus noise, float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    season = np.sin(2 * np.pi * t / period) + 0.4 * np.sin(4 * np.pi * t / period + 1.0)
    return (trend * t + season + rng.normal(0, noise, length)).astype(np.float32)


@dataclass
class Forecast:
    split: int  # index where the hold-out starts
    tcn: np.ndarray  # one-step-ahead forecasts for the hold-out
    naive: np.ndarray  # seasonal naive forecasts for the hold-out
    mae_tcn: float
    mae_naive: float
    receptive_field: int


def forecast(series: np.ndarray, period: int, *, holdout: float = 0.2, steps: int = 300, seed: int = 0,
             kernel_size: int = 3, dilations: tuple[int, ...] = (1, 2, 4, 8, 16)) -> Forecast:
    """Train a causal TCN on the first part of the series to predict each next change (differences
    remove the trend, so the net need not extrapolate levels it never saw), then forecast every
    hold-out step one step ahead from the true past. The baseline repeats the value one period back."""
    n = len(series)
    split = int(n * (1 - holdout))
    if split <= period + 1 or n - split < 2:
        raise CNNLabError(f"The series ({n} values) is too short for a period of {period} and a "
                          f"{holdout:.0%} hold-out; use a longer series or a shorter period.")
    diff = np.diff(series).astype(np.float32)
    mean, std = float(diff[:split - 1].mean()), float(diff[:split - 1].std()) or 1.0
    z = torch.from_numpy((diff - mean) / std)[None, None]
    torch.manual_seed(seed)
    model = TCN(kernel_size, list(dilations), channels=16, causal=True)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    train_in, train_out = z[..., :split - 2], z[..., 1:split - 1]  # output t predicts the change at t + 1
    model.train()
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(model(train_in), train_out)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(z)[0, 0].numpy() * std + mean  # pred[t] = predicted diff[t + 1] = series[t+2] - series[t+1]
    targets = np.arange(split, n)
    tcn = series[targets - 1] + pred[targets - 2]
    naive = series[targets - period]
    truth = series[targets]
    return Forecast(split, tcn.astype(np.float32), naive.astype(np.float32),
                    float(np.abs(tcn - truth).mean()), float(np.abs(naive - truth).mean()),
                    receptive_field(kernel_size, list(dilations)))
