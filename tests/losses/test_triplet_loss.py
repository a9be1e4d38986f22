"""Batch-hard triplet loss against a hand computation."""
import math

import pytest
import torch

from reidfw.losses.triplet import BatchHardTripletLoss, batch_hard_triplet_loss

# 1-D points: identity 0 at 0 and 1; identity 1 at 1.5 and 4
X = torch.tensor([[0.0], [1.0], [1.5], [4.0]], dtype=torch.float64)
Y = torch.tensor([0, 0, 1, 1])
# hardest positive / negative per anchor
D_AP = [1.0, 1.0, 2.5, 2.5]
D_AN = [1.5, 0.5, 0.5, 3.0]


def test_batch_hard_hinge_by_hand():
    out = batch_hard_triplet_loss(X, Y, margin=0.3)
    assert out.dist_ap.tolist() == pytest.approx(D_AP)
    assert out.dist_an.tolist() == pytest.approx(D_AN)
    expected = sum(max(0.0, ap - an + 0.3) for ap, an in zip(D_AP, D_AN)) / 4
    assert out.loss.item() == pytest.approx(expected)


def test_batch_hard_soft_margin_by_hand():
    out = BatchHardTripletLoss(margin=None, soft_margin=True)(X, Y)
    expected = sum(math.log1p(math.exp(ap - an)) for ap, an in zip(D_AP, D_AN)) / 4
    assert out.loss.item() == pytest.approx(expected)


def test_gradients_finite_with_duplicate_points():
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], requires_grad=True)
    out = batch_hard_triplet_loss(x, torch.tensor([0, 0, 1, 1]), margin=0.3)
    out.loss.backward()
    assert torch.isfinite(x.grad).all()


def test_anchors_without_positive_are_skipped_and_none_raises():
    out = batch_hard_triplet_loss(X[:3], Y[:3], margin=0.3)  # anchor 2 has no positive
    assert out.dist_ap.numel() == 2
    with pytest.raises(ValueError, match="P x K"):
        batch_hard_triplet_loss(X[:2], torch.tensor([0, 1]), margin=0.3)
