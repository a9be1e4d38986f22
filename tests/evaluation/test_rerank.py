"""Sparse k-reciprocal re-ranking against the dense reference (torchreid's re_ranking, the authors' code)."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from reidfw.evaluation.rerank import KReciprocalReranker, evaluate_reranked
from reidfw.evaluation.retrieval import evaluate_retrieval, exact_retrieval


def dense_reference():
    """torchreid's ``re_ranking``, loaded from its file: importing the torchreid package pulls in its data sets."""
    spec = importlib.util.find_spec("torchreid")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("torchreid (the dense reference) is not installed: pip install -e .[dev]")
    path = Path(list(spec.submodule_search_locations)[0]) / "reid" / "utils" / "rerank.py"
    mod_spec = importlib.util.spec_from_file_location("torchreid_rerank_reference", path)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    return mod.re_ranking


def data(nq=120, ng=700, d=32, ids=60, seed=0, junk=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(ids, d))
    gp = rng.integers(1, ids, size=ng)
    gp[:30] = 0  # distractors
    gp[30 : 30 + junk] = -1
    qp = rng.integers(1, ids, size=nq)
    gc, qc = rng.integers(1, 7, size=ng), rng.integers(1, 7, size=nq)
    gf = centers[gp] + 1.3 * rng.normal(size=(ng, d))
    qf = centers[qp] + 1.3 * rng.normal(size=(nq, d))
    norm = lambda x: (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    return norm(qf), qp, qc, norm(gf), gp, gc


def _metrics_of_distance(dist, qp, qc, gp, gc):
    scores = lambda s, e, out: out[: e - s].copy_(torch.from_numpy(-dist[s:e]))  # noqa: E731
    return exact_retrieval(None, qp, qc, None, gp, gc, scores=scores)


@pytest.mark.parametrize("k1,k2,lam,seed", [(20, 6, 0.3, 0), (20, 6, 0.3, 1), (10, 3, 0.5, 2), (12, 1, 0.1, 3)])
def test_sparse_equals_dense_reference(k1, k2, lam, seed):
    re_ranking = dense_reference()
    qf, qp, qc, gf, gp, gc = data(seed=seed)
    ref = re_ranking(1 - qf @ gf.T, 1 - qf @ qf.T, 1 - gf @ gf.T, k1=k1, k2=k2, lambda_value=lam)
    mine = KReciprocalReranker(qf, gf, k1, k2, lam).dense()
    # same float32 arithmetic step for step; only the GEMMs' rounding differs (numpy vs torch BLAS)
    assert np.abs(mine - ref).max() < 1e-5
    a, b = _metrics_of_distance(ref, qp, qc, gp, gc), evaluate_reranked(qf, qp, qc, gf, gp, gc, k1=k1, k2=k2, lambda_value=lam)
    for k in ("mAP", "mINP", "rank1", "rank5", "rank10"):
        assert abs(a[k] - b[k]) <= 1e-6, k
    plain = evaluate_retrieval(qf, qp, qc, gf, gp, gc)
    assert b["mAP"] != plain["mAP"] and b["ranker"] == "k-reciprocal"


def test_junk_takes_no_part():
    """Junk is dropped before re-ranking (the reference's loaders never see it): same result as without it."""
    qf, qp, qc, gf, gp, gc = data(junk=40, seed=4)
    keep = gp != -1
    with_junk = evaluate_reranked(qf, qp, qc, gf, gp, gc)
    without = evaluate_reranked(qf, qp, qc, gf[keep], gp[keep], gc[keep])
    assert {k: with_junk[k] for k in ("mAP", "mINP", "rank1")} == {k: without[k] for k in ("mAP", "mINP", "rank1")}
    assert with_junk["gallery_size"] == len(gp)


def test_memory_is_sparse():
    """Nothing (Q+G)^2 is kept: the encoding holds a few dozen entries per row."""
    qf, qp, qc, gf, gp, gc = data(nq=200, ng=1800, seed=5)
    rr = KReciprocalReranker(qf, gf, 20, 6, 0.3)
    N = len(qf) + len(gf)
    assert (rr.Vq.nnz + rr.Vg.nnz) / N < 0.1 * N
    def count(v):
        return v.numel() if isinstance(v, torch.Tensor) else getattr(v, "nnz", getattr(v, "size", 0))

    big = [k for k, v in vars(rr).items() if count(v) >= N * N // 4]
    assert not big, big


def test_bad_parameters():
    qf, qp, qc, gf, gp, gc = data(nq=10, ng=50)
    with pytest.raises(ValueError, match="k1 >= 1"):
        evaluate_reranked(qf, qp, qc, gf, gp, gc, k1=0)
