"""Render items in worker processes without changing the result.

Every item carries its own seeds (see ``seeds.item_rng``), so the pixels of an item do
not depend on which process renders it or in which order; results come back in item
order. ``workers=1`` renders in-process (easiest to debug and profile).
"""
from __future__ import annotations

import multiprocessing as mp
import os
from typing import Callable, Iterable, TypeVar


T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """One worker per CPU core, at most 4 (rendering is numpy-bound; more just contend)."""
    return max(1, min(4, os.cpu_count() or 1))


def parallel_map(fn: Callable[[T], R], items: Iterable[T], workers: int | None = None) -> list[R]:
    items = list(items)
    workers = default_workers() if workers is None else int(workers)
    if workers <= 1 or len(items) <= 1:
        return [fn(it) for it in items]
    # Never plain fork: a parent that has already started torch/OpenMP or OpenCV thread pools
    # (a training run, a test session) deadlocks its forked children. forkserver forks from a
    # clean single-threaded server instead. (Workers import reidfw, which keeps OpenCV
    # single-threaded, so each is one core's worth of work.)
    methods = mp.get_all_start_methods()
    method = "forkserver" if "forkserver" in methods else "spawn"
    ctx = mp.get_context(method)
    chunk = max(1, len(items) // (workers * 8))
    # Children are told the parent's global start method. Inside a joblib worker (Hydra's joblib
    # launcher) that is "loky", which a fresh child cannot find: each dies at start, the pool
    # replaces it, and imap waits forever. Announce ours while the pool starts its workers.
    inherited = mp.get_start_method(allow_none=True)
    foreign = inherited is not None and inherited not in methods
    if foreign:
        mp.set_start_method(method, force=True)
    try:
        with ctx.Pool(processes=min(workers, len(items))) as pool:
            if foreign:
                mp.set_start_method(inherited, force=True)
                foreign = False
            return list(pool.imap(fn, items, chunksize=chunk))
    finally:
        if foreign:
            mp.set_start_method(inherited, force=True)
