"""End to end, as a user runs it: render a clip -> track.py -> train.py on the tracks -> evaluate.py.

Real entry points in subprocesses with their own MLflow store and synthetic cache. Also the
Ctrl-C path of a long run: stop, then the same command continues.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest

from reidfw.data.formats.tracking_info import read_tracking_info
from reidfw.data.formats.tracks import read_tracks
from reidfw.synthetic.cache import dataset_key
from reidfw.synthetic.generators.video import generate_video
from reidfw.synthetic.presets import synthetic_preset

TINY_SETTINGS = synthetic_preset("tiny")

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _env(tmp_path):
    return {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db", "REIDFW_CACHE": str(tmp_path / "cache")}


def _run(tmp_path, script, *args, timeout=900):
    proc = subprocess.run([sys.executable, script, *args], cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_clip_to_tracks_to_training_to_evaluation(tmp_path):
    clip = generate_video(tmp_path / "clip", seed=1, people=6, seconds=6.0, fps=10.0, mp4=True, workers=2)
    tracks = tmp_path / "my_tracks"
    out = _run(tmp_path, "track.py", f"video={clip / 'video.mp4'}", f"out={tracks}", "camera=cam1", "progress=false",
               f"hydra.run.dir={tmp_path / 'track_run'}")
    assert "reidfw: tracking finished" in out and f"data.train_root={tracks}" in out
    crops = read_tracks(tracks)
    n_tracks = len({c.track_id for c in crops})
    assert n_tracks >= 3 and all(c.camera == "cam1" for c in crops)
    tracking_run = read_tracking_info(tracks)["tracking_run_id"]

    out = _run(tmp_path, "train.py", "loss=arcface", f"data.train_root={tracks}", "synthetic=tiny", "img_size=[64,32]",
               "data.batch_size=8", "data.num_workers=0", "trainer.max_epochs=2", "callbacks.progress_bar=false",
               f"hydra.run.dir={tmp_path / 'train_run'}")
    run_id = next(line.split()[2] for line in out.splitlines() if line.strip().startswith("MLflow run"))
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    client = mlflow.MlflowClient()
    train = client.get_run(run_id)
    assert train.data.tags["reidfw.tracking_run_id"] == tracking_run
    assert train.data.params["data.num_classes"] == str(n_tracks)
    assert "val/mAP" in train.data.metrics
    assert client.get_run(tracking_run).data.tags["reidfw.kind"] == "tracking"

    market = tmp_path / "cache" / dataset_key("market", TINY_SETTINGS["market"])
    assert market.is_dir()
    out = _run(tmp_path, "evaluate.py", f"ckpt=runs:/{run_id}/model", "study=null", f"market={market}",
               "num_workers=0", f"hydra.run.dir={tmp_path / 'eval_run'}")
    assert "mAP" in out


def test_ctrl_c_stops_cleanly_and_the_same_command_continues(tmp_path):
    clip = generate_video(tmp_path / "clip", seed=2, people=4, seconds=6.0, fps=10.0, workers=2)
    tracks = tmp_path / "t"
    args = [sys.executable, "track.py", f"video={clip / 'img1'}", f"out={tracks}", "detector=hog", "checkpoint_every=5",
            "progress=false", "mlflow.enabled=false", f"hydra.run.dir={tmp_path / 'r'}"]
    proc = subprocess.Popen(args, cwd=ROOT, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = tracks / ".track-work" / "state.json"
    deadline = time.time() + 300
    while time.time() < deadline and not (state.is_file() and json.loads(state.read_text())["parts"] >= 2):
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stdout + stderr
    assert "interrupted at frame" in stdout and "run the same command again" in stdout
    assert "Traceback" not in stderr
    stopped_at = json.loads(state.read_text())["next_frame"]
    assert 10 <= stopped_at < 60 and not (tracks / "tracks.csv").exists()
    out = _run(tmp_path, *args[1:])
    assert f"continuing at frame {stopped_at}" in out and "reidfw: tracking finished" in out
    assert read_tracks(tracks)
