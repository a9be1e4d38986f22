"""Losses: combined angular margin (ArcFace/CosFace/SphereFace), InfoNCE + MoCo queue, batch-hard triplet."""
from reidfw.losses.infonce import MoCoQueue, info_nce
from reidfw.losses.margin import CombinedMarginHead, MarginOutput, margin_head
from reidfw.losses.triplet import BatchHardTripletLoss, TripletOutput, batch_hard_triplet_loss

__all__ = [
    "BatchHardTripletLoss",
    "CombinedMarginHead",
    "MarginOutput",
    "MoCoQueue",
    "TripletOutput",
    "batch_hard_triplet_loss",
    "info_nce",
    "margin_head",
]
