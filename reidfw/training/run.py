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
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint

from reidfw.config_values import to_plain
from reidfw.errors import ReidfwError
from reidfw.mlflow_logging.lightning import RunIdInCheckpoint, flatten_config, make_mlflow_logger
from reidfw.model_input import InputSpec, resolve_input_spec
from reidfw.models import default_input_spec
from reidfw.mlflow_logging.ui_links import run_url, runs_url, ui_base
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
    collapse: str | None = None  # the last validation's collapse check, in words
    overrides: list[str] | None = None  # the command line's overrides (an ablation labels its variants by them)
    metric_points_logged: int = 0  # MLflow metric points this process sent (after the journal's dedup)
    experiment_id: str = ""
    untrained_score: float | None = None  # the monitored metric before the first step (untrained_baseline.py)


def input_spec_from_config(cfg: DictConfig) -> InputSpec:
    """The model input: ``img_size`` and ``input.*`` where given, else the backbone's own spec."""
    given = to_plain(cfg.input)
    return resolve_input_spec(size=cfg.img_size, **given, default=default_input_spec(cfg.model.name, cfg.img_size))


def data_roots(data: dict, cache_dir: str) -> dict[str, str | None]:
    """``train_root`` / ``val_root``: the configured folder, or else the embedded synthetic set of
    the config's ``{kind, settings}`` spec (rendered once into ``cache_dir``, then reused)."""
    from reidfw.synthetic.cache import ensure_dataset  # imported on use: the renderer is not needed for folders

    roots = {}
    for role in ("train", "val"):
        root, synthetic = data.get(f"{role}_root"), data.get(f"{role}_synthetic")
        if root is None and synthetic is not None:
            root = str(ensure_dataset(synthetic["kind"], dict(synthetic.get("settings") or {}), cache_dir))
        roots[f"{role}_root"] = root
    return roots


def build_datamodule(cfg: DictConfig, input_spec: InputSpec):
    data = to_plain(cfg.data)
    roots = data_roots(data, cfg.cache_dir)
    data = {k: v for k, v in data.items() if k not in ("train_synthetic", "val_synthetic")}
    extra = {}
    if cfg.get("canonicalize"):
        # The paper's flip proposal at training time: crops facing (180, 360) are mirrored into [0, 180].
        from reidfw.orientation.synthetic import resolve_orientation_model

        extra["canonicalize"] = resolve_orientation_model(cfg.orientation_model, cfg.cache_dir, to_plain(cfg.synthetic))
    try:
        return hydra.utils.instantiate({**data, **roots}, input_spec=input_spec.to_dict(), seed=cfg.seed,
                                       _recursive_=False, **extra)
    except InstantiationException as e:
        if isinstance(e.__cause__, ReidfwError):  # a data setting out of range: its own message, not Hydra's wrapper
            raise e.__cause__ from None
        raise


