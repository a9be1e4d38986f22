"""Where runs are tracked: the embedded SQLite store under ``mlruns/`` by default.

MLflow 3 refuses a plain folder as a store; SQLite is its supported embedded
store, with artifacts beside it under ``mlruns/``. ``MLFLOW_TRACKING_URI`` (a
tracking server) wins over the config, so a team moves to a server without
editing configs.
"""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_STORE_DIR = "mlruns"


def default_tracking_uri(base_dir: str | Path | None = None) -> str:
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    return f"sqlite:///{(base / DEFAULT_STORE_DIR / 'mlflow.db').resolve()}"


def resolve_tracking_uri(configured: str | None = None, base_dir: str | Path | None = None) -> str:
    """Environment, then config, then the embedded store; creates the store folder."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or configured or default_tracking_uri(base_dir)
    if uri.startswith("sqlite:///"):
        from reidfw.mlflow_logging.concurrent_store import initialize_store

        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        initialize_store(uri)  # parallel sweep jobs must not all build the tables at once
    return uri


def artifact_location(tracking_uri: str) -> str | None:
    """Artifacts live next to a SQLite store (``mlruns/artifacts``); servers choose their own."""
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri[len("sqlite:///"):])
        return (db.parent / "artifacts").resolve().as_uri()
    return None
