"""Market-1501 retrieval metrics: mAP, CMC rank-1/5/10, mINP.

The rules are the original Market-1501 protocol:

* for each query, gallery images with the same pid *and* the same camera are
  excluded (finding the same person in the same camera is tracking, not Re-ID);
* junk gallery images (pid -1) are ignored (neither right nor wrong);
* distractors (pid 0) stay in the gallery and count as negatives;
* a query with no valid match left in the gallery is skipped; the number is reported.

mINP (Ye et al., "Deep Learning for Person Re-identification: A Survey") is
the mean over queries of ``n_matches / rank_of_the_hardest_match``: how much
of the list one must inspect to find *every* match.

Ranking is by inner product of L2-normalised features (= cosine).

``topk=None`` (default): every gallery image counts and the metrics are exact. They are
computed without sorting the gallery, from the rank of each true match
(:mod:`reidfw.evaluation.match_ranks`), in query chunks whose working memory stays under
``memory_gb`` (default 2 GB), with torch on CUDA when present, else on the CPU. The numbers
do not depend on the chunking or the gallery size.

``topk=k``: only the first k *valid* gallery images (after the exclusions) are ranked,
through faiss (``IndexFlatIP``, on a GPU when faiss has one) or :func:`brute_force_ranking`
(numpy, the reference faiss is tested against); matches beyond them count as not found, so
AP is a lower bound of the full AP (each missing match adds precision 0), and INP assumes
the hardest match sits at the end of the valid gallery (again a lower bound). CMC rank-n for
n <= k is exact. k must be >= 10 for rank10. This is the mode for galleries searched through an
approximate index (:mod:`reidfw.evaluation.gallery_index`), where only the top k exist.
"""
from __future__ import annotations

import logging

import numpy as np

from reidfw.evaluation.match_ranks import CELL_BYTES, DEFAULT_MEMORY_GB, JUNK_PID, exact_metrics, gemm_scores, summarize

# faiss' GPU k-selection is limited to k <= 2048; larger searches stay on the CPU.
_FAISS_GPU_MAX_K = 2048
# Deeper than this, a full numpy sort beats faiss' per-query heap (see evaluate_retrieval).
_FAISS_MAX_K = 2048
_QUERY_CHUNK = 256  # bounds the (chunk x gallery) arrays to tens of MB


def _as_numpy(x, dtype) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(x), dtype=dtype)


def brute_force_ranking(qf: np.ndarray, gf: np.ndarray, k: int) -> np.ndarray:
    """Indices (nq, k) of the k most similar gallery rows per query, by full numpy sorting."""
    out = np.empty((len(qf), k), dtype=np.int64)
    G = len(gf)
    for s in range(0, len(qf), _QUERY_CHUNK):
        sims = qf[s : s + _QUERY_CHUNK] @ gf.T
        if k < G // 4:
            # only the top k are needed: partition first, then order those k (same result, far less sorting)
            cand = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            cs = np.take_along_axis(sims, cand, 1)
            order = np.lexsort((cand, -cs), axis=1)  # by similarity, ties by gallery index
            out[s : s + _QUERY_CHUNK] = np.take_along_axis(cand, order, 1)
        else:
            # stable sort of -sim: ties keep gallery order, so the reference is deterministic
            out[s : s + _QUERY_CHUNK] = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return out


class FaissRanker:
    """A flat inner-product index over the gallery (GPU when faiss has one and k allows), searched per query chunk."""

    def __init__(self, gf: np.ndarray, k: int):
        # faiss logs each SIMD build it tries and fails to load at INFO; only problems matter here.
        logging.getLogger("faiss.loader").setLevel(logging.WARNING)
        import faiss

        self.k = k
        self.index = faiss.IndexFlatIP(gf.shape[1])
        num_gpus = getattr(faiss, "get_num_gpus", lambda: 0)()
        if num_gpus > 0 and k <= _FAISS_GPU_MAX_K and hasattr(faiss, "StandardGpuResources"):
            self._res = faiss.StandardGpuResources()  # kept alive as long as the GPU index
            self.index = faiss.index_cpu_to_gpu(self._res, 0, self.index)
        self.index.add(np.ascontiguousarray(gf, dtype=np.float32))

    def __call__(self, qf: np.ndarray) -> np.ndarray:
        return self.index.search(np.ascontiguousarray(qf, dtype=np.float32), self.k)[1].astype(np.int64, copy=False)


