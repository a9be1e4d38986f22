"""The Lightning MLflow logger on reidfw's store, and the run's config as params.

A checkpoint remembers its MLflow run id (:class:`RunIdInCheckpoint`), so
``ckpt_path=...`` resumes logging into the same run instead of starting a new one.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import MLFlowLogger

from reidfw.mlflow_logging.runs import CHECKPOINT_STAMP_KEY
from reidfw.mlflow_logging.concurrent_store import get_or_create_experiment
from reidfw.mlflow_logging.metric_journal import JournaledMLFlowLogger
from reidfw.mlflow_logging.store import artifact_location, resolve_tracking_uri

# MLflow rejects longer param values; longer ones (rare: long lists) are cut with a marker.
_MAX_PARAM_LEN = 6000


def flatten_config(cfg: DictConfig | dict, sep: str = ".") -> dict[str, str]:
    """``{"loss": {"head": {"margin": 0.5}}}`` -> ``{"loss.head.margin": "0.5"}``; lists stay whole."""
    container = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    out: dict[str, str] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict) and node:
            for k, v in node.items():
                walk(f"{prefix}{sep}{k}" if prefix else str(k), v)
        else:
            text = str(node)
            out[prefix] = text if len(text) <= _MAX_PARAM_LEN else text[: _MAX_PARAM_LEN - 3] + "..."

    walk("", container)
    return out


def make_mlflow_logger(
    experiment_name: str,
    run_name: str | None = None,
    tracking_uri: str | None = None,
    tags: dict | None = None,
    run_id: str | None = None,
) -> MLFlowLogger:
    uri = resolve_tracking_uri(tracking_uri)
    mlflow.set_tracking_uri(uri)
    if run_id is None:
        # Jobs of a parallel sweep all find a new experiment missing; only one may create it.
        get_or_create_experiment(mlflow.MlflowClient(uri), experiment_name, artifact_location(uri))
    # Journaled: metrics reach the store once a resume checkpoint covers them (see metric_journal).
    return JournaledMLFlowLogger(
        experiment_name=experiment_name,
        run_name=run_name,
        tracking_uri=uri,
        tags=dict(tags or {}),
        artifact_location=artifact_location(uri),
        run_id=run_id,
    )


class RunIdInCheckpoint(pl.Callback):
    """Stores the MLflow run id in every checkpoint so a resume continues that run."""

    def __init__(self, run_id: str):
        self.run_id = run_id

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint.setdefault(CHECKPOINT_STAMP_KEY, {})["mlflow_run_id"] = self.run_id
