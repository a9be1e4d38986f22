"""A transform pipeline: numpy RGB crop in, normalised CHW float tensor out.

Every pipeline in reidfw has the same shape::

    [optional person crop] -> fit inside (H, W) keeping aspect -> augmentations
    -> Letterbox(H, W, gray) -> Normalize(mean, std) -> CHW float tensor

Augmenting *after* the fit means pixel-sized strengths (pad 10 px, blur sigma,
erasing area) are in model-input pixels whatever the crop's resolution, and
augmenting *before* the letterbox keeps the gray fill exactly (128, 128, 128) as
it is at evaluation: colour jitter or erasing never touch the padding. When no
augmentation fires, fit + letterbox gives the same pixels as ``letterbox()``
alone (same rounding, area interpolation when shrinking).
"""
from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import cv2
import numpy as np
import torch
from albumentations.pytorch import ToTensorV2

from reidfw.data.transforms.letterbox import PAPER_FILL, crop_box
from reidfw.data.transforms.letterbox_transform import Letterbox


def as_size(img_size) -> tuple[int, int]:
    """``(height, width)`` from any 2-sequence (Hydra gives ListConfig); clear error otherwise."""
    try:
        h, w = (int(v) for v in img_size)
    except (TypeError, ValueError):
        raise ValueError(f"img_size must be (height, width), e.g. (384, 128); got {img_size!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"img_size must be positive (height, width), got {img_size!r}")
    return h, w


def fit_inside(img_size) -> A.BasicTransform:
    """Aspect-keeping resize so the image fits in (H, W); the letterbox's resize without the padding."""
    return A.LongestMaxSize(max_size_hw=as_size(img_size), interpolation=cv2.INTER_LINEAR, area_for_downscale="image")


def model_input_tail(img_size, mean: Sequence[float], std: Sequence[float], fill=PAPER_FILL) -> list:
    """Letterbox -> normalise -> CHW float tensor: the last steps of every pipeline."""
    h, w = as_size(img_size)
    if len(mean) != 3 or len(std) != 3 or any(s <= 0 for s in std):
        raise ValueError(f"mean and std need 3 values (RGB) with std > 0, got mean={mean}, std={std}")
    return [
        Letterbox(h, w, fill=fill),
        A.Normalize(mean=tuple(mean), std=tuple(std), max_pixel_value=255.0),
        ToTensorV2(),
    ]


def resolve_erasing_fill(fill, mean: Sequence[float]):
    """``"mean"`` = the normalisation mean in pixels, so erased pixels normalise to 0 (as fast-reid/LUPerson)."""
    if isinstance(fill, str) and fill == "mean":
        return tuple(float(m) * 255.0 for m in mean)
    return fill


class Pipeline:
    """Callable ``pipeline(image, box=None) -> torch.FloatTensor (3, H, W)``.

    ``box = (x, y, w, h)`` crops the person first (evaluation on full frames).
    ``compose`` is the underlying albumentations Compose.
    """

    def __init__(self, transforms: list, img_size, mean, std, fill=PAPER_FILL, seed: int | None = None):
        self.img_size = as_size(img_size)
        self.mean, self.std = tuple(float(v) for v in mean), tuple(float(v) for v in std)
        self.fill = tuple(int(v) for v in fill)
        # Without a seed follow torch's seed, so seed_everything() makes augmentation reproducible.
        self.seed = int(seed) if seed is not None else torch.initial_seed() % 2**32
        self.compose = A.Compose(transforms, seed=self.seed)
        self._worker_seed: int | None = None
        self._keyed = False

    def seed_sample(self, seed: int) -> None:
        """Draw the next call's augmentation from ``(self.seed, seed)`` alone.

        Training reseeds before every sample from (epoch, index) (``reidfw.data.datasets.epoch_keys``),
        so a sample looks the same whichever worker or process renders it, resumed runs included.
        """
        self._keyed = True  # the per-worker reseed below would override the sample's seed
        self.compose.set_random_seed(int(np.random.SeedSequence([self.seed, int(seed)]).generate_state(1)[0]))

    def _reseed_in_worker(self) -> None:
        # DataLoader workers are forked copies holding the *same* generator state, so
        # every worker would draw identical augmentations; reseed once per worker from
        # torch's per-worker seed (distinct per worker and per epoch, reproducible).
        if self._keyed:
            return
        info = torch.utils.data.get_worker_info()
        if info is not None and info.seed != self._worker_seed:
            self._worker_seed = info.seed
            self.compose.set_random_seed((self.seed + info.seed) % 2**32)

    def __call__(self, image: np.ndarray, box=None) -> torch.Tensor:
        self._reseed_in_worker()
        if box is not None:
            image = crop_box(image, box)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"pipelines take RGB uint8 (H, W, 3) images as read_image() returns, got "
                f"{image.dtype} {image.shape}"
            )
        return self.compose(image=image)["image"]

    def normalized_fill(self) -> torch.Tensor:
        """The letterbox gray after normalisation, shape (3,): what padding pixels hold in the tensor."""
        return (torch.tensor(self.fill, dtype=torch.float32) / 255.0 - torch.tensor(self.mean)) / torch.tensor(self.std)

    def __repr__(self) -> str:
        head = f"Pipeline(img_size={self.img_size}, mean={self.mean}, std={self.std}, seed={self.seed},"
        return f"{head}\n{self.compose})"
