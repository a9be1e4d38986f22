"""What several processes writing to one MLflow store at once (a parallel sweep) need.

- A new SQLite store is created by the first process that opens it: MLflow builds the
  tables and runs its migrations. Four jobs of a sweep opening a fresh ``mlflow.db`` at
  the same moment all run them, and all but one fail (measured: ``sqlite3.OperationalError:
  duplicate column name: step``). :func:`initialize_store` does it under a file lock.
- A new experiment: every job of a sweep finds it missing and creates it; all but one get
  ``RESOURCE_ALREADY_EXISTS`` (on SQLite and on a tracking server alike).
  :func:`get_or_create_experiment` takes the winner's.
"""
from __future__ import annotations

from pathlib import Path

from filelock import FileLock

_initialized: set[str] = set()


def initialize_store(uri: str) -> None:
    """Create a SQLite store's tables once, whoever gets there first; no-op for servers."""
    if not uri.startswith("sqlite:///") or uri in _initialized:
        return
    db = Path(uri[len("sqlite:///"):])
    from mlflow.tracking import MlflowClient

    with FileLock(str(db) + ".lock"):
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)  # creates / migrates the tables
    _initialized.add(uri)


def get_or_create_experiment(client, name: str, artifact_location: str | None = None) -> str:
    """The experiment's id; created if missing, tolerating another process creating it meanwhile."""
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(name)
    if exp is not None and exp.lifecycle_stage != "deleted":
        return exp.experiment_id
    if exp is not None:
        raise MlflowException(
            f"MLflow experiment {name!r} is deleted; restore it (mlflow experiments restore --experiment-id "
            f"{exp.experiment_id}) or choose another name (logger.experiment_name=...)"
        )
    try:
        return client.create_experiment(name, artifact_location=artifact_location)
    except MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return client.get_experiment_by_name(name).experiment_id
