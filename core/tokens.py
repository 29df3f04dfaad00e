"""Vision Transformers next to CNNs: an image cut into 16x16 patch tokens, and how the cost of
attention grows with resolution compared with convolution's."""
from __future__ import annotations

import cv2
import numpy as np

from core.images import resize_to

VIT_B16 = {"patch": 16, "layers": 12, "dim": 768}  # ViT-B/16 (Dosovitskiy et al., 2020)


def patch_grid(rgb: np.ndarray, size: int = 224, patch: int = 16, label: bool = True) -> np.ndarray:
    """The image resized to size x size with the patch grid drawn and each patch's token index
    (row-major, as the transformer reads them) written in its corner."""
    if size % patch:
        raise ValueError("size must be a multiple of the patch size")
    scale = max(1, 448 // size)  # draw on a larger copy so the numbers stay legible
    img = resize_to(resize_to(rgb, (size, size)), (size * scale, size * scale)).copy()
    step = patch * scale
    for k in range(0, size * scale + 1, step):
        cv2.line(img, (k, 0), (k, size * scale), (255, 255, 255), 1)
        cv2.line(img, (0, k), (size * scale, k), (255, 255, 255), 1)
    if label:
        n = size // patch
        for r in range(n):
            for c in range(n):
                cv2.putText(img, str(r * n + c + 1), (c * step + 2, r * step + 11), cv2.FONT_HERSHEY_PLAIN,
                            0.7, (255, 255, 0), 1, cv2.LINE_AA)
    return img


def patch_tokens(rgb: np.ndarray, size: int = 224, patch: int = 16) -> np.ndarray:
    """The flattened patches a ViT embeds: (tokens, patch*patch*3) uint8, row-major over the grid."""
    img = resize_to(rgb, (size, size))
    n = size // patch
    return img.reshape(n, patch, n, patch, 3).transpose(0, 2, 1, 3, 4).reshape(n * n, patch * patch * 3)


def vit_tokens(size: int, patch: int = VIT_B16["patch"]) -> int:
    """Tokens a ViT attends over at this input size: the patches plus the class token."""
    return (size // patch) ** 2 + 1


def attention_macs(size: int, patch: int = VIT_B16["patch"], layers: int = VIT_B16["layers"],
                   dim: int = VIT_B16["dim"]) -> int:
    """Multiply-accumulates of the attention matrices alone (Q·Kᵀ and the weighted sum of V) over all
    layers: 2·L·N²·D, the part that grows with the square of the token count."""
    n = vit_tokens(size, patch)
    return 2 * layers * n * n * dim
