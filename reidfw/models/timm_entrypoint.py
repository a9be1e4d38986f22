"""Plumbing shared by reidfw's timm entrypoints (``iresnet*``, ``reid_resnet*``).

``timm.create_model`` calls every registered entrypoint with factory arguments
(``pretrained_cfg``, ``pretrained_cfg_overlay``, ``cache_dir``, and optionally
``device``/``dtype``) that reidfw's constructors do not take; this module
strips them so the constructors keep plain signatures.
"""
from __future__ import annotations

from typing import Any, Callable

from reidfw.data.transforms.normalize import MEAN, STD

import torch.nn as nn
from timm.models import register_model

_FACTORY_ONLY = ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir")


def split_factory_kwargs(name: str, pretrained: bool, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (constructor kwargs, placement kwargs); refuse ``pretrained=True``.

    reidfw publishes no downloadable weights: trained or public weights are
    loaded from a file with ``reidfw.models.checkpoints.load_embedding_model``.
    """
    if pretrained:
        raise ValueError(
            f"reidfw/models/timm_entrypoint.py: {name} has no downloadable weights (pretrained=True was passed). "
            f"Build it with pretrained=False and load weights with "
            f"reidfw.models.load_embedding_model(path, arch={name!r})."
        )
    ctor = {k: v for k, v in kwargs.items() if k not in _FACTORY_ONLY and k not in ("device", "dtype")}
    placement = {k: kwargs[k] for k in ("device", "dtype") if kwargs.get(k) is not None}
    return ctor, placement


def place(model: nn.Module, placement: dict[str, Any]) -> nn.Module:
    return model.to(**placement) if placement else model


def register_family(module_name: str, names: list[str], build: Callable[..., nn.Module]) -> None:
    """Register ``timm.create_model(name, **kwargs)`` for each name as ``build(name, **kwargs)``.

    timm keys an entrypoint by its function's ``__name__`` and ``__module__``, so one
    generated function per name replaces a hand-written twin per depth.
    """
    for name in names:
        register_model(_entrypoint(module_name, name, build))


def _entrypoint(module_name: str, name: str, build: Callable[..., nn.Module]):
    def entrypoint(pretrained: bool = False, **kwargs) -> nn.Module:
        ctor, placement = split_factory_kwargs(name, pretrained, kwargs)
        return place(build(name, **ctor), placement)

    entrypoint.__name__ = entrypoint.__qualname__ = name
    entrypoint.__module__ = module_name
    entrypoint.__doc__ = f"reidfw {name} (see {module_name})."
    return entrypoint


def reid_pretrained_cfg(img_size: tuple[int, int]) -> dict[str, Any]:
    """The data config timm reads from a model (``resolve_data_config``); a trained
    model's actual normalisation is recorded in its reidfw model spec."""
    return {
        "input_size": (3, *img_size),
        "mean": MEAN,
        "std": STD,
        "interpolation": "bilinear",
        "crop_pct": 1.0,
        "first_conv": "conv1",
        "classifier": "fc",
    }
