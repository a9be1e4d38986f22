from types import SimpleNamespace

from reidfw.evaluation.pipeline import comparison_table


def _result(name, robustness, mAP, tar=None):
    metrics = {"study/distance/robustness": robustness, "retrieval/mAP": mAP, "retrieval/rank1": mAP + 0.1}
    if tar is not None:
        metrics["verification/tar_at_far_0.001"] = tar
    study = SimpleNamespace(matrices=[SimpleNamespace(factor="distance")])
    return {"model": name, "metrics": metrics, "study_result": study}


def test_models_side_by_side_with_missing_values_marked():
    text = comparison_table([_result("ArcFace", 0.9981, 0.264, tar=0.029), _result("MoCo", 0.9125, 0.055)])
    lines = text.splitlines()
    assert lines[1].split() == ["ArcFace", "MoCo"]
    assert lines[2].split() == ["robustness", "distance", "0.998", "0.912"]
    assert lines[3].split() == ["mAP", "0.264", "0.055"]
    assert lines[5].split() == ["TAR@FAR=1e-3", "0.029", "n/a"]
