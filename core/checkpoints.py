"""Training checkpoints: the state dict plus what it takes to rebuild and judge the model.

Saved with ``torch.save`` as a dict of tensors and plain values, so it loads back with
``torch.load(weights_only=True)``: no pickled code runs, whoever made the file.
"""
from __future__ import annotations

import io
import math
import warnings
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from core.errors import CNNLabError
from core.nets import build_net
from core.training import Split, TrainConfig, Trainer, accuracy

FORMAT = "cnnlab-checkpoint-1"
MAX_CHECKPOINT_BYTES = 200 * 2**20
ACCEPTED = (f"Accepted: a .pt checkpoint downloaded from this page (format {FORMAT}), up to "
            f"{MAX_CHECKPOINT_BYTES // 2**20} MB.")


@dataclass
class Checkpoint:
    model: nn.Module  # eval mode
    config: TrainConfig
    class_names: tuple[str, ...]
    input_size: int
    mean: torch.Tensor
    std: torch.Tensor
    history: dict[str, list[float]]  # per-epoch train/val loss and accuracy, LR


def history_of(trainer: Trainer) -> dict[str, list[float]]:
    keys = ("train_loss", "train_acc", "val_loss", "val_acc", "lr")
    return {k: [float(getattr(s, k)) for s in trainer.snapshots] for k in keys}


def checkpoint_bytes(trainer: Trainer, dataset: str) -> bytes:
    buf = io.BytesIO()
    torch.save({
        "format": FORMAT,
        "config": asdict(trainer.cfg),
        "dataset": dataset,
        "class_names": list(trainer.class_names),
        "input_size": int(trainer.train.x.shape[-1]),
        "in_channels": int(trainer.train.x.shape[1]),
        "mean": trainer.mean.flatten().clone(),
        "std": trainer.std.flatten().clone(),
        "history": history_of(trainer),
        "state_dict": {k: v.detach().clone() for k, v in trainer.model.state_dict().items()},
    }, buf)
    return buf.getvalue()


def load_checkpoint(data: bytes) -> Checkpoint:
    """Rebuild a model from checkpoint bytes; CNNLabError says what is wrong with a bad file."""
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CNNLabError(f"The file is {len(data) / 2**20:.0f} MB, over the limit. {ACCEPTED}")
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of foreign files
            warnings.simplefilter("ignore", UserWarning)
            blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors, zip errors, refused globals: all mean "not ours"
        refused = "Unsupported global" in str(err)  # the file names a function or class to call
        why = "it asks to run code, which is refused" if refused else "it is not a PyTorch file"
        raise CNNLabError(f"The checkpoint could not be read: {why}. {ACCEPTED}") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CNNLabError(f"This is a PyTorch file, but not a CNN Lab training checkpoint. {ACCEPTED}")
    try:
        known = {f.name for f in fields(TrainConfig)}
        config = TrainConfig(**{k: v for k, v in dict(blob["config"]).items() if k in known})
        classes = tuple(str(c) for c in blob["class_names"])
        size, channels = int(blob["input_size"]), int(blob["in_channels"])
        model = build_net(config.arch, len(classes), channels, width=config.width, depth=config.depth,
                          dropout=config.dropout)
        model.load_state_dict(blob["state_dict"])
        history = {k: [float(v) for v in vals] for k, vals in dict(blob.get("history", {})).items()}
        mean, std = torch.as_tensor(blob["mean"]).float(), torch.as_tensor(blob["std"]).float()
    except CNNLabError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise CNNLabError(f"The checkpoint is incomplete or does not match its architecture ({str(err)[:200]}). "
                          f"{ACCEPTED}") from None
    if not 8 <= size <= 256 or channels not in (1, 3) or mean.numel() != channels or std.numel() != channels \
            or not all(math.isfinite(float(v)) and float(v) > 0 for v in std):
        raise CNNLabError(f"The checkpoint's input description is invalid. {ACCEPTED}")
    return Checkpoint(model.eval(), config, classes, size, mean, std, history)


def accuracy_on(ckpt: Checkpoint, split: Split) -> float:
    """The checkpoint's accuracy on a split of images in [0, 1] (normalised with its own statistics)."""
    if split.x.shape[1] != ckpt.mean.numel() or split.x.shape[-1] != ckpt.input_size:
        raise CNNLabError(f"The checkpoint expects {ckpt.mean.numel()}-channel {ckpt.input_size}x{ckpt.input_size} "
                          f"images; this data is {split.x.shape[1]}-channel {split.x.shape[-1]}x{split.x.shape[-1]}.")
    x = (split.x - ckpt.mean.view(1, -1, 1, 1)) / ckpt.std.view(1, -1, 1, 1)
    return accuracy(ckpt.model, x, split.y)
