"""One training run, as ``train.py`` performs it.

Config -> data module -> method (ArcFace / MoCo / triplet) -> Lightning trainer with
an MLflow logger -> best checkpoint and an exported embedding model logged to the
run -> a closing summary that tells the user how to evaluate the result.
"""
from __future__ import annotations

import json
import logging
import shlex
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import hydra
import mlflow
import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint

from reidfw.tracking.lightning_logger import (
    RunIdInCheckpoint,
    flatten_config,
    make_mlflow_logger,
)
from reidfw.tracking.ui_links import run_url, runs_url, ui_base
from reidfw.training.atomic_checkpoint_io import AtomicCheckpointIO
from reidfw.training.random_state import RandomStateInCheckpoint
from reidfw.training.resume import check_resume_checkpoint
from reidfw.training.resume_checkpoint import ResumeCheckpoint

log = logging.getLogger(__name__)

SUMMARY_FILE = "train_summary.json"


@dataclass
class TrainResult:
    run_id: str
    experiment_name: str
    tracking_uri: str
    method: str
    backbone: str
    best_checkpoint: str
    last_checkpoint: str
    exported_model: str | None
    best_score: float | None
    monitor: str
    output_dir: str
    metric_points_logged: int = 0  # MLflow metric points this process sent (after the journal's dedup)
    experiment_id: str = ""


def build_datamodule(cfg: DictConfig):
    return hydra.utils.instantiate(
        cfg.data, img_size=tuple(cfg.img_size), synthetic_cache_dir=cfg.cache_dir, seed=cfg.seed, _recursive_=False
    )


def build_method_from_config(cfg: DictConfig, num_classes: int | None):
    from reidfw.methods import build_method

    loss = OmegaConf.to_container(cfg.loss, resolve=True)
    name = loss.pop("method")
    loss.pop("backbone_family", None)
    backbone = {
        "name": cfg.model.name,
        "img_size": list(cfg.img_size),
        "kwargs": OmegaConf.to_container(cfg.model.kwargs, resolve=True),
    }
    kwargs = dict(
        backbone=backbone,
        optimizer=OmegaConf.to_container(cfg.optimizer, resolve=True),
        scheduler=OmegaConf.to_container(cfg.scheduler, resolve=True),
        **loss,
    )
    if name == "arcface":
        kwargs["num_classes"] = num_classes
    return build_method(name, **kwargs)


