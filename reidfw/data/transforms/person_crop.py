"""MoCo's RandomResizedCrop for person crops, minus the resize.

MoCo v2 samples a crop covering ``scale`` of the image area with an aspect ratio
around 1:1 and stretches it to a square. A person crop is about twice as tall as
wide, so here the aspect ratio ``w / h`` is sampled log-uniformly in ``ratio``,
default (0.375, 0.667): MoCo's 3/4..4/3 range applied around the 1:2 person box,
i.e. height:width between 1.5:1 and 2.67:1. The crop is *not* resized here: the
pipeline then fits it into the model input keeping its aspect ratio and
letterboxes it like the paper's evaluation preprocessing, so training never
sees people stretched in a way evaluation does not produce.
"""
from __future__ import annotations

import math
from typing import Any

import albumentations as A
import numpy as np

PERSON_CROP_RATIO = (0.375, 2 / 3)
_ATTEMPTS = 10


class PersonRandomCrop(A.ImageOnlyTransform):
    def __init__(
        self,
        scale: tuple[float, float] = (0.2, 1.0),
        ratio: tuple[float, float] = PERSON_CROP_RATIO,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        scale, ratio = tuple(float(v) for v in scale), tuple(float(v) for v in ratio)
        if not (0 < scale[0] <= scale[1] <= 1):
            raise ValueError(f"crop scale must satisfy 0 < min <= max <= 1 (area fractions), got {scale}")
        if not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f"crop ratio (width / height) must satisfy 0 < min <= max, got {ratio}")
        self.scale, self.ratio = scale, ratio

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        area = height * width
        log_lo, log_hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        for _ in range(_ATTEMPTS):
            target = area * self.py_random.uniform(*self.scale)
            r = math.exp(self.py_random.uniform(log_lo, log_hi))
            w = int(round(math.sqrt(target * r)))
            h = int(round(math.sqrt(target / r)))
            if 0 < w <= width and 0 < h <= height:
                y0 = self.py_random.randint(0, height - h)
                x0 = self.py_random.randint(0, width - w)
                return {"crop": (x0, y0, w, h)}
        # Fallback (as torchvision): the largest centred crop whose aspect is inside ``ratio``.
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            w, h = width, int(round(width / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            h, w = height, int(round(height * self.ratio[1]))
        else:
            w, h = width, height
        h, w = max(1, min(h, height)), max(1, min(w, width))
        return {"crop": ((width - w) // 2, (height - h) // 2, w, h)}

    def apply(self, img: np.ndarray, crop: tuple[int, int, int, int] = None, **params: Any) -> np.ndarray:
        x0, y0, w, h = crop
        return np.ascontiguousarray(img[y0 : y0 + h, x0 : x0 + w])

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("scale", "ratio")
