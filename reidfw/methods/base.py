"""ReIDMethod: what every training method shares.

- ``self.backbone``: the embedding network (``reidfw.models.build_backbone``), the thing
  that is exported and evaluated;
- plain-Python hyper-parameters (checkpoints load with ``torch.load(weights_only=True)``)
  including ``hparams.method`` and ``hparams.backbone = {"name", "img_size", "kwargs"}``;
- SGD/AdamW with a per-step LR schedule (linear warmup, then cosine / step / constant);
- retrieval validation: val batches ``{"image", "pid", "camid", "is_query"}`` (optionally
  ``"index"``, a unique sample id used to drop DistributedSampler's padding duplicates)
  are embedded over the epoch, gathered from all ranks, and scored with
  ``reidfw.evaluation.retrieval.evaluate_retrieval`` -> ``val/mAP``, ``val/rank1``, ...

Subclasses set ``method_name`` and implement ``training_step``. A method's recipe (optimizer,
learning rate, weight decay, schedule, clipping, its own hyper-parameters) is written once, in
``conf/loss/<method>.yaml``; the classes take it as arguments and hold no competing defaults.
"""
from __future__ import annotations

import logging
import math
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import LambdaLR

from reidfw.config_values import to_plain
from reidfw.methods import distributed as D
from reidfw.model_input import InputSpec
from reidfw.models import build_backbone, default_input_spec

log = logging.getLogger(__name__)

OPTIMIZER_KEYS = {"name", "lr", "ref_batch_size", "weight_decay", "momentum", "nesterov", "betas"}
OPTIMIZER_REQUIRED = {"sgd": {"lr", "weight_decay", "momentum"}, "adamw": {"lr", "weight_decay"}}
# Keys a schedule may leave out (they only matter for some schedules); the schedule itself is the recipe's.
SCHEDULER_DEFAULTS: dict[str, Any] = {"name": "none", "warmup_epochs": 0.0, "min_lr_ratio": 0.0, "milestones": [], "gamma": 0.1}


def backbone_spec(backbone: Any) -> dict[str, Any]:
    """Normalise ``backbone`` (a name or ``{"name", "kwargs"}``) to the full dict."""
    backbone = to_plain(backbone)
    if isinstance(backbone, str):
        backbone = {"name": backbone}
    if not isinstance(backbone, dict) or "name" not in backbone:
        raise ValueError(f"backbone must be a name or a dict {{name, kwargs}}, got {backbone!r}.")
    unknown = set(backbone) - {"name", "kwargs"}
    if unknown:
        raise ValueError(
            f"unknown backbone keys {sorted(unknown)}; put constructor arguments under backbone.kwargs "
            "and the input size in input.size."
        )
    return {"name": backbone["name"], "kwargs": dict(backbone.get("kwargs") or {})}


