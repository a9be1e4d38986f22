"""k-reciprocal re-ranking (Zhong et al., CVPR 2017) in sparse form: memory grows with (Q+G)*k, not (Q+G)^2.

The reference implementation (the authors', as torchreid and fast-reid ship it) builds the
full (Q+G) x (Q+G) distance, rank and encoding matrices: ~4 GB of float32 at Market-1501
scale, ~140 GB at MSMT17's. Every step of the method is local to k-nearest-neighbour lists,
so here each is kept as one:

1. one pass over the (Q+G)^2 inner products (in row chunks; never stored) keeps each item's
   3 (k1 + 1) nearest neighbours with their inner products, and its farthest distance (the
   method normalises each row of squared cosine distances by its maximum, so that is needed
   too -- a faiss k-NN search would need a second full pass for it);
2. k-reciprocal sets R(i) (j in kNN(i) and i in kNN(j)) and their expansion by the
   half-size sets of their members (added when they share > 2/3 of their items with R(i)),
   as sorted pair lists;
3. the encoding V: V[i, j] = exp(-d(i, j)) normalised over the expanded set (sparse rows),
   then query expansion V <- mean of V over the k2 nearest neighbours (a sparse product);
4. the Jaccard distance of query i to gallery j, 1 - m / (2 - m), m = sum_k min(V[i,k], V[j,k]),
   is non-trivial only where the two rows share a column: those pairs come from the columns'
   inverted lists, accumulated straight into the score block the evaluator asks for. Every
   other pair has m = 0.

The final distance ``(1 - lambda) * jaccard + lambda * d`` is produced block by block for
:func:`reidfw.evaluation.match_ranks.exact_metrics`, so the re-ranked metrics are exact with the
same bounded memory. Arithmetic follows the reference in float32, step for step (its squared
cosine distance, the row normalisation, the order of every sum), so the two agree to float
rounding (tests/evaluation/test_rerank.py compares them).

Base distance: cosine, d = (1 - cos)^2 / max_j (1 - cos)^2 (the reference's squaring and row
normalisation of a 1 - cos distance matrix). Junk gallery images (pid -1) take no part:
the reference's data loaders drop them before re-ranking.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from reidfw.evaluation.match_ranks import DEFAULT_MEMORY_GB, MIN_GEMM_ROWS, inner_products

# Rows of the (Q+G) x (Q+G) pass per block, from the memory budget (a block, its transposed copy and
# topk temporaries: ~12 bytes per cell) within these bounds: fewer, larger blocks mean fewer merges
# of the running neighbour lists.
_PASS_ROWS = (64, 4096)
# Pairs handled at once where their feature rows are gathered (dot products of expansion pairs).
_PAIR_CHUNK = 16384
# Neighbour lists kept from the first pass, in multiples of k1 + 1 (see KReciprocalReranker).
_LOOKUP_DEPTH = 3
# One query x gallery cell of a re-ranked score block: scores (4) + Jaccard accumulator (4) +
# the evaluator's mask (1) + the float32 temporary of ``2 - m`` (4).
RERANK_CELL_BYTES = 13


def _merge_top(vals: torch.Tensor, idx: torch.Tensor, new_vals: torch.Tensor, new_idx: torch.Tensor, k: int):
    """The k largest of two (rows, *) candidate lists, best first."""
    v, i = torch.cat([vals, new_vals], 1), torch.cat([idx, new_idx], 1)
    top = torch.topk(v, min(k, v.shape[1]), dim=1, largest=True, sorted=True)
    return top.values, torch.gather(i, 1, top.indices)


def _knn_and_farthest(X: torch.Tensor, k: int, device: torch.device, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, k) nearest neighbours by inner product (self included), their inner products, and each row's smallest.

    The inner products are symmetric, so only the blocks on and right of the diagonal are
    computed (half the GEMM): block (rows I, columns >= I) serves rows I directly and, transposed,
    the rows after I, whose running lists are merged as the pass goes.
    """
    N = len(X)
    Xd = X.to(device)
    vals = torch.full((N, k), float("-inf"), device=device)
    idx = torch.full((N, k), -1, dtype=torch.int64, device=device)
    lowest = torch.full((N,), float("inf"), device=device)
    buf = torch.empty((max(rows, MIN_GEMM_ROWS), N), dtype=torch.float32, device=device)
    for s in range(0, N, rows):
        e = min(N, s + rows)
        q = Xd[s:e]
        if len(q) < MIN_GEMM_ROWS:  # same kernel as the other chunks (see match_ranks)
            q = torch.cat([q, q.new_zeros((MIN_GEMM_ROWS - len(q), q.shape[1]))])
        S = inner_products(q, Xd[s:], buf.view(-1)[: len(q) * (N - s)].view(len(q), N - s))[: e - s]
        # rows s..e: columns s.. here; columns < s arrived from earlier blocks
        top = torch.topk(S, min(k, N - s), dim=1, largest=True, sorted=True)
        vals[s:e], idx[s:e] = _merge_top(vals[s:e], idx[s:e], top.values, top.indices + s, k)
        lowest[s:e] = torch.minimum(lowest[s:e], S.min(1).values)
        if e < N:  # rows e..: their columns s..e are this block, transposed
            T = S[:, e - s :].T.contiguous()
            top = torch.topk(T, min(k, e - s), dim=1, largest=True, sorted=True)
            vals[e:], idx[e:] = _merge_top(vals[e:], idx[e:], top.values, top.indices + s, k)
            lowest[e:] = torch.minimum(lowest[e:], T.min(1).values)
    return idx.cpu().numpy(), vals.cpu().numpy(), lowest.cpu().numpy()


