"""Training metrics reach MLflow once the checkpoint that covers them is on disk: exactly once across kills.

A run killed mid-epoch and resumed from ``last.ckpt`` trains the steps after that
checkpoint again. Had those steps' metrics gone to MLflow live, the run's history would
hold them twice (MLflow cannot delete a point). So :class:`JournaledMLFlowLogger` keeps
points in a journal; the resume checkpoint (``reidfw.training.resume_checkpoint``) stores
the journal in the file and, once the file is on disk, the points are sent. Resuming
sends the checkpoint's points that had not reached the store (a kill between the write
and the send); the steps after the checkpoint died with the process and are logged, once,
by the resumed run.

The price: the MLflow UI shows training metrics per epoch, not per step while an epoch
runs. A run that fails with an exception keeps its unsent points (a resume trains those
steps again); a run that ends normally sends everything.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping

from lightning_fabric.utilities.logger import _add_prefix
from pytorch_lightning.loggers import MLFlowLogger
from pytorch_lightning.utilities import rank_zero_only

_BATCH = 1000  # MLflow's limit of metrics per log_batch call
Point = tuple[str, float, int, int]  # key, value, step, timestamp (ms)


def _clean_key(key: str) -> str:
    # The characters MLflow accepts in a metric name (as Lightning's MLFlowLogger does).
    return re.sub(r"[^a-zA-Z0-9_/. -]+", "", key)


class MetricJournal:
    """Points not yet sent, one per (key, step): Lightning adds ``epoch`` to every call, and the
    epoch aggregates are journaled before the checkpoint and again when Lightning logs them."""

    def __init__(self) -> None:
        self.pending: list[Point] = []
        self._step: int | None = None
        self._keys_at_step: set[str] = set()

    def add(self, key: str, value: float, step: int, timestamp: int) -> None:
        if step != self._step:  # Lightning's logging step never decreases
            self._step, self._keys_at_step = step, set()
        if key in self._keys_at_step:
            return
        self._keys_at_step.add(key)
        self.pending.append((key, float(value), int(step), int(timestamp)))

    def take(self, count: int) -> list[Point]:
        taken, self.pending = self.pending[:count], self.pending[count:]
        return taken


class JournaledMLFlowLogger(MLFlowLogger):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.journal = MetricJournal()
        self.points_sent = 0  # by this process (a resumed run counts its own)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        now = int(time.time() * 1000)
        for key, value in _add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR).items():
            if isinstance(value, str):
                continue  # as Lightning's logger: MLflow metrics are numbers
            self.journal.add(_clean_key(key), float(value), int(step or 0), now)

    @rank_zero_only
    def send(self, count: int | None = None) -> None:
        """Send the oldest ``count`` journaled points (all when None)."""
        points = self.journal.take(len(self.journal.pending) if count is None else count)
        self._send(points)

    @rank_zero_only
    def replay(self, points: Iterable[Point]) -> int:
        """Send those of a checkpoint's points that the store does not hold yet; returns how many."""
        by_key: dict[str, dict[int, Point]] = {}
        for p in points:
            by_key.setdefault(p[0], {}).setdefault(int(p[2]), tuple(p))  # first point per (key, step)
        missing = []
        for key, pts in by_key.items():
            have = {m.step for m in self.experiment.get_metric_history(self.run_id, key)}
            missing += [p for step, p in pts.items() if step not in have]
        self._send(missing)
        return len(missing)

    def _send(self, points: list[Point]) -> None:
        from mlflow.entities import Metric

        metrics = [Metric(key=k, value=v, timestamp=t, step=s) for k, v, s, t in points]
        for i in range(0, len(metrics), _BATCH):
            self.experiment.log_batch(run_id=self.run_id, metrics=metrics[i : i + _BATCH], synchronous=True)
            self.points_sent += len(metrics[i : i + _BATCH])

    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        if status in ("success", "finished") and self.journal.pending:
            self.send()
        super().finalize(status)
