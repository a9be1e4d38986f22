import math
import warnings

import numpy as np
import pytest

from reidfw.data.formats.study_manifest import read_manifest
from reidfw.evaluation.study import FactorMatrix, condition_matrix, factor_summary, run_study, write_study_outputs

E1, E2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
# A: 2 images, B: 3 images, C: 1 image (no distinct pair -> NaN diagonal)
GROUPS = [np.stack([E1, E2]), np.stack([E1, E1, E2]), np.stack([E1])]


def test_condition_matrix_by_hand():
    with pytest.warns(UserWarning, match="C.*1 image"):
        mean, std, count = condition_matrix(GROUPS, ["A", "B", "C"])
    # diagonal: distinct pairs only (A: e1.e2 = 0; B: pairs 1, 0, 0 -> 1/3)
    assert mean[0, 0] == pytest.approx(0.0)
    assert mean[1, 1] == pytest.approx(1 / 3)
    assert math.isnan(mean[2, 2]) and count[2, 2] == 0
    # off-diagonal: all n_a x n_b pairs (A x B: [1,1,0,0,0,1] -> 1/2, std 1/2)
    assert mean[0, 1] == mean[1, 0] == pytest.approx(0.5)
    assert std[0, 1] == pytest.approx(0.5)
    assert mean[0, 2] == pytest.approx(0.5)
    assert mean[1, 2] == pytest.approx(2 / 3)
    assert count.tolist() == [[1, 6, 2], [6, 3, 3], [2, 3, 0]]


def test_summary_metrics_by_hand():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mean, std, count = condition_matrix(GROUPS)
    m = FactorMatrix("dist", "Distance", "B", ["A", "B", "C"], ["a", "b", "c"], mean, std, count)
    s = factor_summary(m)
    assert s["study/dist/to_standard/A"] == pytest.approx(0.5)
    assert s["study/dist/to_standard/B"] == pytest.approx(1 / 3)
    assert s["study/dist/to_standard/C"] == pytest.approx(2 / 3)
    assert s["study/dist/within_mean"] == pytest.approx(1 / 6)  # NaN diagonal left out
    assert s["study/dist/across_mean"] == pytest.approx(5 / 9)
    assert s["study/dist/robustness"] == pytest.approx((5 / 9) / (1 / 6))


def test_run_study_embeds_each_image_once_and_writes(study_root, tmp_path):
    manifest = read_manifest(study_root)
    calls = []

    def fake_embed(images):
        calls.append(len(images))
        rng = np.random.default_rng(0)
        f = rng.normal(size=(len(images), 4))
        return f / np.linalg.norm(f, axis=1, keepdims=True)

    with pytest.warns(UserWarning, match="blue"):
        res = run_study(manifest, fake_embed)
    assert calls == [8 + 4 * 3]  # 8 subject images and 3 impostors under each of the 4 conditions, each once
    assert res.impostors.kind == "study" and "3 impostor people" in res.impostors.description
    assert [m.factor for m in res.matrices] == ["size", "color"]
    assert res.matrices[0].labels == ["Near", "Far"]
    metrics = res.metrics()
    assert "study/size/robustness" in metrics and "study/color/to_standard/blue" in metrics
    assert "study_z/size/robustness" in metrics and "study_z/size/robustness_ci95_low" in metrics
    assert metrics["study_z/size/robustness_ci95_low"] <= metrics["study_z/size/robustness"] <= metrics["study_z/size/robustness_ci95_high"]
    files = write_study_outputs(res, tmp_path / "out")
    csv = (tmp_path / "out" / "color_mean.csv").read_text().splitlines()
    assert csv[0] == "condition,Red top,Blue top"
    assert csv[2].endswith(",nan")
    assert (tmp_path / "out" / "study.json").stat().st_size > 0 and (tmp_path / "out" / "size_z.csv").is_file()
    assert all(p.stat().st_size > 0 for p in files)
