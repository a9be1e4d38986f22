"""What the network scores before it has learned anything: the null a trained model's val mAP is read against.

An untrained network already retrieves: a random convolutional network keeps the crop's colour
layout, and on colour-coded data that finds people (an untrained iresnet18 scores val mAP
0.06-0.08 on the demo's retrieval set). A val mAP means what training added only beside it.
So train.py validates the model once on the *whole* val set before its first step — Lightning's
sanity check with ``num_sanity_val_steps=-1``, whose metrics ``ReIDMethod`` keeps in
``untrained_metrics`` instead of logging them — and this callback logs ``val/<metric>_untrained``
(mAP, rank1, impostor_mean) to MLflow at step 0, so the UI shows each run's learning against its
own starting point. Lightning runs the sanity pass inside ``isolate_rng()``, so the training run
after it follows the same path as without it (tests/methods/test_untrained_baseline.py holds it to that).

A resumed run skips it (its network is no longer the untrained one); ``callbacks.untrained_baseline=false``
turns it off.
"""
from __future__ import annotations

import pytorch_lightning as pl

LOGGED = ("mAP", "rank1", "impostor_mean")
SANITY_STEPS = -1   # Lightning: every val batch


class UntrainedBaseline(pl.Callback):
    def on_sanity_check_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = getattr(pl_module, "untrained_metrics", None)
        if metrics and trainer.logger is not None and trainer.is_global_zero:
            trainer.logger.log_metrics({f"val/{k}_untrained": metrics[k] for k in LOGGED if k in metrics}, step=0)


def untrained_score(pl_module: pl.LightningModule, monitor: str) -> float | None:
    """The untrained network's value of ``monitor`` (e.g. "val/mAP"), when the baseline ran."""
    metrics = getattr(pl_module, "untrained_metrics", None) or {}
    name = monitor.removeprefix("val/")
    return metrics.get(name)