def faiss_ranking(qf: np.ndarray, gf: np.ndarray, k: int) -> np.ndarray:
    """Indices (nq, k) of the k largest inner products, through faiss."""
    return FaissRanker(gf, k)(qf)


def _max_excluded(q_pids, q_cams, g_pids, g_cams) -> int:
    """The most gallery images any query can lose to the exclusion rules (junk + same pid & camera)."""
    # (evaluate_retrieval drops junk before searching; the junk term keeps this right for any caller)
    n_junk = int((g_pids == JUNK_PID).sum())
    pairs, counts = np.unique(np.stack([g_pids, g_cams], 1), axis=0, return_counts=True)
    per_pair = {tuple(p): int(c) for p, c in zip(pairs.tolist(), counts)}
    worst = max((per_pair.get((int(p), int(c)), 0) for p, c in zip(q_pids, q_cams)), default=0)
    return n_junk + worst


class _Accumulator:
    """Sums AP, INP and CMC hits over query chunks, so the full (nq x gallery) ranking is never held at once."""

    def __init__(self, q_pids, q_cams, g_pids, g_cams, topk: int | None):
        self.q_pids, self.q_cams = np.asarray(q_pids, np.int64), np.asarray(q_cams, np.int64)
        self.g_pids, self.g_cams = np.asarray(g_pids, np.int64), np.asarray(g_cams, np.int64)
        self.topk = topk
        # Per query: matches in the whole gallery after exclusion (the AP denominator) and the
        # number of valid gallery images (where INP puts a hardest match that lies beyond topk).
        valid_g = self.g_pids != JUNK_PID
        pid_count: dict = {}
        pid_cam_count: dict = {}
        for p, c in zip(self.g_pids[valid_g].tolist(), self.g_cams[valid_g].tolist()):
            pid_count[p] = pid_count.get(p, 0) + 1
            pid_cam_count[(p, c)] = pid_cam_count.get((p, c), 0) + 1
        n_valid_total = int(valid_g.sum())
        qpc = list(zip(self.q_pids.tolist(), self.q_cams.tolist()))
        self.n_pos = np.array([pid_count.get(p, 0) - pid_cam_count.get((p, c), 0) for p, c in qpc], dtype=np.int64)
        self.n_valid = np.array([n_valid_total - pid_cam_count.get((p, c), 0) for p, c in qpc], dtype=np.int64)
        self.ap_sum = self.inp_sum = 0.0
        self.cmc_hits = np.zeros(10, dtype=np.int64)  # hits at rank 1..10
        self.n_eval = 0

    def add(self, start: int, r: np.ndarray) -> None:
        """``r``: ranked gallery indices (n, k) of queries ``start .. start + n``."""
        sl = slice(start, start + len(r))
        qp, qc = self.q_pids[sl, None], self.q_cams[sl, None]
        gp, gc = self.g_pids[r], self.g_cams[r]
        gp = np.where(r < 0, JUNK_PID, gp)  # -1: an index that found fewer than k results
        keep = (gp != JUNK_PID) & ~((gp == qp) & (gc == qc))
        pos = np.cumsum(keep, axis=1)  # 1-based rank among valid images
        if self.topk is not None:
            keep &= pos <= self.topk
        match = keep & (gp == qp)
        npos = self.n_pos[sl]
        has = npos > 0
        big = np.iinfo(np.int64).max
        cum_match = np.cumsum(match, axis=1)
        prec = np.where(match, cum_match / np.maximum(pos, 1), 0.0)
        ap = prec.sum(1) / np.maximum(npos, 1)
        found = cum_match[:, -1]
        first = np.where(match, pos, big).min(1)
        last = np.where(match, pos, 0).max(1)
        hardest = np.where(found == npos, last, self.n_valid[sl])
        inp = npos / np.maximum(hardest, 1)
        self.n_eval += int(has.sum())
        self.ap_sum += float(ap[has].sum())
        self.inp_sum += float(inp[has].sum())
        for n in range(1, 11):
            self.cmc_hits[n - 1] += int((first[has] <= n).sum())

    def result(self) -> dict:
        if self.n_eval == 0:
            raise ValueError(
                "no query has a valid match in the gallery (same pid in another camera); check that query and "
                "gallery come from the same data set and that file names carry pid and camera"
            )
        n = self.n_eval
        return {
            "mAP": self.ap_sum / n,
            "rank1": float(self.cmc_hits[0] / n),
            "rank5": float(self.cmc_hits[4] / n),
            "rank10": float(self.cmc_hits[9] / n),
            "mINP": self.inp_sum / n,
            "num_queries": n,
            "skipped_queries": int(len(self.q_pids) - n),
            "gallery_size": int(len(self.g_pids)),
            "topk": self.topk,
        }


