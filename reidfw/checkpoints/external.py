"""Loader for external weights, which need ``arch=``: insightface's iresnet ``backbone.pth``
(``arch="iresnet50"`` etc., fed with insightface's (x - 0.5) / 0.5) and torchvision-layout ResNets
as LUPerson publishes them (``arch="reid_resnet50"``; prefixes ``module.encoder_q.``/``encoder_q.``/
``module.`` and MoCo's ``fc.*`` projection head are dropped), ImageNet-normalised.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from reidfw.checkpoints.errors import CheckpointError
from reidfw.checkpoints.model_spec import build_from_spec, make_model_spec
from reidfw.checkpoints.weights import first_keys, load_state_dict_checked
from reidfw.model_input import IMAGENET_MEAN, IMAGENET_STD, INSIGHTFACE_MEAN, INSIGHTFACE_STD, PAPER_SIZE, InputSpec
from reidfw.models.iresnet import IRESNET_LAYERS, STAGE_WIDTHS, feature_map_size
from reidfw.models.reid_resnet import REID_RESNET_LAYERS

EXTERNAL_ARCHS = (*IRESNET_LAYERS, *REID_RESNET_LAYERS)
PASS_ARCH = (
    "pass arch='iresnet50' (an insightface backbone.pth) or arch='reid_resnet50' (a torchvision-layout "
    "ResNet50 such as LUPerson's MoCo weights) to load_embedding_model"
)
# Where external weights keep the network: LUPerson/MoCo v2 holds the query encoder under
# ``encoder_q.``, DistributedDataParallel adds ``module.``; insightface saves
# ``backbone.module.state_dict()`` (no prefix). The first prefix that holds ``conv1.weight``
# wins, which also drops MoCo's key encoder (``encoder_k.``). Both families use the same list,
# so weights passed with the wrong arch are still compared under their real names.
PREFIXES = ("module.encoder_q.", "encoder_q.", "module.backbone.", "backbone.", "module.", "")


def load_external(
    path: Path, state_dict: Mapping, arch: str | None, img_size, wrapper: str | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    where = f"{len(state_dict)} tensors" + (f" inside '{wrapper}'" if wrapper else "")
    if arch is None:
        guess = _guess_family(state_dict)
        hint = f"; its keys look like {guess}" if guess else ""
        raise CheckpointError(
            path,
            "a reidfw checkpoint (Lightning .ckpt with hyper_parameters.method/backbone, or an export folder)",
            f"a plain state dict of {where} (first keys: {first_keys(state_dict)}){hint}",
            PASS_ARCH,
        )
    if arch not in EXTERNAL_ARCHS:
        raise CheckpointError(
            path,
            f"external weights for one of {', '.join(EXTERNAL_ARCHS)}",
            f"arch={arch!r} with a plain state dict of {where}",
            "pass one of those arch names; other timm backbones load from reidfw checkpoints or exports only",
        )
    if arch in IRESNET_LAYERS:
        weights = _strip_prefix(state_dict, PREFIXES, "conv1.weight")
        size = iresnet_img_size(path, arch, weights, img_size)
        spec = make_model_spec(
            method="arcface",
            backbone={"name": arch, "kwargs": {}},
            input_spec=InputSpec(size=size, mean=INSIGHTFACE_MEAN, std=INSIGHTFACE_STD),
            embed_dim=512,
            embedding="fc512",
            source=path,
        )
        what = "an insightface iresnet backbone.pth"
    else:
        weights = _strip_prefix(state_dict, PREFIXES, "conv1.weight")
        # MoCo v2's projection head (fc.0/fc.2) or an ImageNet classifier (fc): not part of the embedding.
        weights = {k: v for k, v in weights.items() if not k.startswith("fc.")}
        spec = make_model_spec(
            method="moco",
            backbone={"name": arch, "kwargs": {}},
            input_spec=InputSpec(size=img_size or PAPER_SIZE, mean=IMAGENET_MEAN, std=IMAGENET_STD),
            embed_dim=1,  # placeholder until the model is built
            embedding="gap",
            source=path,
        )
        what = "a torchvision-layout ResNet state dict (LUPerson)"
    model = build_from_spec(spec, path)
    spec["embed_dim"] = int(model.embed_dim)
    guess = _guess_family(weights)
    load_state_dict_checked(
        model,
        weights,
        path,
        expected=f"{what} for arch={arch}",
        fix=f"pass the arch these weights were trained with{f' (the keys look like {guess})' if guess else ''}",
    )
    return model, spec


def _strip_prefix(state_dict: Mapping, prefixes: Sequence[str], anchor: str) -> dict[str, torch.Tensor]:
    for prefix in prefixes:
        if prefix + anchor in state_dict:
            return {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
    # No known layout: keep the keys so the mismatch report shows them as they are.
    return dict(state_dict)


def iresnet_img_size(path: Path, arch: str, weights: Mapping, img_size) -> tuple[int, int]:
    """The input size an iresnet's FC was built for: given, or read from ``fc.weight``'s shape.

    ``fc.weight`` is (512, 512*h*w) with (h, w) = input / 16. A square map (insightface faces:
    7x7 -> 112x112) or a 3:1 person map (24x8 -> 384x128) is recognised; anything else needs img_size.
    """
    fc = weights.get("fc.weight")
    if not isinstance(fc, torch.Tensor) or fc.ndim != 2:
        # Not an iresnet at all (e.g. ResNet weights with arch=iresnet50): build at insightface's
        # size and let the key comparison report what is missing and unexpected.
        return tuple(int(s) for s in img_size) if img_size is not None else (112, 112)
    cells, rem = divmod(fc.shape[1], STAGE_WIDTHS[-1])
    if img_size is not None:
        size = tuple(int(s) for s in img_size)
        h, w = feature_map_size(size)
        if rem or cells != h * w:
            raise CheckpointError(
                path,
                f"an {arch} FC for img_size={size} (fc.weight in_features 512*{h}*{w} = {512 * h * w})",
                f"fc.weight of shape {tuple(fc.shape)}",
                "pass the img_size the weights were trained at (insightface's public models: (112, 112)), "
                "or leave img_size unset to read it from fc.weight",
            )
        return size
    side = math.isqrt(cells)
    if not rem and side * side == cells:
        return (16 * side, 16 * side)
    w = math.isqrt(cells // 3) if cells % 3 == 0 else 0
    if not rem and w and 3 * w * w == cells:
        return (48 * w, 16 * w)
    raise CheckpointError(
        path,
        f"an {arch} whose input size can be read from fc.weight",
        f"fc.weight of shape {tuple(fc.shape)}, which fits no square or 3:1 input",
        "pass img_size=(H, W), the size the weights were trained at",
    )


def _guess_family(state_dict: Mapping) -> str | None:
    keys = " ".join(list(state_dict)[:2000])
    if "prelu.weight" in keys and "features." in keys:
        return "an insightface iresnet (arch='iresnet50' etc.)"
    if "layer1.0.conv1.weight" in keys and "bn1.running_mean" in keys:
        return "a torchvision-layout ResNet (arch='reid_resnet50' etc.)"
    return None
