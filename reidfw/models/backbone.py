"""One way to build every backbone: by timm name.

reidfw's own families (``iresnet*``, ``reid_resnet*``) register themselves with
timm when ``reidfw.models`` is imported, so a paper backbone and any timm model
are built by the same call.
"""
from __future__ import annotations

import timm
import torch.nn as nn


def build_backbone(name: str, img_size: tuple[int, int] = (384, 128), pretrained: bool = False, **kwargs) -> nn.Module:
    """Build an embedding backbone whose ``forward(x)`` returns (B, ``embed_dim``).

    ``img_size`` is (height, width). reidfw models take it as a constructor
    argument; generic timm models get ``num_classes=0`` so they end in their
    pooled feature.
    """
    import reidfw.models  # noqa: F401  (registers reidfw families with timm)

    if not timm.is_model(name):
        close = timm.list_models(f"*{name.split('_')[0]}*")[:12]
        raise ValueError(
            f"unknown backbone {name!r}. reidfw families: iresnet18/34/50/100, reid_resnet18/34/50/101; "
            f"any timm model name also works (similar: {close})."
        )
    if name.startswith(("iresnet", "reid_resnet")):
        model = timm.create_model(name, pretrained=pretrained, img_size=tuple(img_size), **kwargs)
    else:
        model = timm.create_model(name, pretrained=pretrained, num_classes=0, **kwargs)
    if not hasattr(model, "embed_dim"):
        model.embed_dim = model.num_features
    return model
