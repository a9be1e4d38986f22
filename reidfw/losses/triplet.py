"""Batch-hard triplet loss (Hermans et al., "In Defense of the Triplet Loss", 2017).

For each anchor in a P×K batch: its farthest same-identity sample (hardest positive)
and its closest other-identity sample (hardest negative), with a hinge
``max(0, d_ap − d_an + margin)`` or the soft-margin ``log(1 + exp(d_ap − d_an))``.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F


class TripletOutput(NamedTuple):
    loss: torch.Tensor  # scalar
    dist_ap: torch.Tensor  # (A,) hardest-positive distance per valid anchor
    dist_an: torch.Tensor  # (A,) hardest-negative distance per valid anchor


def pairwise_euclidean(x: torch.Tensor) -> torch.Tensor:
    """(B, B) Euclidean distances; squared distances are clamped before sqrt so the
    diagonal (0) does not produce an infinite gradient."""
    sq = (x * x).sum(dim=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.t())
    return d2.clamp_min(1e-12).sqrt()


def batch_hard_triplet_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    margin: float | None,
    soft_margin: bool = False,
    normalize: bool = False,
) -> TripletOutput:
    """Batch-hard triplet loss over (B, D) ``embeddings`` with (B,) identity ``labels``.

    Anchors without a positive or a negative in the batch are left out. ``normalize``
    L2-normalises the embeddings first (distances then lie in [0, 2]). ``margin`` is not used
    (and may be None) with ``soft_margin``.
    """
    if not soft_margin and margin is None:
        raise ValueError("the hard-margin triplet loss needs margin= (the recipe: conf/loss/triplet.yaml)")
    if embeddings.ndim != 2 or labels.shape != embeddings.shape[:1]:
        raise ValueError(f"expected embeddings (B, D) and labels (B,), got {tuple(embeddings.shape)}, {tuple(labels.shape)}.")
    x = F.normalize(embeddings.float(), dim=1) if normalize else embeddings.float()
    dist = pairwise_euclidean(x)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    pos_mask, neg_mask = same & ~eye, ~same
    valid = pos_mask.any(dim=1) & neg_mask.any(dim=1)
    if not bool(valid.any()):
        raise ValueError(
            "batch-hard triplet loss needs at least one identity with >= 2 samples and >= 2 identities per batch; "
            "use a P x K identity sampler with P >= 2, K >= 2."
        )
    # Masked max/min: fill the excluded entries with values that can never win.
    dist_ap = dist.masked_fill(~pos_mask, float("-inf")).max(dim=1).values[valid]
    dist_an = dist.masked_fill(~neg_mask, float("inf")).min(dim=1).values[valid]
    if soft_margin:
        loss = F.softplus(dist_ap - dist_an).mean()
    else:
        loss = F.relu(dist_ap - dist_an + margin).mean()
    return TripletOutput(loss, dist_ap, dist_an)


class BatchHardTripletLoss(nn.Module):
    """Module form of :func:`batch_hard_triplet_loss`."""

    def __init__(self, margin: float | None, soft_margin: bool = False, normalize: bool = False):
        super().__init__()
        if not soft_margin and (margin is None or margin < 0):
            from reidfw.errors import ConfigValueError

            raise ConfigValueError(
                f"margin={margin}", "a triplet margin >= 0", f"{margin}",
                "set margin= to a value >= 0 (the recipe's 0.3: conf/loss/triplet.yaml), or loss.soft_margin=true",
            )
        self.margin = None if margin is None else float(margin)
        self.soft_margin, self.normalize = bool(soft_margin), bool(normalize)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, soft_margin={self.soft_margin}, normalize={self.normalize}"

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> TripletOutput:
        return batch_hard_triplet_loss(embeddings, labels, self.margin, self.soft_margin, self.normalize)
