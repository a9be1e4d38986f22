"""Deterministic per-item random generators.

Every image, identity and camera gets its own numpy Generator derived from the data
set seed plus string/integer keys naming the item. No code path touches numpy's global
RNG, so results do not depend on the order in which items are rendered or on how many
worker processes render them.
"""
from __future__ import annotations

import zlib

import numpy as np


def _key_to_int(key) -> int:
    if isinstance(key, (int, np.integer)):
        if key < 0:
            raise ValueError(f"seed keys must be non-negative integers or strings, got {key}")
        return int(key)
    if isinstance(key, str):
        return zlib.crc32(key.encode("utf-8")) | (1 << 40)  # tag strings so "3" and 3 differ
    raise TypeError(f"seed key must be int or str, got {type(key).__name__}: {key!r}")


def item_rng(seed: int, *keys) -> np.random.Generator:
    """A Generator for the item named by ``keys`` in the data set with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([_key_to_int(seed), *(_key_to_int(k) for k in keys)]))


def item_seed(seed: int, *keys) -> int:
    """A 32-bit integer seed for the item (stored in metadata, e.g. the posture wobble seed)."""
    return int(item_rng(seed, *keys).integers(0, 2**31 - 1))
