"""Orientation canonicalisation as a training step: mirror every crop whose estimated yaw lies in the
other half-circle (180, 360), so the network only ever sees people facing [0, 180] (the paper's
proposal; the estimator and the rule are in :mod:`reidfw.orientation`).

It runs first, on the raw person crop (before any random step), and it replaces the recipe's random
horizontal flip: a random flip after it would undo it half of the time, so the recipes switch their
``flip_p`` off when a canonicaliser is given (and say so in the log).
"""
from __future__ import annotations

from typing import Any, Protocol

import albumentations as A
import numpy as np


class HalfCircleJudge(Protocol):
    def faces_other_half(self, image: np.ndarray) -> bool: ...


class CanonicalFlip(A.ImageOnlyTransform):
    """Mirror the crop when ``estimator.faces_other_half(crop)``; deterministic (no randomness)."""

    def __init__(self, estimator: HalfCircleJudge, p: float = 1.0):
        super().__init__(p=p)
        if not hasattr(estimator, "faces_other_half"):
            raise TypeError(f"CanonicalFlip needs an orientation estimator with faces_other_half(image), got {type(estimator).__name__}")
        self.estimator = estimator

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        return np.ascontiguousarray(img[:, ::-1]) if self.estimator.faces_other_half(img) else img

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ()
