import numpy as np
import pytest

from reidfw.evaluation.retrieval import brute_force_ranking, evaluate_retrieval, faiss_ranking


def _angles(thetas):
    t = np.asarray(thetas, np.float64)
    return np.stack([np.cos(t), np.sin(t)], 1).astype(np.float32)


# Gallery on a circle: similarity to a query falls with the angle between them.
G_PIDS = [1, -1, 2, 1, 0, 1]  # g0 .. g5; -1 junk, 0 distractor
G_CAMS = [1, 3, 2, 2, 3, 3]
GF = _angles([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
Q_PIDS = [1, 2, 3, 2, 1]
Q_CAMS = [1, 1, 1, 2, 2]
QF = _angles([0.0, 0.65, 0.3, 0.4, 1.0])
# q0: g0 excluded (same pid+cam), g1 junk -> g2- g3+ g4- g5+          AP (1/2+2/4)/2 = 1/2, INP 2/4
# q1: g3- g4- g2+ g5- (g1 junk) g0-                                 AP 1/3, INP 1/3
# q2: pid 3 not in gallery -> skipped; q3: its only match g2 is same camera -> skipped
# q4: g5+ g4- (g3 same pid+cam) g2- (g1 junk) g0+                    AP (1+2/4)/2 = 3/4, rank-1 hit, INP 2/4


@pytest.mark.parametrize("use_faiss", [True, False])
def test_market_rules_by_hand(use_faiss):
    r = evaluate_retrieval(QF, Q_PIDS, Q_CAMS, GF, G_PIDS, G_CAMS, use_faiss=use_faiss)
    assert r["num_queries"] == 3 and r["skipped_queries"] == 2
    assert r["mAP"] == pytest.approx((1 / 2 + 1 / 3 + 3 / 4) / 3)
    assert r["rank1"] == pytest.approx(1 / 3)
    assert r["rank5"] == pytest.approx(1.0)
    assert r["rank10"] == pytest.approx(1.0)
    assert r["mINP"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 2) / 3)


def test_torch_inputs_accepted():
    import torch

    r = evaluate_retrieval(torch.from_numpy(QF), torch.tensor(Q_PIDS), torch.tensor(Q_CAMS),
                           torch.from_numpy(GF), torch.tensor(G_PIDS), torch.tensor(G_CAMS))
    assert r["num_queries"] == 3


def _random_market(nq=150, ng=900, d=32, ids=60, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(ids, d))
    gp = rng.integers(1, ids, size=ng)
    gp[:20] = 0  # distractors
    gp[20:35] = -1  # junk
    qp = rng.integers(1, ids, size=nq)
    gc, qc = rng.integers(1, 7, size=ng), rng.integers(1, 7, size=nq)
    gf = centers[np.maximum(gp, 0)] + 1.5 * rng.normal(size=(ng, d))
    qf = centers[qp] + 1.5 * rng.normal(size=(nq, d))
    norm = lambda x: (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    return norm(qf), qp, qc, norm(gf), gp, gc


def test_faiss_agrees_with_brute_force_on_random_data():
    qf, qp, qc, gf, gp, gc = _random_market()
    # rankings agree up to float rounding between BLAS and faiss kernels on near-ties
    assert (faiss_ranking(qf, gf, 25) == brute_force_ranking(qf, gf, 25)).mean() > 0.999
    # use_faiss picks the top-k ranker; the full gallery always goes through the exact evaluator
    a = evaluate_retrieval(qf, qp, qc, gf, gp, gc, topk=60, use_faiss=True)
    b = evaluate_retrieval(qf, qp, qc, gf, gp, gc, topk=60, use_faiss=False)
    for k in ("mAP", "rank1", "rank5", "rank10", "mINP"):
        assert a[k] == pytest.approx(b[k], abs=1e-6), k
    assert 0.0 < a["mAP"] < 1.0
    assert (a["ranker"], b["ranker"]) == ("faiss", "numpy")
    assert evaluate_retrieval(qf, qp, qc, gf, gp, gc, use_faiss=True)["ranker"] == "exact"


def test_topk_is_a_lower_bound_with_exact_cmc():
    qf, qp, qc, gf, gp, gc = _random_market(seed=1)
    full = evaluate_retrieval(qf, qp, qc, gf, gp, gc)
    top = evaluate_retrieval(qf, qp, qc, gf, gp, gc, topk=20)
    top_ref = evaluate_retrieval(qf, qp, qc, gf, gp, gc, topk=20, use_faiss=False)
    assert top["ranker"] == "faiss"
    assert top["mAP"] == pytest.approx(top_ref["mAP"], abs=1e-6)
    assert top["mAP"] <= full["mAP"] + 1e-12 and top["mINP"] <= full["mINP"] + 1e-12
    for k in ("rank1", "rank5", "rank10"):
        assert top[k] == pytest.approx(full[k])
    with pytest.raises(ValueError, match="topk"):
        evaluate_retrieval(qf, qp, qc, gf, gp, gc, topk=5)


def test_no_valid_query_is_a_clear_error():
    with pytest.raises(ValueError, match="no query has a valid match"):
        evaluate_retrieval(QF[2:3], [3], [1], GF, G_PIDS, G_CAMS)
