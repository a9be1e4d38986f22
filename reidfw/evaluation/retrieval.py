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

Ranking is by inner product of L2-normalised features (= cosine). Two rankers
feed one metric routine: faiss (``IndexFlatIP``, on a GPU when faiss has one)
and :func:`brute_force_ranking` (full numpy ranking), the reference they are
tested against.

``topk``: with ``topk=None`` (default) every gallery image is ranked and the
metrics are exact. With ``topk=k`` only the first k *valid* gallery images
(after the exclusions) are ranked; matches beyond them count as not found, so
AP is a lower bound of the full AP (each missing match adds precision 0), and
INP assumes the hardest match sits at the end of the valid gallery (again a
lower bound). CMC rank-n for n <= k is exact. k must be >= 10 for rank10.
"""
from __future__ import annotations

import numpy as np

JUNK_PID = -1
# faiss' GPU k-selection is limited to k <= 2048; larger searches stay on the CPU.
_FAISS_GPU_MAX_K = 2048
_QUERY_CHUNK = 256  # bounds the (chunk x gallery) arrays to tens of MB


def _as_numpy(x, dtype) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(x), dtype=dtype)


def brute_force_ranking(qf: np.ndarray, gf: np.ndarray, k: int) -> np.ndarray:
    """Indices (nq, k) of the k most similar gallery rows per query, by full numpy sorting."""
    out = np.empty((len(qf), k), dtype=np.int64)
    for s in range(0, len(qf), _QUERY_CHUNK):
        sims = qf[s : s + _QUERY_CHUNK] @ gf.T
        # stable sort of -sim: ties keep gallery order, so the reference is deterministic
        out[s : s + _QUERY_CHUNK] = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return out


def faiss_ranking(qf: np.ndarray, gf: np.ndarray, k: int) -> np.ndarray:
    """Indices (nq, k) of the k largest inner products, through faiss (GPU when available and k allows)."""
    import faiss

    index = faiss.IndexFlatIP(gf.shape[1])
    num_gpus = getattr(faiss, "get_num_gpus", lambda: 0)()
    if num_gpus > 0 and k <= _FAISS_GPU_MAX_K and hasattr(faiss, "StandardGpuResources"):
        res = faiss.StandardGpuResources()
        index = faiss.index_cpu_to_gpu(res, 0, index)
    index.add(gf)
    out = np.empty((len(qf), k), dtype=np.int64)
    for s in range(0, len(qf), 4 * _QUERY_CHUNK):
        _, idx = index.search(qf[s : s + 4 * _QUERY_CHUNK], k)
        out[s : s + 4 * _QUERY_CHUNK] = idx
    return out


def _max_excluded(q_pids, q_cams, g_pids, g_cams) -> int:
    """The most gallery images any query can lose to the exclusion rules (junk + same pid & camera)."""
    n_junk = int((g_pids == JUNK_PID).sum())
    pairs, counts = np.unique(np.stack([g_pids, g_cams], 1), axis=0, return_counts=True)
    per_pair = {tuple(p): int(c) for p, c in zip(pairs.tolist(), counts)}
    worst = max((per_pair.get((int(p), int(c)), 0) for p, c in zip(q_pids, q_cams)), default=0)
    return n_junk + worst


def metrics_from_ranking(
    ranking: np.ndarray,
    q_pids: np.ndarray,
    q_cams: np.ndarray,
    g_pids: np.ndarray,
    g_cams: np.ndarray,
    topk: int | None = None,
) -> dict:
    """mAP, CMC and mINP from ranked gallery indices (nq, k), applying the Market-1501 rules.

    ``ranking`` may be the full ranking (k = gallery size) or a prefix long
    enough to hold ``topk`` valid images per query.
    """
    q_pids, q_cams = np.asarray(q_pids, np.int64), np.asarray(q_cams, np.int64)
    g_pids, g_cams = np.asarray(g_pids, np.int64), np.asarray(g_cams, np.int64)
    G = len(g_pids)
    # Per query: matches in the whole gallery after exclusion (the AP denominator)
    # and the number of valid gallery images (for INP when the hardest match is beyond topk).
    valid_g = g_pids != JUNK_PID
    pid_count = {}
    pid_cam_count = {}
    for p, c in zip(g_pids[valid_g].tolist(), g_cams[valid_g].tolist()):
        pid_count[p] = pid_count.get(p, 0) + 1
        pid_cam_count[(p, c)] = pid_cam_count.get((p, c), 0) + 1
    n_valid_gallery_total = int(valid_g.sum())
    n_pos = np.array([pid_count.get(p, 0) - pid_cam_count.get((p, c), 0) for p, c in zip(q_pids.tolist(), q_cams.tolist())])
    n_valid = np.array([n_valid_gallery_total - pid_cam_count.get((p, c), 0) for p, c in zip(q_pids.tolist(), q_cams.tolist())])

    ap_sum = inp_sum = 0.0
    cmc_hits = np.zeros(10, dtype=np.int64)  # hits at rank 1..10
    n_eval = 0
    for s in range(0, len(q_pids), _QUERY_CHUNK):
        r = ranking[s : s + _QUERY_CHUNK]
        qp, qc = q_pids[s : s + _QUERY_CHUNK, None], q_cams[s : s + _QUERY_CHUNK, None]
        gp, gc = g_pids[r], g_cams[r]
        keep = (gp != JUNK_PID) & ~((gp == qp) & (gc == qc))
        pos = np.cumsum(keep, axis=1)  # 1-based rank among valid images
        if topk is not None:
            keep &= pos <= topk
        match = keep & (gp == qp)
        npos = n_pos[s : s + _QUERY_CHUNK]
        has = npos > 0
        n_eval += int(has.sum())
        cum_match = np.cumsum(match, axis=1)
        prec = np.where(match, cum_match / np.maximum(pos, 1), 0.0)
        ap = prec.sum(1) / np.maximum(npos, 1)
        found = cum_match[:, -1] if r.shape[1] else np.zeros(len(r), dtype=np.int64)
        first = np.where(match.any(1), np.where(match, pos, np.iinfo(np.int64).max).min(1), np.iinfo(np.int64).max)
        last = np.where(match, pos, 0).max(1) if r.shape[1] else np.zeros(len(r), dtype=np.int64)
        hardest = np.where(found == npos, last, n_valid[s : s + _QUERY_CHUNK])
        inp = npos / np.maximum(hardest, 1)
        ap_sum += float(ap[has].sum())
        inp_sum += float(inp[has].sum())
        for n in range(1, 11):
            cmc_hits[n - 1] += int((first[has] <= n).sum())
    if n_eval == 0:
        raise ValueError(
            "no query has a valid match in the gallery (same pid in another camera); check that query and "
            "gallery come from the same data set and that file names carry pid and camera"
        )
    return {
        "mAP": ap_sum / n_eval,
        "rank1": cmc_hits[0] / n_eval,
        "rank5": cmc_hits[4] / n_eval,
        "rank10": cmc_hits[9] / n_eval,
        "mINP": inp_sum / n_eval,
        "num_queries": n_eval,
        "skipped_queries": int(len(q_pids) - n_eval),
        "gallery_size": G,
        "topk": topk,
    }


def evaluate_retrieval(qf, q_pids, q_cams, gf, g_pids, g_cams, topk: int | None = None, use_faiss: bool = True) -> dict:
    """Market-1501 mAP / rank-1/5/10 / mINP (fractions in [0, 1]) for L2-normalised features.

    Features may be numpy or torch. ``topk=None`` ranks the full gallery (exact);
    see the module docstring for what ``topk`` changes. ``use_faiss=False``
    ranks with numpy (the reference). Extra keys: ``num_queries`` (evaluated),
    ``skipped_queries`` (no valid match), ``gallery_size``, ``topk``.
    """
    qf, gf = _as_numpy(qf, np.float32), _as_numpy(gf, np.float32)
    q_pids, q_cams = _as_numpy(q_pids, np.int64).ravel(), _as_numpy(q_cams, np.int64).ravel()
    g_pids, g_cams = _as_numpy(g_pids, np.int64).ravel(), _as_numpy(g_cams, np.int64).ravel()
    if qf.ndim != 2 or gf.ndim != 2 or qf.shape[1] != gf.shape[1]:
        raise ValueError(f"features must be (n, d) with the same d; got query {qf.shape}, gallery {gf.shape}")
    if len(q_pids) != len(qf) or len(q_cams) != len(qf) or len(g_pids) != len(gf) or len(g_cams) != len(gf):
        raise ValueError("pids/cams must have one entry per feature row (query and gallery)")
    G = len(gf)
    if topk is not None and topk < 10:
        raise ValueError(f"topk={topk} is too small: rank10 needs at least the top 10; use topk>=10 or topk=None")
    if topk is None or topk >= G:
        k, topk = G, None
    else:
        # Search deep enough that topk valid images survive the exclusions.
        k = min(G, topk + _max_excluded(q_pids, q_cams, g_pids, g_cams))
    ranking = faiss_ranking(qf, gf, k) if use_faiss else brute_force_ranking(qf, gf, k)
    return metrics_from_ranking(ranking, q_pids, q_cams, g_pids, g_cams, topk=topk)
