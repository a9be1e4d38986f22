"""Batch-hard triplet training (the "pairwise loss" family).

Train batches: ``{"image": (B, 3, H, W), "label": (B,) long}`` drawn P identities × K
images (the data side's P×K sampler), so every anchor has positives and negatives.
"""
from __future__ import annotations

from typing import Any

import torch

from reidfw.losses.triplet import BatchHardTripletLoss
from reidfw.methods.base import ReIDMethod


class TripletMethod(ReIDMethod):
    method_name = "triplet"

    def __init__(
        self,
        backbone: Any,
        margin: float,
        optimizer: dict,
        soft_margin: bool = False,
        normalize: bool = False,
        input: dict | None = None,
        scheduler: dict | None = None,
    ):
        super().__init__(backbone, optimizer, input, scheduler)
        self.loss_fn = BatchHardTripletLoss(margin=margin, soft_margin=soft_margin, normalize=normalize)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        images, labels = batch["image"], batch["label"].long()
        out = self.loss_fn(self.backbone(images), labels)
        self.log_train(out.loss, images.shape[0], dist_ap=out.dist_ap.mean(), dist_an=out.dist_an.mean())
        return out.loss
