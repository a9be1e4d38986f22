"""insightface's iresnet (arcface_torch), the paper's ArcFace backbone, sized for any input.

The layout and every parameter name follow insightface's ``arcface_torch/backbones/iresnet.py``
so a public ``backbone.pth`` loads with ``strict=True``:

- stem: 3x3 stride-1 conv (no bias) -> BN -> PReLU (``conv1``, ``bn1``, ``prelu``);
- four stages of ``IBasicBlock`` (64, 128, 256, 512 channels), each starting with stride 2;
- head: BN2d (``bn2``) -> flatten -> dropout -> FC (``fc``) -> BN1d (``features``).

The only departure is that the FC input size is derived from ``img_size`` instead of
insightface's fixed 7x7 (112x112 faces): at the paper's 384x128 the last map is 24x8,
so ``fc`` is 512*24*8 -> 512 (Table 1). Every stride-2 conv halves a side rounding up,
so any ``img_size`` works.

Importing this module registers ``iresnet18/34/50/100`` with timm, so
``timm.create_model("iresnet50", img_size=(384, 128))`` builds the paper's backbone.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from reidfw.model_input import InputSpec
from reidfw.models.registry import register_family, timm_data_config

# Blocks per stage, exactly insightface's (the paper's Table 1 prints 13 for iresnet50's
# third stage; insightface's iresnet50 -- the one the paper trained -- has 14).
IRESNET_LAYERS: dict[str, tuple[int, int, int, int]] = {
    "iresnet18": (2, 2, 2, 2),
    "iresnet34": (3, 4, 6, 3),
    "iresnet50": (3, 4, 14, 3),
    "iresnet100": (3, 13, 30, 3),
}
STAGE_WIDTHS = (64, 128, 256, 512)
# insightface's BN epsilon everywhere (also PyTorch's default; stated so it never drifts).
BN_EPS = 1e-5


def _conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def _conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


def feature_map_size(img_size: Sequence[int]) -> tuple[int, int]:
    """(h, w) of the stage-4 map for an input of ``img_size`` = (H, W).

    Each of the four stride-2 3x3 convs (padding 1) maps a side s to ceil(s / 2).
    """
    h, w = (int(s) for s in img_size)
    for _ in STAGE_WIDTHS:
        h, w = (h + 1) // 2, (w + 1) // 2
    return h, w


def _check_img_size(img_size) -> tuple[int, int]:
    try:
        h, w = (int(s) for s in img_size)
        ok = h > 0 and w > 0 and len(tuple(img_size)) == 2
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"reidfw/models/iresnet.py: img_size must be (height, width) with two positive ints, "
            f"got {img_size!r}. Pass e.g. img_size=(384, 128) (the paper) or (112, 112) (insightface faces)."
        )
    return h, w


class IBasicBlock(nn.Module):
    """insightface's pre-activation-style block: BN, conv3x3, BN, PReLU, conv3x3 (stride), BN.

    Unlike torchvision's BasicBlock there is no activation after the residual sum,
    and the stride sits on the second conv.
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=BN_EPS)
        self.conv1 = _conv3x3(inplanes, planes)
        self.bn2 = nn.BatchNorm2d(planes, eps=BN_EPS)
        self.prelu = nn.PReLU(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes, eps=BN_EPS)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn1(x)
        out = self.conv1(out)
        out = self.bn2(out)
        out = self.prelu(out)
        out = self.conv2(out)
        out = self.bn3(out)
        return out + identity


class IResNet(nn.Module):
    """iresnet with a 512-d FC+BN embedding; ``forward(x)`` -> (B, 512)."""

    def __init__(
        self,
        layers: Sequence[int],
        img_size: Sequence[int] = (112, 112),
        num_features: int = 512,
        dropout: float = 0.0,
        zero_init_residual: bool = False,
    ):
        super().__init__()
        self.img_size = _check_img_size(img_size)
        self.feature_size = feature_map_size(self.img_size)
        # insightface calls the embedding size ``num_features``; reidfw's contract calls it
        # ``embed_dim``. Both are the 512-d output.
        self.num_features = self.embed_dim = int(num_features)

        self.inplanes = STAGE_WIDTHS[0]
        self.conv1 = _conv3x3(3, self.inplanes)
        self.bn1 = nn.BatchNorm2d(self.inplanes, eps=BN_EPS)
        self.prelu = nn.PReLU(self.inplanes)
        self.layer1 = self._make_layer(STAGE_WIDTHS[0], layers[0])
        self.layer2 = self._make_layer(STAGE_WIDTHS[1], layers[1])
        self.layer3 = self._make_layer(STAGE_WIDTHS[2], layers[2])
        self.layer4 = self._make_layer(STAGE_WIDTHS[3], layers[3])
        self.bn2 = nn.BatchNorm2d(STAGE_WIDTHS[3], eps=BN_EPS)
        # Not in-place (insightface's is): an in-place dropout would overwrite the flattened
        # bn2 output that forward hooks (similarity attribution) may hold on to.
        self.dropout = nn.Dropout(p=dropout)
        h, w = self.feature_size
        self.fc = nn.Linear(STAGE_WIDTHS[3] * h * w, self.embed_dim)
        self.features = nn.BatchNorm1d(self.embed_dim, eps=BN_EPS)
        self._init_weights(zero_init_residual)

        # timm reads these (resolve_data_config, feature extraction); the spec in
        # reidfw.checkpoints.export is what records the normalisation of a trained model.
        self.pretrained_cfg = self.default_cfg = timm_data_config(InputSpec(size=self.img_size))
        self.feature_info = [
            {"num_chs": STAGE_WIDTHS[0], "reduction": 1, "module": "prelu"},
            *({"num_chs": c, "reduction": 2 ** (i + 1), "module": f"layer{i + 1}"} for i, c in enumerate(STAGE_WIDTHS)),
        ]

    def _make_layer(self, planes: int, blocks: int) -> nn.Sequential:
        # Every stage starts with stride 2, so every first block has a 1x1 strided conv + BN
        # on the skip path (``downsample.0`` / ``downsample.1``), as in insightface.
        downsample = nn.Sequential(_conv1x1(self.inplanes, planes, stride=2), nn.BatchNorm2d(planes, eps=BN_EPS))
        layers = [IBasicBlock(self.inplanes, planes, stride=2, downsample=downsample)]
        self.inplanes = planes
        layers += [IBasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def _init_weights(self, zero_init_residual: bool) -> None:
        # insightface's init: N(0, 0.1) convs, unit BN; the embedding BN's scale is fixed at 1
        # (only its shift and running statistics learn), which keeps the embedding norm free.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0, 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad = False
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, IBasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> the stage-4 map (B, 512, h, w), before ``bn2``."""
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Stage-4 map -> 512-d embedding (bn2, flatten, dropout, fc, features).

        ``pre_logits`` is accepted for timm's signature; there are no logits after the embedding.
        """
        if tuple(x.shape[-2:]) != self.feature_size:
            raise ValueError(
                f"reidfw/models/iresnet.py: the FC of this model expects a {self.feature_size} stage-4 map "
                f"(input {self.img_size}), but got a {tuple(x.shape[-2:])} map, i.e. an input of another size. "
                f"Letterbox inputs to img_size={self.img_size}, or build the model with the img_size you feed."
            )
        x = self.bn2(x)
        x = torch.flatten(x, 1)
        x = self.dropout(x)
        x = self.fc(x)
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


register_family(__name__, list(IRESNET_LAYERS), lambda name, **kw: IResNet(IRESNET_LAYERS[name], **kw))
