"""evaluate.py: struct-mode config errors and a bad checkpoint reported without a traceback."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

REPO = Path(__file__).resolve().parents[2]


def _cfg(overrides):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose(config_name="evaluate", overrides=overrides)


def test_unknown_key_is_rejected():
    with pytest.raises(ConfigCompositionException, match="bogus"):
        _cfg(["ckpt=x", "bogus=1"])


def test_bad_checkpoint_message_and_exit_code(capsys, tmp_path):
    from reidfw.evaluation.command import run_evaluation

    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(b"")  # a zero-byte file, as an interrupted copy leaves
    cfg = _cfg([f"ckpt={broken}", f"out_dir={tmp_path / 'out'}", "study=null", "market=null"])
    assert run_evaluation(cfg) == 2
    err = capsys.readouterr().err
    assert "broken.ckpt" in err and "re-download or re-save" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_command_line_rejects_unknown_key(tmp_path):
    p = subprocess.run([sys.executable, str(REPO / "evaluate.py"), "ckpt=x", "bogus=1", f"hydra.run.dir={tmp_path}"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode != 0
    assert "bogus" in p.stderr and "Traceback" not in p.stderr


def test_two_checkpoints_end_to_end(monkeypatch, capsys, tmp_path, study_root, market_root):
    from mlflow.tracking import MlflowClient

    from reidfw.checkpoints import export_model
    from reidfw.evaluation.command import run_evaluation
    from reidfw.model_input import InputSpec
    from reidfw.models import build_backbone

    for i, run in enumerate(("run_a", "run_b")):
        torch.manual_seed(i)
        net = build_backbone("test_resnet", img_size=(32, 16))
        export_model(net, tmp_path / run / "model", method="moco", backbone={"name": "test_resnet"},
                     input_spec=InputSpec(size=(32, 16)))
    uri = f"sqlite:///{tmp_path / 'db' / 'mlflow.db'}"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    a, b = tmp_path / "run_a" / "model", tmp_path / "run_b" / "model"
    cfg = _cfg([f"ckpt=[{a},{b}]", f"out_dir={tmp_path / 'out'}", f"cache_dir={tmp_path}",
                f"study={study_root}", f"market={market_root}", "num_workers=0", f"mlflow.tracking_uri={uri}"])
    with pytest.warns(UserWarning):
        assert run_evaluation(cfg) == 0
    out = capsys.readouterr().out
    assert "run_a-model" in out and "run_b-model" in out and out.count("MLflow run:") == 2
    assert (tmp_path / "out" / "comparison" / "heatmaps" / "size.png").stat().st_size > 0
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("reidfw").experiment_id])
    assert len(runs) == 2 and all("retrieval/mAP" in r.data.metrics for r in runs)
