"""Pad-and-random-crop (torchreid / fast-reid's ``Pad(10)`` + ``RandomCrop``).

Works on images of any size: the image is padded by ``pad`` pixels on every side
and a window of the original size is cut at a random offset, i.e. the content is
shifted by up to ``pad`` pixels in x and y with ``fill`` entering from the border.
albumentations' RandomCrop needs a fixed output size, which a person crop that
has only been fitted inside the model input (one side shorter) does not have.
"""
from __future__ import annotations

from typing import Any

import albumentations as A
import cv2
import numpy as np

from reidfw.data.transforms.letterbox import PAPER_FILL


class PadRandomCrop(A.ImageOnlyTransform):
    def __init__(self, pad: int = 10, fill: tuple[int, int, int] = PAPER_FILL, p: float = 1.0):
        super().__init__(p=p)
        if int(pad) < 0:
            raise ValueError(f"pad must be >= 0 pixels, got {pad}; use 0 (or p=0) to switch pad-and-crop off")
        self.pad = int(pad)
        self.fill = tuple(int(v) for v in fill)

    def get_params(self) -> dict[str, Any]:
        # offsets of the crop window inside the padded image; pad = centred (no shift)
        return {"dx": self.py_random.randint(0, 2 * self.pad), "dy": self.py_random.randint(0, 2 * self.pad)}

    def apply(self, img: np.ndarray, dx: int = 0, dy: int = 0, **params: Any) -> np.ndarray:
        if self.pad == 0:
            return img
        h, w = img.shape[:2]
        padded = cv2.copyMakeBorder(
            img, self.pad, self.pad, self.pad, self.pad, cv2.BORDER_CONSTANT, value=self.fill[: img.shape[2]]
        )
        return np.ascontiguousarray(padded[dy : dy + h, dx : dx + w])

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("pad", "fill")
