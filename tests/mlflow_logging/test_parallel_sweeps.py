"""A margin sweep of 4 concurrent train.py jobs through Hydra's joblib and Ray launchers into one store.

Launchers: ``parallel`` (joblib processes), ``ray_local`` (a Ray started by the sweep) and
``ray_cluster`` (a Ray head started apart with ``ray start --head``, as on a cluster).
Stores: the embedded SQLite file and the shared tracking server (PostgreSQL). Every job
reports how many metric points it sent (``train_summary.json``); MLflow must hold exactly
that many, each training step once, and the four runs must have overlapped in time.
"""
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest

from reidfw.synthetic.cache import ensure_dataset
from reidfw.synthetic.presets import synthetic_preset
from reidfw.mlflow_logging.shared_server import free_port
from tests.training.train_process import ARCFACE, STEPS_PER_EPOCH, run, train_cmd, train_env

TINY_SETTINGS = synthetic_preset("tiny")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]
MARGINS = ("0.3", "0.4", "0.5", "0.6")
EPOCHS = 25  # long enough (a few seconds) that the four runs are live together


@pytest.fixture
def ray_head(tmp_path):
    """A one-node Ray cluster, started the way a cluster's head is; the sweep connects to it."""
    port = free_port()
    head = subprocess.Popen([str(Path(sys.executable).parent / "ray"), "start", "--head", "--block",
                             "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=4", "--include-dashboard=false"],
                            stdout=open(tmp_path / "ray-head.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert head.poll() is None and time.monotonic() < deadline, (tmp_path / "ray-head.log").read_text()[-2000:]
            time.sleep(0.5)
    try:
        yield {"RAY_ADDRESS": f"127.0.0.1:{port}", "RAY_AUTH_MODE": "token"}
    finally:
        head.send_signal(signal.SIGINT)  # `ray start --block` stops its processes on Ctrl-C
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()


@pytest.mark.parametrize(
    "launcher,store",
    [("parallel", "sqlite"), ("parallel", "server"), ("ray_local", "sqlite"), ("ray_local", "server"),
     ("ray_cluster", "server")],  # a cluster's nodes share a server, not a SQLite file
)
def test_concurrent_sweep_loses_no_metric_point(launcher, store, tmp_path, request, monkeypatch):
    env_extra = dict(request.getfixturevalue("ray_head")) if launcher == "ray_cluster" else {}
    if store == "server":
        srv = request.getfixturevalue("shared_server")
        uri = srv.url
        env_extra.update(srv.team_env)
    else:
        uri = f"sqlite:///{tmp_path}/mlflow.db"  # a fresh file: the jobs race to create its tables
    # The sets ARCFACE trains and validates on, rendered up front: the jobs then start together
    # instead of queueing for the renderer, and their runs overlap.
    ensure_dataset("tracks", dict(TINY_SETTINGS["tracks"], identities=6, per_identity=4), tmp_path / "cache")
    ensure_dataset("market", TINY_SETTINGS["market"], tmp_path / "cache")
    experiment = f"sweep-{launcher}-{store}"
    sweep_dir = tmp_path / "sweep"
    run(train_cmd(f"hydra/launcher={launcher}", *ARCFACE, f"trainer.max_epochs={EPOCHS}",
                  f"margin={','.join(MARGINS)}", f"logger.experiment_name={experiment}", f"hydra.sweep.dir={sweep_dir}", multirun=True),
        train_env(uri, tmp_path / "cache", **env_extra), timeout=1800)

    summaries = [json.loads(p.read_text()) for p in sorted(sweep_dir.glob("*/train_summary.json"))]
    assert len(summaries) == len(MARGINS)
    for key, value in env_extra.items():
        if key.startswith("MLFLOW_"):
            monkeypatch.setenv(key, value)
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert sorted(r.data.params["margin"] for r in runs) == sorted(MARGINS)
    assert all(r.info.status == "FINISHED" for r in runs)
    overlap_ms = min(r.info.end_time for r in runs) - max(r.info.start_time for r in runs)
    assert overlap_ms > 0, f"the {len(runs)} runs never ran all at once (gap {-overlap_ms} ms)"

    logged = found = 0
    for s in summaries:
        points = {k: [m.step for m in client.get_metric_history(s["run_id"], k)]
                  for k in client.get_run(s["run_id"]).data.metrics}
        assert points["train/loss_step"] == list(range(EPOCHS * STEPS_PER_EPOCH))
        assert all(len(steps) == len(set(steps)) for steps in points.values())
        logged += s["metric_points_logged"]
        found += sum(map(len, points.values()))
    print(f"{launcher} -> {store}: {len(runs)} runs all live together for {overlap_ms / 1000:.1f} s, "
          f"metric points logged {logged}, found {found}")
    assert logged > 0 and found == logged
