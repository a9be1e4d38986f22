"""A team's MLflow server: PostgreSQL for runs and users, a folder for artifacts, MLflow's basic auth.

    export MLFLOW_AUTH_ADMIN_PASSWORD='...'            # >= 12 characters; never written to a file
    export REIDFW_MLFLOW_TEAM_USER=team REIDFW_MLFLOW_TEAM_PASSWORD='...'   # optional: a user for the team
    python -m reidfw.mlflow_logging.shared_server --dir .mlflow-server           # = make mlflow-server

starts PostgreSQL (Debian's ``postgresql`` package: initdb on first start into
``<dir>/postgres``, a Unix socket only, no TCP) and ``mlflow server --app-name basic-auth``
on it, bound to 127.0.0.1 unless ``--host`` says otherwise, and serves until Ctrl-C.
Training and evaluation then log there with::

    export MLFLOW_TRACKING_URI=http://127.0.0.1:5000
    export MLFLOW_TRACKING_USERNAME=team MLFLOW_TRACKING_PASSWORD='...'

Credentials come only from the environment: ``MLFLOW_AUTH_ADMIN_USERNAME`` (default
``admin``) and ``MLFLOW_AUTH_ADMIN_PASSWORD`` are MLflow's own bootstrap variables for
the admin user; the generated ``auth.ini`` holds the permission policy and database URI,
no secret. Every request needs a user; a new experiment's runs are writable by every
team member (``default_permission = EDIT``).
"""
from __future__ import annotations

import argparse
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_HINT = "install PostgreSQL first: sudo apt-get install -y postgresql (README: 'A shared MLflow server')"
_PG_USER = "postgres"  # the system user Debian's package creates; PostgreSQL refuses to run as root


class ServerError(RuntimeError):
    pass


def postgres_bin() -> Path | None:
    """The folder with initdb / pg_ctl: $REIDFW_PG_BIN, PATH, or Debian's /usr/lib/postgresql/<newest>/bin."""
    if os.environ.get("REIDFW_PG_BIN"):
        return Path(os.environ["REIDFW_PG_BIN"])
    if shutil.which("pg_ctl") and shutil.which("initdb"):
        return Path(shutil.which("pg_ctl")).resolve().parent  # Debian links single tools into PATH
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _as_pg_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", _PG_USER, "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class Postgres:
    """One PostgreSQL cluster in ``data_dir``, reachable only through the Unix socket in ``data_dir/socket``."""

    data_dir: Path
    port: int = 5433
    bin_dir: Path | None = None

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.bin_dir = self.bin_dir or postgres_bin()
        if self.bin_dir is None or not (self.bin_dir / "initdb").exists():
            raise ServerError(f"PostgreSQL's initdb/pg_ctl were not found; {INSTALL_HINT}")

    @property
    def socket_dir(self) -> Path:
        return self.data_dir / "socket"

    @property
    def cluster(self) -> Path:
        return self.data_dir / "cluster"

    def uri(self, database: str) -> str:
        # psycopg2 named explicitly: SQLAlchemy 2.1 defaults to psycopg 3 for postgresql://
        return f"postgresql+psycopg2://{_PG_USER}@/{database}?host={self.socket_dir}&port={self.port}"

    def _run(self, *cmd: str) -> None:
        proc = subprocess.run(_as_pg_user([str(self.bin_dir / cmd[0]), *cmd[1:]]), capture_output=True, text=True)
        if proc.returncode != 0:
            raise ServerError(f"{' '.join(cmd)} failed (exit {proc.returncode}): {(proc.stderr or proc.stdout)[-2000:]}")

    def start(self) -> None:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, _PG_USER, _PG_USER)
            shutil.chown(self.socket_dir, _PG_USER, _PG_USER)
            probe = subprocess.run(["runuser", "-u", _PG_USER, "--", "test", "-w", str(self.data_dir)])
            if probe.returncode != 0:
                raise ServerError(
                    f"{self.data_dir}: the '{_PG_USER}' user cannot write here (a parent folder is closed to it); "
                    f"pass a data folder it can reach, e.g. --dir /srv/mlflow"
                )
        if not (self.cluster / "PG_VERSION").exists():
            # Local socket connections only, trusted: the socket folder's permissions are the access control.
            self._run("initdb", "-D", str(self.cluster), "-U", _PG_USER, "--auth-local=trust", "--auth-host=reject",
                      "-E", "UTF8", "--locale=C.UTF-8")
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=''"
        self._run("pg_ctl", "-D", str(self.cluster), "-o", options, "-l", str(self.data_dir / "postgres.log"),
                  "-w", "-t", "60", "start")
        for db in ("mlflow", "mlflow_auth"):
            self._create_database(db)

    def _create_database(self, name: str) -> None:
        proc = subprocess.run(_as_pg_user([str(self.bin_dir / "createdb"), "-h", str(self.socket_dir), "-p",
                                           str(self.port), "-U", _PG_USER, name]), capture_output=True, text=True)
        if proc.returncode != 0 and "already exists" not in proc.stderr:
            raise ServerError(f"createdb {name} failed: {proc.stderr[-2000:]}")

    def stop(self) -> None:
        if (self.cluster / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.cluster), "-m", "fast", "-w", "stop")


