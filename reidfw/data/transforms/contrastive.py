"""Two-view augmentation for MoCo, in two recipes.

``"mocov2"``: MoCo v2 (Chen et al. 2020) — random crop of 20-100 % of the area,
ColorJitter(0.4, 0.4, 0.4, 0.1) with p 0.8, grayscale p 0.2, Gaussian blur
sigma 0.1-2.0 with p 0.5, horizontal flip.

``"luperson"``: Fu et al.'s LUPerson pre-training variant — the same without
colour jitter (clothing colour is the strongest identity cue, jittering it
teaches the model to ignore it), plus random erasing p 0.5 (2-40 % of the area).

Differences from ImageNet MoCo, on purpose: the crop's aspect ratio is sampled
around a person's 1:2 box (see :mod:`reidfw.data.transforms.person_crop`), and it
is letterboxed into the model input instead of stretched, as at evaluation.
Blur sigma is in model-input pixels (the crop is fitted to the input first).
"""
from __future__ import annotations

import albumentations as A

from reidfw.data.transforms.erasing import RandomErasing
from reidfw.data.transforms.letterbox import PAPER_FILL
from reidfw.data.transforms.normalize import MEAN, STD
from reidfw.data.transforms.person_crop import PERSON_CROP_RATIO, PersonRandomCrop
from reidfw.data.transforms.pipeline import Pipeline, resolve_erasing_fill, fit_inside, model_input_tail
from reidfw.data.transforms.supervised import ERASING_RATIO, ERASING_SCALE
from reidfw.data.transforms.two_views import TwoViews

_MOCOV2 = dict(
    crop_scale=(0.2, 1.0),
    crop_ratio=PERSON_CROP_RATIO,
    color_jitter_p=0.8,
    brightness=0.4,
    contrast=0.4,
    saturation=0.4,
    hue=0.1,
    gray_p=0.2,
    blur_p=0.5,
    blur_sigma=(0.1, 2.0),
    flip_p=0.5,
    erasing_p=0.0,
    erasing_scale=ERASING_SCALE,
    erasing_ratio=ERASING_RATIO,
    erasing_fill="mean",
)
RECIPES = {"mocov2": _MOCOV2, "luperson": {**_MOCOV2, "color_jitter_p": 0.0, "erasing_p": 0.5}}


def build_contrastive_view(
    img_size=(384, 128),
    *,
    recipe: str = "mocov2",
    crop_scale=None,
    crop_ratio=None,
    color_jitter_p: float | None = None,
    brightness: float | None = None,
    contrast: float | None = None,
    saturation: float | None = None,
    hue: float | None = None,
    gray_p: float | None = None,
    blur_p: float | None = None,
    blur_sigma=None,
    flip_p: float | None = None,
    erasing_p: float | None = None,
    erasing_scale=None,
    erasing_ratio=None,
    erasing_fill=None,
    mean=MEAN,
    std=STD,
    fill=PAPER_FILL,
    seed: int | None = None,
) -> Pipeline:
    """One view: ``t(image) -> (3, H, W)``. Options left at None take the recipe's value."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown contrastive recipe {recipe!r}; choose one of {sorted(RECIPES)}")
    given = dict(
        crop_scale=crop_scale, crop_ratio=crop_ratio, color_jitter_p=color_jitter_p, brightness=brightness,
        contrast=contrast, saturation=saturation, hue=hue, gray_p=gray_p, blur_p=blur_p, blur_sigma=blur_sigma,
        flip_p=flip_p, erasing_p=erasing_p, erasing_scale=erasing_scale, erasing_ratio=erasing_ratio,
        erasing_fill=erasing_fill,
    )  # fmt: skip
    o = {**RECIPES[recipe], **{k: v for k, v in given.items() if v is not None}}

    steps: list = [PersonRandomCrop(scale=o["crop_scale"], ratio=o["crop_ratio"]), fit_inside(img_size)]
    if o["color_jitter_p"] > 0:
        steps.append(
            A.ColorJitter(
                brightness=o["brightness"], contrast=o["contrast"], saturation=o["saturation"], hue=o["hue"],
                p=o["color_jitter_p"],
            )
        )  # fmt: skip
    if o["gray_p"] > 0:
        steps.append(A.ToGray(num_output_channels=3, p=o["gray_p"]))
    if o["blur_p"] > 0:
        # blur_limit=0: kernel size derived from sigma, like PIL's GaussianBlur(radius=sigma) in MoCo's code
        steps.append(A.GaussianBlur(blur_limit=0, sigma_limit=tuple(o["blur_sigma"]), p=o["blur_p"]))
    if o["flip_p"] > 0:
        steps.append(A.HorizontalFlip(p=o["flip_p"]))
    if o["erasing_p"] > 0:
        steps.append(
            RandomErasing(
                scale=tuple(o["erasing_scale"]), ratio=tuple(o["erasing_ratio"]),
                fill=resolve_erasing_fill(o["erasing_fill"], mean), p=o["erasing_p"],
            )
        )  # fmt: skip
    steps += model_input_tail(img_size, mean, std, fill)
    return Pipeline(steps, img_size, mean, std, fill, seed=seed)


def build_contrastive_transform(img_size=(384, 128), **options) -> TwoViews:
    """``t(image) -> (view1, view2)``, two independent draws of :func:`build_contrastive_view`."""
    return TwoViews(build_contrastive_view(img_size, **options))
