"""The comparison table: calibrated robustness with intervals and paired differences, then raw numbers."""
import warnings

import torch

from reidfw.evaluation.pipeline import evaluate_model
from reidfw.evaluation.tables import comparison_table, summary_table


def _evaluate(tmp_path, net, name, spec, study_root, market_root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fixture's one-image condition warns
        return evaluate_model(net, spec, out_dir=tmp_path / name, study_root=study_root, market_root=market_root,
                              model_name=name, num_workers=0, device="cpu")


def test_models_side_by_side_calibrated_then_raw(tmp_path, make_net, make_spec, study_root, market_root):
    torch.manual_seed(0)
    a = _evaluate(tmp_path, make_net(dim=8), "ArcFace", make_spec(), study_root, market_root)
    b = _evaluate(tmp_path, make_net(dim=5), "MoCo", make_spec(), study_root, market_root)
    text = comparison_table([a, b])
    lines = text.splitlines()
    assert "strangers beaten" in lines[0] and lines[1].split()[:2] == ["ArcFace", "MoCo"] and "MoCo - ArcFace" in lines[1]
    row = next(line for line in lines if line.strip().startswith("robustness size"))
    # value [low, high] for each model, then the paired difference (marked ≈ when its interval holds 0)
    assert row.count("[") == 3
    assert any(line.strip().startswith("raw robustness size") for line in lines)
    assert any(line.strip().startswith("mAP") for line in lines)
    assert any(line.strip().startswith("impostor mean cosine") for line in lines)
    assert "impostors: the study's own 3 impostor people, condition-matched" in text
    one = summary_table(a)
    assert "strangers beaten" in one and ("embedding healthy" in one or "COLLAPSED" in one)
