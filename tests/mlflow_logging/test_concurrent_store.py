"""Several processes opening one new store and creating one new experiment at once."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_JOB = """
import sys
from mlflow import MlflowClient
from reidfw.mlflow_logging.concurrent_store import get_or_create_experiment
from reidfw.mlflow_logging.store import resolve_tracking_uri
uri = resolve_tracking_uri(sys.argv[1])
print(get_or_create_experiment(MlflowClient(uri), "sweep"))
"""


def test_four_processes_share_a_fresh_sqlite_store_and_experiment(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    procs = [subprocess.Popen([sys.executable, "-c", _JOB, uri], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"})
             for _ in range(4)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-1500:] for _, err in outs]
    assert len({out.strip() for out, _ in outs}) == 1  # the same experiment for all
