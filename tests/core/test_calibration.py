"""Calibration figures on cases with known answers."""
import numpy as np
import pytest
import torch

from core.calibration import average_precision, expected_calibration_error, fit_temperature, mean_average_precision


def test_temperature_scaling_recovers_the_temperature_that_made_the_logits():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(20000, 5, generator=gen) * 3
    targets = (torch.rand(20000, 5, generator=gen) < torch.sigmoid(z)).float()
    assert fit_temperature(z * 2.5, targets) == pytest.approx(2.5, rel=0.05)  # overconfident by 2.5x
    assert fit_temperature(z * 0.5, targets) == pytest.approx(0.5, rel=0.05)  # underconfident


def test_ece_is_zero_when_calibrated_and_the_gap_when_not():
    probs = np.array([0.8] * 10 + [0.2] * 10)
    calibrated = np.array([1] * 8 + [0] * 2 + [1] * 2 + [0] * 8)
    assert expected_calibration_error(probs, calibrated) == pytest.approx(0.0)
    always_right = np.array([1] * 10 + [0] * 10)  # 80% claimed, 100% seen: a 0.2 gap in both bins
    assert expected_calibration_error(probs, always_right) == pytest.approx(0.2)
    assert expected_calibration_error(np.full(100, 0.99), np.zeros(100)) == pytest.approx(0.99)


def test_average_precision_known_values():
    assert average_precision(np.array([0.9, 0.8, 0.1, 0.05]), np.array([1, 1, 0, 0])) == pytest.approx(1.0)
    # ranks: positive, negative, positive -> precision 1 at recall 0.5, 2/3 at recall 1
    assert average_precision(np.array([0.9, 0.5, 0.4]), np.array([1, 0, 1])) == pytest.approx((1 + 2 / 3) / 2)
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.6]])
    targets = np.array([[1, 0], [0, 1], [1, 0]])
    assert mean_average_precision(scores, targets) == pytest.approx((1.0 + 1.0) / 2)


def test_mean_average_precision_of_a_constant_answer_is_the_prevalence():
    rng = np.random.default_rng(0)
    targets = rng.random((1000, 5)) < 0.3
    assert mean_average_precision(np.full((1000, 5), 0.5), targets) == pytest.approx(targets.mean(), abs=0.02)
