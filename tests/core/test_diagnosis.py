"""Curves in, verdict out: each regime from the course's table is recognised."""
import math

from core.diagnosis import diagnose


def test_overfitting_train_down_val_up():
    d = diagnose(train_loss=[1.0, 0.6, 0.3, 0.15, 0.08, 0.04], val_loss=[1.0, 0.7, 0.65, 0.75, 0.9, 1.1],
                 train_acc=[0.6, 0.8, 0.9, 0.95, 0.98, 0.99], val_acc=[0.6, 0.75, 0.78, 0.77, 0.76, 0.75], n_classes=5)
    assert d.verdict == "overfitting" and "epoch 3" in d.summary
    assert any("augmentation" in s for s in d.suggestions) and any("dropout" in s.lower() for s in d.suggestions)


def test_underfitting_both_high():
    d = diagnose([1.6, 1.55, 1.5, 1.5], [1.6, 1.56, 1.52, 1.51], [0.25, 0.3, 0.32, 0.33], [0.24, 0.3, 0.31, 0.33], 5)
    assert d.verdict == "underfitting" and any("wider or deeper" in s for s in d.suggestions)


def test_converged_both_low_and_stable():
    d = diagnose([0.5, 0.2, 0.1, 0.09, 0.09], [0.5, 0.22, 0.12, 0.115, 0.116], [0.85, 0.94, 0.97, 0.97, 0.97],
                 [0.84, 0.93, 0.96, 0.965, 0.965], 5)
    assert d.verdict == "converged"


def test_still_improving():
    d = diagnose([1.0, 0.7, 0.5, 0.35], [1.0, 0.72, 0.52, 0.37], [0.6, 0.75, 0.82, 0.88], [0.6, 0.74, 0.81, 0.87], 5)
    assert d.verdict == "still improving" and "more epochs" in d.suggestions[0]


def test_diverged_and_too_early():
    assert diagnose([1.0, math.nan], [1.0, math.nan], [0.2, 0.2], [0.2, 0.2], 5).verdict == "diverged"
    assert diagnose([1.0], [1.0], [0.5], [0.5], 5, diverged=True).verdict == "diverged"
    assert diagnose([1.0, 0.8], [1.0, 0.8], [0.5, 0.6], [0.5, 0.6], 5).verdict == "too early"
