"""The augmentation recipes, each a dict of options, and ``build_transform(kind, spec, **options)``.

``supervised`` (ArcFace on tracks, triplet): the torchreid / fast-reid recipe on top of the
paper's preprocessing — colour jitter -> horizontal flip -> pad-and-random-crop -> random
erasing, each switched off by setting its probability (or ``pad``) to 0. Colour jitter runs
before the pad-and-crop so the gray that enters from the border stays the letterbox gray.

``mocov2`` (MoCo v2, Chen et al. 2020): a random crop of 20-100 % of the area around the
person's aspect, ColorJitter(0.4, 0.4, 0.4, 0.1) p 0.8, grayscale p 0.2, Gaussian blur
sigma 0.1-2.0 p 0.5, horizontal flip. Blur sigma is in model-input pixels.

``luperson`` (Fu et al.'s LUPerson pre-training): the same without colour jitter (clothing
colour is the strongest identity cue; jittering it teaches the model to ignore it), plus
random erasing p 0.5.

``canonicalize=<orientation estimator>`` (any recipe) mirrors every crop facing the other half-circle
first (:mod:`reidfw.data.augment.canonical`) and switches the recipe's random flip off.
"""
from __future__ import annotations

import logging

import albumentations as A

from reidfw.data.augment.ops import ERASING_RATIO, ERASING_SCALE, PERSON_CROP_RATIO, PadRandomCrop, PersonRandomCrop, RandomErasing
from reidfw.data.augment.pipeline import ModelInput, Pipeline, TwoViews
from reidfw.model_input import InputSpec

log = logging.getLogger(__name__)

_ERASING = dict(erasing_scale=ERASING_SCALE, erasing_ratio=ERASING_RATIO, erasing_fill="mean")
SUPERVISED = dict(
    flip_p=0.5, pad=10, pad_p=1.0,
    color_jitter_p=0.5, brightness=0.2, contrast=0.15, saturation=0.0, hue=0.0,
    erasing_p=0.5, **_ERASING,
)  # fmt: skip
MOCOV2 = dict(
    crop_scale=(0.2, 1.0), crop_ratio=PERSON_CROP_RATIO,
    color_jitter_p=0.8, brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, gray_p=0.2,
    blur_p=0.5, blur_sigma=(0.1, 2.0), flip_p=0.5, erasing_p=0.0, **_ERASING,
)  # fmt: skip
CONTRASTIVE_RECIPES = {"mocov2": MOCOV2, "luperson": {**MOCOV2, "color_jitter_p": 0.0, "erasing_p": 0.5}}


def _erasing_fill(fill, spec: InputSpec):
    """``"mean"`` = the normalisation mean in pixels, so erased pixels normalise to 0 (fast-reid / LUPerson)."""
    return tuple(m * 255.0 for m in spec.mean) if fill == "mean" else fill


def _erasing(o: dict, spec: InputSpec) -> RandomErasing:
    fill = _erasing_fill(o["erasing_fill"], spec)
    return RandomErasing(scale=tuple(o["erasing_scale"]), ratio=tuple(o["erasing_ratio"]), fill=fill, p=o["erasing_p"])


def _color_jitter(o: dict) -> A.ColorJitter:
    return A.ColorJitter(
        brightness=o["brightness"], contrast=o["contrast"], saturation=o["saturation"], hue=o["hue"], p=o["color_jitter_p"]
    )


def _canonical(o: dict, canonicalize) -> list:
    """The canonicalising first step (and no random flip after it), or nothing."""
    if canonicalize is None:
        return []
    from reidfw.data.augment.canonical import CanonicalFlip

    if o["flip_p"] > 0:
        log.info("canonicalisation on: the recipe's random horizontal flip (p=%s) is switched off", o["flip_p"])
        o["flip_p"] = 0.0
    return [CanonicalFlip(canonicalize)]


def _options(defaults: dict, given: dict, what: str) -> dict:
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise TypeError(f"{what} has no option(s) {unknown}; it accepts {sorted(defaults)}")
    return {**defaults, **given}


def build_supervised_transform(spec: InputSpec, *, seed: int | None = None, canonicalize=None, **options) -> Pipeline:
    """``t(image) -> (3, H, W)``; options as in ``SUPERVISED`` (pad in model-input pixels,
    erasing_fill "mean" / a pixel value / an RGB tuple / "random")."""
    o = _options(SUPERVISED, options, "the supervised transform")
    first = _canonical(o, canonicalize)
    steps: list = []
    if o["color_jitter_p"] > 0:
        steps.append(_color_jitter(o))
    if o["flip_p"] > 0:
        steps.append(A.HorizontalFlip(p=o["flip_p"]))
    if o["pad"] > 0 and o["pad_p"] > 0:
        steps.append(PadRandomCrop(pad=o["pad"], fill=spec.fill, p=o["pad_p"]))
    if o["erasing_p"] > 0:
        steps.append(_erasing(o, spec))
    return Pipeline(spec, steps, before_fit=first, seed=seed)


def build_contrastive_view(
    spec: InputSpec, *, recipe: str = "mocov2", seed: int | None = None, canonicalize=None, **options
) -> Pipeline:
    """One view of a MoCo recipe; options override the recipe's values (see ``MOCOV2``)."""
    if recipe not in CONTRASTIVE_RECIPES:
        raise ValueError(f"unknown contrastive recipe {recipe!r}; choose one of {sorted(CONTRASTIVE_RECIPES)}")
    o = _options(CONTRASTIVE_RECIPES[recipe], options, f"the {recipe} recipe")
    first = _canonical(o, canonicalize)
    steps: list = []
    if o["color_jitter_p"] > 0:
        steps.append(_color_jitter(o))
    if o["gray_p"] > 0:
        steps.append(A.ToGray(num_output_channels=3, p=o["gray_p"]))
    if o["blur_p"] > 0:
        # blur_limit=0: kernel size derived from sigma, like PIL's GaussianBlur(radius=sigma) in MoCo's code
        steps.append(A.GaussianBlur(blur_limit=0, sigma_limit=tuple(o["blur_sigma"]), p=o["blur_p"]))
    if o["flip_p"] > 0:
        steps.append(A.HorizontalFlip(p=o["flip_p"]))
    if o["erasing_p"] > 0:
        steps.append(_erasing(o, spec))
    crop = PersonRandomCrop(scale=o["crop_scale"], ratio=o["crop_ratio"])
    return Pipeline(spec, steps, before_fit=[*first, crop], seed=seed)


def build_contrastive_transform(spec: InputSpec, **options) -> TwoViews:
    """``t(image) -> (view1, view2)``, two independent draws of :func:`build_contrastive_view`."""
    return TwoViews(build_contrastive_view(spec, **options))


def build_evaluation_transform(spec: InputSpec) -> ModelInput:
    return ModelInput(spec)


# "contrastive" returns TwoViews (what UnlabeledDataset needs); "contrastive_view" one view.
BUILDERS = {
    "supervised": build_supervised_transform,
    "contrastive": build_contrastive_transform,
    "contrastive_view": build_contrastive_view,
    "evaluation": build_evaluation_transform,
}
KINDS = tuple(BUILDERS)


def build_transform(kind: str, spec: InputSpec, **options):
    """supervised / contrastive_view -> Pipeline; contrastive -> TwoViews; evaluation -> ModelInput."""
    if kind not in BUILDERS:
        raise ValueError(f"unknown transform kind {kind!r}; choose one of {list(KINDS)}")
    if kind == "evaluation" and options:
        raise TypeError(f"the evaluation transform takes no options (it is the model input itself); got {sorted(options)}")
    return BUILDERS[kind](spec, **options)
