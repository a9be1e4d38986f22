"""evaluate.py: struct-mode config errors and a bad checkpoint reported without a traceback."""
import subprocess
import sys
import types
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

REPO = Path(__file__).resolve().parents[2]


def _cfg(overrides):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose(config_name="evaluate", overrides=overrides)


def test_unknown_key_is_rejected():
    with pytest.raises(ConfigCompositionException, match="bogus"):
        _cfg(["ckpt=x", "bogus=1"])


def test_bad_checkpoint_message_and_exit_code(monkeypatch, capsys, tmp_path):
    from reidfw.evaluation.command import run_evaluation
    from reidfw.models.errors import CheckpointError

    def load_embedding_model(ckpt, arch=None, img_size=None, map_location="cpu"):
        raise CheckpointError(ckpt, "a reidfw checkpoint", "an empty file", "re-export the model")

    fake = types.ModuleType("reidfw.models.checkpoints")
    fake.load_embedding_model = load_embedding_model
    monkeypatch.setitem(sys.modules, "reidfw.models.checkpoints", fake)
    cfg = _cfg(["ckpt=broken.ckpt", f"out_dir={tmp_path}", "study=null", "market=null"])
    assert run_evaluation(cfg) == 2
    err = capsys.readouterr().err
    assert "broken.ckpt" in err and "re-export the model" in err and "Traceback" not in err


def test_command_line_rejects_unknown_key(tmp_path):
    p = subprocess.run([sys.executable, str(REPO / "evaluate.py"), "ckpt=x", "bogus=1", f"hydra.run.dir={tmp_path}"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode != 0
    assert "bogus" in p.stderr and "Traceback" not in p.stderr


def test_two_checkpoints_end_to_end(monkeypatch, capsys, tmp_path, study_root, market_root, make_net, make_spec):
    from mlflow.tracking import MlflowClient

    from reidfw.evaluation.command import run_evaluation

    def load_embedding_model(ckpt, arch=None, img_size=None, map_location="cpu"):
        return make_net(dim=8 if "a" in ckpt else 5), make_spec()

    fake = types.ModuleType("reidfw.models.checkpoints")
    fake.load_embedding_model = load_embedding_model
    monkeypatch.setitem(sys.modules, "reidfw.models.checkpoints", fake)
    uri = f"sqlite:///{tmp_path / 'db' / 'mlflow.db'}"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = _cfg(["ckpt=[run_a/model.ckpt,run_b/model.ckpt]", f"out_dir={tmp_path / 'out'}", f"cache_dir={tmp_path}",
                f"study={study_root}", f"market={market_root}", "num_workers=0", f"mlflow.tracking_uri={uri}"])
    with pytest.warns(UserWarning):
        assert run_evaluation(cfg) == 0
    out = capsys.readouterr().out
    assert "run_a-model" in out and "run_b-model" in out and out.count("MLflow run:") == 2
    assert (tmp_path / "out" / "comparison" / "heatmaps" / "size.png").stat().st_size > 0
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("reidfw").experiment_id])
    assert len(runs) == 2 and all("retrieval/mAP" in r.data.metrics for r in runs)
