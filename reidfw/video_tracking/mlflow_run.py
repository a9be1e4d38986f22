"""The tracking run in MLflow: a run of its own, in the store train.py and evaluate.py use.

Params are the resolved ``track.py`` config (flattened), metrics the counts of the scan
and the curation (``tracks/kept``, ``crops/dropped/blurred``, ``scan/fps`` ...), artifacts
the report (contact sheets, summary, MOT output), ``tracks.csv`` and ``config/track.yaml``.
A resumed run continues logging into the same MLflow run (its id is in the work state).
"""
from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf

from reidfw.mlflow_logging.store import artifact_location, resolve_tracking_uri

TAG_KIND = "reidfw.kind"


def start_run(cfg: DictConfig, video: str, run_id: str | None = None) -> tuple[MlflowClient, str, str]:
    """(client, run id, tracking URI): a new run, or the given one when continuing."""
    uri = resolve_tracking_uri(cfg.mlflow.tracking_uri)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    if run_id:
        return client, run_id, uri
    name = cfg.mlflow.experiment
    exp = client.get_experiment_by_name(name)
    exp_id = exp.experiment_id if exp else client.create_experiment(name, artifact_location=artifact_location(uri))
    run = client.create_run(exp_id, run_name=cfg.mlflow.run_name or f"track-{Path(video).stem}-{cfg.detector.name}",
                            tags={TAG_KIND: "tracking", "reidfw.video": video, "reidfw.detector": cfg.detector.name,
                                  "reidfw.tracks_root": str(Path(cfg.out).expanduser().resolve()),
                                  "reidfw.command": " ".join(shlex.quote(a) for a in sys.argv)})
    from reidfw.mlflow_logging.lightning import flatten_config

    params = flatten_config(cfg)
    items = list(params.items())
    for i in range(0, len(items), 100):                 # MLflow takes at most 100 params per batch
        client.log_batch(run.info.run_id, params=[mlflow.entities.Param(k, v) for k, v in items[i:i + 100]])
    client.log_text(run.info.run_id, OmegaConf.to_yaml(cfg, resolve=True), "config/track.yaml")
    return client, run.info.run_id, uri


def log_results(client: MlflowClient, run_id: str, summary: dict, out: Path) -> None:
    metrics = {
        "scan/frames": summary["frames_processed"], "scan/fps": summary["fps"],
        "scan/detections": summary["detections"], "scan/tracked_boxes": summary["tracked_boxes"],
        "tracks/raw": summary["raw_tracks"], "tracks/kept": summary["kept_tracks"],
        "tracks/identity_switch_splits": summary["identity_switch_splits"], "crops/kept": summary["kept_crops"],
        **{f"tracks/dropped/{k}": v for k, v in summary["dropped_tracks"].items()},
        **{f"crops/dropped/{k}": v for k, v in summary["dropped_crops"].items()},
    }
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[mlflow.entities.Metric(k, float(v), now, 0) for k, v in metrics.items()])
    client.log_artifacts(run_id, str(out / "report"), "report")
    client.log_artifact(run_id, str(out / "tracks.csv"))
    client.set_terminated(run_id)
