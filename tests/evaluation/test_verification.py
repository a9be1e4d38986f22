import numpy as np
import pytest

from reidfw.evaluation.verification import gallery_pairs, query_gallery_pairs, verification_metrics


def test_tar_at_far_and_precision_at_recall_by_hand():
    pos = np.array([0.9, 0.8, 0.7, 0.2])
    neg = np.r_[0.85, np.full(9, 0.5), np.zeros(990)]  # 1000 negatives
    scores = np.r_[pos, neg]
    labels = np.r_[np.ones(4, bool), np.zeros(1000, bool)]
    v = verification_metrics(scores, labels)
    # FAR <= 1e-3 allows 1 false accept: threshold 0.7 -> 3 of 4 accepted (0.85 is the one false accept)
    assert v["tar_at_far_0.001"] == pytest.approx(3 / 4)
    assert v["threshold_at_far_0.001"] == pytest.approx(0.7)
    # FAR <= 1e-2 allows 10: threshold 0.2 -> all 4
    assert v["tar_at_far_0.01"] == pytest.approx(1.0)
    # recall >= 0.5: threshold 0.8 gives 2 TP + 1 FP (2/3), threshold 0.7 gives 3 TP + 1 FP: the best, 3/4
    assert v["precision_at_recall_0.5"] == pytest.approx(3 / 4)
    # recall >= 0.9 needs all 4 (threshold 0.2): 4 TP, 10 FP
    assert v["precision_at_recall_0.9"] == pytest.approx(4 / 14)
    assert 0.99 < v["auc"] <= 1.0
    assert v["num_pos"] == 4 and v["num_neg"] == 1000


def test_perfect_separation():
    v = verification_metrics(np.r_[np.ones(5), np.zeros(5)], np.r_[np.ones(5, bool), np.zeros(5, bool)])
    assert v["auc"] == pytest.approx(1.0) and v["ap"] == pytest.approx(1.0)


def test_pair_builders_follow_the_rules():
    f = np.eye(4, dtype=np.float32)
    pids = np.array([1, 1, 2, -1])
    cams = np.array([1, 2, 1, 1])
    s, y = gallery_pairs(f, pids, cams)
    assert y.sum() == 1 and (~y).sum() == 2  # junk dropped; (0,1) positive; (0,2),(1,2) negative
    s, y = query_gallery_pairs(f[:1], [1], [1], f, pids, cams)
    assert y.tolist() == [True, False]  # same pid+cam (itself) excluded, junk ignored
    s2, y2 = gallery_pairs(f, pids, cams, max_negatives=1)
    assert (~y2).sum() == 1


@pytest.mark.parametrize("max_negatives", [2_000_000, 40])
def test_a_distractor_matches_nothing(max_negatives):
    # two real people seen in two cameras, and five distractors (pid 0, Market's 0000_*) spread over
    # three cameras: a distractor pair is two different people, never a genuine pair
    rng = np.random.default_rng(0)
    f = rng.normal(size=(9, 8)).astype(np.float32)
    pids = np.array([1, 1, 2, 2, 0, 0, 0, 0, 0])
    cams = np.array([1, 2, 1, 2, 1, 2, 3, 1, 2])
    s, y = gallery_pairs(f, pids, cams, max_negatives=max_negatives)
    assert y.sum() == 2  # (1, 1) and (2, 2) across cameras only
    n_pairs = 9 * 8 // 2
    if max_negatives > n_pairs:
        assert (~y).sum() == n_pairs - 2 - 0  # every other pair, distractor pairs included, is a negative
        dd = {round(float(f[i] @ f[j]), 5) for i in range(4, 9) for j in range(i + 1, 9)}
        assert dd <= {round(float(v), 5) for v in s[~y]}
    else:
        assert (~y).sum() == 40
    # a distractor query has no genuine match in the gallery either (Market's same-pid-same-camera
    # exclusion still drops itself and the other camera-1 distractor)
    s, y = query_gallery_pairs(f[4:5], [0], [1], f, pids, cams)
    assert y.sum() == 0 and (~y).sum() == 7
