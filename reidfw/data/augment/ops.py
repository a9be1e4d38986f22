"""reidfw's own albumentations ops: the steps torchreid / fast-reid / MoCo use that
albumentations does not do the way they do, plus the wrapper that puts
:func:`reidfw.model_input.fit` into a Compose.

- :class:`FitInside`: the letterbox's aspect-keeping resize (no padding); augmentation runs
  after it, so pixel-sized strengths (pad 10 px, blur sigma, erasing area) are in
  model-input pixels whatever the crop's resolution.
- :class:`PadRandomCrop`: ``Pad(10)`` + ``RandomCrop`` for crops of any size.
- :class:`RandomErasing`: Zhong et al.'s erasing with the area range torchreid reaches.
- :class:`PersonRandomCrop`: MoCo's RandomResizedCrop around a person's 1:2 box, minus the resize.
"""
from __future__ import annotations

import math
import random
from typing import Any

import albumentations as A
import cv2
import numpy as np

from reidfw.model_input import PAPER_FILL, as_size, fit

# Random erasing as in torchreid / fast-reid (Zhong et al.): 2-40 % of the area, aspect 0.3-3.3.
ERASING_SCALE = (0.02, 0.4)
ERASING_RATIO = (0.3, 3.3)
# MoCo's 3/4..4/3 crop aspect applied around the 1:2 person box (w / h): height:width 1.5:1 to 2.67:1.
PERSON_CROP_RATIO = (0.375, 2 / 3)
_ATTEMPTS = 10  # torchvision's number of tries before giving up on a box


def sample_box(
    rng: random.Random, height: int, width: int, scale, ratio, inside: str
) -> tuple[int, int, int, int] | None:
    """A box ``(x0, y0, w, h)`` covering ``scale`` of the area with aspect ``w / h`` log-uniform in
    ``ratio`` at a uniform position, as torchvision samples: up to 10 tries, else None.

    ``inside="strict"`` needs the box strictly smaller than the image (erasing),
    ``"fits"`` allows the whole image (cropping).
    """
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(_ATTEMPTS):
        target = area * rng.uniform(*scale)
        r = math.exp(rng.uniform(log_lo, log_hi))
        w, h = int(round(math.sqrt(target * r))), int(round(math.sqrt(target / r)))
        ok = (0 < w < width and 0 < h < height) if inside == "strict" else (0 < w <= width and 0 < h <= height)
        if ok:
            y0 = rng.randint(0, height - h)
            return rng.randint(0, width - w), y0, w, h
    return None


class FitInside(A.ImageOnlyTransform):
    """:func:`reidfw.model_input.fit` as a Compose step (the same function evaluation uses)."""

    def __init__(self, size, p: float = 1.0):
        super().__init__(p=p)
        self.size = as_size(size)

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        return fit(img, self.size)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("size",)


class PadRandomCrop(A.ImageOnlyTransform):
    """Pad by ``pad`` px on every side with ``fill``, cut a window of the original size at a random
    offset: the content shifts by up to ``pad`` px, the letterbox gray entering from the border.
    (albumentations' RandomCrop needs a fixed output size, which a fitted crop does not have.)"""

    def __init__(self, pad: int = 10, fill: tuple[int, int, int] = PAPER_FILL, p: float = 1.0):
        super().__init__(p=p)
        if int(pad) < 0:
            raise ValueError(f"pad must be >= 0 pixels, got {pad}; use 0 (or p=0) to switch pad-and-crop off")
        self.pad = int(pad)
        self.fill = tuple(int(v) for v in fill)

    def get_params(self) -> dict[str, Any]:
        return {"dx": self.py_random.randint(0, 2 * self.pad), "dy": self.py_random.randint(0, 2 * self.pad)}

    def apply(self, img: np.ndarray, dx: int = 0, dy: int = 0, **params: Any) -> np.ndarray:
        if self.pad == 0:
            return img
        h, w = img.shape[:2]
        p = self.pad
        padded = cv2.copyMakeBorder(img, p, p, p, p, cv2.BORDER_CONSTANT, value=self.fill[: img.shape[2]])
        return np.ascontiguousarray(padded[dy : dy + h, dx : dx + w])

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("pad", "fill")


class RandomErasing(A.Erasing):
    """Erasing sampled as torchvision / torchreid do (area uniform in ``scale``, aspect log-uniform).

    albumentations 2.0.8's ``Erasing`` caps the area so that a box of *any* allowed aspect fits;
    on a tall 384x128 input that cap is ~10 % instead of 40 %, and when the minimum area exceeds
    it no ``seed`` is returned and it crashes. Filling (constant, "random", ...) is albumentations'.
    """

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        box = sample_box(self.py_random, height, width, self.scale, self.ratio, inside="strict")
        holes = np.zeros((0, 4), dtype=np.int32)
        if box is not None:
            x0, y0, w, h = box
            holes = np.array([[x0, y0, x0 + w, y0 + h]], dtype=np.int32)
        return {"holes": holes, "seed": self.random_generator.integers(0, 2**32 - 1)}


class PersonRandomCrop(A.ImageOnlyTransform):
    """MoCo's RandomResizedCrop for person crops, without the resize: the pipeline then fits
    the crop into the model input and letterboxes it, so training never sees people stretched
    in a way evaluation does not produce."""

    def __init__(self, scale=(0.2, 1.0), ratio=PERSON_CROP_RATIO, p: float = 1.0):
        super().__init__(p=p)
        scale, ratio = tuple(float(v) for v in scale), tuple(float(v) for v in ratio)
        if not (0 < scale[0] <= scale[1] <= 1):
            raise ValueError(f"crop scale must satisfy 0 < min <= max <= 1 (area fractions), got {scale}")
        if not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f"crop ratio (width / height) must satisfy 0 < min <= max, got {ratio}")
        self.scale, self.ratio = scale, ratio

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        # scale (1, 1) asks for the whole crop: sampling would only hit it up to rounding
        box = None if self.scale[0] >= 1.0 else sample_box(self.py_random, height, width, self.scale, self.ratio, inside="fits")
        if box is not None:
            return {"crop": box}
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
