"""The shared MLflow server for real: PostgreSQL + basic auth; train.py and evaluate.py log into it.

Only the team gets in: an anonymous client and a wrong password are refused (HTTP 401),
the team's user logs and reads runs. Training and evaluation use the server through
``MLFLOW_TRACKING_URI`` + ``MLFLOW_TRACKING_USERNAME/PASSWORD`` alone.
"""
import subprocess
import sys
import urllib.error
import urllib.request

import mlflow
import pytest
from mlflow.exceptions import MlflowException

from reidfw.synthetic.cache import ensure_dataset
from reidfw.synthetic.presets import synthetic_preset
from tests.training.train_process import ARCFACE, ROOT, run, run_id_from, train_cmd, train_env

TINY_SETTINGS = synthetic_preset("tiny")

pytestmark = pytest.mark.slow


def _client(url: str, user: str | None, password: str | None, monkeypatch) -> mlflow.MlflowClient:
    for key, value in (("MLFLOW_TRACKING_USERNAME", user), ("MLFLOW_TRACKING_PASSWORD", password)):
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    return mlflow.MlflowClient(tracking_uri=url)


def test_only_the_team_gets_in(shared_server, monkeypatch):
    server, creds = shared_server.server, shared_server.creds
    assert server.url.startswith("http://127.0.0.1:"), "binds to localhost unless told otherwise"
    with pytest.raises(urllib.error.HTTPError) as anonymous_http:
        urllib.request.urlopen(f"{server.url}/api/2.0/mlflow/experiments/search?max_results=1", timeout=10)
    assert anonymous_http.value.code == 401

    with pytest.raises(MlflowException, match="401"):
        _client(server.url, None, None, monkeypatch).search_experiments()
    with pytest.raises(MlflowException, match="401"):
        _client(server.url, creds["REIDFW_MLFLOW_TEAM_USER"], "not-the-password-123", monkeypatch).search_experiments()

    team = _client(server.url, creds["REIDFW_MLFLOW_TEAM_USER"], creds["REIDFW_MLFLOW_TEAM_PASSWORD"], monkeypatch)
    exp = team.create_experiment("auth-check")
    run_ = team.create_run(exp)
    team.log_metric(run_.info.run_id, "m", 0.5, step=3)
    assert [(m.step, m.value) for m in team.get_metric_history(run_.info.run_id, "m")] == [(3, 0.5)]


def test_train_and_evaluate_into_the_server(shared_server, tmp_path, monkeypatch):
    server, team_env = shared_server.server, shared_server.team_env
    env = train_env(server.url, tmp_path / "cache", **team_env)
    study = ensure_dataset("study", TINY_SETTINGS["study"], tmp_path / "cache")
    out = run(train_cmd(*ARCFACE, "trainer.max_epochs=2", "export_model=true", "logger.experiment_name=shared-server",
                        run_dir=tmp_path / "train"), env)
    run_id = run_id_from(out.stdout)
    assert f"store {server.url}" in out.stdout

    ev = subprocess.run(
        [sys.executable, str(ROOT / "evaluate.py"), f"ckpt=runs:/{run_id}/model", f"study={study}", "market=null",
         "num_workers=0", f"hydra.run.dir={tmp_path / 'eval'}"],
        cwd=ROOT, env={**env, "REIDFW_CACHE": str(tmp_path / "cache")}, capture_output=True, text=True, timeout=900)
    assert ev.returncode == 0, ev.stderr[-3000:]

    for key, value in team_env.items():
        monkeypatch.setenv(key, value)
    client = mlflow.MlflowClient(server.url)
    train_run = client.get_run(run_id)
    assert train_run.info.status == "FINISHED" and train_run.data.params["margin"] == "0.5"
    steps = [m.step for m in client.get_metric_history(run_id, "train/loss_step")]
    assert steps == list(range(12))
    assert {a.path for a in client.list_artifacts(run_id, "model")} == {
        "model/model.json", "model/model.safetensors", "model/model.onnx", "model/model.torchscript.pt"}
    exp = client.get_experiment_by_name("shared-server")
    (eval_run,) = client.search_runs([exp.experiment_id], filter_string=f"tags.`reidfw.train_run_id` = '{run_id}'")
    assert eval_run.data.tags["mlflow.parentRunId"] == run_id
    assert "study/distance/robustness" in eval_run.data.metrics
    assert any(a.path.endswith(".png") for a in client.list_artifacts(eval_run.info.run_id, "evaluation/study/heatmaps"))
