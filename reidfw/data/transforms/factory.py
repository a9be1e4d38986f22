"""``build_transform(kind, img_size, **options)``: one entry point for configs."""
from __future__ import annotations

import inspect

from reidfw.data.transforms.contrastive import build_contrastive_transform, build_contrastive_view
from reidfw.data.transforms.evaluation import build_evaluation_transform
from reidfw.data.transforms.supervised import build_supervised_transform

# "contrastive" returns TwoViews (what UnlabeledDataset needs); "contrastive_view" one view.
BUILDERS = {
    "supervised": build_supervised_transform,
    "contrastive": build_contrastive_transform,
    "contrastive_view": build_contrastive_view,
    "evaluation": build_evaluation_transform,
}
KINDS = tuple(BUILDERS)


def transform_options(kind: str) -> list[str]:
    """The option names ``kind`` accepts (keyword arguments of its builder)."""
    # contrastive passes its options through to contrastive_view's keyword arguments
    builder = BUILDERS["contrastive_view" if kind == "contrastive" else kind]
    return [n for n, p in inspect.signature(builder).parameters.items() if p.kind is p.KEYWORD_ONLY]


def build_transform(kind: str, img_size=(384, 128), **options):
    """supervised / contrastive_view / evaluation -> Pipeline; contrastive -> TwoViews."""
    if kind not in KINDS:
        raise ValueError(f"unknown transform kind {kind!r}; choose one of {list(KINDS)}")
    allowed = transform_options(kind)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"transform kind {kind!r} has no option(s) {unknown}; it accepts {allowed}")
    return BUILDERS[kind](img_size, **options)
