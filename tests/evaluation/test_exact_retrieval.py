"""Exact retrieval metrics by rank counting: bit-identical to a plain full-sort reference at any chunking."""
import math

import numpy as np
import pytest
import torch

from reidfw.evaluation.match_ranks import CELL_BYTES, MARKED_BYTES, MIN_GEMM_ROWS, plan_chunks
from reidfw.evaluation.retrieval import evaluate_retrieval

KEYS = ("mAP", "rank1", "rank5", "rank10", "mINP", "num_queries", "skipped_queries")


def reference(qf, qp, qc, gf, gp, gc):
    """The definition, spelled out: full score matrix, per query a stable sort of the valid gallery, AP/INP by a loop."""
    S = (torch.from_numpy(qf) @ torch.from_numpy(gf).T).numpy()
    aps, inps, firsts = [], [], []
    for i in range(len(qf)):
        valid = np.flatnonzero((gp != -1) & ~((gp == qp[i]) & (gc == qc[i])))
        order = valid[np.argsort(-S[i, valid], kind="stable")]  # ties: lower gallery index first
        hits = np.flatnonzero(gp[order] == qp[i]) + 1  # 1-based ranks of the matches
        if qp[i] == -1 or len(hits) == 0:
            continue
        ap = 0.0
        for h, rank in enumerate(hits, 1):
            ap += h / rank
        aps.append(ap / len(hits))
        inps.append(len(hits) / hits[-1])
        firsts.append(hits[0])
    n, f = len(aps), np.array(firsts)
    return {"mAP": math.fsum(aps) / n, "rank1": float((f <= 1).sum() / n), "rank5": float((f <= 5).sum() / n),
            "rank10": float((f <= 10).sum() / n), "mINP": math.fsum(inps) / n, "num_queries": n,
            "skipped_queries": len(qf) - n}


