"""Exact Market-1501 metrics without sorting the gallery: the rank of every true match, by counting.

AP, CMC and INP of a query depend only on where its true matches land among the valid
gallery (junk and same-identity-same-camera images removed). If a query's P matches score
v_1 >= ... >= v_P, the h-th of them sits at rank ``h + (valid non-matches scoring above v_h)``.
So no gallery needs sorting; per query chunk:

1. ``S = Q_chunk @ G^T`` (:func:`inner_products`: OpenBLAS on a CPU, cuBLAS on CUDA), the GEMM every
   exact evaluator pays;
2. each query's same-identity gallery entries come from a pid index (a few dozen per query):
   the matches' scores are kept, then those entries (matches and the same-camera ones the
   rules exclude) are set to -inf;
3. only a non-match scoring >= the query's weakest match can move a match: one compare pass
   marks them (for a trained model a small part of the gallery) and ``nonzero`` gathers them
   (junk among them is dropped here);
4. each marked score is located among its query's sorted match scores (one ``searchsorted`` over
   packed (query, score) int64 keys) and counted per slot (``bincount``); a reversed cumulative
   sum gives every match the number of non-matches above it.

Beyond the GEMM this costs two passes over the chunk's scores plus work proportional to the
marked entries. Memory: a chunk's scores (4 bytes per query x gallery cell) and mask (1 byte),
plus the marked entries; both are sized from ``memory_bytes`` (see :func:`plan_chunks`).

Ties follow a stable sort by descending score, ties broken by gallery index (the reference).
Ties among matches or among non-matches change nothing; a non-match scoring exactly like a
match (duplicate images under two ids) is detected and that query is re-ranked by a stable
sort of its row.

The result does not depend on the chunking: BLAS libraries switch to another kernel for GEMMs
of very few rows, which rounds some scores differently, so the GEMM never runs on fewer
than ``MIN_GEMM_ROWS`` rows (a short last chunk is padded with zero rows); every query's AP
is summed over its matches in rank order in float64, alone; the means use ``math.fsum``
(exactly rounded, so independent of order).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

JUNK_PID = -1
MIN_GEMM_ROWS = 16
# Past ~1,000 rows the GEMM is as fast as it gets (Market scale, 2 cores: 1.69 s at 1,024 rows,
# 1.67 s at 2,048, 1.95 s at 256); larger chunks only cost memory.
MAX_CHUNK_ROWS = 1024
CELL_BYTES = 5  # per query x gallery cell: float32 score + bool mask
# per marked entry: row and column ids from nonzero (16), its score and the packed key with the
# temporaries of their arithmetic (~40), search slot, tie check and filtered copies (~40)
MARKED_BYTES = 96
DEFAULT_MEMORY_GB = 2.0

ScoreFn = Callable[[int, int, torch.Tensor], torch.Tensor]


@dataclass
class ChunkPlan:
    rows: int  # queries per chunk
    group_rows: int  # rows whose marked entries are gathered at once


def plan_chunks(n_gallery: int, n_queries: int, memory_bytes: float, cell_bytes: int = CELL_BYTES) -> ChunkPlan:
    """Half of the budget for the chunk's (query x gallery) cells, half for marked entries.

    The marked half holds a group of rows even if every one of its cells is marked (a
    random model), so the budget holds whatever the features.
    """
    half = int(memory_bytes) // 2
    rows = min(MAX_CHUNK_ROWS, max(n_queries, 1), half // max(1, n_gallery * cell_bytes))
    group_rows = half // max(1, n_gallery * MARKED_BYTES)
    if rows < 1 or group_rows < 1 or max(rows, MIN_GEMM_ROWS) * n_gallery * cell_bytes > half:
        need = 2 * n_gallery * max(MIN_GEMM_ROWS * cell_bytes, MARKED_BYTES)
        raise ValueError(
            f"retrieval memory budget {memory_bytes / 2**20:.2f} MiB is too small for a gallery of {n_gallery:,} "
            f"images: it needs at least {math.ceil(need / 2**20 * 100) / 100:.2f} MiB; raise retrieval_memory_gb (memory_gb=)"
        )
    return ChunkPlan(rows=rows, group_rows=min(group_rows, rows))


def _pack(rows: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """int64 keys ordered by (row, score): the row in the high 32 bits, the float's order-preserving bits below."""
    bits = (scores + 0.0).view(torch.int32)  # + 0.0 turns -0.0 into +0.0, which compares equal to it
    # IEEE floats order like sign-magnitude integers: flipping the magnitude of negatives makes the
    # signed-integer order equal the float order.
    bits = torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits)
    return (rows.to(torch.int64) << 32) + (bits.to(torch.int64) + 2**31)


