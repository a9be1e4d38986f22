"""Render items in worker processes without changing the result.

Every item carries its own seeds (see ``seeds.item_rng``), so the pixels of an item do
not depend on which process renders it or in which order; results come back in item
order. ``workers=1`` renders in-process (easiest to debug and profile). A render of
``PROGRESS_FROM`` items or more shows a progress bar on stderr (``desc`` names it).
"""
from __future__ import annotations

import multiprocessing as mp
import os
from typing import Callable, Iterable, TypeVar


T = TypeVar("T")
R = TypeVar("R")
PROGRESS_FROM = 16  # items: below this a render takes seconds and a bar would be noise


def default_workers() -> int:
    """One worker per CPU core, at most 4 (rendering is numpy-bound; more just contend)."""
    return max(1, min(4, os.cpu_count() or 1))


def _progress(results: Iterable[R], total: int, desc: str | None, unit: str) -> list[R]:
    from tqdm import tqdm

    bar = tqdm(results, total=total, desc=desc, unit=unit, disable=desc is None or total < PROGRESS_FROM,
               dynamic_ncols=True, mininterval=1.0)
    return list(bar)


def parallel_map(fn: Callable[[T], R], items: Iterable[T], workers: int | None = None, desc: str | None = None,
                 unit: str = "it") -> list[R]:
    items = list(items)
    workers = default_workers() if workers is None else int(workers)
    if workers <= 1 or len(items) <= 1:
        return _progress((fn(it) for it in items), len(items), desc, unit)
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
            return _progress(pool.imap(fn, items, chunksize=chunk), len(items), desc, unit)
    finally:
        if foreign:
            mp.set_start_method(inherited, force=True)