def train(cfg: DictConfig) -> TrainResult:
    pl.seed_everything(cfg.seed, workers=True)
    output_dir = Path(hydra.core.hydra_config.HydraConfig.get().runtime.output_dir) if _in_hydra() else Path.cwd()

    # Before any data or model work: a wrong resume file should fail in a second, not after setup.
    resume_run = check_resume_checkpoint(cfg.ckpt_path, cfg.loss.method) if cfg.ckpt_path else None
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")  # the ArcFace head needs the class count before the model is built
    model = build_method_from_config(cfg, getattr(datamodule, "num_classes", None))

    logger_cfg = cfg.logger
    mlf = make_mlflow_logger(
        experiment_name=logger_cfg.experiment_name,
        run_name=logger_cfg.run_name or _default_run_name(cfg),
        tracking_uri=logger_cfg.tracking_uri,
        tags={"reidfw.method": cfg.loss.method, "reidfw.backbone": cfg.model.name, **(logger_cfg.tags or {})},
        run_id=resume_run,
    )
    run_id = mlf.run_id
    if resume_run is None:
        # On resume the params are already on the run (MLflow refuses to change them).
        params = flatten_config(cfg)
        # What the data turned out to hold, next to what was asked for.
        params["data.num_classes"] = str(getattr(datamodule, "num_classes", None))
        params["data.num_train_images"] = str(len(datamodule.train_set)) if datamodule.train_set is not None else "None"
        mlf.log_hyperparams(params)
        mlf.experiment.log_text(run_id, OmegaConf.to_yaml(cfg, resolve=True), "config/train.yaml")
        mlf.experiment.set_tag(run_id, "reidfw.command", " ".join(shlex.quote(a) for a in sys.argv))

    ckpt_dir = output_dir / "checkpoints"
    cb_cfg = cfg.callbacks.checkpoint
    checkpoint = ModelCheckpoint(
        dirpath=ckpt_dir, filename="best", monitor=cb_cfg.monitor, mode=cb_cfg.mode, save_top_k=cb_cfg.save_top_k
    )
    # The every-epoch checkpoint a killed run resumes from, with the random state and the
    # MLflow points it covers (resume_checkpoint.py explains why each is needed).
    latest = ResumeCheckpoint(ckpt_dir)
    callbacks = [
        checkpoint, latest, RunIdInCheckpoint(run_id), RandomStateInCheckpoint(),
        LearningRateMonitor(logging_interval="step"),
    ]
    trainer: pl.Trainer = hydra.utils.instantiate(
        cfg.trainer,
        logger=mlf,
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],  # a kill while writing leaves the previous file whole
        default_root_dir=str(output_dir),
        enable_progress_bar=cfg.callbacks.progress_bar,
    )
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path)

    last = latest.last_model_path
    best = checkpoint.best_model_path or last
    exported = None
    if trainer.is_global_zero:
        if best:
            mlf.experiment.log_artifact(run_id, best, "checkpoints")
        if cfg.export_model and best:
            exported = str(export_best(best, output_dir / "model", run_id))
            mlf.experiment.log_artifacts(run_id, exported, "model")
    score = checkpoint.best_model_score
    result = TrainResult(
        run_id=run_id,
        experiment_name=logger_cfg.experiment_name,
        tracking_uri=mlflow.get_tracking_uri(),
        method=cfg.loss.method,
        backbone=cfg.model.name,
        best_checkpoint=best,
        last_checkpoint=last,
        exported_model=exported,
        best_score=float(score) if score is not None else None,
        monitor=cb_cfg.monitor,
        output_dir=str(output_dir),
        metric_points_logged=mlf.points_sent,
        experiment_id=str(mlf.experiment_id),
    )
    (output_dir / SUMMARY_FILE).write_text(json.dumps(asdict(result), indent=1))
    print(format_summary(result))
    return result


def export_best(checkpoint_path: str, out_dir: Path, run_id: str) -> Path:
    """Export the embedding network of a checkpoint as safetensors + JSON."""
    from reidfw.evaluation.staging import StagedOutputs
    from reidfw.models.checkpoints import load_embedding_model
    from reidfw.models.export import export_embedding_model

    model, spec = load_embedding_model(checkpoint_path)
    spec = {**spec, "train_run_id": run_id}
    # Written aside and moved into place: a kill mid-export leaves no half model folder to load.
    staged = StagedOutputs(out_dir.parent)
    try:
        export_embedding_model(model, spec, staged.path(out_dir.name))
        return staged.publish(out_dir.name)
    finally:
        staged.close()


def format_summary(r: TrainResult) -> str:
    score = f"{r.best_score:.4f}" if r.best_score is not None else "n/a"
    lines = [
        "",
        "reidfw: training finished",
        f"  method          {r.method} ({r.backbone})",
        f"  best {r.monitor:<10} {score}",
        f"  checkpoint      {r.best_checkpoint}",
        f"  exported model  {r.exported_model or 'not exported'}",
        f"  MLflow run      {r.run_id} (experiment '{r.experiment_name}', store {r.tracking_uri})",
        f"  evaluate it     python evaluate.py ckpt=runs:/{r.run_id}/model",
        f"  resume it       python train.py ckpt_path={r.last_checkpoint or r.best_checkpoint} <same overrides>",
    ]
    base, serve = ui_base(r.tracking_uri)
    if serve:
        lines.append(f"  MLflow UI       {serve}   (then open the links below)")
    if r.experiment_id:
        lines += [f"  this run        {run_url(base, r.experiment_id, r.run_id)}",
                  f"  compare runs    {runs_url(base, r.experiment_id)}"]
    return "\n".join([*lines, ""])


def _default_run_name(cfg: DictConfig) -> str:
    margin = f"-m{cfg.margin}" if "margin" in cfg else ""
    return f"{cfg.loss.method}-{cfg.model.name}{margin}"


def _in_hydra() -> bool:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.initialized()
