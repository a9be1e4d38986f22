"""The input spec: what a model expects to be fed, as data carried with the model.

An :class:`InputSpec` is resolved once when a model is built for training
(``resolve_input_spec``: an explicit override wins over the backbone's default,
which wins over reidfw's constants), stored in the Lightning checkpoint's
hyper-parameters, written into the exported ``model.json`` and read back by
every consumer (validation, ``evaluate.py``, the study, attribution, tracking
crops). So a model is always fed exactly as it was trained, as timm derives a
model's preprocessing from its ``pretrained_cfg``.

This module is a leaf: it imports nothing from reidfw.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

# ImageNet statistics: torchvision's convention, LUPerson's MoCo weights, and reidfw's training input.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# insightface trains its iresnet backbones on (x - 0.5) / 0.5: a public backbone.pth needs it.
INSIGHTFACE_MEAN = (0.5, 0.5, 0.5)
INSIGHTFACE_STD = (0.5, 0.5, 0.5)
# The paper's letterbox fill, RGB (128, 128, 128), and its input H x W.
PAPER_FILL = (128, 128, 128)
PAPER_SIZE = (384, 128)
# Aspect-keeping resize into (H, W), centred, the rest filled (area interpolation when shrinking,
# bilinear when enlarging). The only rule reidfw implements; recorded so a reader of model.json knows it.
LETTERBOX = "letterbox-center"


class InputSpecError(ValueError):
    """An input spec (from a config, a checkpoint or model.json) that cannot be used."""


def as_size(size: Any) -> tuple[int, int]:
    """``(height, width)`` from any 2-sequence (Hydra gives ListConfig); a clear error otherwise."""
    try:
        values = tuple(size)
        h, w = (int(v) for v in values)
        ok = len(values) == 2 and h > 0 and w > 0 and all(float(v) == int(v) for v in values)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputSpecError(f"img_size must be (height, width) with two positive integers, e.g. (384, 128); got {size!r}")
    return h, w


def _triple(name: str, values: Any, positive: bool = False) -> tuple[float, float, float]:
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        out = ()
    if len(out) != 3 or not all(math.isfinite(v) for v in out) or (positive and any(v <= 0 for v in out)):
        need = "3 positive numbers (R, G, B)" if positive else "3 numbers (R, G, B)"
        raise InputSpecError(f"input {name} must be {need}, got {values!r}")
    return out  # type: ignore[return-value]


@dataclass(frozen=True)
class InputSpec:
    """Model input: ``size`` (H, W) RGB, pixels scaled to [0, 1] then ``(x - mean) / std``,
    a person crop letterboxed into ``size`` with ``fill`` (RGB 0-255) around it."""

    size: tuple[int, int] = PAPER_SIZE
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    fill: tuple[int, int, int] = PAPER_FILL
    channel_order: str = "RGB"
    resize: str = LETTERBOX

    def __post_init__(self) -> None:
        # Normalise and validate once, so every holder of an InputSpec can trust it.
        object.__setattr__(self, "size", as_size(self.size))
        object.__setattr__(self, "mean", _triple("mean", self.mean))
        object.__setattr__(self, "std", _triple("std", self.std, positive=True))
        fill = _triple("fill", self.fill)
        if any(not 0 <= v <= 255 or v != int(v) for v in fill):
            raise InputSpecError(f"input fill must be 3 integers in 0..255 (an RGB colour), got {self.fill!r}")
        object.__setattr__(self, "fill", tuple(int(v) for v in fill))
        if self.channel_order != "RGB":
            raise InputSpecError(f"input channel_order {self.channel_order!r}: reidfw reads images as RGB; use 'RGB'")
        if self.resize != LETTERBOX:
            raise InputSpecError(f"input resize {self.resize!r}: the only rule implemented is {LETTERBOX!r}")

    @property
    def height(self) -> int:
        return self.size[0]

    @property
    def width(self) -> int:
        return self.size[1]

    def with_size(self, size: Sequence[int]) -> InputSpec:
        return replace(self, size=as_size(size))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (lists, not tuples): what checkpoints and model.json hold."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InputSpec:
        if not isinstance(d, Mapping):
            raise InputSpecError(f"an input spec must be a mapping with size/mean/std/fill, got {type(d).__name__}")
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputSpecError(f"unknown input spec keys {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
        if "size" not in d:
            raise InputSpecError("an input spec needs size: [height, width]")
        return cls(**dict(d))


def resolve_input_spec(
    *,
    size: Sequence[int] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    fill: Sequence[int] | None = None,
    default: InputSpec | None = None,
) -> InputSpec:
    """The spec a model is trained with: each value given here wins over ``default``
    (the backbone's own spec), which wins over reidfw's constants."""
    base = default if default is not None else InputSpec()
    given = {"size": size, "mean": mean, "std": std, "fill": fill}
    return replace(base, **{k: v for k, v in given.items() if v is not None})
