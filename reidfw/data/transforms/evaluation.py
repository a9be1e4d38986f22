"""The paper's evaluation preprocessing: crop to the person box -> letterbox -> normalise.

Shared by validation (Market query/gallery) and the evaluation package (study
images, with their optional box), so both see exactly the same model input.
"""
from __future__ import annotations

from reidfw.data.transforms.letterbox import PAPER_FILL
from reidfw.data.transforms.normalize import MEAN, STD
from reidfw.data.transforms.pipeline import Pipeline, model_input_tail

PAPER_IMG_SIZE = (384, 128)


def build_evaluation_transform(img_size=PAPER_IMG_SIZE, *, mean=MEAN, std=STD, fill=PAPER_FILL) -> Pipeline:
    """``t(image, box=None) -> (3, H, W)`` float tensor; no randomness."""
    return Pipeline(model_input_tail(img_size, mean, std, fill), img_size, mean, std, fill, seed=0)
