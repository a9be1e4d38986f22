"""One way to build every backbone, by timm name, and the input spec each one expects.

reidfw's own families (``iresnet*``, ``reid_resnet*``) register themselves with timm when
``reidfw.models`` is imported, so a paper backbone and any timm model are built by the same
call. ``timm.create_model`` calls every registered entrypoint with factory arguments
(``pretrained_cfg``, ``pretrained_cfg_overlay``, ``cache_dir``, ``device``/``dtype``) that
reidfw's constructors do not take; the generated entrypoints strip them.
"""
from __future__ import annotations

from typing import Any, Callable

import timm
import torch.nn as nn
from timm.models import register_model

from reidfw.model_input import IMAGENET_MEAN, IMAGENET_STD, InputSpec, as_size

REIDFW_FAMILIES = ("iresnet", "reid_resnet")
_FACTORY_ONLY = ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir", "device", "dtype")


def register_family(module_name: str, names: list[str], build: Callable[..., nn.Module]) -> None:
    """Register ``timm.create_model(name, **kwargs)`` for each name as ``build(name, **kwargs)``.

    timm keys an entrypoint by its function's ``__name__`` and ``__module__``, so one
    generated function per name replaces a hand-written twin per depth.
    """
    for name in names:
        register_model(_entrypoint(module_name, name, build))


def _entrypoint(module_name: str, name: str, build: Callable[..., nn.Module]):
    def entrypoint(pretrained: bool = False, **kwargs) -> nn.Module:
        if pretrained:
            # reidfw publishes no downloadable weights: they come from a file.
            raise ValueError(
                f"reidfw/models/registry.py: {name} has no downloadable weights (pretrained=True was passed). "
                f"Build it with pretrained=False and load weights with "
                f"reidfw.checkpoints.load_embedding_model(path, arch={name!r})."
            )
        placement = {k: kwargs[k] for k in ("device", "dtype") if kwargs.get(k) is not None}
        model = build(name, **{k: v for k, v in kwargs.items() if k not in _FACTORY_ONLY})
        return model.to(**placement) if placement else model

    entrypoint.__name__ = entrypoint.__qualname__ = name
    entrypoint.__module__ = module_name
    entrypoint.__doc__ = f"reidfw {name} (see {module_name})."
    return entrypoint


def timm_data_config(spec: InputSpec) -> dict[str, Any]:
    """The ``pretrained_cfg`` timm reads from a model (``resolve_data_config``), derived from the input spec
    (``crop_mode="border"`` is timm's name for a letterbox)."""
    return {
        "input_size": (3, *spec.size), "mean": spec.mean, "std": spec.std, "interpolation": "bilinear",
        "crop_pct": 1.0, "crop_mode": "border", "first_conv": "conv1", "classifier": "fc",
    }  # fmt: skip


def default_input_spec(name: str, img_size) -> InputSpec:
    """The input a backbone is trained with unless the user overrides it.

    reidfw trains its own families on ImageNet-normalised input; a timm model brings the
    normalisation its pretrained config declares (e.g. 0.5/0.5 for inception-style models).
    """
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    if not name.startswith(REIDFW_FAMILIES):
        cfg = timm.models.get_pretrained_cfg(name)
        if cfg is not None and cfg.mean is not None and cfg.std is not None:
            mean, std = tuple(cfg.mean), tuple(cfg.std)
    return InputSpec(size=as_size(img_size), mean=mean, std=std)


def build_backbone(name: str, img_size=(384, 128), pretrained: bool = False, **kwargs) -> nn.Module:
    """An embedding backbone whose ``forward(x)`` returns (B, ``embed_dim``).

    ``img_size`` is (height, width): reidfw's families take it as a constructor argument (the
    iresnet FC is sized by it); generic timm models get ``num_classes=0`` so they end in their
    pooled feature.
    """
    import reidfw.models  # noqa: F401  (registers reidfw's families with timm)

    if not timm.is_model(name):
        close = timm.list_models(f"*{name.split('_')[0]}*")[:12]
        raise ValueError(
            f"unknown backbone {name!r}. reidfw families: iresnet18/34/50/100, reid_resnet18/34/50/101; "
            f"any timm model name also works (similar: {close})."
        )
    if name.startswith(REIDFW_FAMILIES):
        model = timm.create_model(name, pretrained=pretrained, img_size=as_size(img_size), **kwargs)
    else:
        model = timm.create_model(name, pretrained=pretrained, num_classes=0, **kwargs)
    if not hasattr(model, "embed_dim"):
        model.embed_dim = model.num_features
    return model
