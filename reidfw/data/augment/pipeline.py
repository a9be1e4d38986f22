"""Training transforms: augmentation wrapped around the model-input contract.

Every training pipeline has the same shape::

    [crop to box] -> [ops on the raw crop] -> FitInside(size) -> augmentations
    -> pad_to(size, fill) -> normalize(mean, std)        (reidfw.model_input)

Augmenting *before* the padding keeps the letterbox fill exactly the fill, as at
evaluation: colour jitter or erasing never touch it. With no augmentation firing, the
output is bit for bit :func:`reidfw.model_input.to_model_input` of the same image.
"""
from __future__ import annotations

from collections.abc import Callable

import albumentations as A
import numpy as np
import torch

from reidfw.data.augment.ops import FitInside
from reidfw.model_input import InputSpec, Normalizer, crop_box, normalized_fill, pad_to, to_chw_tensor, to_model_input


class Pipeline:
    """Callable ``pipeline(image, box=None) -> float32 (3, H, W)``.

    ``before_fit`` ops see the raw crop (e.g. MoCo's random crop), ``after_fit`` ops the crop
    fitted into the model input. ``compose`` is the underlying albumentations Compose.
    """

    def __init__(self, spec: InputSpec, after_fit: list, before_fit: list | None = None, seed: int | None = None):
        self.spec = spec
        # Without a seed follow torch's seed, so seed_everything() makes augmentation reproducible.
        self.seed = int(seed) if seed is not None else torch.initial_seed() % 2**32
        self.compose = A.Compose([*(before_fit or []), FitInside(spec.size), *after_fit], seed=self.seed)
        self._normalize = Normalizer(spec)
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
        image = crop_box(image, box)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"pipelines take RGB uint8 (H, W, 3) images as read_image() returns, got {image.dtype} {image.shape}")
        fitted = self.compose(image=image)["image"]
        return self._normalize(to_chw_tensor(pad_to(fitted, self.spec.size, self.spec.fill)))

    def normalized_fill(self) -> torch.Tensor:
        return normalized_fill(self.spec)

    def __repr__(self) -> str:
        return f"Pipeline({self.spec}, seed={self.seed},\n{self.compose})"


class ModelInput:
    """The evaluation transform: :func:`reidfw.model_input.to_model_input`, nothing random."""

    def __init__(self, spec: InputSpec):
        self.spec = spec

    def __call__(self, image: np.ndarray, box=None) -> torch.Tensor:
        return to_model_input(image, self.spec, box)

    def normalized_fill(self) -> torch.Tensor:
        return normalized_fill(self.spec)

    def __repr__(self) -> str:
        return f"ModelInput({self.spec})"


class TwoViews:
    """``TwoViews(view)(image) -> (view(image), view(image))``, two independent draws (MoCo's
    query and key); ``second`` gives an asymmetric recipe."""

    def __init__(self, view: Callable[[np.ndarray], torch.Tensor], second: Callable | None = None):
        self.view1 = view
        self.view2 = second if second is not None else view

    def __call__(self, image: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return self.view1(image), self.view2(image)

    def seed_sample(self, seed: int) -> None:
        """Reseed both views for the next image (see ``Pipeline.seed_sample``); they still differ."""
        self.view1.seed_sample(seed)
        if self.view2 is not self.view1:  # one shared pipeline draws view 2 after view 1
            self.view2.seed_sample(seed + 1)

    @property
    def spec(self) -> InputSpec:
        return self.view1.spec

    def __repr__(self) -> str:
        return f"TwoViews(\n{self.view1!r}" + ("" if self.view2 is self.view1 else f",\n{self.view2!r}") + ")"
