"""A kill while a checkpoint is being written leaves the previous checkpoint whole and loadable.

The writer is the real one (``atomic_torch_save``, Lightning's ``AtomicCheckpointIO`` plugin
in train.py); the kill is a real SIGKILL of the writing process, aimed at the moment its
temporary file exists.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from reidfw.training.atomic_checkpoint_io import atomic_torch_save, remove_stale_temporaries
from reidfw.training.resume import check_resume_checkpoint

ROOT = Path(__file__).resolve().parents[2]

# A writer slowed down by its payload: pickling SlowToPickle takes seconds, during which the
# temporary file is open and the process is killed.
_SLOW_WRITER = """
import sys, time, torch
from reidfw.training.atomic_checkpoint_io import atomic_torch_save

class SlowToPickle:
    def __reduce__(self):
        print("writing", flush=True)
        time.sleep(30)
        return (int, (0,))

atomic_torch_save({"state_dict": {"w": torch.full((1000,), 2.0)}, "slow": SlowToPickle()}, sys.argv[1])
"""


def _temporaries(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}.tmp-*"))


def test_replaces_whole_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "ckpt" / "last.ckpt"
    atomic_torch_save({"v": torch.ones(3)}, path)
    atomic_torch_save({"v": torch.zeros(3)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["v"], torch.zeros(3))
    assert _temporaries(path) == []


def test_failed_write_keeps_previous_file(tmp_path):
    path = tmp_path / "last.ckpt"
    atomic_torch_save({"v": torch.ones(3)}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        atomic_torch_save({"v": torch.zeros(3), "bad": Unpicklable()}, path)
    assert torch.equal(torch.load(path, weights_only=True)["v"], torch.ones(3))
    assert _temporaries(path) == []


def test_sigkill_during_write_keeps_previous_checkpoint(tmp_path):
    path = tmp_path / "last.ckpt"
    atomic_torch_save({"state_dict": {"w": torch.full((1000,), 1.0)}}, path)
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True)
    assert proc.stdout.readline().strip() == "writing"  # mid-write: the payload is being serialised
    assert _temporaries(path), "the writer should be writing a temporary file next to the checkpoint"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -9

    assert torch.equal(torch.load(path, weights_only=True)["state_dict"]["w"], torch.full((1000,), 1.0))
    stale = _temporaries(path)
    assert stale, "the killed writer's temporary stays behind (nothing reads it)"
    remove_stale_temporaries(path)  # what the next save does first
    assert _temporaries(path) == []


@pytest.mark.slow
def test_train_py_killed_while_writing_last_ckpt_resumes_from_the_previous_one(tmp_path):
    from train_process import ARCFACE, Progress, run, train_cmd, train_env

    # timm resnet18: a ~130 MB checkpoint, so the write takes long enough to be caught mid-way.
    overrides = [*ARCFACE, "model.name=resnet18", "trainer.max_epochs=4"]
    env = train_env(f"sqlite:///{tmp_path}/mlflow.db", tmp_path / "cache")
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    proc = Progress(train_cmd(*overrides, run_dir=tmp_path / "run"), env)
    # Skip epoch 0's write (there is no previous file to protect yet); kill during a later one.
    assert proc.wait_until(last.is_file), proc.text()[-3000:]
    before = check_resume_checkpoint(last, "arcface")
    epoch_before = torch.load(last, map_location="cpu", weights_only=True)["epoch"]
    assert proc.wait_until(lambda: bool(_temporaries(last)), poll=0.0005), proc.text()[-3000:]
    assert proc.kill() == -9
    assert _temporaries(last), "killed after the write finished; the kill must land mid-write"

    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    assert ckpt["epoch"] == epoch_before
    assert check_resume_checkpoint(last, "arcface") == before  # whole, and still points at the run

    run(train_cmd(*overrides, f"ckpt_path={last}", run_dir=tmp_path / "run"), env)
    assert _temporaries(last) == [], "the resumed run's first save removes the dead writer's temporary"
    assert torch.load(last, map_location="cpu", weights_only=True)["epoch"] == 3
