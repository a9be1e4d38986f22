"""SplitBatchNorm: BatchNorm whose training statistics come from disjoint sub-batches.

MoCo's shuffle BN exists because with one BN over the whole batch a query and its
positive key share batch statistics, and the network can find the positive through
that leak instead of through the image content. On several GPUs the keys are shuffled
across GPUs so each key's statistics come from a different sub-batch than its query's.
On one device we emulate the GPUs: the key encoder's BN layers normalise ``num_splits``
groups separately (and the keys are shuffled before grouping, see ``moco.py``).

In eval mode, and with ``num_splits == 1``, this is exactly ``nn.BatchNorm*``; parameter
and buffer names are the same, so state_dicts move freely between the two.
"""
from __future__ import annotations

import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm


class SplitBatchNorm(_BatchNorm):
    """BatchNorm over ``num_splits`` interleaved groups of the batch (sample i in group i % g).

    When the batch size is not a multiple of ``num_splits`` the largest group count
    g <= num_splits that divides it (with >= 2 samples per group) is used, so a short
    last batch still trains. Running statistics are the mean over the groups' updates.
    """

    def __init__(self, num_features: int, num_splits: int = 8, **kw):
        super().__init__(num_features, **kw)
        self.num_splits = int(num_splits)

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"SplitBatchNorm expects (N, C, ...) input, got shape {tuple(x.shape)}.")

    def extra_repr(self) -> str:
        return super().extra_repr() + f", num_splits={self.num_splits}"

    def groups_for(self, n: int) -> int:
        for g in range(min(self.num_splits, n // 2), 1, -1):
            if n % g == 0:
                return g
        return 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.groups_for(x.shape[0]) if self.training else 1
        if g == 1:
            return super().forward(x)
        self._check_input_dim(x)
        n, c = x.shape[:2]
        # Same momentum bookkeeping as _BatchNorm.forward (momentum=None = cumulative average).
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        # Fold the groups into channels: (n, c, ...) -> (n/g, g*c, ...); channel j*c + k is
        # channel k of group j, so one batch_norm call normalises every group separately.
        xs = x.reshape(n // g, g * c, *x.shape[2:])
        rm = self.running_mean.repeat(g) if self.track_running_stats else None
        rv = self.running_var.repeat(g) if self.track_running_stats else None
        w = self.weight.repeat(g) if self.affine else None
        b = self.bias.repeat(g) if self.affine else None
        out = F.batch_norm(xs, rm, rv, w, b, True, factor, self.eps)
        if self.track_running_stats:
            with torch.no_grad():
                self.running_mean.copy_(rm.view(g, c).mean(0))
                self.running_var.copy_(rv.view(g, c).mean(0))
        return out.reshape(x.shape)


def convert_split_bn(module: nn.Module, num_splits: int) -> nn.Module:
    """Replace every plain ``nn.BatchNorm1d/2d/3d`` in ``module`` by a SplitBatchNorm
    carrying the same parameters and statistics; returns the (possibly new) module."""
    if type(module) in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d):
        new = SplitBatchNorm(
            module.num_features, num_splits, eps=module.eps, momentum=module.momentum,
            affine=module.affine, track_running_stats=module.track_running_stats,
        )
        ref = next(iter(module.buffers()), None)
        if ref is not None:
            new.to(ref.device)
        new.load_state_dict(module.state_dict())
        new.train(module.training)
        return new
    if isinstance(module, _BatchNorm) and not isinstance(module, SplitBatchNorm):
        # Subclasses (timm's BatchNormAct2d, SyncBatchNorm) carry extra behaviour a plain
        # swap would drop; leave them and say so, since they still leak batch statistics.
        warnings.warn(
            f"split BN: left {type(module).__name__} unconverted (only plain nn.BatchNorm1d/2d/3d are); "
            "keys normalised by it share statistics across the whole batch. Use a backbone with plain BN "
            "or train under DDP with shuffle_bn=True.",
            stacklevel=2,
        )
        return module
    for name, child in module.named_children():
        new_child = convert_split_bn(child, num_splits)
        if new_child is not child:
            setattr(module, name, new_child)
    return module


def set_num_splits(module: nn.Module, num_splits: int) -> None:
    """Set ``num_splits`` on every SplitBatchNorm in ``module`` (1 = plain BN)."""
    for m in module.modules():
        if isinstance(m, SplitBatchNorm):
            m.num_splits = int(num_splits)
