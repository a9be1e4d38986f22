"""torch.distributed helpers shared by the methods (no-ops on a single process).

Lightning's ``self.all_gather`` needs equal shapes on every rank; these helpers accept
a different first dimension per rank (the last batch of an uneven shard, validation
sets that do not split evenly) by padding to the largest size and trimming after.
"""
from __future__ import annotations

import torch
import torch.distributed as dist


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


@torch.no_grad()
def gather_with_sizes(x: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """Concatenate ``x`` from all ranks in rank order along dim 0; also return each rank's size.

    No gradient flows back through the result.
    """
    ws = world_size()
    if ws == 1:
        return x, [x.shape[0]]
    n = torch.tensor([x.shape[0]], dtype=torch.long, device=x.device)
    sizes_t = [torch.zeros_like(n) for _ in range(ws)]
    dist.all_gather(sizes_t, n)
    sizes = [int(s) for s in sizes_t]
    is_bool = x.dtype == torch.bool  # gloo cannot gather bool tensors
    src = x.to(torch.uint8) if is_bool else x
    padded = src.new_zeros((max(sizes), *src.shape[1:]))
    padded[: src.shape[0]] = src
    out = [torch.empty_like(padded) for _ in range(ws)]
    dist.all_gather(out, padded.contiguous())
    cat = torch.cat([o[:s] for o, s in zip(out, sizes)], dim=0)
    return (cat.bool() if is_bool else cat), sizes


def concat_all_gather(x: torch.Tensor) -> torch.Tensor:
    """All ranks' ``x`` concatenated in rank order (MoCo's ``concat_all_gather``)."""
    return gather_with_sizes(x)[0]


@torch.no_grad()
def broadcast(x: torch.Tensor, src: int = 0) -> torch.Tensor:
    """``x`` as held by rank ``src``, on every rank (in place)."""
    if world_size() > 1:
        dist.broadcast(x, src=src)
    return x
