"""ArcFace (and CosFace / SphereFace / combined) classification training: the paper's "ArcFace model".

Train batches: ``{"image": (B, 3, H, W) float, "label": (B,) long identity in [0, num_classes)}``.
The margin head sits on the backbone's embedding (iresnet: the 512-d FC+BN output),
so the exported embedding is exactly what the margin loss shaped.
"""
from __future__ import annotations

from typing import Any

import torch

from reidfw.losses.margin import PRESETS, margin_head
from reidfw.methods.base import ReIDMethod

class ArcFaceMethod(ReIDMethod):
    """``head = {kind: arcface|cosface|sphereface|combined, margin, s, easy_margin, m1, m2, m3}``
    (see ``reidfw.losses.margin.margin_head``); ``num_classes`` = training identities."""

    method_name = "arcface"

    def __init__(
        self,
        backbone: Any,
        num_classes: int,
        head: dict,
        optimizer: dict,
        input: dict | None = None,
        scheduler: dict | None = None,
    ):
        super().__init__(backbone, optimizer, input, scheduler)
        self.head = margin_head(embed_dim=self.embed_dim, num_classes=num_classes, **self.hparams.head)

    def complete_hparams(self, hp: dict[str, Any]) -> dict[str, Any]:
        num_classes = hp["num_classes"]
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(
                f"num_classes must be an int >= 2 (the number of training identities), got {num_classes!r}; "
                "it comes from the datamodule."
            )
        head = dict(hp.get("head") or {})
        kind = str(head.get("kind", "")).lower()
        if kind not in (*PRESETS, "combined"):
            raise ValueError(f"head.kind must be one of {[*PRESETS, 'combined']}, got {head.get('kind')!r}.")
        if kind in PRESETS and head.get("margin") is None:
            raise ValueError(f"head.margin is required for kind={kind!r} (the recipe in conf/loss/{kind}.yaml sets it).")
        if "s" not in head:
            raise ValueError("head.s (the logit scale) is required (the recipe in conf/loss/ sets it).")
        hp["head"] = {**head, "kind": kind}
        return hp

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        images, labels = batch["image"], batch["label"].long()
        out = self.head(self.backbone(images), labels)
        acc = (out.cos.argmax(dim=1) == labels).float().mean()
        self.log_train(out.loss, images.shape[0], acc=acc)
        return out.loss