def _reciprocal_pairs(knn: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, j) with j among i's first k neighbours and i among j's, grouped by i in i's neighbour order."""
    N = len(knn)
    i = np.repeat(np.arange(N), k)
    j = knn[:, :k].ravel()
    forward = i * N + j
    recip = np.isin(j * N + i, forward)
    return i[recip], j[recip]


def _segment_starts(owner: np.ndarray, n: int) -> np.ndarray:
    """CSR-style offsets of a sorted owner array."""
    return np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n))])


class KReciprocalReranker:
    """Re-ranked query x gallery scores (-final distance), produced block by block.

    ``qf``, ``gf``: L2-normalised float32 features (junk already removed from ``gf``).
    Call it as a :data:`~reidfw.evaluation.match_ranks.ScoreFn`; :meth:`dense` gives the
    whole (Q, G) final distance for small sets.
    """

    def __init__(self, qf: np.ndarray, gf: np.ndarray, k1: int = 20, k2: int = 6, lambda_value: float = 0.3,
                 device: torch.device | str = "cpu", memory_bytes: float = 2 * 2**30):
        if k1 < 1 or k2 < 1 or not 0.0 <= lambda_value <= 1.0:
            raise ValueError(f"re-ranking needs k1 >= 1, k2 >= 1 and 0 <= lambda <= 1; got k1={k1}, k2={k2}, lambda={lambda_value}")
        self.device = torch.device(device)
        self.Q, self.G = len(qf), len(gf)
        N = self.Q + self.G
        self.lambda_value = float(lambda_value)
        # one copy of the features (query rows first, as in the reference's stacked matrices)
        self.X = torch.from_numpy(np.concatenate([qf, gf]).astype(np.float32, copy=False))
        self.Xg = self.X[self.Q :].to(self.device)
        k = min(k1 + 1, N)
        # Neighbour lists deeper than k: the expansion's second-order neighbours (needed with their
        # distances) are nearly always among them, so few inner products need computing afresh.
        rows = int(min(_PASS_ROWS[1], max(_PASS_ROWS[0], memory_bytes // (12 * N))))
        knn, sims, lowest = _knn_and_farthest(self.X, min(N, _LOOKUP_DEPTH * k), self.device, rows)
        keys = (np.arange(N)[:, None] * N + knn).ravel()
        order = np.argsort(keys)
        self._known_keys, self._known_sims = keys[order], sims.ravel()[order]
        # the reference divides each squared distance by its row's largest one
        self.row_max = np.square(np.float32(1) - lowest)
        V = self._encoding(knn, k, min(int(np.around(k1 / 2.0)) + 1, k))
        del self._known_keys, self._known_sims
        if k2 != 1:
            V = self._query_expansion(V, knn[:, : min(k2, k)])
        self.Vq = V[: self.Q].tocsr()
        self.Vq.sort_indices()  # the reference adds Jaccard terms in increasing column order
        self.Vg = V[self.Q :].tocsc()  # inverted lists: for each column, the gallery rows holding it
        self.Vg.sort_indices()

    # --- the encoding --------------------------------------------------------------------------------

    def _dist(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Normalised squared cosine distance of pairs (i, j), float32."""
        N = len(self.X)
        keys = i * N + j
        pos = np.minimum(np.searchsorted(self._known_keys, keys), len(self._known_keys) - 1)
        found = self._known_keys[pos] == keys
        sims = np.where(found, self._known_sims[pos], np.float32(0))
        miss = np.flatnonzero(~found)
        for s in range(0, len(miss), _PAIR_CHUNK):  # pairs beyond the neighbour lists: dot products
            m = miss[s : s + _PAIR_CHUNK]
            sims[m] = (self.X[i[m]] * self.X[j[m]]).sum(1).numpy()
        return np.square(np.float32(1) - sims) / self.row_max[i]

    def _encoding(self, knn: np.ndarray, k: int, k_half: int) -> sp.csr_matrix:
        N = len(knn)
        ri, rj = _reciprocal_pairs(knn, k)  # R(i)
        hi, hj = _reciprocal_pairs(knn, k_half)  # R_half(c), for the expansion
        r_keys = np.sort(ri * N + rj)
        h_start = _segment_starts(hi, N)
        h_len = np.diff(h_start)
        # For every pair (i, c), c in R(i): the items x of R_half(c) and whether x is in R(i).
        L = h_len[rj]
        owner = np.repeat(np.arange(len(ri)), L)  # index of the (i, c) pair
        x = hj[np.repeat(h_start[rj], L) + (np.arange(L.sum()) - np.repeat(np.cumsum(L) - L, L))]
        in_r = np.isin(ri[owner] * N + x, r_keys, assume_unique=False)
        inter = np.bincount(owner, weights=in_r, minlength=len(ri))
        # the reference's test, in the same float arithmetic: len(intersection) > 2/3 * len(R_half(c))
        accept = inter > 2.0 / 3 * L
        sel = accept[owner]
        keys = np.unique(np.concatenate([ri * N + rj, ri[owner[sel]] * N + x[sel]]))  # sorted: by i, then j
        ei, ej = keys // N, keys % N
        w = np.exp(-self._dist(ei, ej))
        starts = _segment_starts(ei, N)
        totals = np.add.reduceat(w, starts[:-1][np.diff(starts) > 0]) if len(w) else np.zeros(0, np.float32)
        w /= np.repeat(totals.astype(np.float32), np.diff(starts)[np.diff(starts) > 0])
        return sp.csr_matrix((w, ej, starts), shape=(N, N))

    @staticmethod
    def _query_expansion(V: sp.csr_matrix, nn: np.ndarray) -> sp.csr_matrix:
        """Row i <- mean of the rows of its k2 nearest neighbours (in neighbour order, as the reference sums)."""
        N, k2 = nn.shape
        A = sp.csr_matrix((np.ones(N * k2, np.float32), nn.ravel(), np.arange(0, N * k2 + 1, k2)), shape=(N, N))
        out = (A @ V).tocsr()
        out.data /= np.float32(k2)
        out.eliminate_zeros()
        return out

    # --- score blocks --------------------------------------------------------------------------------

    def _jaccard_overlap(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query row, gallery column, min(V_qk, V_gk)) for every shared column k, in (query, k) order."""
        Vq, Vg = self.Vq, self.Vg
        a, b = Vq.indptr[start], Vq.indptr[stop]
        ks, vq = Vq.indices[a:b], Vq.data[a:b]
        qrow = np.repeat(np.arange(stop - start), np.diff(Vq.indptr[start : stop + 1]))
        L = Vg.indptr[ks + 1] - Vg.indptr[ks]
        n = int(L.sum())
        pos = np.repeat(Vg.indptr[ks], L) + (np.arange(n) - np.repeat(np.cumsum(L) - L, L))
        return np.repeat(qrow, L), Vg.indices[pos], np.minimum(np.repeat(vq, L), Vg.data[pos])

    def final_distance(self, start: int, stop: int, out: torch.Tensor) -> np.ndarray:
        """The reference's final distance for queries ``start..stop`` (float32, written into the CPU buffer ``out``)."""
        c = stop - start
        q = self.X[start:stop]
        if c < MIN_GEMM_ROWS:
            q = torch.cat([q, q.new_zeros((MIN_GEMM_ROWS - c, q.shape[1]))])
        if self.device.type == "cpu":
            inner_products(q, self.Xg, out)
        else:
            out[: len(q)].copy_(q.to(self.device) @ self.Xg.T)
        d = out[:c].numpy()
        # d = (1 - cos)^2 / row max, in place
        np.subtract(np.float32(1), d, out=d)
        np.square(d, out=d)
        d /= self.row_max[start:stop, None]
        m = np.zeros((c, self.G), np.float32)
        rows, cols, mins = self._jaccard_overlap(start, stop)
        # np.add.at applies the additions in the given order: per pair, in increasing column k
        np.add.at(m, (rows, cols), mins)
        # jaccard = 1 - m / (2 - m); final = jaccard * (1 - lambda) + d * lambda (into d)
        np.divide(m, np.float32(2) - m, out=m)
        np.subtract(np.float32(1), m, out=m)
        m *= np.float32(1 - self.lambda_value)
        d *= np.float32(self.lambda_value)
        d += m
        return d

    def __call__(self, start: int, stop: int, out: torch.Tensor) -> torch.Tensor:
        """Scores (-final distance) of queries ``start..stop`` in ``out`` (a CPU buffer)."""
        S = out[: stop - start]
        self.final_distance(start, stop, out)
        return S.neg_()

    def dense(self) -> np.ndarray:
        """The whole (Q, G) final distance (small sets: tests, comparisons)."""
        out = torch.empty((max(self.Q, MIN_GEMM_ROWS), self.G), dtype=torch.float32)
        self.final_distance(0, self.Q, out)
        return out[: self.Q].numpy().copy()


def evaluate_reranked(qf, q_pids, q_cams, gf, g_pids, g_cams, *, k1: int = 20, k2: int = 6, lambda_value: float = 0.3,
                      memory_gb: float | None = None, device: str = "auto", progress: bool = False) -> dict:
    """:func:`~reidfw.evaluation.retrieval.evaluate_retrieval`'s exact metrics after k-reciprocal re-ranking.

    Same inputs and result keys (``ranker`` = "k-reciprocal"); the re-ranking's GEMMs run on
    ``device``, its sparse algebra and the counting on the CPU.
    """
    from reidfw.evaluation.embed import resolve_device
    from reidfw.evaluation.retrieval import JUNK_PID, exact_retrieval, prepare_inputs

    qf, q_pids, q_cams, gf, g_pids, g_cams = prepare_inputs(qf, q_pids, q_cams, gf, g_pids, g_cams)
    real = g_pids != JUNK_PID
    budget = (DEFAULT_MEMORY_GB if memory_gb is None else float(memory_gb)) * 2**30
    reranker = KReciprocalReranker(qf, gf[real], k1, k2, lambda_value, resolve_device(device), budget)
    res = exact_retrieval(None, q_pids, q_cams, None, g_pids[real], g_cams[real], memory_gb=memory_gb, device="cpu",
                          progress=progress, scores=reranker, cell_bytes=RERANK_CELL_BYTES)
    return {**res, "gallery_size": len(g_pids), "ranker": "k-reciprocal", "rerank": {"k1": k1, "k2": k2, "lambda": lambda_value}}
