"""The paper's MoCo backbone: a torchvision-layout ResNet with last stride 1 and a GAP embedding.

Built on timm's ``ResNet``, whose parameter names are torchvision's (``conv1``, ``bn1``,
``layer1..4``, ``downsample.0/1``), so LUPerson's published MoCo v2 ResNet50 weights load
after stripping their ``module.encoder_q.`` prefix (see ``reidfw.checkpoints.load``).

Re-ID changes two things (Table 1, MoCo column):
- ``last_stride=1``: the first block of stage 4 keeps the resolution, so at 384x128 the last
  map is 24x8 instead of 12x4 -- plain strides, no dilation, as fast-reid/LUPerson do;
- the embedding is global average pooling of that map (2048-d for ResNet50); no classifier.

``neck="bn"`` adds fast-reid's BNNeck as the embedding: a BatchNorm1d (no affine) after the
pooling. A pooled ReLU map is non-negative, so two strangers already share most of their
direction (cosine 0.6-0.9 even when the ranking is right); the BN centres each dimension on
the training set's mean, so cosines are read around the population, not around the origin.
As in fast-reid, the losses train the feature *before* the neck: in training mode
``forward`` returns the pooled feature and only updates the neck's running statistics (on the
demo's unlabeled crops a MoCo head trained on the BN'd feature learned less: val mAP 0.13 vs
0.18); in eval mode (retrieval, the study, export) it returns the neck's output. ``neck="none"``
(the default) is the paper's and LUPerson's plain GAP, and the only form their published
weights load into.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
from timm.models.resnet import BasicBlock, Bottleneck, ResNet

from reidfw.model_input import InputSpec
from reidfw.models.registry import register_family, timm_data_config

# (block, blocks per stage): torchvision's definitions.
REID_RESNET_LAYERS: dict[str, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    "reid_resnet18": (BasicBlock, (2, 2, 2, 2)),
    "reid_resnet34": (BasicBlock, (3, 4, 6, 3)),
    "reid_resnet50": (Bottleneck, (3, 4, 6, 3)),
    "reid_resnet101": (Bottleneck, (3, 4, 23, 3)),
}

NECKS = ("none", "bn")


class ReidResNet(ResNet):
    """torchvision-layout ResNet; ``forward(x)`` -> (B, ``embed_dim``) GAP embedding."""

    def __init__(
        self,
        block: type[nn.Module],
        layers: Sequence[int],
        img_size: Sequence[int] = (384, 128),
        last_stride: int = 1,
        neck: str = "none",
        **resnet_kwargs,
    ):
        if last_stride not in (1, 2):
            raise ValueError(
                f"reidfw/models/reid_resnet.py: last_stride must be 1 (Re-ID, the paper) or 2 (ImageNet), "
                f"got {last_stride!r}."
            )
        # num_classes=0: no ``fc`` parameters, so the state dict is exactly the torchvision trunk.
        # zero_init_last=False: timm zero-initialises each block's last BN scale by default, which
        # torchvision, MoCo and LUPerson do not; a MoCo from scratch starts as they do.
        resnet_kwargs.setdefault("zero_init_last", False)
        super().__init__(block, tuple(layers), num_classes=0, **resnet_kwargs)
        if last_stride == 1:
            _unstride_first_block(self.layer4)
            self.feature_info[-1]["reduction"] //= 2
        self.last_stride = last_stride
        if neck not in NECKS:
            raise ValueError(f"reidfw/models/reid_resnet.py: neck must be one of {list(NECKS)}, got {neck!r}.")
        self.neck_kind = neck
        self.neck = nn.BatchNorm1d(self.num_features, affine=False) if neck == "bn" else nn.Identity()
        # Kept for the model spec only: a GAP network takes any input size.
        self.img_size = tuple(int(s) for s in img_size)
        self.embed_dim = self.num_features
        self.pretrained_cfg = self.default_cfg = timm_data_config(InputSpec(size=self.img_size))

    # forward_features is timm's: stem, maxpool, layer1..4 -> (B, C, h, w).

    def forward_head(self, x: torch.Tensor, pre_logits: bool = True) -> torch.Tensor:
        """GAP of the last map (the paper's MoCo embedding; no dropout, no classifier), then the neck
        (eval mode; in training the losses get the pooled feature and the neck only its statistics)."""
        pooled = x.mean(dim=(2, 3))
        if self.neck_kind == "none":
            return pooled
        if self.training:
            with torch.no_grad():
                self.neck(pooled.detach())
            return pooled
        return self.neck(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _unstride_first_block(stage: nn.Sequential) -> None:
    """Set every stride-2 conv of the stage's first block (3x3 conv and 1x1 skip) to stride 1.

    Changing strides after construction keeps timm's (= torchvision's) module tree and
    therefore the checkpoint keys; padding is unaffected because it only depends on kernel size.
    """
    changed = 0
    for m in stage[0].modules():
        if isinstance(m, nn.Conv2d) and m.stride == (2, 2):
            m.stride = (1, 1)
            changed += 1
    if changed == 0:
        raise RuntimeError(
            "reidfw/models/reid_resnet.py: expected stride-2 convs in layer4[0] of timm's ResNet, found none; "
            "timm's ResNet layout changed -- update _unstride_first_block."
        )


register_family(__name__, list(REID_RESNET_LAYERS), lambda name, **kw: ReidResNet(*REID_RESNET_LAYERS[name], **kw))