class SameIdentityIndex:
    """For each query, the gallery positions sharing its pid (matches and same-camera exclusions)."""

    def __init__(self, g_pids: np.ndarray, g_cams: np.ndarray):
        self.g_pids, self.g_cams = g_pids, g_cams
        self.order = np.argsort(g_pids, kind="stable")
        self.sorted_pids = g_pids[self.order]

    def pairs(self, q_pids: np.ndarray, q_cams: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, gallery position, is_match) for every same-pid pair, grouped by row, gallery order within."""
        lo = np.searchsorted(self.sorted_pids, q_pids, "left")
        hi = np.searchsorted(self.sorted_pids, q_pids, "right")
        lens = hi - lo
        rows = np.repeat(np.arange(len(q_pids)), lens)
        offsets = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
        cols = self.order[np.repeat(lo, lens) + offsets]
        match = (self.g_cams[cols] != q_cams[rows]) & (q_pids[rows] != JUNK_PID)
        return rows, cols, match


class RankCounter:
    """Per query: the number of matches P and their ranks among the valid gallery (rank order)."""

    def __init__(self, q_pids, q_cams, g_pids, g_cams, device: torch.device):
        self.q_pids, self.q_cams = q_pids, q_cams
        self.index = SameIdentityIndex(g_pids, g_cams)
        self.device = device
        is_junk = g_pids == JUNK_PID
        # Junk is dropped among the marked entries (few) rather than written into every row (all).
        self.is_junk = torch.from_numpy(is_junk).to(device) if is_junk.any() else None

    def chunk(self, start: int, stop: int, S: torch.Tensor, mask: torch.Tensor, group_rows: int):
        """Ranks for queries ``start..stop`` from their score rows ``S`` (modified in place).

        ``mask`` is a bool buffer shaped like ``S``; marked entries are gathered ``group_rows``
        rows at a time. Returns (P per query, ranks flat in (query, h) order) as numpy int64.
        """
        dev = self.device
        c = stop - start
        rows_np, cols_np, match_np = self.index.pairs(self.q_pids[start:stop], self.q_cams[start:stop])
        rows_t, cols_t = torch.from_numpy(rows_np).to(dev), torch.from_numpy(cols_np).to(dev)
        match_t = torch.from_numpy(match_np).to(dev)
        mr, mc = rows_t[match_t], cols_t[match_t]
        mv = S[mr, mc]  # the matches' scores, kept before S is overwritten
        S[rows_t, cols_t] = float("-inf")
        P = torch.bincount(mr, minlength=c)
        n = int(mr.numel())
        if n == 0:
            return P.cpu().numpy(), np.zeros(0, np.int64)
        start_of = torch.cumsum(P, 0) - P
        # weakest match per query; +inf for queries without one, so nothing is marked there
        weakest = torch.full((c,), float("inf"), device=dev, dtype=S.dtype).scatter_reduce_(0, mr, mv, "amin")
        keys, order = torch.sort(_pack(mr, mv))
        torch.ge(S, weakest[:, None], out=mask)
        hist = torch.zeros(n + 1, dtype=torch.int64, device=dev)
        tie_rows: set[int] = set()
        for a in range(0, c, group_rows):
            b = min(c, a + group_rows)
            rid, col = torch.nonzero(mask[a:b], as_tuple=True)
            if self.is_junk is not None and rid.numel():
                keep = ~self.is_junk[col]
                rid, col = rid[keep], col[keep]
            if not rid.numel():
                continue
            rid += a
            k = _pack(rid, S[rid, col])
            del col
            slot = torch.searchsorted(keys, k)
            tie = keys[slot.clamp(max=n - 1)] == k
            if bool(tie.any()):
                tie_rows.update(torch.unique(rid[tie]).tolist())
                slot = slot[~tie]
            hist += torch.bincount(slot, minlength=n + 1)
            del rid, k, slot, tie
        # A marked score of query r with k of its matches strictly below it lands in slot
        # start_r + k (k >= 1: it is >= the weakest match and not tied with it). The match with
        # ascending index j has every marked entry with k > j above it.
        above_from = torch.flip(torch.cumsum(torch.flip(hist, (0,)), 0), (0,))  # above_from[s] = sum hist[s:]
        above_from = torch.cat([above_from, above_from.new_zeros(1)])
        row_of = mr[order]  # sorted keys are grouped by row
        end = (start_of + P)[row_of]
        n_above = (above_from[torch.arange(n, device=dev) + 1] - above_from[end + 1]).cpu().numpy()
        P_np, start_np, row_np = P.cpu().numpy(), start_of.cpu().numpy(), row_of.cpu().numpy()
        # the match at ascending position p of row r is the h-th in rank order, h = start_r + P_r - p
        h = start_np[row_np] + P_np[row_np] - np.arange(n)
        ranks = np.empty(n, np.int64)
        ranks[start_np[row_np] + h - 1] = h + n_above
        for r in sorted(tie_rows):
            sel = mr == r
            ranks[start_np[r] : start_np[r] + P_np[r]] = self._stable_ranks(S[r], mc[sel], mv[sel])
        return P_np, ranks

    def _stable_ranks(self, row: torch.Tensor, match_cols: torch.Tensor, match_vals: torch.Tensor) -> np.ndarray:
        """Ranks of a query's matches by a stable sort of its row (the rare exact-tie case)."""
        row = row.clone()
        if self.is_junk is not None:
            row[self.is_junk] = float("-inf")
        row[match_cols] = match_vals  # excluded entries stay -inf: last, after every valid one
        order = torch.sort(row, descending=True, stable=True).indices
        is_match = torch.zeros_like(row, dtype=torch.bool)
        is_match[match_cols] = True
        return (torch.nonzero(is_match[order]).flatten() + 1).cpu().numpy()


