import warnings

import numpy as np

from reidfw.evaluation.heatmap import plot_heatmap, plot_heatmaps_side_by_side
from reidfw.evaluation.study import FactorMatrix, condition_matrix
from reidfw.evaluation.verification import plot_pr, plot_roc, verification_metrics


def _matrix(seed):
    rng = np.random.default_rng(seed)
    groups = [rng.normal(size=(n, 4)) for n in (2, 3, 1)]
    groups = [g / np.linalg.norm(g, axis=1, keepdims=True) for g in groups]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mean, std, count = condition_matrix(groups)
    return FactorMatrix("distance", "Distance", "a", ["a", "b", "c"], ["2 m", "4 m", "6 m"], mean, std, count)


def test_heatmaps_written(tmp_path):
    p = plot_heatmap(_matrix(0), "ArcFace", tmp_path / "h.png")
    q = plot_heatmaps_side_by_side([("ArcFace", _matrix(0)), ("MoCo", _matrix(1))], tmp_path / "side.png")
    assert p.stat().st_size > 1000 and q.stat().st_size > 1000


def test_roc_pr_written(tmp_path):
    rng = np.random.default_rng(0)
    scores = np.r_[rng.normal(0.7, 0.1, 200), rng.normal(0.2, 0.1, 2000)]
    labels = np.r_[np.ones(200, bool), np.zeros(2000, bool)]
    v = verification_metrics(scores, labels)
    assert plot_roc([("a", v), ("b", v)], tmp_path / "roc.png").stat().st_size > 1000
    assert plot_pr([("a", v)], tmp_path / "pr.png").stat().st_size > 1000
