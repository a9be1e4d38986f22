"""Strict weight loading that says exactly which keys and shapes differ.

``nn.Module.load_state_dict(strict=True)`` dumps every differing key; a wrong
architecture produces hundreds. Here the comparison is done first and the
error lists counts plus the first few names of each kind, inside a
``CheckpointError`` that names the file.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn as nn

from reidfw.checkpoints.errors import CheckpointError

SHOW = 5  # names listed per kind of difference


def _first(names: list[str]) -> str:
    # BN step counters say nothing about which layer differs; list real weights first.
    names = sorted(names, key=lambda k: k.endswith("num_batches_tracked"))
    shown = ", ".join(names[:SHOW])
    return shown + (", ..." if len(names) > SHOW else "")


def describe_differences(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], file_entries: int | None = None
) -> str | None:
    """A one-line summary of how ``state_dict`` fails to fit ``model``; None if it fits.

    ``file_entries`` is the entry count to report for the file when ``state_dict`` was padded.
    """
    own = model.state_dict()
    non_tensor = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [
        f"{k} file {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state_dict and isinstance(state_dict[k], torch.Tensor) and state_dict[k].shape != own[k].shape
    ]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys ({_first(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys ({_first(unexpected)})")
    if mismatched:
        parts.append(f"{len(mismatched)} shape mismatches ({_first(mismatched)})")
    if non_tensor:
        parts.append(f"{len(non_tensor)} entries that are not tensors ({_first(non_tensor)})")
    if not parts:
        return None
    n_file = len(state_dict) if file_entries is None else file_entries
    return f"weights that do not fit ({n_file} entries in the file, {len(own)} in the model): " + "; ".join(parts)


def load_state_dict_checked(
    model: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    source: str | Path,
    expected: str,
    fix: str,
) -> nn.Module:
    """Load ``state_dict`` into ``model`` with strict=True, or raise a ``CheckpointError``."""
    file_entries = len(state_dict)
    state_dict = dict(state_dict)
    # BatchNorm's ``num_batches_tracked`` counters are absent from files written by old
    # torch versions or trimmed by hand; they never affect inference, so fill them in.
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked") and key not in state_dict:
            state_dict[key] = value.clone()
    problem = describe_differences(model, state_dict, file_entries)
    if problem is not None:
        raise CheckpointError(source, expected, problem, fix)
    bad = non_finite(state_dict)
    if bad:
        raise CheckpointError(
            source, expected + " with finite values",
            f"NaN or infinite values in {len(bad)} of {len(state_dict)} tensors ({_first(bad)})",
            "the training diverged before this was saved: take an earlier checkpoint, or re-train with a lower "
            "learning rate (optimizer.lr=...)",
        )
    model.load_state_dict(state_dict, strict=True)
    return model


def non_finite(state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding a NaN or an infinity."""
    return [k for k, v in state_dict.items()
            if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())]


def first_keys(obj: Mapping, n: int = 5) -> str:
    """The first ``n`` keys of a mapping, for messages."""
    keys = [str(k) for k in list(obj)[: n + 1]]
    return ", ".join(keys[:n]) + (", ..." if len(keys) > n else "")


def is_tensor_dict(obj: Mapping) -> bool:
    return len(obj) > 0 and all(isinstance(v, torch.Tensor) for v in obj.values())
