"""load_embedding_model from an MLflow run (runs:/<id>/<path> or a bare run id) in a temporary SQLite store."""
from __future__ import annotations

import os

import mlflow
import pytest
import torch
from mlflow.tracking._tracking_service import utils as tracking_utils

from reidfw.model_input import InputSpec
from reidfw.checkpoints import CheckpointError, export_model, load_embedding_model

RESNET = ("reid_resnet18", (64, 32))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A SQLite tracking store (MLflow 3 needs one; a plain folder is refused) with artifacts beside it.
    The caller's tracking URI is restored afterwards."""
    root = tmp_path_factory.mktemp("mlflow")
    before_uri, before_env = tracking_utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    experiment = mlflow.create_experiment("reidfw-models-test", artifact_location=(root / "artifacts").as_uri())
    yield root, experiment
    mlflow.set_tracking_uri(before_uri)
    if before_env is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before_env


@pytest.fixture(scope="module")
def runs(store):
    """Three runs: one with an export under model/, one with only checkpoints/, one with nothing."""
    root, experiment = store
    torch.manual_seed(0)
    from reidfw.models import build_backbone

    name, size = RESNET
    source = build_backbone(name, img_size=size).eval()
    export_dir = export_model(source, root / "export", method="moco", backbone={"name": name}, input_spec=InputSpec(size=size))
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_artifacts(str(export_dir), artifact_path="model")
        with_model = run.info.run_id

    ckpt_dir = root / "ckpts"
    ckpt_dir.mkdir()
    lightning = {
        "state_dict": {"backbone." + k: v for k, v in source.state_dict().items()},
        "hyper_parameters": {"method": "triplet", "backbone": {"name": name, "img_size": list(size), "kwargs": {}}},
    }
    torch.save(lightning, ckpt_dir / "epoch=4-step=50.ckpt")
    torch.save(lightning, ckpt_dir / "last.ckpt")
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_artifacts(str(ckpt_dir), artifact_path="checkpoints")
        with_checkpoints = run.info.run_id

    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_param("note", "nothing logged")
        empty = run.info.run_id
    return source, with_model, with_checkpoints, empty


def _same(model, source):
    x = torch.rand(2, 3, *RESNET[1])
    with torch.no_grad():
        return torch.equal(model(x), source(x))


def test_runs_uri_and_bare_run_id_load_the_exported_model(runs):
    source, with_model, _, _ = runs
    for ref in (f"runs:/{with_model}/model", with_model):
        model, spec = load_embedding_model(ref)
        assert _same(model, source)
        assert spec["method"] == "moco" and spec["train_run_id"] == with_model


def test_run_with_only_checkpoints_loads_the_best_checkpoint(runs):
    source, _, with_checkpoints, _ = runs
    model, spec = load_embedding_model(with_checkpoints)
    assert _same(model, source)
    assert spec["method"] == "triplet" and spec["train_run_id"] == with_checkpoints
    model, _ = load_embedding_model(f"runs:/{with_checkpoints}/checkpoints/last.ckpt")
    assert _same(model, source)


def test_run_without_model_or_unknown_run_fails_clearly(runs):
    _, with_model, _, empty = runs
    with pytest.raises(CheckpointError, match=rf"^{empty}: expected an MLflow run with an export under model/.*"
                       r"but found a run whose artifacts are empty\. Fix: pass runs:/<run_id>/<artifact path>"):
        load_embedding_model(empty)
    unknown = "0" * 32
    with pytest.raises(CheckpointError, match=rf"^{unknown}: expected an MLflow run in the tracking store, but found no such run.*"
                       r"Fix: check the run id and the tracking URI \(now 'sqlite:///"):
        load_embedding_model(unknown)
    with pytest.raises(CheckpointError, match=r"expected an artifact 'weights' in run .*download failure"):
        load_embedding_model(f"runs:/{with_model}/weights")