def per_query_metrics(P: np.ndarray, ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AP, INP and first-match rank per query from (P, ranks flat in (query, h) order); 0 where P == 0."""
    nq = len(P)
    row = np.repeat(np.arange(nq), P)
    start = np.cumsum(P) - P
    h = np.arange(len(ranks)) - start[row] + 1
    ap = np.zeros(nq)
    # np.add.at applies the additions in index order: each query's sum runs over its matches in
    # rank order, the same operations as a plain loop, independent of the other queries.
    np.add.at(ap, row, h / ranks)
    has = P > 0
    ap[has] /= P[has]
    inp = np.zeros(nq)
    first = np.zeros(nq, np.int64)
    inp[has] = P[has] / ranks[start[has] + P[has] - 1]
    first[has] = ranks[start[has]]
    return ap, inp, first


def exact_metrics(
    q_pids: np.ndarray,
    q_cams: np.ndarray,
    g_pids: np.ndarray,
    g_cams: np.ndarray,
    scores: ScoreFn,
    *,
    memory_bytes: float,
    device: torch.device,
    cell_bytes: int = CELL_BYTES,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Per-query AP / INP / first-match rank and P over all queries, chunk by chunk.

    ``scores(start, stop, out)`` writes query rows ``start..stop`` into ``out`` and returns it;
    ``cell_bytes`` is what one query x gallery cell costs that function plus this one.
    """
    nq, G = len(q_pids), len(g_pids)
    plan = plan_chunks(G, nq, memory_bytes, cell_bytes)
    counter = RankCounter(q_pids, q_cams, g_pids, g_cams, device)
    buf_rows = max(plan.rows, MIN_GEMM_ROWS)
    S_buf = torch.empty((buf_rows, G), dtype=torch.float32, device=device)
    mask_buf = torch.empty((plan.rows, G), dtype=torch.bool, device=device)
    Ps, ranks = [], []
    # On a CPU the GEMM runs on OpenBLAS' threads, which keep spinning a while after each call;
    # torch's own pool on the same cores would fight them (measured at Market scale on 2 busy
    # cores: 1.61x the GEMM alone with two torch threads, 1.28x with one). The counting is light
    # and memory-bound (~6% of the GEMM on one thread), so one torch thread does it.
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        for s in range(0, nq, plan.rows):
            e = min(nq, s + plan.rows)
            S = scores(s, e, S_buf)
            P, r = counter.chunk(s, e, S[: e - s], mask_buf[: e - s], plan.group_rows)
            Ps.append(P)
            ranks.append(r)
            if progress is not None:
                progress(e, nq)
    finally:
        torch.set_num_threads(threads)
    del S_buf, mask_buf
    P = np.concatenate(Ps)
    ap, inp, first = per_query_metrics(P, np.concatenate(ranks))
    return {"P": P, "ap": ap, "inp": inp, "first": first, "chunk_rows": plan.rows}


def summarize(m: dict, n_gallery: int) -> dict:
    """The retrieval result dict (fractions in [0, 1]) from :func:`exact_metrics`' per-query arrays."""
    has = m["P"] > 0
    n = int(has.sum())
    if n == 0:
        raise ValueError(
            "no query has a valid match in the gallery (same pid in another camera); check that query and "
            "gallery come from the same data set and that file names carry pid and camera"
        )
    first = m["first"][has]
    return {
        "mAP": math.fsum(m["ap"][has]) / n,
        "rank1": float((first <= 1).sum() / n),
        "rank5": float((first <= 5).sum() / n),
        "rank10": float((first <= 10).sum() / n),
        "mINP": math.fsum(m["inp"][has]) / n,
        "num_queries": n,
        "skipped_queries": int(len(has) - n),
        "gallery_size": int(n_gallery),
        "topk": None,
    }


def inner_products(q: torch.Tensor, g: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``out[:len(q)] = q @ g.T`` in float32, on ``out``'s device; returns that slice.

    On a CPU through numpy's BLAS (OpenBLAS, AVX-512 kernels): on the AMD EPYC this was
    measured on it runs sgemm at ~100 GFLOPS per core where torch's MKL, which takes its AVX2
    path on AMD, reaches ~62. On CUDA, cuBLAS through torch.
    """
    dst = out[: len(q)]
    if dst.device.type == "cpu":
        np.matmul(q.numpy(), g.numpy().T, out=dst.numpy())
    else:
        torch.mm(q, g.T, out=dst)
    return dst


def gemm_scores(qf: torch.Tensor, gf: torch.Tensor) -> ScoreFn:
    """Inner products of query rows with the gallery, computed so that no row depends on the chunking."""

    def scores(start: int, stop: int, out: torch.Tensor) -> torch.Tensor:
        q = qf[start:stop].to(out.device, non_blocking=True)
        if len(q) < MIN_GEMM_ROWS:
            # BLAS libraries switch kernels for GEMMs of very few rows (OpenBLAS: 1, MKL: < 12), which
            # rounds some scores differently; pad to stay bit-identical whatever the chunking
            pad = torch.zeros((MIN_GEMM_ROWS, q.shape[1]), dtype=q.dtype, device=q.device)
            pad[: len(q)] = q
            q = pad
        inner_products(q, gf, out)
        return out[: stop - start]

    return scores
