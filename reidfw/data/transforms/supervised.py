"""Training augmentation for the supervised methods (ArcFace on tracks, triplet).

The torchreid / fast-reid recipe on top of the paper's preprocessing:
colour jitter -> horizontal flip -> pad-and-random-crop -> random erasing, each
switched off by setting its probability (or ``pad``) to 0. Colour jitter runs
before the pad-and-crop so the gray that enters from the border stays the
letterbox gray. See :mod:`reidfw.data.transforms.pipeline` for the order's reasons.
"""
from __future__ import annotations

import albumentations as A

from reidfw.data.transforms.letterbox import PAPER_FILL
from reidfw.data.transforms.normalize import MEAN, STD
from reidfw.data.transforms.erasing import RandomErasing
from reidfw.data.transforms.pad_crop import PadRandomCrop
from reidfw.data.transforms.pipeline import Pipeline, resolve_erasing_fill, fit_inside, model_input_tail

# Random erasing as in torchreid / fast-reid (Zhong et al.): 2-40 % of the area, aspect 0.3-3.3.
ERASING_SCALE = (0.02, 0.4)
ERASING_RATIO = (0.3, 3.3)


def build_supervised_transform(
    img_size=(384, 128),
    *,
    flip_p: float = 0.5,
    pad: int = 10,
    pad_p: float = 1.0,
    color_jitter_p: float = 0.5,
    brightness: float = 0.2,
    contrast: float = 0.15,
    saturation: float = 0.0,
    hue: float = 0.0,
    erasing_p: float = 0.5,
    erasing_scale=ERASING_SCALE,
    erasing_ratio=ERASING_RATIO,
    erasing_fill="mean",
    mean=MEAN,
    std=STD,
    fill=PAPER_FILL,
    seed: int | None = None,
) -> Pipeline:
    """``t(image) -> (3, H, W)`` float tensor.

    pad: pixels of the model input (pad-and-crop shifts the person by up to that much);
    erasing_fill: "mean" (erased pixels normalise to 0), a pixel value/RGB tuple, or "random".
    """
    steps: list = [fit_inside(img_size)]
    if color_jitter_p > 0:
        steps.append(
            A.ColorJitter(brightness=brightness, contrast=contrast, saturation=saturation, hue=hue, p=color_jitter_p)
        )
    if flip_p > 0:
        steps.append(A.HorizontalFlip(p=flip_p))
    if pad > 0 and pad_p > 0:
        steps.append(PadRandomCrop(pad=pad, fill=fill, p=pad_p))
    if erasing_p > 0:
        steps.append(
            RandomErasing(
                scale=tuple(erasing_scale),
                ratio=tuple(erasing_ratio),
                fill=resolve_erasing_fill(erasing_fill, mean),
                p=erasing_p,
            )
        )
    steps += model_input_tail(img_size, mean, std, fill)
    return Pipeline(steps, img_size, mean, std, fill, seed=seed)
