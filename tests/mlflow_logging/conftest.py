"""A real shared MLflow server (PostgreSQL + ``mlflow server --app-name basic-auth``) for the tests here.

Started once per session, stopped at the end; skipped with the install command when
PostgreSQL is missing. Credentials are generated per session and passed through the
environment, as the README tells users to.
"""
from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from types import SimpleNamespace

import pytest

from reidfw.mlflow_logging.shared_server import SharedServer, postgres_bin

ADMIN_USER = "admin"
TEAM_USER = "team"


@pytest.fixture(scope="session")
def shared_server():
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed: sudo apt-get install -y postgresql "
                    "(README, 'A shared MLflow server')")
    creds = {
        "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN_USER,
        "MLFLOW_AUTH_ADMIN_PASSWORD": secrets.token_urlsafe(16),
        "REIDFW_MLFLOW_TEAM_USER": TEAM_USER,
        "REIDFW_MLFLOW_TEAM_PASSWORD": secrets.token_urlsafe(16),
    }
    saved = {k: os.environ.get(k) for k in creds}
    os.environ.update(creds)
    # Not under pytest's tmp_path: when run as root, PostgreSQL runs as 'postgres', which must reach its folder.
    state = tempfile.mkdtemp(prefix="reidfw-mlflow-server-", dir="/tmp")
    os.chmod(state, 0o755)
    server = SharedServer(state).start()
    team = {"MLFLOW_TRACKING_USERNAME": TEAM_USER, "MLFLOW_TRACKING_PASSWORD": creds["REIDFW_MLFLOW_TEAM_PASSWORD"]}
    try:
        # team_env: what a team member exports to log into the server.
        yield SimpleNamespace(server=server, url=server.url, creds=creds, team_env=team)
    finally:
        server.stop()
        shutil.rmtree(state, ignore_errors=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

