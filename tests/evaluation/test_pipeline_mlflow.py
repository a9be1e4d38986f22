"""End to end: evaluate_model on a tiny network, compare two models, log to a temporary sqlite store."""
import json

import pytest

from reidfw.mlflow_logging.evaluation_run import PARENT_TAG, TRAIN_RUN_TAG, log_evaluation
from reidfw.evaluation.pipeline import compare_models, evaluate_model
from reidfw.evaluation.tables import summary_table



def test_evaluate_compare_and_log(tmp_path, study_root, market_root, tiny_model, make_net, make_spec):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    # a stand-in training run the evaluation should appear under
    exp = client.create_experiment("train-exp")
    train = client.create_run(exp)
    spec = make_spec()
    spec["train_run_id"] = train.info.run_id

    with pytest.warns(UserWarning, match="blue"):
        res = evaluate_model(tiny_model, spec, study_root=study_root, market_root=market_root,
                             out_dir=tmp_path / "a", model_name="A", num_workers=0, mask_background=True)
    m = res["metrics"]
    for k in ("study/size/robustness", "study/color/to_standard/red", "retrieval/mAP", "retrieval/rank1",
              "verification/tar_at_far_0.001", "verification/auc"):
        assert k in m, k
    assert 0 <= m["retrieval/mAP"] <= 1
    assert (tmp_path / "a" / "study" / "heatmaps" / "size.png").stat().st_size > 0
    assert (tmp_path / "a" / "market" / "roc.png").stat().st_size > 0
    assert json.loads((tmp_path / "a" / "results.json").read_text())["model"] == "A"
    assert "robustness" in summary_table(res) and "mAP" in summary_table(res)

    with pytest.warns(UserWarning):
        res_b = evaluate_model(make_net(dim=6), make_spec(), study_root=study_root, market_root=None,
                               out_dir=tmp_path / "b", model_name="B", num_workers=0)
    cmp = compare_models([res, res_b], tmp_path / "cmp")
    assert (tmp_path / "cmp" / "heatmaps" / "color.png").stat().st_size > 0
    assert (tmp_path / "cmp" / "metrics.csv").read_text().startswith("metric,A,B")

    run_id = log_evaluation(res, tracking_uri=uri, experiment="eval-exp", checkpoint="a.ckpt",
                            config_yaml="ckpt: a.ckpt\n", extra_artifacts=[(cmp["out_dir"], "comparison")])
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.experiment_id == exp  # beside its training run ...
    assert run.data.tags[PARENT_TAG] == train.info.run_id  # ... and shown under it
    assert run.data.tags[TRAIN_RUN_TAG] == train.info.run_id
    assert run.data.metrics["retrieval/mAP"] == pytest.approx(m["retrieval/mAP"])
    assert "study/size/robustness" in run.data.metrics
    arts = {a.path for a in client.list_artifacts(run_id, "evaluation/study/heatmaps")}
    assert "evaluation/study/heatmaps/size.png" in arts
    assert {a.path for a in client.list_artifacts(run_id, "config")} >= {"config/evaluate.yaml", "config/spec.json"}
    assert client.list_artifacts(run_id, "comparison/heatmaps")

    # an external model (no training run) gets a plain run in the configured experiment
    rid_b = log_evaluation(res_b, tracking_uri=uri, experiment="eval-exp")
    rb = client.get_run(rid_b)
    assert PARENT_TAG not in rb.data.tags
    assert client.get_experiment(rb.info.experiment_id).name == "eval-exp"
