"""The real train.py in a subprocess, as users run it: tiny configs, kills at a step, MLflow read-back.

Shared by the fault, concurrency and MLflow-server tests. Every run gets its own MLflow
store (``MLFLOW_TRACKING_URI``) and synthetic cache (``REIDFW_CACHE``) under the test's tmp_path.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A test-sized run: tiny synthetic sets, timm's test_resnet, 64x32 input, batch 4.
TINY = ["synthetic=tiny", "img_size=[64,32]", "data.batch_size=4", "data.num_workers=0", "trainer.log_every_n_steps=1",
        "model=timm", "model.name=test_resnet", "export_model=false"]
# ArcFace on 6 identities x 4 crops: 6 steps per epoch.
ARCFACE = ["loss=arcface", "data.min_images_per_identity=2", "synthetic.tracks.identities=6",
           "synthetic.tracks.per_identity=4"]
# MoCo on 24 unlabeled crops: 6 steps per epoch; queue, momentum encoder and split BN in play.
MOCO = ["experiment=demo_moco", "model=timm", "model.name=test_resnet", "img_size=[64,32]",
        "loss.queue_size=8", "loss.split_bn_groups=2", "synthetic.unlabeled.count=24", "trainer.check_val_every_n_epoch=1"]
STEPS_PER_EPOCH = 6


def train_env(tracking_uri: str, cache: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "REIDFW_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    env.update(extra)
    return env


def train_cmd(*overrides: str, run_dir: Path | None = None, progress: bool = False, multirun: bool = False) -> list[str]:
    cmd = [sys.executable, str(ROOT / "train.py"), *(["-m"] if multirun else []), *TINY,
           f"callbacks.progress_bar={str(progress).lower()}", *overrides]
    if run_dir is not None:
        cmd.append(f"hydra.run.dir={run_dir}")
    return cmd


def run(cmd: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def run_id_from(stdout: str) -> str:
    line = next(l for l in stdout.splitlines() if l.strip().startswith("MLflow run"))
    return line.split()[2]


class Progress:
    """A train.py started with the progress bar on; ``position`` is the last (epoch, batches done) it printed."""

    _BAR = re.compile(rb"Epoch (\d+): +\d+%\|[^|\r\n]*\| (\d+)/(\d+)")

    def __init__(self, cmd: list[str], env: dict[str, str]):
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.position = (-1, -1)
        self.output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        line = b""
        while chunk := self.proc.stdout.read1(4096):
            self.output += chunk
            for part in re.split(rb"([\r\n])", chunk):
                if part in (b"\r", b"\n"):
                    if m := self._BAR.search(line):
                        self.position = (int(m.group(1)), int(m.group(2)))
                    line = b""
                else:
                    line += part

    def wait_until(self, predicate, timeout: float = 300, poll: float = 0.002) -> bool:
        """Poll ``predicate()`` until true (True) or the process ends / times out (False)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(poll)
        return False

    def kill(self) -> int:
        os.kill(self.proc.pid, signal.SIGKILL)
        rc = self.proc.wait()
        self._reader.join(timeout=10)
        return rc

    def text(self) -> str:
        return self.output.decode(errors="replace")


def metric_points(client, run_id: str) -> dict[str, list[tuple[int, float]]]:
    """Every logged point of a run: key -> [(step, value)] sorted by step (duplicates kept)."""
    keys = client.get_run(run_id).data.metrics.keys()
    return {k: sorted((m.step, m.value) for m in client.get_metric_history(run_id, k)) for k in keys}


def max_weight_diff(ckpt_a: Path, ckpt_b: Path) -> float:
    import torch

    a = torch.load(ckpt_a, map_location="cpu", weights_only=True)["state_dict"]
    b = torch.load(ckpt_b, map_location="cpu", weights_only=True)["state_dict"]
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].numel())
