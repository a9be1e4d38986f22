"""kill -9 a real evaluate.py mid-way: no half-written output folder, no MLflow run, and a rerun that starts clean.

The kill lands once the first heatmap of the study is on disk (while the others and the
retrieval part are still to come).
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest

from reidfw.checkpoints import export_model
from reidfw.model_input import InputSpec
from reidfw.models import build_backbone
from reidfw.synthetic.cache import ensure_dataset
from reidfw.synthetic.presets import synthetic_preset

TINY_SETTINGS = synthetic_preset("tiny")

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _evaluate_cmd(model: Path, study: Path, market: Path, out: Path) -> list[str]:
    return [sys.executable, str(ROOT / "evaluate.py"), f"ckpt={model}", "name=tiny", f"study={study}", f"market={market}",
            "num_workers=0", f"out_dir={out}", f"hydra.run.dir={out}/hydra"]


def test_kill_during_evaluation_leaves_nothing_half_written(tmp_path):
    model = export_model(build_backbone("test_resnet", img_size=(64, 32)), tmp_path / "model", method="arcface",
                         backbone={"name": "test_resnet", "kwargs": {}}, input_spec=InputSpec(size=(64, 32)), embedding="gap")
    study = ensure_dataset("study", TINY_SETTINGS["study"], tmp_path / "cache")
    market = ensure_dataset("market", TINY_SETTINGS["market"], tmp_path / "cache")
    out = tmp_path / "eval"
    db = f"sqlite:///{tmp_path}/mlflow.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_TRACKING_URI": db}

    proc = subprocess.Popen(_evaluate_cmd(model, study, market, out), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list(out.glob(".partial-*/tiny/study/heatmaps/*.png")):
        assert proc.poll() is None, f"evaluate.py ended before the kill: {proc.stderr.read()[-3000:]}"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -9

    assert not (out / "tiny").exists(), "a killed evaluation must not leave a folder under the model's name"
    partial = list(out.glob(".partial-*"))
    assert len(partial) == 1
    client = mlflow.MlflowClient(db)
    exp = client.get_experiment_by_name("reidfw")
    assert exp is None or client.search_runs([exp.experiment_id]) == [], "no MLflow run for an unfinished evaluation"

    done = subprocess.run(_evaluate_cmd(model, study, market, out), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not partial[0].exists() and not list(out.glob(".partial-*")), "the rerun removes the dead run's folder"
    results = json.loads((out / "tiny" / "results.json").read_text())
    assert results["out_dir"] == str(out / "tiny")
    assert results["files"] and all(Path(f).is_file() for f in results["files"] + results["figures"])
    assert len(list((out / "tiny" / "study" / "heatmaps").glob("*.png"))) == 6
    (run,) = client.search_runs([client.get_experiment_by_name("reidfw").experiment_id])
    assert run.info.status == "FINISHED" and "retrieval/mAP" in run.data.metrics