@dataclass
class MlflowServer:
    """``mlflow server --app-name basic-auth`` on a Postgres backend, artifacts under ``artifacts_dir``."""

    postgres: Postgres
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2
    allowed_hosts: str | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    def _auth_config(self) -> Path:
        ini = self.state_dir / "auth.ini"
        ini.write_text(
            "[mlflow]\n"
            "# Written by reidfw.mlflow_logging.shared_server; no secrets here (the admin password comes from\n"
            "# MLFLOW_AUTH_ADMIN_PASSWORD in the environment).\n"
            "default_permission = EDIT\n"
            f"database_uri = {self.postgres.uri('mlflow_auth')}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        return ini

    def start(self, timeout: float = 180) -> None:
        for var in ("MLFLOW_AUTH_ADMIN_PASSWORD", "REIDFW_MLFLOW_TEAM_PASSWORD"):
            value = os.environ.get(var)
            if (value is None and var == "MLFLOW_AUTH_ADMIN_PASSWORD") or (value is not None and len(value) < 12):
                raise ServerError(f"set {var} to a password of at least 12 characters (MLflow's minimum); "
                                  f"credentials are read from the environment only")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "MLFLOW_AUTH_CONFIG_PATH": str(self._auth_config())}
        env.setdefault("MLFLOW_AUTH_ADMIN_USERNAME", "admin")
        # The CSRF key of the auth app's forms; one for all workers, new at each start unless given.
        env.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", secrets.token_hex(32))
        cmd = [
            sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth",
            "--backend-store-uri", self.postgres.uri("mlflow"),
            "--artifacts-destination", str((self.state_dir / "artifacts").resolve()), "--serve-artifacts",
            "--host", self.host, "--port", str(self.port), "--workers", str(self.workers),
            # Stop within seconds even while clients keep idle connections open.
            "--uvicorn-opts", "--timeout-graceful-shutdown 5",
        ]  # fmt: skip
        if self.allowed_hosts:  # MLflow's default: localhost and private-network addresses
            cmd += ["--allowed-hosts", self.allowed_hosts]
        log = open(self.state_dir / "mlflow-server.log", "ab")
        self.process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"mlflow server exited ({self.process.returncode}); see {self.state_dir / 'mlflow-server.log'}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        self.stop()
        raise ServerError(f"mlflow server did not answer on {self.url} within {timeout:.0f} s")

    def create_user(self, username: str, password: str) -> None:
        """A team member's account (the admin's credentials from the environment create it)."""
        from mlflow.exceptions import MlflowException
        from mlflow.server import get_app_client

        admin = {"MLFLOW_TRACKING_USERNAME": os.environ.get("MLFLOW_AUTH_ADMIN_USERNAME", "admin"),
                 "MLFLOW_TRACKING_PASSWORD": os.environ["MLFLOW_AUTH_ADMIN_PASSWORD"]}
        saved = {k: os.environ.get(k) for k in admin}
        os.environ.update(admin)
        try:
            get_app_client("basic-auth", tracking_uri=self.url).create_user(username, password)
        except MlflowException as e:
            if e.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


class SharedServer:
    """Postgres + MLflow server as one unit: ``with SharedServer(dir) as s: ... s.url``."""

    def __init__(self, state_dir: str | Path, host: str = "127.0.0.1", port: int | None = None,
                 pg_port: int | None = None, pg_dir: str | Path | None = None, allowed_hosts: str | None = None):
        self.state_dir = Path(state_dir).resolve()
        self.postgres = Postgres(Path(pg_dir) if pg_dir else self.state_dir / "postgres", port=pg_port or free_port())
        self.mlflow = MlflowServer(self.postgres, self.state_dir, host=host, port=port or free_port(),
                                   allowed_hosts=allowed_hosts)

    @property
    def url(self) -> str:
        return self.mlflow.url

    def start(self) -> "SharedServer":
        for var in ("MLFLOW_AUTH_ADMIN_PASSWORD", "REIDFW_MLFLOW_TEAM_PASSWORD"):
            value = os.environ.get(var)
            if (value is None and var == "MLFLOW_AUTH_ADMIN_PASSWORD") or (value is not None and len(value) < 12):
                raise ServerError(f"set {var} to a password of at least 12 characters (MLflow's minimum); "
                                  f"credentials are read from the environment only")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.postgres.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.postgres.start()
            self.mlflow.start()
            team, password = os.environ.get("REIDFW_MLFLOW_TEAM_USER"), os.environ.get("REIDFW_MLFLOW_TEAM_PASSWORD")
            if team and password:
                self.mlflow.create_user(team, password)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.mlflow.stop()
        self.postgres.stop()

    def __enter__(self) -> "SharedServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reidfw.mlflow_logging.shared_server", description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", default=".mlflow-server", help="state folder: PostgreSQL data, artifacts, logs")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--pg-port", type=int, default=5433, help="PostgreSQL's port number (its socket's name)")
    p.add_argument("--allowed-hosts", default=None,
                   help="Host headers to accept, e.g. mlflow.example.org (default: localhost and private addresses)")
    args = p.parse_args(argv)
    try:
        server = SharedServer(args.dir, host=args.host, port=args.port, pg_port=args.pg_port,
                              allowed_hosts=args.allowed_hosts).start()
    except ServerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"MLflow server on {server.url} (PostgreSQL in {server.postgres.cluster}, artifacts in "
          f"{server.state_dir / 'artifacts'}). Runs in the browser: {server.url}/#/experiments")
    print(f"  export MLFLOW_TRACKING_URI={server.url} MLFLOW_TRACKING_USERNAME=<user> MLFLOW_TRACKING_PASSWORD=<password>")
    print("Ctrl-C stops both.", flush=True)
    try:
        while server.mlflow.process is not None and server.mlflow.process.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