def build_method_from_config(cfg: DictConfig, input_spec: InputSpec, num_classes: int | None):
    from reidfw.methods import build_method

    loss = to_plain(cfg.loss)
    name = loss.pop("method")
    loss.pop("backbone_family", None)
    kwargs = dict(
        backbone={"name": cfg.model.name, "kwargs": to_plain(cfg.model.kwargs)},
        input=input_spec.to_dict(),
        optimizer=to_plain(cfg.optimizer),
        scheduler=to_plain(cfg.scheduler),
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
    input_spec = input_spec_from_config(cfg)
    datamodule = build_datamodule(cfg, input_spec)
    datamodule.prepare_data()
    datamodule.setup("fit")  # the ArcFace head needs the class count before the model is built
    model = build_method_from_config(cfg, input_spec, getattr(datamodule, "num_classes", None))

    logger_cfg = cfg.logger
    mlf = make_mlflow_logger(
        experiment_name=logger_cfg.experiment_name,
        run_name=logger_cfg.run_name or _default_run_name(cfg),
        tracking_uri=logger_cfg.tracking_uri,
        tags={"reidfw.method": cfg.loss.method, "reidfw.backbone": cfg.model.name, **_tracking_tags(cfg),
              **(logger_cfg.tags or {})},
        run_id=resume_run,
    )
    run_id = mlf.run_id
    if resume_run is None:
        # On resume the params are already on the run (MLflow refuses to change them).
        params = flatten_config(cfg)
        # What the data turned out to hold, next to what was asked for.
        params["data.num_classes"] = str(getattr(datamodule, "num_classes", None))
        params["data.num_train_images"] = str(len(datamodule.train_set)) if datamodule.train_set is not None else "None"
        # The input the model really gets (config nulls resolved to the backbone's own values).
        params.update({f"input.{k}": str(v) for k, v in input_spec.to_dict().items()})
        mlf.log_hyperparams(params)
        mlf.experiment.log_text(run_id, OmegaConf.to_yaml(cfg, resolve=True), "config/train.yaml")
        mlf.experiment.set_tag(run_id, "reidfw.command", " ".join(shlex.quote(a) for a in sys.argv))
        _log_data_distribution(mlf, run_id, datamodule.train_root, output_dir)

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
    # The untrained network's val metrics, to read the trained ones against (not on resume: its
    # network has learned already).
    baseline = bool(cfg.callbacks.get("untrained_baseline", True)) and not cfg.ckpt_path
    if baseline:
        from reidfw.training.untrained_baseline import SANITY_STEPS, UntrainedBaseline

        callbacks.append(UntrainedBaseline())
    if cfg.callbacks.get("channels_last", True):
        from reidfw.training.channels_last import ChannelsLast

        callbacks.append(ChannelsLast())  # acts on CUDA only
    try:
        trainer: pl.Trainer = hydra.utils.instantiate(
            cfg.trainer,
            logger=mlf,
            callbacks=callbacks,
            plugins=[AtomicCheckpointIO()],  # a kill while writing leaves the previous file whole
            default_root_dir=str(output_dir),
            enable_progress_bar=cfg.callbacks.progress_bar,
            **({"num_sanity_val_steps": SANITY_STEPS} if baseline else {}),
        )
    except Exception:  # trainer.max_epochs=-3: the run ends FAILED in MLflow, not RUNNING forever
        mlf.finalize("FAILED")
        raise
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path)

    last = latest.last_model_path
    best = checkpoint.best_model_path or last
    exported = None
    if trainer.is_global_zero:
        if best:
            mlf.experiment.log_artifact(run_id, best, "checkpoints")
        if cfg.export_model and best:
            exported = str(export_best(best, output_dir / "model", run_id, list(cfg.get("export_formats") or [])))
            mlf.experiment.log_artifacts(run_id, exported, "model")
    score = checkpoint.best_model_score
    untrained = None
    if baseline:
        from reidfw.training.untrained_baseline import untrained_score

        untrained = untrained_score(model, cb_cfg.monitor)
    result = TrainResult(
        collapse=_collapse_message(trainer, cfg.loss.method),
        overrides=list(hydra.core.hydra_config.HydraConfig.get().overrides.task) if _in_hydra() else None,
        run_id=run_id,
        experiment_name=logger_cfg.experiment_name,
        tracking_uri=mlflow.get_tracking_uri(),
        method=cfg.loss.method,
        backbone=cfg.model.name,
        best_checkpoint=best,
        last_checkpoint=last,
        exported_model=exported,
        best_score=float(score) if score is not None else None,
        untrained_score=untrained,
        monitor=cb_cfg.monitor,
        output_dir=str(output_dir),
        metric_points_logged=mlf.points_sent,
        experiment_id=str(mlf.experiment_id),
    )
    (output_dir / SUMMARY_FILE).write_text(json.dumps(asdict(result), indent=1))
    print(format_summary(result))
    return result


