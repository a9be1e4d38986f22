"""InfoNCE (the paper's loss (2)) and MoCo's queue of negative keys.

    L = -log( exp(q·k+/τ) / (exp(q·k+/τ) + Σ_{k−} exp(q·k−/τ)) )

Fu et al.'s LUPerson MoCo v2 model used τ = 0.07.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def info_nce(
    q: torch.Tensor, k_pos: torch.Tensor, queue: torch.Tensor, tau: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """InfoNCE with the positive at column 0.

    q, k_pos: (B, D) L2-normalised queries and their positive keys; queue: (K, D) negatives.
    Returns (loss, logits (B, 1 + K) = [q·k+, q·queue] / τ, labels (B,) zeros).
    ``k_pos`` and ``queue`` are treated as constants (no gradient flows into them). The
    queue is read during backward, so a caller that changes it in place before calling
    ``backward()`` must pass a copy (``queue.clone()``).
    """
    if q.ndim != 2 or k_pos.shape != q.shape or queue.ndim != 2 or queue.shape[1] != q.shape[1]:
        raise ValueError(
            f"info_nce expects q (B, D), k_pos (B, D), queue (K, D); got {tuple(q.shape)}, "
            f"{tuple(k_pos.shape)}, {tuple(queue.shape)}. The queue's dim must equal the projection dim."
        )
    if tau <= 0:
        raise ValueError(f"temperature tau must be > 0, got {tau} (the recipe: conf/loss/moco.yaml).")
    # Everything in fp32, even under bf16/fp16 autocast: bf16 keeps 8 bits of mantissa, so a dot
    # product of unit vectors is off by ~4e-3, i.e. ~0.06 in a logit at tau = 0.07 -- as large as
    # the differences between hard negatives that the loss is meant to learn from.
    with torch.autocast(device_type=q.device.type, enabled=False):
        q32, k32, queue32 = q.float(), k_pos.detach().float(), queue.detach().float()
        l_pos = (q32 * k32).sum(dim=1, keepdim=True)  # (B, 1)
        l_neg = q32 @ queue32.t()  # (B, K)
        logits = torch.cat([l_pos, l_neg], dim=1) / tau
        labels = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
        return F.cross_entropy(logits, labels), logits, labels


class MoCoQueue(nn.Module):
    """FIFO ring buffer of the last ``size`` keys, ``keys`` (size, dim), oldest overwritten first.

    Both the keys and the write pointer ``ptr`` are buffers, so they are saved in
    checkpoints and a resumed run continues with the same negatives.
    """

    def __init__(self, dim: int, size: int):
        super().__init__()
        if dim <= 0 or size <= 0:
            raise ValueError(f"MoCoQueue needs dim > 0 and size > 0, got dim={dim}, size={size}.")
        self.dim, self.size = int(dim), int(size)
        # Random unit vectors: until real keys replace them they are uninformative negatives.
        self.register_buffer("keys", F.normalize(torch.randn(self.size, self.dim), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, size={self.size}"

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Write ``keys`` (n, dim) at the pointer, wrapping around the end; any n works.

        Unlike the reference MoCo code, ``size`` need not be a multiple of the batch: a
        batch that reaches the end is split, its tail written at the start. A batch larger
        than the queue keeps only its last ``size`` keys (the ones a FIFO would hold).
        """
        if keys.ndim != 2 or keys.shape[1] != self.dim:
            raise ValueError(f"enqueue expects keys of shape (n, {self.dim}), got {tuple(keys.shape)}.")
        n = keys.shape[0]
        if n == 0:
            return
        ptr = int(self.ptr)
        first = max(0, n - self.size)  # keys[:first] would be overwritten within this same call
        idx = (ptr + torch.arange(first, n, device=self.keys.device)) % self.size
        self.keys.index_copy_(0, idx, keys[first:].detach().to(self.keys.dtype))
        self.ptr.fill_((ptr + n) % self.size)
