import pytest
import torch

from reidfw.training.resume import ResumeError, check_resume_checkpoint


def _training_ckpt(path, method="arcface", run_id="abc123"):
    torch.save({"state_dict": {"w": torch.zeros(1)}, "loops": {}, "hyper_parameters": {"method": method},
                "reidfw": {"mlflow_run_id": run_id}}, path)
    return path


def test_a_training_checkpoint_gives_its_mlflow_run(tmp_path):
    assert check_resume_checkpoint(_training_ckpt(tmp_path / "last.ckpt"), "arcface") == "abc123"


def test_missing_file_names_it_and_the_fix(tmp_path):
    with pytest.raises(ResumeError, match=r"no such file.*last\.ckpt"):
        check_resume_checkpoint(tmp_path / "nope.ckpt", "arcface")


def test_corrupt_file_is_refused_clearly(tmp_path):
    bad = tmp_path / "last.ckpt"
    bad.write_bytes(b"\x80\x04garbage")
    with pytest.raises(ResumeError, match=r"not a readable training checkpoint.*evaluate\.py"):
        check_resume_checkpoint(bad, "arcface")


def test_weights_only_file_is_not_a_training_state(tmp_path):
    path = tmp_path / "backbone.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(ResumeError, match="weights only"):
        check_resume_checkpoint(path, "arcface")


def test_checkpoint_of_another_method_says_which(tmp_path):
    with pytest.raises(ResumeError, match=r"'moco' checkpoint but this run trains 'arcface'"):
        check_resume_checkpoint(_training_ckpt(tmp_path / "last.ckpt", method="moco"), "arcface")
