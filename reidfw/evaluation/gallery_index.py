"""Top-k search over galleries too large to score exhaustively: faiss indexes, exact or approximate.

A million 2048-d gallery features are 8 GB and every query touches all of them; past that,
search goes through an index, and only its top k exist. :func:`build_index` builds any
faiss index from its factory string with the gallery streamed in chunks (a generator, so
the gallery never needs to sit in RAM twice), :func:`search` queries it in chunks with
progress, and :func:`reidfw.evaluation.retrieval.metrics_from_ranking` turns the top-k lists
into mAP / CMC / mINP under the top-k approximation (a match outside the k counts as not
found: mAP and mINP become lower bounds, CMC rank-n stays exact for n up to the valid
images in the list).

Factories (inner product = cosine on L2-normalised features):

- ``"Flat"``: exact; holds the raw vectors (4 * d bytes each); on a GPU when faiss has one.
- ``"IVF1024,PQ64"``: 1,024 inverted lists, 64-byte product-quantised codes (~70 MB for
  1M vectors); ``nprobe`` lists visited per query trade speed for recall.
- ``"IVF1024,PQ64,RFlat"``: the same, its top ``refine_factor * k`` re-scored exactly from the
  raw vectors (recall close to exact, memory like Flat).
- anything else ``faiss.index_factory`` accepts (``"HNSW32"``, ``"OPQ64,IVF4096,PQ64"``, ...).

Recall of an approximate index against the exact top k is what to measure on your own
features before trusting it: ``benchmarks/retrieval_scale.py --million`` does so on synthetic ones.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Iterable

import numpy as np

Log = Callable[[str], None]


def _faiss():
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    import faiss

    return faiss


def build_index(
    factory: str,
    d: int,
    chunks: Iterable[tuple[int, np.ndarray]],
    *,
    train_size: int = 100_000,
    nprobe: int = 32,
    refine_factor: int = 4,
    log: Log | None = None,
):
    """An inner-product faiss index over the gallery ``chunks`` ((start, float32 (n, d)) pairs, in order).

    Untrained index types train on the first ``train_size`` gallery vectors. ``nprobe`` and
    ``refine_factor`` apply where the index has them.
    """
    faiss = _faiss()
    log = log or (lambda msg: None)
    try:
        index = faiss.index_factory(d, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as e:
        raise ValueError(f"faiss cannot build index {factory!r} for {d}-d vectors: {str(e).splitlines()[0][:200]}") from None
    try:
        ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
    except RuntimeError:
        ivf = None  # not an IVF index
    if ivf is not None and hasattr(ivf, "do_polysemous_training"):
        # IVF-PQ's default polysemous training (codes reordered for Hamming filtering, which plain
        # searches never use) took 6 minutes of the build for 20k training vectors here
        ivf.do_polysemous_training = False
    if factory == "Flat" and getattr(faiss, "get_num_gpus", lambda: 0)() > 0:
        res = faiss.StandardGpuResources()
        index = faiss.index_cpu_to_gpu(res, 0, index)
        index._reidfw_gpu_resources = res  # kept alive with the index
    pending: list[np.ndarray] = []
    n_pending = 0
    t0, added = time.perf_counter(), 0
    for start, x in chunks:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not index.is_trained:
            pending.append(x)
            n_pending += len(x)
            if n_pending < train_size:
                continue
            sample = np.concatenate(pending)
            log(f"training on {min(len(sample), train_size):,} vectors")
            index.train(sample[:train_size])
            x, pending = sample, []
        index.add(x)
        added += len(x)
        log(f"{added:,} vectors added ({time.perf_counter() - t0:.0f} s)")
    if not index.is_trained:  # a gallery smaller than train_size
        sample = np.concatenate(pending)
        index.train(sample)
        index.add(sample)
    ps = faiss.ParameterSpace()
    for name, value in (("nprobe", nprobe), ("k_factor_rf", refine_factor)):
        try:
            ps.set_index_parameter(index, name, value)
        except RuntimeError:
            pass  # this index type has no such knob
    return index


def search(index, qf: np.ndarray, k: int, *, chunk: int = 1000, log: Log | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(similarities, gallery indices), each (nq, k), best first; -1 where the index found fewer than k."""
    log = log or (lambda msg: None)
    qf = np.ascontiguousarray(qf, dtype=np.float32)
    D = np.empty((len(qf), k), np.float32)
    I = np.empty((len(qf), k), np.int64)
    t0 = time.perf_counter()
    for s in range(0, len(qf), chunk):
        D[s : s + chunk], I[s : s + chunk] = index.search(qf[s : s + chunk], k)
        log(f"{min(s + chunk, len(qf)):,}/{len(qf):,} queries searched ({time.perf_counter() - t0:.0f} s)")
    return D, I