def metrics_from_ranking(ranking: np.ndarray, q_pids, q_cams, g_pids, g_cams, topk: int | None = None) -> dict:
    """mAP, CMC and mINP from ranked gallery indices (nq, k), applying the Market-1501 rules.

    ``ranking`` may be the full ranking (k = gallery size) or a prefix long
    enough to hold ``topk`` valid images per query.
    """
    acc = _Accumulator(q_pids, q_cams, g_pids, g_cams, topk)
    for s in range(0, len(ranking), _QUERY_CHUNK):
        acc.add(s, ranking[s : s + _QUERY_CHUNK])
    return acc.result()


def evaluate_retrieval(
    qf,
    q_pids,
    q_cams,
    gf,
    g_pids,
    g_cams,
    topk: int | None = None,
    use_faiss: bool = True,
    *,
    memory_gb: float | None = None,
    device: str = "auto",
    progress: bool = False,
) -> dict:
    """Market-1501 mAP / rank-1/5/10 / mINP (fractions in [0, 1]) for L2-normalised features.

    Features may be numpy or torch. ``topk=None`` ranks the full gallery (exact, see the
    module docstring); ``memory_gb`` bounds its working memory (default 2), ``device``
    picks where its GEMM and counting run (``auto``: CUDA when present). With ``topk=k``,
    ``use_faiss=False`` ranks with numpy (the reference); searches deeper than 2,048 use
    numpy either way, being faster there. ``progress`` shows a progress bar.
    Extra keys: ``num_queries`` (evaluated), ``skipped_queries`` (no valid match),
    ``gallery_size``, ``topk``, ``ranker`` ("exact", "faiss" or "numpy": which one ran).
    """
    qf, q_pids, q_cams, gf, g_pids, g_cams = prepare_inputs(qf, q_pids, q_cams, gf, g_pids, g_cams)
    G_all = len(gf)
    real = g_pids != JUNK_PID
    G = int(real.sum())
    if topk is not None and topk < 10:
        raise ValueError(f"topk={topk} is too small: rank10 needs at least the top 10; use topk>=10 or topk=None")
    if topk is None or topk >= G:
        return {**exact_retrieval(qf, q_pids, q_cams, gf, g_pids, g_cams, memory_gb=memory_gb, device=device,
                                  progress=progress), "gallery_size": G_all}
    # Junk never counts either way: drop it before searching, so a top-k search need not dig past
    # it (Market-1501's test set has 3,819 junk images, which would push k beyond faiss' range).
    gf, g_pids, g_cams = gf[real], g_pids[real], g_cams[real]
    # Search deep enough that topk valid images survive the exclusions.
    k = min(G, topk + _max_excluded(q_pids, q_cams, g_pids, g_cams))
    # faiss keeps a k-heap per query: for a deep search (k in the thousands) that loses to one full
    # numpy sort, and GPU faiss cannot go past k = 2048 at all. So faiss serves top-k searches up
    # to 2,048; deeper ones take the numpy ranking.
    ranker = "faiss" if use_faiss and k <= _FAISS_MAX_K else "numpy"
    rank = FaissRanker(gf, k) if ranker == "faiss" else (lambda q: brute_force_ranking(q, gf, k))
    acc = _Accumulator(q_pids, q_cams, g_pids, g_cams, topk)
    for s in range(0, len(qf), _QUERY_CHUNK):
        acc.add(s, rank(qf[s : s + _QUERY_CHUNK]))
    return {**acc.result(), "gallery_size": G_all, "ranker": ranker}


