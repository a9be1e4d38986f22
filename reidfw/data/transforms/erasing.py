"""Random erasing (Zhong et al.) with the area range torchreid / fast-reid actually reach.

albumentations 2.0.8's ``Erasing`` caps the erased area so that a box of *any*
allowed aspect ratio fits; on a tall 384x128 person input that cap is ~10 % of
the image instead of the configured 40 %, and when the minimum area exceeds the
cap it returns no ``seed`` parameter and crashes. This subclass samples as
torchvision / torchreid do: area uniform in ``scale``, aspect ``w / h``
log-uniform in ``ratio``, retried until the box fits (else nothing is erased),
and reuses albumentations' filling (constant, "random", inpainting).
"""
from __future__ import annotations

import math
from typing import Any

import albumentations as A
import numpy as np

_ATTEMPTS = 10


class RandomErasing(A.Erasing):
    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        holes = np.zeros((0, 4), dtype=np.int32)
        log_lo, log_hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        for _ in range(_ATTEMPTS):
            area = height * width * self.py_random.uniform(*self.scale)
            r = math.exp(self.py_random.uniform(log_lo, log_hi))
            h, w = int(round(math.sqrt(area / r))), int(round(math.sqrt(area * r)))
            if 0 < h < height and 0 < w < width:
                top = self.py_random.randint(0, height - h)
                left = self.py_random.randint(0, width - w)
                holes = np.array([[left, top, left + w, top + h]], dtype=np.int32)
                break
        return {"holes": holes, "seed": self.random_generator.integers(0, 2**32 - 1)}
