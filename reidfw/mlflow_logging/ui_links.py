"""Links into the MLflow UI that land on runs, as reidfw prints them.

MLflow 3.x opens an experiment (``#/experiments/<id>``) on its GenAI overview of traces
unless told the experiment is a machine-learning one; ``workflowType=machine_learning``
in the URL does that (and is remembered by the browser). The forms, checked in a real
browser by ``tests/mlflow_logging/test_mlflow_ui_browser.py``:

- runs table:  ``<base>/#/experiments/<exp>/runs?workflowType=machine_learning``
- one run:     ``<base>/#/experiments/<exp>/runs/<run>?workflowType=machine_learning``
- an artifact: ``<base>/#/experiments/<exp>/runs/<run>/artifacts/<path>?workflowType=machine_learning``
- compare:     ``<base>/#/compare-runs?runs=["<run>",...]&experiments=["<exp>",...]&workflowType=machine_learning``
  (JSON lists, percent-encoded so terminals keep the link whole)

``<base>`` is the tracking server's URL; for the embedded SQLite store it is where
``mlflow ui`` serves it (http://127.0.0.1:5000 by default), and the command to start it
is printed alongside.
"""
from __future__ import annotations

import json
import shlex
from urllib.parse import quote

ML = "workflowType=machine_learning"
LOCAL_UI = "http://127.0.0.1:5000"


def ui_base(tracking_uri: str) -> tuple[str, str | None]:
    """(base URL of the UI, the command that serves it — None when the store is a server already)."""
    if tracking_uri.startswith(("http://", "https://")):
        return tracking_uri.rstrip("/"), None
    return LOCAL_UI, f"mlflow ui --backend-store-uri {shlex.quote(tracking_uri)}"


def runs_url(base: str, experiment_id: str) -> str:
    return f"{base}/#/experiments/{experiment_id}/runs?{ML}"


def run_url(base: str, experiment_id: str, run_id: str, artifact: str | None = None) -> str:
    tail = f"/artifacts/{quote(artifact)}" if artifact else ""
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}{tail}?{ML}"


def compare_url(base: str, experiment_ids: list[str], run_ids: list[str]) -> str:
    runs = quote(json.dumps(list(run_ids), separators=(",", ":")))
    exps = quote(json.dumps(sorted(set(experiment_ids)), separators=(",", ":")))
    return f"{base}/#/compare-runs?runs={runs}&experiments={exps}&{ML}"
