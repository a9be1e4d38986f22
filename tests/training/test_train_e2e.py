"""train.py end to end on the tiny synthetic sets: MLflow contents, a sweep, a resume.

Runs the real entry point in a subprocess (as users do), with its own MLflow store
and synthetic cache under tmp_path.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = ["synthetic=tiny", "img_size=[64,32]", "data.batch_size=4", "data.num_workers=0",
        "trainer.log_every_n_steps=1", "callbacks.progress_bar=false"]
TRACKS = ["data.min_images_per_identity=2"]  # the tiny tracks set has 3 crops per identity

pytestmark = pytest.mark.slow


def _train(tmp_path, *overrides, run_dir="run", multirun=False):
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db", "REIDFW_CACHE": str(tmp_path / "cache")}
    if multirun:
        cmd = [sys.executable, "train.py", "-m", *TINY, *overrides, f"hydra.sweep.dir={tmp_path / run_dir}"]
    else:
        cmd = [sys.executable, "train.py", *TINY, *overrides, f"hydra.run.dir={tmp_path / run_dir}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _client(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    return mlflow.MlflowClient()


def _run_id(stdout):
    line = next(l for l in stdout.splitlines() if l.strip().startswith("MLflow run"))
    return line.split()[2]


def test_arcface_run_lands_in_mlflow_and_resumes(tmp_path):
    norm = ["input.mean=[0.4,0.4,0.4]", "input.std=[0.2,0.25,0.3]"]  # an overridden input the export must keep
    out = _train(tmp_path, *TRACKS, "loss=arcface", "margin=0.4", "trainer.max_epochs=4", "optimizer.lr=0.02", *norm)
    assert "reidfw: training finished" in out and "python evaluate.py ckpt=runs:/" in out
    run_id = _run_id(out)
    client = _client(tmp_path)
    run = client.get_run(run_id)
    assert run.data.params["margin"] == "0.4" and run.data.params["loss.head.margin"] == "0.4"
    assert run.data.params["model.name"] == "iresnet18" and run.data.params["data.num_classes"] == "3"
    for key in ("train/loss_step", "train/loss_epoch", "val/mAP", "val/rank1", "val/mINP"):
        assert key in run.data.metrics, key
    losses = [m.value for m in client.get_metric_history(run_id, "train/loss_epoch")]
    assert len(losses) == 4 and losses[-1] < losses[0]
    top = {a.path for a in client.list_artifacts(run_id)}
    assert {"checkpoints", "model", "config"} <= top
    assert {a.path for a in client.list_artifacts(run_id, "model")} == {
        "model/model.json", "model/model.safetensors", "model/model.onnx", "model/model.torchscript.pt"}
    assert any(a.path.endswith(".ckpt") for a in client.list_artifacts(run_id, "checkpoints"))
    spec = json.loads((tmp_path / "run" / "model" / "model.json").read_text())
    assert spec["input"] == {"size": [64, 32], "mean": [0.4, 0.4, 0.4], "std": [0.2, 0.25, 0.3], "fill": [128, 128, 128],
                             "channel_order": "RGB", "resize": "letterbox-center"}
    assert run.data.params["input.std"] == "[0.2, 0.25, 0.3]"

    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    out2 = _train(tmp_path, *TRACKS, "loss=arcface", "margin=0.4", "trainer.max_epochs=5", "optimizer.lr=0.02", *norm,
                  f"ckpt_path={last}", run_dir="resumed")
    assert _run_id(out2) == run_id, "a resume must continue the same MLflow run"
    epochs = [m.value for m in client.get_metric_history(run_id, "train/loss_epoch")]
    assert len(epochs) == 5


def test_moco_run_trains_on_unlabeled_crops(tmp_path):
    out = _train(tmp_path, "experiment=demo_moco", "loss.queue_size=4", "trainer.max_epochs=2",
                 "trainer.check_val_every_n_epoch=1")
    run = _client(tmp_path).get_run(_run_id(out))
    assert run.data.params["loss.method"] == "moco" and run.data.params["loss.temperature"] == "0.2"
    assert run.data.params["model.name"] == "iresnet18"  # the demo preset's backbone (conf/experiment/demo_moco.yaml)
    assert run.data.params["data.train_kind"] == "unlabeled"
    assert "val/mAP" in run.data.metrics and "train/loss_epoch" in run.data.metrics


def test_margin_sweep_gives_one_run_per_value(tmp_path):
    _train(tmp_path, *TRACKS, "loss=arcface", "trainer.max_epochs=1", "margin=0.3,0.7", "logger.experiment_name=sweep",
           multirun=True)
    client = _client(tmp_path)
    exp = client.get_experiment_by_name("sweep")
    runs = client.search_runs([exp.experiment_id])
    assert sorted(r.data.params["margin"] for r in runs) == ["0.3", "0.7"]


def test_an_ablation_pair_lands_as_a_parent_run_with_two_children(tmp_path):
    out = _train(tmp_path, *TRACKS, "experiment=ablation_camera_height", "trainer.max_epochs=1",
                 multirun=True)
    assert "ablation: camera height" in out and "calibrated robustness" in out
    client = _client(tmp_path)
    exp = client.get_experiment_by_name("reidfw-ablation")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get("reidfw.kind") == "ablation"]
    assert len(parents) == 1
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert sorted(r.data.tags["reidfw.ablation.variant"] for r in children) == [
        "+synthetic.tracks.camera_heights=[1.2,3.0,5.0]", "+synthetic.tracks.camera_heights=[1.2]"]
    assert {a.path for a in client.list_artifacts(parents[0].info.run_id)} >= {"ablation.png", "ablation.json"}
    assert any(k.startswith("robustness/camera_height/") for k in parents[0].data.metrics)
    # the unbounded scale beside the bounded one (strangers beaten saturates at 1.00)
    assert "z drop" in out and "z_drop_difference/camera_height" in parents[0].data.metrics