def market_like(nq=230, ng=1500, d=24, ids=70, seed=0, levels=None):
    """Random identities over 6 cameras, junk (-1) and distractors (0) in the gallery, a junk query,
    queries without any gallery match. ``levels``: quantise features to that many values (many exact ties)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(ids + 5, d))
    gp = rng.integers(1, ids, size=ng)
    gp[:60] = 0
    gp[60:140] = -1
    qp = rng.integers(1, ids + 5, size=nq)  # ids >= ids have no gallery image: skipped
    qp[:2] = -1
    gc, qc = rng.integers(1, 7, size=ng), rng.integers(1, 7, size=nq)
    gf = centers[np.maximum(gp, 0)] + 1.6 * rng.normal(size=(ng, d))
    qf = centers[np.maximum(qp, 0)] + 1.6 * rng.normal(size=(nq, d))
    if levels:
        # small integers: every inner product is exact, so scores tie exactly and often
        return (np.round(qf * levels / 4).astype(np.float32), qp, qc, np.round(gf * levels / 4).astype(np.float32), gp, gc)
    norm = lambda x: (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    return norm(qf), qp, qc, norm(gf), gp, gc


def _budget_for_rows(rows, ng):
    """A budget (GB) whose plan gives ``rows`` queries per chunk (the cells get half of it; the other half
    must hold one row of marked entries, which sets the smallest budget: 19 rows)."""
    return max(2 * rows * ng * CELL_BYTES, 2 * ng * MARKED_BYTES) / 2**30


# 230 queries: one chunk, chunks of 100 / 64 (tails of 30 and 38), of 20 (a tail of 10 rows: the
# padded GEMM) and of 19 with marked entries gathered one row at a time (the smallest budget).
@pytest.mark.parametrize("rows", [None, 100, 64, 20, 19])
def test_chunked_equals_full_matrix_reference(rows):
    qf, qp, qc, gf, gp, gc = market_like()
    ref = reference(qf, qp, qc, gf, gp, gc)
    budget = None if rows is None else _budget_for_rows(rows, len(gf))
    if rows is not None:
        plan = plan_chunks(len(gf), len(qf), budget * 2**30)
        assert plan.rows == rows and plan.group_rows == (1 if rows == 19 else rows * CELL_BYTES // MARKED_BYTES)
    got = evaluate_retrieval(qf, qp, qc, gf, gp, gc, memory_gb=budget)
    assert got["ranker"] == "exact"
    assert {k: got[k] for k in KEYS} == ref  # bit for bit
    assert got["skipped_queries"] > 2 and 0 < got["mAP"] < 1 and 0 < got["mINP"] < got["mAP"]


@pytest.mark.parametrize("seed", [0, 1])
def test_exact_ties_follow_the_stable_order(seed):
    qf, qp, qc, gf, gp, gc = market_like(seed=seed, levels=3)
    # duplicated gallery images under another identity: match/non-match scores tie exactly
    gf[200:260] = gf[300:360]
    S = qf @ gf.T
    m = (gp[None, :] == qp[:, None]) & (gc[None, :] != qc[:, None])
    tied = [(S[i, m[i]][:, None] == S[i, ~m[i] & (gp != -1)][None, :]).any() for i in range(len(qf))]
    assert sum(tied) > 20  # the tie path really runs
    ref = reference(qf, qp, qc, gf, gp, gc)
    for budget in (None, _budget_for_rows(40, len(gf))):
        got = evaluate_retrieval(qf, qp, qc, gf, gp, gc, memory_gb=budget)
        assert {k: got[k] for k in KEYS} == ref


def test_larger_gallery_at_the_smallest_budget():
    qf, qp, qc, gf, gp, gc = market_like(nq=300, ng=4000, d=16, ids=150, seed=3)
    ref = reference(qf, qp, qc, gf, gp, gc)
    smallest = 2 * len(gf) * MARKED_BYTES
    plan = plan_chunks(len(gf), len(qf), smallest)
    assert plan.group_rows == 1 and plan.rows == MARKED_BYTES // CELL_BYTES
    with pytest.raises(ValueError, match="too small"):
        plan_chunks(len(gf), len(qf), smallest - 1)
    got = evaluate_retrieval(qf, qp, qc, gf, gp, gc, memory_gb=smallest / 2**30)
    assert {k: got[k] for k in KEYS} == ref


def test_plan_obeys_the_budget():
    G = 82_161  # MSMT17's gallery
    for gb in (0.05, 0.25, 1.0, 2.0, 8.0):
        budget = gb * 2**30
        p = plan_chunks(G, 11_659, budget)
        cells = max(p.rows, MIN_GEMM_ROWS) * G * CELL_BYTES
        marked = p.group_rows * G * MARKED_BYTES  # every cell of a group marked: the worst case
        assert cells + marked <= budget, gb
    assert plan_chunks(G, 11_659, 2 * 2**30).rows == 1024  # the default: chunks as large as help the GEMM
    with pytest.raises(ValueError, match="raise retrieval_memory_gb"):
        plan_chunks(G, 11_659, 4 * 2**20)


def test_torch_tensors_and_bad_values():
    qf, qp, qc, gf, gp, gc = market_like(nq=40, ng=300)
    a = evaluate_retrieval(qf, qp, qc, gf, gp, gc)
    b = evaluate_retrieval(torch.from_numpy(qf), torch.from_numpy(qp), torch.from_numpy(qc), torch.from_numpy(gf),
                           torch.from_numpy(gp), torch.from_numpy(gc))
    assert a == b
    gf[5, 3] = np.nan
    with pytest.raises(ValueError, match="gallery features contain NaN"):
        evaluate_retrieval(qf, qp, qc, gf, gp, gc)


def test_full_topk_equals_exact():
    """topk >= gallery is the exact path; the faiss top-k path agrees on CMC."""
    qf, qp, qc, gf, gp, gc = market_like(nq=80, ng=600)
    exact = evaluate_retrieval(qf, qp, qc, gf, gp, gc)
    assert evaluate_retrieval(qf, qp, qc, gf, gp, gc, topk=10_000) == exact
    top = evaluate_retrieval(qf, qp, qc, gf, gp, gc, topk=20)
    assert top["ranker"] == "faiss" and top["rank10"] == pytest.approx(exact["rank10"]) and top["mAP"] <= exact["mAP"]
