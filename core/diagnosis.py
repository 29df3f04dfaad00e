"""Reading a run's curves the way a practitioner would, in plain words, with what to try next."""
from __future__ import annotations

import math
from dataclasses import dataclass

GAP = 0.10  # train minus validation accuracy that counts as a generalisation gap
RISE = 1.10  # final validation loss this far above its best = the validation loss has turned up
LOW_ACC = 0.70  # final training accuracy below this (and well above chance) = the model is not fitting


@dataclass(frozen=True)
class Diagnosis:
    verdict: str  # overfitting, underfitting, converged, still improving, diverged, too early
    summary: str
    suggestions: tuple[str, ...]


def diagnose(train_loss: list[float], val_loss: list[float], train_acc: list[float], val_acc: list[float],
             n_classes: int, diverged: bool = False) -> Diagnosis:
    """Per-epoch curves (without the untrained epoch 0) -> a verdict, why, and what to try."""
    if diverged or any(not math.isfinite(v) for v in train_loss + val_loss):
        return Diagnosis("diverged", "The loss blew up to NaN or infinity: the steps were too large.",
                         ("Lower the learning rate 3-10x.", "Use a warm-up schedule such as OneCycle.",
                          "Adam or AdamW tolerate a poorly chosen LR better than plain SGD."))
    if len(val_loss) < 3:
        return Diagnosis("too early", "Fewer than 3 epochs: too short to read a trend.",
                         ("Train for more epochs before judging.",))
    best = min(range(len(val_loss)), key=val_loss.__getitem__)
    gap = train_acc[-1] - val_acc[-1]
    val_rising = val_loss[-1] > RISE * val_loss[best] and best <= len(val_loss) - 3
    train_falling = train_loss[-1] < train_loss[best]
    if (val_rising and train_falling) or gap > GAP:
        return Diagnosis(
            "overfitting",
            f"Training keeps improving but validation does not: the best validation loss was at epoch {best + 1}, "
            f"and train accuracy is {train_acc[-1]:.0%} against {val_acc[-1]:.0%} on validation. "
            "The model is memorising the training images.",
            ("More augmentation (random crop, flip, colour jitter).", "More dropout, or weight decay.",
             f"Early stopping (patience 2-3) would have kept epoch {best + 1}'s model.",
             "More training images, or a smaller model."))
    chance = 1.0 / max(1, n_classes)
    if train_acc[-1] < max(LOW_ACC, chance + 0.3):
        return Diagnosis(
            "underfitting",
            f"Both curves stay poor (train accuracy {train_acc[-1]:.0%}, validation {val_acc[-1]:.0%}; chance is "
            f"{chance:.0%}): the model is not fitting even the training data.",
            ("More epochs, or a higher learning rate with a schedule.", "A wider or deeper model.",
             "Less regularisation: lower dropout and weight decay, milder augmentation."))
    if val_loss[-1] < 0.97 * val_loss[-2]:
        return Diagnosis(
            "still improving",
            f"Validation loss is still falling ({val_loss[-2]:.3f} -> {val_loss[-1]:.3f} in the last epoch) and the "
            f"train/validation gap is small ({gap:+.0%}).",
            ("Train for more epochs; the model has not finished learning.",))
    return Diagnosis(
        "converged",
        f"Train and validation agree ({train_acc[-1]:.0%} vs {val_acc[-1]:.0%}) and the validation loss has "
        "levelled off: the run has converged.",
        ("For the last bit, a lower learning rate at the end (cosine or step schedule).",
         "To go further, more data or a larger model, watching for overfitting."))
