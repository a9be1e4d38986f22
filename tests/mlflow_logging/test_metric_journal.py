"""The journal behind exactly-once MLflow points across kills (the kill test drives it end to end)."""
import mlflow
import pytest

from reidfw.mlflow_logging.lightning import make_mlflow_logger
from reidfw.mlflow_logging.metric_journal import MetricJournal


def test_one_point_per_key_and_step():
    j = MetricJournal()
    j.add("epoch", 0, 5, 1)
    j.add("loss", 1.0, 5, 1)
    j.add("epoch", 0, 5, 2)  # Lightning adds "epoch" to every call of a step
    j.add("loss", 9.0, 5, 2)  # the epoch aggregate logged again by Lightning after the checkpoint
    j.add("epoch", 0, 6, 3)
    assert [(k, v, s) for k, v, s, _ in j.pending] == [("epoch", 0, 5), ("loss", 1.0, 5), ("epoch", 0, 6)]
    assert j.take(2) == [("epoch", 0.0, 5, 1), ("loss", 1.0, 5, 1)] and len(j.pending) == 1


def test_nothing_reaches_the_store_until_sent_and_replay_sends_only_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    logger = make_mlflow_logger("journal", tracking_uri=uri)
    logger.log_metrics({"train/loss": 1.5, "bad key!": 2.0, "name": "text"}, step=0)
    logger.log_metrics({"train/loss": 1.0}, step=1)
    client = mlflow.MlflowClient(uri)
    assert client.get_metric_history(logger.run_id, "train/loss") == []
    covered = list(logger.journal.pending)
    logger.send(2)  # what a checkpoint covered
    assert [m.step for m in client.get_metric_history(logger.run_id, "train/loss")] == [0]
    assert [m.value for m in client.get_metric_history(logger.run_id, "bad key")] == [2.0]
    # A resumed process replays the checkpoint's points: those already stored are skipped.
    assert logger.replay(covered + [("train/loss", 1.0, 1, 0)]) == 1
    assert [m.step for m in client.get_metric_history(logger.run_id, "train/loss")] == [0, 1]
    assert logger.points_sent == 3


@pytest.mark.parametrize("status,sent", [("success", 1), ("failed", 0)])
def test_finalize_sends_the_rest_only_on_success(tmp_path, monkeypatch, status, sent):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    logger = make_mlflow_logger("journal", tracking_uri=uri)
    logger.log_metrics({"m": 1.0}, step=3)
    logger.finalize(status)
    # A failed run keeps its unsent steps out: a resume trains them again and logs them once.
    assert len(mlflow.MlflowClient(uri).get_metric_history(logger.run_id, "m")) == sent
