"""Figures and pictures for the Training Monitor: curves, LR, confusion matrix, predictions."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from core.training import EpochSnapshot, Split, Trainer
from core.viz import upscale

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def curves(trainer: Trainer, upto: int | None = None) -> go.Figure:
    """Loss and accuracy per epoch (train vs validation), per-batch loss, and the LR per batch.

    ``upto`` marks one epoch (the timeline's position) and hides what came after it.
    """
    snaps = trainer.snapshots if upto is None else trainer.snapshots[:upto + 1]
    epochs = [s.epoch for s in snaps]
    fig = make_subplots(rows=1, cols=3, subplot_titles=("Loss", "Accuracy", "Learning rate"))
    n_batches = len(trainer.batch_losses) if upto is None else min(len(trainer.batch_losses),
                                                                    upto * trainer.batches_per_epoch)
    batch_x = [(i + 1) / trainer.batches_per_epoch for i in range(n_batches)]
    fig.add_trace(go.Scatter(x=batch_x, y=trainer.batch_losses[:n_batches], name="train loss per batch",
                             line=dict(color="#aec7e8", width=1)), 1, 1)
    for key, name, color, dash in (("train", "train", PALETTE[0], "solid"), ("val", "validation", PALETTE[1], "dash")):
        fig.add_trace(go.Scatter(x=epochs, y=[getattr(s, f"{key}_loss") for s in snaps], name=f"{name} loss",
                                 mode="lines+markers", line=dict(color=color, dash=dash)), 1, 1)
        fig.add_trace(go.Scatter(x=epochs, y=[getattr(s, f"{key}_acc") for s in snaps], name=f"{name} accuracy",
                                 mode="lines+markers", line=dict(color=color, dash=dash)), 1, 2)
    fig.add_trace(go.Scatter(x=batch_x, y=trainer.batch_lrs[:n_batches], name="learning rate",
                             line=dict(color=PALETTE[2])), 1, 3)
    if upto is not None:
        for col in (1, 2, 3):
            fig.add_vline(x=upto, line=dict(color="grey", dash="dot"), row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
    fig.update_yaxes(type="log", row=1, col=3)
    fig.update_layout(height=330, margin=dict(t=40, b=40, l=40, r=10), legend=dict(orientation="h", y=-0.25))
    return fig


def compare(histories: dict[str, dict[str, list[float]]]) -> go.Figure:
    """Several runs' per-epoch curves on shared axes: validation accuracy and train/validation loss."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Validation accuracy", "Loss (solid train, dashed validation)"))
    for i, (name, h) in enumerate(histories.items()):
        color = PALETTE[i % len(PALETTE)]
        epochs = list(range(len(h["val_acc"])))
        fig.add_trace(go.Scatter(x=epochs, y=h["val_acc"], name=name, legendgroup=name, line=dict(color=color)), 1, 1)
        fig.add_trace(go.Scatter(x=epochs, y=h["train_loss"], name=f"{name} train", legendgroup=name, showlegend=False,
                                 line=dict(color=color)), 1, 2)
        fig.add_trace(go.Scatter(x=epochs, y=h["val_loss"], name=f"{name} val", legendgroup=name, showlegend=False,
                                 line=dict(color=color, dash="dash")), 1, 2)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=1)
    fig.update_layout(height=360, margin=dict(t=40, b=40, l=40, r=10), legend=dict(orientation="h", y=-0.25))
    return fig


def confusion(snap: EpochSnapshot, class_names: tuple[str, ...]) -> go.Figure:
    """Confusion matrix (rows = true class): counts as text, each row's share as the shade."""
    counts = snap.confusion
    share = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    fig = go.Figure(go.Heatmap(z=share, x=list(class_names), y=list(class_names), text=counts, texttemplate="%{text}",
                               colorscale="Blues", zmin=0, zmax=1, showscale=False))
    fig.update_layout(title=f"Confusion matrix, epoch {snap.epoch}", height=360, margin=dict(t=40, b=40, l=40, r=10),
                      xaxis_title="predicted", yaxis=dict(title="true", autorange="reversed"))
    return fig


def per_class_accuracy(snap: EpochSnapshot) -> np.ndarray:
    """Recall per class (diagonal over row totals); NaN for a class with no validation images."""
    totals = snap.confusion.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(snap.confusion) / totals, math.nan)


def per_class_figure(snap: EpochSnapshot, class_names: tuple[str, ...]) -> go.Figure:
    acc = per_class_accuracy(snap)
    fig = go.Figure(go.Bar(x=list(class_names), y=acc, text=[f"{a:.0%}" if a == a else "-" for a in acc],
                           marker_color=PALETTE[0]))
    fig.update_layout(title="Validation accuracy per class", height=360, margin=dict(t=40, b=40, l=40, r=10),
                      yaxis=dict(range=[0, 1.05], tickformat=".0%"))
    return fig


def thumbnails(split: Split, indices, px: int = 96) -> list[np.ndarray]:
    """Images of a split (tensors in [0, 1]) as RGB uint8 thumbnails, nearest-neighbour resized."""
    out = []
    for i in indices:
        img = (split.x[int(i)].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        img = np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img
        out.append(upscale(np.ascontiguousarray(img), px))
    return out


def batch_thumbnails(batch: torch.Tensor, px: int = 72) -> list[np.ndarray]:
    """(N, C, H, W) in [0, 1] -> RGB uint8 thumbnails (for the augmentation preview)."""
    return thumbnails(Split(batch, torch.zeros(len(batch), dtype=torch.long)), range(len(batch)), px)


def sample_captions(trainer: Trainer, snap: EpochSnapshot) -> list[str]:
    """'pred 93% (true: x)' for each of the trainer's fixed sample images at one snapshot."""
    names, out = trainer.class_names, []
    for i, probs in zip(trainer.sample_index.tolist(), snap.sample_probs):
        p = int(probs.argmax())
        true = int(trainer.val.y[i])
        mark = "✓" if p == true else "✗"
        out.append(f"{mark} {names[p]} {probs[p]:.0%}" + ("" if p == true else f" (true: {names[true]})"))
    return out