def _log_data_distribution(mlf, run_id: str, train_root, output_dir: Path) -> None:
    """The shape of a generated training set (distance, camera height, yaw; within an identity too),
    as a figure and numbers on the run, so two runs on different distributions compare in MLflow."""
    import json
    import time

    from reidfw.synthetic.distribution import distribution_figure

    fig = distribution_figure(train_root, output_dir / "data" / "train_distribution.png")
    if fig is None:  # a user's own folder without generator metadata
        return
    mlf.experiment.log_artifact(run_id, str(fig), "data")
    mlf.experiment.log_artifact(run_id, str(fig.with_suffix(".json")), "data")
    now = int(time.time() * 1000)
    points = [(f"data/{name}/{k}", float(numbers[k]), 0, now)
              for name, numbers in json.loads(fig.with_suffix(".json").read_text()).items()
              for k in ("mean", "within_identity_spread_mean")]
    # Through the logger, so they are counted with its points, and only those the run lacks: a
    # resumed run does not log its training set's shape twice.
    mlf.replay(points)


def export_best(checkpoint_path: str, out_dir: Path, run_id: str, formats: list[str] | None = None) -> Path:
    """Export the embedding network of a checkpoint as safetensors + JSON, plus ``formats`` (onnx, torchscript)."""
    from reidfw.checkpoints import export_embedding_model, load_embedding_model

    from reidfw.evaluation.staging import StagedOutputs

    model, spec = load_embedding_model(checkpoint_path)
    spec = {**spec, "train_run_id": run_id}
    # Written aside and moved into place: a kill mid-export leaves no half model folder to load.
    staged = StagedOutputs(out_dir.parent)
    try:
        out = export_embedding_model(model, spec, staged.path(out_dir.name))
        if formats:
            from reidfw.checkpoints.onnx_export import export_deployment

            export_deployment(model, spec, out, formats)
        return staged.publish(out_dir.name)
    finally:
        staged.close()


def _collapse_message(trainer: pl.Trainer, method: str) -> str | None:
    """The last validation's collapse check (val/impostor_mean, val/effective_rank) in plain words."""
    from reidfw.evaluation.collapse import CollapseCheck, verdict

    m = trainer.callback_metrics
    if "val/impostor_mean" not in m:
        return None
    mean, p99, rank = (float(m[f"val/{k}"]) for k in ("impostor_mean", "impostor_p99", "effective_rank"))
    dim = trainer.lightning_module.embed_dim
    return CollapseCheck(mean, p99, rank, dim, verdict(mean, rank)).message(f"{method} (last validation)")


def format_summary(r: TrainResult) -> str:
    score = f"{r.best_score:.4f}" if r.best_score is not None else "n/a"
    lines = [
        "",
        "reidfw: training finished",
        f"  method          {r.method} ({r.backbone})",
        f"  best {r.monitor:<10} {score}{_against_untrained(r)}",
        *([f"  collapse check  {r.collapse}"] if r.collapse else []),
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


def _against_untrained(r: TrainResult) -> str:
    """'  (untrained 0.0770: 3.6x)' when the untrained baseline ran."""
    if r.untrained_score is None or r.best_score is None:
        return ""
    ratio = f": {r.best_score / r.untrained_score:.1f}x" if r.untrained_score > 0 else ""
    return f"  (untrained {r.untrained_score:.4f}{ratio})"


def _default_run_name(cfg: DictConfig) -> str:
    margin = f"-m{cfg.margin}" if "margin" in cfg else ""
    return f"{cfg.loss.method}-{cfg.model.name}{margin}"


def _tracking_tags(cfg: DictConfig) -> dict:
    """``reidfw.tracking_run_id`` when the training tracks came from track.py (its tracking.json)."""
    from reidfw.data.formats.tracking_info import read_tracking_info

    info = read_tracking_info(cfg.data.get("train_root"))
    return {"reidfw.tracking_run_id": info["tracking_run_id"]} if info and info.get("tracking_run_id") else {}


def _in_hydra() -> bool:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.initialized()
