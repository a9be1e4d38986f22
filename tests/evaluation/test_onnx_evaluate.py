"""``python evaluate.py ckpt=model.onnx rerank=true``: an ONNX export evaluated through onnxruntime, both scores in MLflow."""
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

REPO = Path(__file__).resolve().parents[2]


def test_evaluate_an_onnx_export_with_reranking(monkeypatch, capsys, tmp_path, market_root, make_net, make_spec):
    from mlflow.tracking import MlflowClient

    from reidfw.evaluation.command import run_evaluation
    from reidfw.checkpoints.onnx_export import export_onnx

    spec = make_spec()
    path = export_onnx(make_net(dim=8).eval(), spec, tmp_path / "model.onnx")
    uri = f"sqlite:///{tmp_path / 'db' / 'mlflow.db'}"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="evaluate", overrides=[
            f"ckpt={path}", f"out_dir={tmp_path / 'out'}", f"cache_dir={tmp_path}", "study=null", f"market={market_root}",
            "num_workers=0", f"mlflow.tracking_uri={uri}", "rerank=true", "rerank_k1=4", "rerank_k2=2",
            "retrieval_memory_gb=0.01"])
    assert run_evaluation(cfg) == 0
    out = capsys.readouterr().out
    assert "re-ranked (k-reciprocal): mAP" in out
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("reidfw").experiment_id])
    m = run.data.metrics
    assert 0 < m["retrieval/mAP"] <= 1 and 0 < m["retrieval_rerank/mAP"] <= 1
    assert run.data.params["eval.rerank"] == "True" and run.data.params["eval.rerank_k1"] == "4"
    assert (tmp_path / "out" / "arcface-tiny" / "market" / "retrieval_rerank.json").is_file()