def lr_factor(step: int, total_steps: int, warmup_steps: int, sched: dict[str, Any], steps_per_epoch: float) -> float:
    """Multiplier of the base LR after ``step`` optimizer steps (see ``ReIDMethod`` docs)."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps  # linear, reaching 1 at the end of warmup
    name = sched["name"]
    if name == "cosine":
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        floor = float(sched["min_lr_ratio"])
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if name == "step":
        epoch = step / max(steps_per_epoch, 1e-12)
        passed = sum(1 for m in sched["milestones"] if epoch >= m)
        return float(sched["gamma"]) ** passed
    return 1.0  # "none": constant after warmup


class ReIDMethod(pl.LightningModule):
    """Shared base. ``backbone = {name, kwargs}``; ``input`` = the model's InputSpec (dict), whose
    size the backbone is built for (default: the backbone's own spec at the paper's 384x128);
    ``optimizer = {name: sgd|adamw, lr, weight_decay, momentum (sgd)}``; ``scheduler = {name:
    cosine|step|none, warmup_epochs, min_lr_ratio, milestones (epochs, for step), gamma}``, applied
    every optimizer step (None = constant learning rate)."""

    method_name: str = ""

    def __init__(self, backbone: Any, optimizer: dict, input: dict | None = None, scheduler: dict | None = None):
        super().__init__()
        if not self.method_name:
            raise TypeError(f"{type(self).__name__} must set the class attribute method_name.")
        # Collect the subclass's __init__ arguments as Lightning does, then store a plain-typed copy.
        self.save_hyperparameters()
        hp = to_plain(dict(self.hparams))
        hp["backbone"] = backbone_spec(backbone)
        hp["input"] = self._input_config(hp["backbone"]["name"], hp.get("input"))
        hp["optimizer"] = self._optimizer_config(optimizer)
        hp["scheduler"] = self._scheduler_config(scheduler)
        hp["method"] = self.method_name
        # logger=False: train.py logs the whole resolved config itself (one naming scheme in MLflow).
        self.save_hyperparameters(self.complete_hparams(hp), logger=False)
        spec = self.hparams.backbone
        self.input_spec = InputSpec.from_dict(self.hparams.input)
        self.backbone = build_backbone(spec["name"], img_size=self.input_spec.size, **spec["kwargs"])
        self.embed_dim = int(self.backbone.embed_dim)
        self._val_outputs: list[dict[str, torch.Tensor]] = []
        self.untrained_metrics: dict[str, float] | None = None  # set by a full sanity pass (see on_validation_epoch_end)

    # ----- configuration -------------------------------------------------------------------
    def complete_hparams(self, hp: dict[str, Any]) -> dict[str, Any]:
        """Hook: validate the subclass's hyper-parameters and fill in defaults, so a
        checkpoint records what actually ran. Returns the (plain-typed) dict to save."""
        return hp

    @staticmethod
    def _input_config(backbone_name: str, given: Any) -> dict[str, Any]:
        """The input spec: what is given wins over the backbone's own spec (at the paper's size)."""
        given = dict(to_plain(given) or {})
        unknown = set(given) - set(InputSpec.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown input keys {sorted(unknown)}; known: {sorted(InputSpec.__dataclass_fields__)}.")
        default = default_input_spec(backbone_name, given.get("size") or InputSpec().size)
        return replace(default, **given).to_dict()

    def _optimizer_config(self, optimizer: Any) -> dict[str, Any]:
        cfg = to_plain(optimizer) or {}
        unknown = set(cfg) - OPTIMIZER_KEYS
        if unknown:
            raise ValueError(f"unknown optimizer keys {sorted(unknown)}; allowed: {sorted(OPTIMIZER_KEYS)}.")
        if cfg.get("name") not in OPTIMIZER_REQUIRED:
            raise ValueError(f"unknown optimizer {cfg.get('name')!r}; choices: {sorted(OPTIMIZER_REQUIRED)}.")
        missing = OPTIMIZER_REQUIRED[cfg["name"]] - set(cfg)
        if missing:
            raise ValueError(f"optimizer {cfg['name']} needs {sorted(missing)} (the method's recipe in conf/loss/ sets them).")
        if not float(cfg["lr"]) > 0 or float(cfg["weight_decay"]) < 0:
            raise ValueError(f"optimizer lr must be > 0 and weight_decay >= 0, got lr={cfg['lr']}, weight_decay={cfg['weight_decay']}.")
        return cfg

    def _scheduler_config(self, scheduler: Any) -> dict[str, Any]:
        cfg = dict(SCHEDULER_DEFAULTS)
        user = to_plain(scheduler) or {}
        unknown = set(user) - set(SCHEDULER_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown scheduler keys {sorted(unknown)}; allowed: {sorted(SCHEDULER_DEFAULTS)}.")
        cfg.update(user)
        if cfg["name"] not in ("cosine", "step", "none"):
            raise ValueError(f"unknown scheduler {cfg['name']!r}; choices: cosine, step, none.")
        if not 0.0 <= float(cfg["min_lr_ratio"]) <= 1.0:
            raise ValueError(f"scheduler.min_lr_ratio must lie in [0, 1], got {cfg['min_lr_ratio']}.")
        return cfg

    def trainable_parameters(self):
        """Parameters the optimizer updates (frozen ones, e.g. MoCo's key encoder, are left out)."""
        return [p for p in self.parameters() if p.requires_grad]

    def global_batch_size(self) -> int | None:
        """Images per optimizer step over all devices, from the train loader (None before fit)."""
        if self._trainer is None:
            return None
        loader = self.trainer.train_dataloader
        size = getattr(loader, "batch_size", None) or getattr(getattr(loader, "batch_sampler", None), "batch_size", None)
        return int(size) * self.trainer.world_size * self.trainer.accumulate_grad_batches if size else None

    def effective_lr(self) -> float:
        """``optimizer.lr`` scaled linearly to the real batch when the recipe names the batch it was
        set for (``ref_batch_size``: MoCo v2's 0.03 is for 256 images, insightface's 0.1 for 512)."""
        o = self.hparams.optimizer
        ref, batch = o.get("ref_batch_size"), self.global_batch_size()
        return float(o["lr"]) * batch / float(ref) if ref and batch else float(o["lr"])

    def configure_optimizers(self):
        o = self.hparams.optimizer
        params = self.trainable_parameters()
        lr = self.effective_lr()
        if o["name"] == "sgd":
            opt = torch.optim.SGD(
                params, lr=lr, momentum=o["momentum"], weight_decay=o["weight_decay"],
                nesterov=bool(o.get("nesterov", False)),
            )
        else:  # momentum does not apply to AdamW and is ignored, so one config can switch optimizers
            opt = torch.optim.AdamW(params, lr=lr, weight_decay=o["weight_decay"], betas=tuple(o.get("betas", (0.9, 0.999))))
        sched = self.hparams.scheduler
        total = int(self.trainer.estimated_stepping_batches) if self._trainer is not None else 1
        max_epochs = self.trainer.max_epochs if self._trainer is not None else None
        # Epoch-denominated settings become step counts; with max_steps-only training
        # (max_epochs = -1) fall back to the loader length.
        if max_epochs and max_epochs > 0 and math.isfinite(total):
            steps_per_epoch = total / max_epochs
        else:
            nb = self.trainer.num_training_batches if self._trainer is not None else float("inf")
            steps_per_epoch = nb / self.trainer.accumulate_grad_batches if math.isfinite(nb) else float(total)
        warmup = int(round(float(sched["warmup_epochs"]) * steps_per_epoch))
        fn = lambda step: lr_factor(step, total, warmup, sched, steps_per_epoch)  # noqa: E731
        return {"optimizer": opt, "lr_scheduler": {"scheduler": LambdaLR(opt, fn), "interval": "step", "frequency": 1}}

    # ----- shared behaviour --------------------------------------------------------------------
    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, embed_dim) L2-normalised backbone embedding (the evaluation feature)."""
        return F.normalize(self.backbone(images).float(), dim=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.embed(images)

    def log_train(self, loss: torch.Tensor, batch_size: int, **extra: torch.Tensor) -> None:
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=batch_size, sync_dist=True)
        for name, value in extra.items():
            self.log(f"train/{name}", value, on_step=True, on_epoch=True, batch_size=batch_size, sync_dist=True)
        if self._trainer is not None and self.trainer.optimizers:
            self.log("lr", self.trainer.optimizers[0].param_groups[0]["lr"], on_step=True, on_epoch=False, batch_size=batch_size)

    # ----- retrieval validation ----------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._val_outputs = []

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        missing = {"image", "pid", "camid", "is_query"} - set(batch)
        if missing:
            raise KeyError(
                f"validation batch lacks {sorted(missing)}; val loaders must yield dicts with "
                "image (B,3,H,W), pid (B,), camid (B,), is_query (B,) bool."
            )
        out = {
            "feat": self.embed(batch["image"]),
            "pid": batch["pid"].long(),
            "camid": batch["camid"].long(),
            "is_query": batch["is_query"].bool(),
        }
        if "index" in batch:
            out["index"] = batch["index"].long()
        self._val_outputs.append(out)

    def on_validation_epoch_end(self) -> None:
        outputs, self._val_outputs = self._val_outputs, []
        if self.trainer.sanity_checking:
            # A couple of sanity batches hold a fragment of the gallery: queries without a
            # true match make the metrics meaningless, so only the forward path is checked.
            # A sanity pass over the whole val set (num_sanity_val_steps=-1, what
            # reidfw.training.untrained_baseline asks for) scores the untrained network: kept, not logged.
            if math.isinf(self.trainer.num_sanity_val_steps):
                self.untrained_metrics = self._retrieval_metrics(outputs)
            return
        for name, value in (self._retrieval_metrics(outputs) or {}).items():
            self.log(f"val/{name}", value, prog_bar=name in ("mAP", "rank1"), sync_dist=False)

    def _retrieval_metrics(self, outputs: list[dict[str, torch.Tensor]]) -> dict[str, float] | None:
        """Retrieval metrics and the collapse check over one validation pass, gathered from all ranks."""
        keys = ("feat", "pid", "camid", "is_query", "index")
        local = {k: torch.cat([o[k] for o in outputs]) if outputs and k in outputs[0] else None for k in keys}
        if local["feat"] is None:  # this rank got no batches; still join the collectives
            local = {
                "feat": torch.zeros(0, self.embed_dim, device=self.device),
                "pid": torch.zeros(0, dtype=torch.long, device=self.device),
                "camid": torch.zeros(0, dtype=torch.long, device=self.device),
                "is_query": torch.zeros(0, dtype=torch.bool, device=self.device),
                "index": None,
            }
        has_index = local["index"] is not None
        if D.world_size() > 1:
            # Every rank must take part in the same collectives, so agree on "index" first.
            flag = torch.tensor([int(has_index)], device=self.device)
            has_index = bool(D.concat_all_gather(flag).min())
        g = {k: D.concat_all_gather(local[k]) for k in ("feat", "pid", "camid", "is_query")}
        if has_index:
            # DistributedSampler pads the last shard with repeats; keep each sample once.
            index = D.concat_all_gather(local["index"]).cpu().numpy()
            _, first = np.unique(index, return_index=True)
            keep = torch.as_tensor(np.sort(first), device=g["feat"].device)
            g = {k: v[keep] for k, v in g.items()}
        q, gal = g["is_query"], ~g["is_query"]
        if int(q.sum()) == 0 or int(gal.sum()) == 0:
            msg = (
                f"validation skipped: {int(q.sum())} query and {int(gal.sum())} gallery images; "
                "the val loader must yield both (is_query True for queries)."
            )
            warnings.warn(msg, stacklevel=2)
            log.warning(msg)
            return None
        try:
            from reidfw.evaluation.retrieval import evaluate_retrieval
        except ImportError as e:
            raise ImportError(
                "retrieval validation needs reidfw.evaluation.retrieval.evaluate_retrieval; "
                "it is missing from this checkout (or failed to import). Train without a val loader meanwhile."
            ) from e
        feat = g["feat"].float().cpu().numpy()
        pid, cam = g["pid"].cpu().numpy(), g["camid"].cpu().numpy()
        qm, gm = q.cpu().numpy(), gal.cpu().numpy()
        metrics = evaluate_retrieval(feat[qm], pid[qm], cam[qm], feat[gm], pid[gm], cam[gm])
        # Is the embedding collapsing? (different people scoring high; see reidfw.evaluation.collapse)
        from reidfw.evaluation.collapse import collapse_check

        people = np.where(pid == 0, -2 - np.arange(len(pid)), pid)  # every distractor is a person of their own
        check = collapse_check(feat, people)
        metrics.update(impostor_mean=check.impostor_mean, impostor_p99=check.impostor_p99, effective_rank=check.effective_rank)
        # Every rank computed the same numbers from the same gathered data: no further sync.
        # Besides the metrics, the evaluator's numeric extras (num_queries, skipped_queries, ...).
        return {name: float(value) for name, value in metrics.items()
                if not isinstance(value, (bool, type(None))) and isinstance(value, (int, float, np.number))}
