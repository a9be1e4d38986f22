"""Two independently augmented views of one image (MoCo's query and key)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


class TwoViews:
    """``TwoViews(view)(image) -> (view(image), view(image))``; the two draws are independent.

    ``second`` gives an asymmetric recipe (a different pipeline for the key view).
    """

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
    def img_size(self) -> tuple[int, int]:
        return self.view1.img_size

    def __repr__(self) -> str:
        return f"TwoViews(\n{self.view1!r}" + ("" if self.view2 is self.view1 else f",\n{self.view2!r}") + ")"