def prepare_inputs(qf, q_pids, q_cams, gf, g_pids, g_cams) -> tuple[np.ndarray, ...]:
    """Features as float32 (n, d) and labels as int64 (n,) numpy arrays (no copies where they already are); checked."""
    qf, gf = _as_numpy(qf, np.float32), _as_numpy(gf, np.float32)
    q_pids, q_cams = _as_numpy(q_pids, np.int64).ravel(), _as_numpy(q_cams, np.int64).ravel()
    g_pids, g_cams = _as_numpy(g_pids, np.int64).ravel(), _as_numpy(g_cams, np.int64).ravel()
    if qf.ndim != 2 or gf.ndim != 2 or qf.shape[1] != gf.shape[1]:
        raise ValueError(f"features must be (n, d) with the same d; got query {qf.shape}, gallery {gf.shape}")
    if len(q_pids) != len(qf) or len(q_cams) != len(qf) or len(g_pids) != len(gf) or len(g_cams) != len(gf):
        raise ValueError("pids/cams must have one entry per feature row (query and gallery)")
    G = int((g_pids != JUNK_PID).sum())
    if G == 0 or len(qf) == 0:
        raise ValueError(f"empty query ({len(qf)}) or gallery ({G}) set: nothing to rank; check the data root")
    for name, f in (("query", qf), ("gallery", gf)):
        # a sum is finite iff every value is (float64 only to rule out an overflow of the float32 sum)
        if not np.isfinite(f.sum()) and not np.isfinite(f.sum(dtype=np.float64)):
            raise ValueError(f"{name} features contain NaN or inf; check the model's output (e.g. amp overflow)")
    return qf, q_pids, q_cams, gf, g_pids, g_cams


def exact_retrieval(qf, q_pids, q_cams, gf, g_pids, g_cams, *, memory_gb=None, device="auto", progress=False,
                    scores=None, cell_bytes: int = CELL_BYTES) -> dict:
    """Exact metrics over the whole gallery (junk ignored in place, no copy of the features).

    ``scores``: a :data:`~reidfw.evaluation.match_ranks.ScoreFn` replacing the inner products
    of ``qf`` and ``gf`` (then unused), e.g. re-ranked similarities, with ``cell_bytes`` its
    memory per query x gallery cell; default the GEMM on ``device``.
    """
    import torch

    from reidfw.evaluation.embed import resolve_device

    dev = resolve_device(device)
    if scores is None:
        q_t = torch.from_numpy(qf)
        g_t = torch.from_numpy(gf).to(dev)  # no copy on the CPU
        scores = gemm_scores(q_t, g_t)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(q_pids), desc="retrieval metrics", unit="query", leave=False)
    try:
        m = exact_metrics(
            q_pids, q_cams, g_pids, g_cams, scores,
            memory_bytes=(DEFAULT_MEMORY_GB if memory_gb is None else float(memory_gb)) * 2**30,
            device=dev,
            cell_bytes=cell_bytes,
            progress=(lambda done, total: bar.update(done - bar.n)) if bar is not None else None,
        )
    finally:
        if bar is not None:
            bar.close()
    return {**summarize(m, len(g_pids)), "ranker": "exact", "device": str(dev)}
