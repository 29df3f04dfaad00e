"""How far to trust a multi-label model's probabilities: temperature scaling, expected calibration
error and mean average precision (the figures on the shipped models' cards)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """The one temperature T > 0 that makes sigmoid(logits / T) best fit the 0/1 targets (binary
    cross-entropy, LBFGS on log T), from held-out data (Guo et al., 2017, per-class sigmoids)."""
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)
    logits, targets = logits.detach().float(), targets.float()

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(logits / log_t.exp(), targets)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp())


def expected_calibration_error(probs: np.ndarray, targets: np.ndarray, bins: int = 15) -> float:
    """ECE over every (image, class) pair: the mean gap between predicted probability and observed
    frequency in equal-width bins, weighted by how many pairs fall in each bin."""
    p, y = np.asarray(probs, float).ravel(), np.asarray(targets, float).ravel()
    which = np.minimum((p * bins).astype(int), bins - 1)
    gaps = [abs(p[which == b].mean() - y[which == b].mean()) * np.mean(which == b)
            for b in range(bins) if np.any(which == b)]
    return float(sum(gaps))


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """Area under the precision-recall curve of one class (scikit-learn's step-wise definition)."""
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(np.asarray(positives, bool), np.asarray(scores, float)))


def mean_average_precision(probs: np.ndarray, targets: np.ndarray) -> float:
    """Mean over classes of the average precision, for (N, classes) scores and 0/1 targets; classes
    with no positive example are left out."""
    targets = np.asarray(targets, bool)
    aps = [average_precision(probs[:, c], targets[:, c]) for c in range(targets.shape[1]) if targets[:, c].any()]
    return float(np.mean(aps))
