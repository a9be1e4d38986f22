"""The paper's letterbox as an albumentations transform, so it can end a Compose."""
from __future__ import annotations

from typing import Any

import albumentations as A
import numpy as np

from reidfw.data.transforms.letterbox import PAPER_FILL, letterbox


class Letterbox(A.ImageOnlyTransform):
    """Aspect-keeping resize into (height, width), the rest filled with ``fill``.

    Delegates to :func:`reidfw.data.transforms.letterbox.letterbox` so training,
    validation and the study all share one definition of the model input.
    """

    def __init__(self, height: int, width: int, fill: tuple[int, int, int] = PAPER_FILL, p: float = 1.0):
        super().__init__(p=p)
        self.height, self.width = int(height), int(width)
        self.fill = tuple(int(v) for v in fill)

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        return letterbox(img, (self.height, self.width), fill=self.fill)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("height", "width", "fill")
