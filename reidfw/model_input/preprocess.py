"""The one path from a camera image to a model input: crop -> letterbox -> normalise.

    prepare(image, spec, box, mask)   uint8 (H, W, 3): crop to the person box, optionally
                                      gray out the background, letterbox into spec.size
    normalize(u8, spec)               uint8 (..., 3, H, W) tensor on any device -> float32
    to_model_input(image, spec, ...)  both, for one image: float32 (3, H, W)

Validation, ``evaluate.py``, the study, attribution, ``compare`` and tracking crops call
these; training augmentations run between :func:`fit` and :func:`pad_to` (the two halves
of :func:`letterbox`) and end in :func:`normalize`, so with no augmentation firing a
training input is bit for bit an evaluation input.

:func:`normalize` is elementwise (``x * scale + shift`` in float32), so normalising one
image or a batch of them, in a DataLoader worker or on the device, gives the same bits.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from reidfw.model_input.spec import PAPER_FILL, InputSpec, as_size


def crop_box(image: np.ndarray, box: Sequence[float] | None) -> np.ndarray:
    """Crop ``(x, y, w, h)`` (pixels) clipped to the image; ``None`` keeps the whole image."""
    if box is None:
        return image
    x, y, w, h = box
    H, W = image.shape[:2]
    x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
    x1, y1 = min(W, int(round(x + w))), min(H, int(round(y + h)))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box {tuple(box)} lies outside the {W}x{H} image")
    return image[y0:y1, x0:x1]


def fit(image: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Resize keeping the aspect ratio so the image fits inside ``size = (H, W)``.

    Area interpolation when shrinking (no aliasing on a far-too-large crop), bilinear when enlarging.
    """
    th, tw = as_size(size)
    h, w = image.shape[:2]
    scale = min(th / h, tw / w)
    nh, nw = min(th, max(1, round(h * scale))), min(tw, max(1, round(w * scale)))
    if (nh, nw) == (h, w):
        return image
    out = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return out[..., None] if image.ndim == 3 and out.ndim == 2 else out


def pad_to(image: np.ndarray, size: Sequence[int], fill: Sequence[int] = PAPER_FILL) -> np.ndarray:
    """Centre an image that fits inside ``size`` on a canvas of ``fill``."""
    th, tw = as_size(size)
    h, w = image.shape[:2]
    if h > th or w > tw:
        raise ValueError(f"pad_to: a {w}x{h} image does not fit in {tw}x{th}; fit() it first")
    channels = image.shape[2] if image.ndim == 3 else 1
    out = np.empty((th, tw, channels), dtype=image.dtype)
    out[...] = np.asarray(fill, dtype=image.dtype).reshape(1, 1, -1)[..., :channels]
    top, left = (th - h) // 2, (tw - w) // 2
    out[top : top + h, left : left + w] = image if image.ndim == 3 else image[..., None]
    return out if image.ndim == 3 else out[..., 0]


def letterbox(image: np.ndarray, size: Sequence[int], fill: Sequence[int] = PAPER_FILL) -> np.ndarray:
    """The paper's resize: fit inside ``size`` keeping the aspect ratio, centred, the rest ``fill``."""
    return pad_to(fit(image, size), size, fill)


def prepare(
    image: np.ndarray, spec: InputSpec, box: Sequence[float] | None = None, mask: np.ndarray | None = None
) -> np.ndarray:
    """uint8 RGB (H, W, 3) image -> the letterboxed uint8 (spec.height, spec.width, 3) model input.

    ``mask`` (bool, person = True, the image's size) replaces every other pixel by the fill
    first: the paper's background-masking proposal (Fig 13).
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"model inputs are made from RGB uint8 (H, W, 3) images, got {image.dtype} {image.shape}")
    if mask is not None:
        if mask.shape != image.shape[:2]:
            raise ValueError(
                f"a {mask.shape[1]}x{mask.shape[0]} mask does not cover a {image.shape[1]}x{image.shape[0]} image "
                "pixel for pixel"
            )
        image = image.copy()
        image[~mask] = spec.fill
    return letterbox(crop_box(image, box), spec.size, spec.fill)


def to_chw_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> uint8 tensor (3, H, W)."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))


class Normalizer:
    """``(u8 / 255 - mean) / std`` folded into one affine map, cached per device."""

    def __init__(self, spec: InputSpec):
        mean = torch.tensor(spec.mean, dtype=torch.float32).view(3, 1, 1)
        std = torch.tensor(spec.std, dtype=torch.float32).view(3, 1, 1)
        self._scale, self._shift = 1.0 / (255.0 * std), -mean / std
        self._on: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(self, u8: torch.Tensor) -> torch.Tensor:
        if u8.dtype != torch.uint8 or u8.ndim < 3 or u8.shape[-3] != 3:
            raise ValueError(f"normalize takes uint8 (..., 3, H, W) tensors, got {u8.dtype} {tuple(u8.shape)}")
        if u8.device not in self._on:
            self._on[u8.device] = (self._scale.to(u8.device), self._shift.to(u8.device))
        scale, shift = self._on[u8.device]
        return u8.float().mul_(scale).add_(shift)


def normalize(u8: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """uint8 (..., 3, H, W) -> float32 model input, on ``u8``'s device."""
    return Normalizer(spec)(u8)


def to_model_input(
    image: np.ndarray, spec: InputSpec, box: Sequence[float] | None = None, mask: np.ndarray | None = None
) -> torch.Tensor:
    """One image -> float32 (3, H, W): :func:`prepare` then :func:`normalize`."""
    return normalize(to_chw_tensor(prepare(image, spec, box, mask)), spec)


def normalized_fill(spec: InputSpec) -> torch.Tensor:
    """What a letterbox pixel holds after normalisation, shape (3,)."""
    return normalize(torch.tensor(spec.fill, dtype=torch.uint8).view(3, 1, 1), spec).view(3)
