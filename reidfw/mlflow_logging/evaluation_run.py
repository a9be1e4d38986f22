"""Log one evaluation (one checkpoint on one study) as its own MLflow run.

Why a separate run and not a nested run inside the training run: a training
run is finished when its checkpoint is evaluated, often much later and from
another process. Re-opening it to nest a child would flip its status back to
RUNNING and mix evaluation artifacts into it; evaluating the same checkpoint
twice (another study, masking on/off) would pile up in one place. So every
evaluation is a new run in the *training run's experiment*, tagged

* ``reidfw.train_run_id`` = the training run (searchable: ``tags.reidfw.train_run_id = '...'``),
* ``mlflow.parentRunId`` = the same id, which is all MLflow's UI needs to show
  it nested under the training run,

and only when that training run exists in this store (a dangling parent id
would hide the run in the UI). A checkpoint without a known training run
(an external state dict) gets a plain run in the configured experiment.

Metrics are the summary numbers (names contain ``/``, e.g.
``study/distance/robustness``, ``retrieval/mAP``); figures, CSVs, JSON and the
resolved config are artifacts.
"""
from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import Iterable

from reidfw.mlflow_logging.store import artifact_location, resolve_tracking_uri

TRAIN_RUN_TAG = "reidfw.train_run_id"
PARENT_TAG = "mlflow.parentRunId"
_BATCH = 900  # MLflow accepts at most 1000 metrics per log_batch call


def _experiment_id(client, name: str, tracking_uri: str) -> str:
    from reidfw.mlflow_logging.concurrent_store import get_or_create_experiment

    return get_or_create_experiment(client, name, artifact_location(tracking_uri))


def _training_run(client, run_id: str | None):
    if not run_id:
        return None
    try:
        return client.get_run(run_id)
    except Exception:  # MlflowException(RESOURCE_DOES_NOT_EXIST): the training ran against another store
        return None


def _params(results: dict, checkpoint: str | None) -> dict[str, str]:
    spec = results.get("spec") or {}
    bb = spec.get("backbone") or {}
    p = {
        "model_name": results["model"],
        "checkpoint": checkpoint or "",
        "method": spec.get("method") or "",
        "backbone": bb.get("name") or "",
        "img_size": "x".join(str(v) for v in bb.get("img_size", [])),
        "embed_dim": spec.get("embed_dim", ""),
        "embedding": spec.get("embedding") or "",
    }
    for k, v in (results.get("settings") or {}).items():
        p[f"eval.{k}"] = v
    return {k: str(v)[:6000] for k, v in p.items()}


def log_evaluation(
    results: dict,
    *,
    tracking_uri: str | None = None,
    experiment: str = "reidfw",
    checkpoint: str | None = None,
    config_yaml: str | None = None,
    extra_artifacts: Iterable[tuple[str | Path, str]] = (),
    run_name: str | None = None,
) -> str:
    """Create the evaluation run, log metrics, params and artifacts; returns its run id.

    ``results`` comes from :func:`reidfw.evaluation.pipeline.evaluate_model`
    (its ``out_dir`` is uploaded whole). ``config_yaml`` is the resolved config
    text (saved as ``config/evaluate.yaml``); ``extra_artifacts`` are
    ``(local dir or file, artifact path)`` pairs, e.g. the comparison folder.
    """
    from mlflow.entities import Metric, Param, RunStatus
    from mlflow.tracking import MlflowClient

    uri = resolve_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=uri)
    spec = results.get("spec") or {}
    train_id = spec.get("train_run_id")
    train_run = _training_run(client, train_id)
    exp_id = train_run.info.experiment_id if train_run is not None else _experiment_id(client, experiment, uri)
    study = (results.get("settings") or {}).get("study_name") or "no-study"
    tags = {"reidfw.kind": "evaluation", "reidfw.model": results["model"], "reidfw.study": study}
    if checkpoint:
        tags["reidfw.checkpoint"] = str(checkpoint)
    if train_id:
        tags[TRAIN_RUN_TAG] = str(train_id)
    if train_run is not None:
        tags[PARENT_TAG] = train_run.info.run_id
    run = client.create_run(exp_id, tags=tags, run_name=run_name or f"eval-{results['model']}-{study}")
    run_id = run.info.run_id
    try:
        now = int(time.time() * 1000)
        metrics = [
            Metric(k, float(v), now, 0)
            for k, v in results["metrics"].items()
            if v is not None and math.isfinite(float(v))  # NaN (e.g. a one-image condition) is in the JSON as null
        ]
        params = [Param(k, v) for k, v in _params(results, checkpoint).items()]
        for s in range(0, max(len(metrics), 1), _BATCH):
            client.log_batch(run_id, metrics=metrics[s : s + _BATCH], params=params if s == 0 else [])
        client.log_artifacts(run_id, results["out_dir"], artifact_path="evaluation")
        with tempfile.TemporaryDirectory() as tmp:
            if config_yaml is not None:
                (Path(tmp) / "evaluate.yaml").write_text(config_yaml)
                client.log_artifact(run_id, str(Path(tmp) / "evaluate.yaml"), artifact_path="config")
            (Path(tmp) / "spec.json").write_text(json.dumps(spec, indent=1, default=str))
            client.log_artifact(run_id, str(Path(tmp) / "spec.json"), artifact_path="config")
        for local, art_path in extra_artifacts:
            local = Path(local)
            if local.is_dir():
                client.log_artifacts(run_id, str(local), artifact_path=art_path)
            elif local.is_file():
                client.log_artifact(run_id, str(local), artifact_path=art_path)
    except BaseException:
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
        raise
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
    return run_id
