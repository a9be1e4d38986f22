"""``last.ckpt``: the checkpoint a killed run resumes from, written at the end of every epoch.

Written after the epoch's validation, so a resume starts the next epoch instead of
repeating this one (Lightning's own ``save_last`` only refreshes when the monitored metric
improves). Besides Lightning's state it carries what makes the rest of the run identical:
the data loader's next epoch (the data module's state), the global random state
(``random_state``), and the MLflow points it covers (``metric_journal``): those are sent
to MLflow only once the file is on disk, and re-sent on resume if the process died
in between.
"""
from __future__ import annotations

from pathlib import Path

from lightning_fabric.utilities.apply_func import convert_tensors_to_scalars
from pytorch_lightning.callbacks import Checkpoint

from reidfw.mlflow_logging.runs import CHECKPOINT_STAMP_KEY as CHECKPOINT_KEY
from reidfw.mlflow_logging.metric_journal import JournaledMLFlowLogger

JOURNAL_KEY = "metric_journal"


def _journaled(trainer) -> JournaledMLFlowLogger | None:
    return next((lg for lg in trainer.loggers if isinstance(lg, JournaledMLFlowLogger)), None)


class ResumeCheckpoint(Checkpoint):
    # A Checkpoint subclass: Lightning calls it after the module's own on_train_epoch_end,
    # so whatever the module logs there is in the file too.
    def __init__(self, dirpath: str | Path, filename: str = "last.ckpt"):
        self.path = Path(dirpath) / filename
        self.last_model_path = ""
        self._covered = 0

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        logger = _journaled(trainer)
        if logger is not None:
            # Lightning logs the epoch aggregates (train/loss_epoch, ...) right *after* this hook;
            # journal them now so this checkpoint covers them (Lightning's later copy is a duplicate
            # the journal drops). Same values, same step as Lightning uses.
            epoch_metrics = convert_tensors_to_scalars(trainer._logger_connector.metrics["log"])
            if epoch_metrics:
                epoch_metrics.setdefault("epoch", trainer.current_epoch)
                logger.log_metrics(epoch_metrics, step=trainer.fit_loop.epoch_loop._batches_that_stepped - 1)
        trainer.save_checkpoint(self.path)
        self.last_model_path = str(self.path)
        if logger is not None:
            logger.send(self._covered)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        logger = _journaled(trainer)
        pending = list(logger.journal.pending) if logger is not None else []
        checkpoint.setdefault(CHECKPOINT_KEY, {})[JOURNAL_KEY] = pending
        self._covered = len(pending)

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        logger = _journaled(trainer)
        points = (checkpoint.get(CHECKPOINT_KEY) or {}).get(JOURNAL_KEY) or []
        if logger is not None and points:
            logger.replay(points)
