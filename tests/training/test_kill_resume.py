"""kill -9 a real train.py at a random step, resume from last.ckpt: same weights, same metrics, same MLflow run.

The reference is the same command run without interruption. The kill lands at a random
step after the first checkpoint (REIDFW_KILL_STEP=<global step> repeats a failing draw).
"""
import os
import random

import mlflow
import pytest

from tests.training.train_process import (
    ARCFACE, MOCO, STEPS_PER_EPOCH, Progress, max_weight_diff, metric_points, run, run_id_from, train_cmd, train_env,
)

pytestmark = pytest.mark.slow
EPOCHS = 3


def _kill_step() -> int:
    if os.environ.get("REIDFW_KILL_STEP"):
        return int(os.environ["REIDFW_KILL_STEP"])
    # After epoch 0's checkpoint, before the last batch (so there is always training left to kill).
    return random.SystemRandom().randrange(STEPS_PER_EPOCH, EPOCHS * STEPS_PER_EPOCH - 1)


@pytest.mark.parametrize("recipe", ["arcface", "moco"])
def test_kill9_at_a_random_step_then_resume_equals_uninterrupted(tmp_path, recipe):
    overrides = [*(ARCFACE if recipe == "arcface" else MOCO), f"trainer.max_epochs={EPOCHS}", "seed=7",
                 "logger.experiment_name=kill-resume"]
    cache = tmp_path / "cache"
    ref_env = train_env(f"sqlite:///{tmp_path}/reference.db", cache)
    ref = run(train_cmd(*overrides, run_dir=tmp_path / "reference"), ref_env)

    step = _kill_step()
    target = divmod(step, STEPS_PER_EPOCH)
    env = train_env(f"sqlite:///{tmp_path}/killed.db", cache)
    killed = Progress(train_cmd(*overrides, run_dir=tmp_path / "killed", progress=True), env)
    assert killed.wait_until(lambda: killed.position >= target), f"never reached {target}:\n{killed.text()[-3000:]}"
    assert killed.kill() == -9
    print(f"killed at (epoch, batches done) = {killed.position}, target step {step}")
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    assert last.is_file()

    resumed = run(train_cmd(*overrides, f"ckpt_path={last}", run_dir=tmp_path / "resumed"), env)

    diff = max_weight_diff(tmp_path / "reference/checkpoints/last.ckpt", tmp_path / "resumed/checkpoints/last.ckpt")
    print(f"{recipe}: max |weight difference| resumed vs uninterrupted = {diff:.3g}")
    assert diff <= 1e-6

    ref_run = mlflow.MlflowClient(f"sqlite:///{tmp_path}/reference.db").get_run(run_id_from(ref.stdout))
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/killed.db")
    run_id = run_id_from(resumed.stdout)
    runs = client.search_runs([client.get_experiment_by_name("kill-resume").experiment_id])
    assert [r.info.run_id for r in runs] == [run_id], "the resume must continue the killed run, not start one"
    assert client.get_run(run_id).info.status == "FINISHED"
    want = metric_points(mlflow.MlflowClient(f"sqlite:///{tmp_path}/reference.db"), ref_run.info.run_id)
    got = metric_points(client, run_id)
    assert got.keys() == want.keys()
    total = EPOCHS * STEPS_PER_EPOCH
    assert [s for s, _ in want["train/loss_step"]] == list(range(total))
    for key in want:
        steps = [s for s, _ in got[key]]
        assert len(steps) == len(set(steps)), f"{key}: a step logged twice: {steps}"
        assert steps == [s for s, _ in want[key]], f"{key}: steps {steps} != uninterrupted {[s for s, _ in want[key]]}"
        worst = max(abs(a - b) for (_, a), (_, b) in zip(got[key], want[key]))
        assert worst <= 1e-6, f"{key} differs by {worst}"
    print(f"{recipe}: {sum(map(len, got.values()))} metric points, each (key, step) once, equal to the reference")
