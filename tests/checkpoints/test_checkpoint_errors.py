"""Bad checkpoints fail with a CheckpointError naming the file, what was expected, what was found and the fix."""
from __future__ import annotations

import re

import pytest
import torch

from reidfw.checkpoints import CheckpointError, load_embedding_model
from reidfw.models import build_backbone

IRESNET = ("iresnet18", (96, 32))
RESNET = ("reid_resnet18", (64, 32))

UNPICKLED: list[str] = []


def _record_unpickling():
    UNPICKLED.append("ran")
    return "payload"


class Payload:
    """A custom class whose unpickling would run code (here: harmlessly record that it ran)."""

    def __reduce__(self):
        return (_record_unpickling, ())


def test_missing_file(tmp_path):
    path = tmp_path / "nope.ckpt"
    with pytest.raises(CheckpointError, match=r"nope\.ckpt: expected a reidfw checkpoint.*no file or folder at this path"):
        load_embedding_model(path)


def test_truncated_file(tmp_path, make_model):
    path = tmp_path / "backbone.pth"
    torch.save(make_model(*RESNET).state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match=r"backbone\.pth: expected a checkpoint torch\.load\(weights_only=True\) can read, "
                       r"but found a corrupt, truncated or non-checkpoint file .*Fix: re-download"):
        load_embedding_model(path, arch="reid_resnet18")


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("content", [b"", b"hello, not a checkpoint\n", b"\x80\x04garbage" * 20])
def test_garbage_file(tmp_path, content):
    path = tmp_path / "model.ckpt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"model\.ckpt: .*corrupt"):
        load_embedding_model(path)


def test_pickle_with_custom_class_is_refused_without_running_it(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"conv1.weight": torch.zeros(1)}, "extra": Payload()}, path)
    UNPICKLED.clear()
    with pytest.raises(CheckpointError, match=r"evil\.pth: .*refuses to unpickle.*_record_unpickling.*Fix: re-save only the weights"):
        load_embedding_model(path, arch="reid_resnet18")
    assert UNPICKLED == []


def test_optimizer_only_file(tmp_path):
    net = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.rand(3, 4)).sum().backward()
    opt.step()
    path = tmp_path / "optimizer.pt"
    torch.save(opt.state_dict(), path)
    with pytest.raises(CheckpointError, match=r"optimizer\.pt: .*this looks like an optimizer-only file"):
        load_embedding_model(path, arch="reid_resnet50")


def test_wrong_arch_lists_missing_and_unexpected_keys(tmp_path):
    """The realistic mistake: LUPerson's ResNet50 passed as arch=iresnet50."""
    path = tmp_path / "lup_moco_r50.pth"
    resnet50 = build_backbone("reid_resnet50")
    torch.save({"state_dict": {"module.encoder_q." + k: v for k, v in resnet50.state_dict().items()}}, path)
    with pytest.raises(CheckpointError) as err:
        load_embedding_model(path, arch="iresnet50", img_size=(112, 112))
    msg = str(err.value)
    assert msg.startswith(f"{path}: expected an insightface iresnet backbone.pth for arch=iresnet50")
    assert re.search(r"\d+ missing keys \(prelu\.weight, ", msg)  # iresnet keys the file lacks
    assert re.search(r"\d+ unexpected keys \(layer1\.0\.conv3\.weight, ", msg)  # bottleneck keys
    assert "shape mismatches (conv1.weight file (64, 3, 7, 7) vs model (64, 3, 3, 3)" in msg
    assert "look like a torchvision-layout ResNet (arch='reid_resnet50'" in msg  # the fix says what it is


def test_wrong_depth_reports_shape_mismatches(tmp_path, make_model):
    path = tmp_path / "r18.pth"
    torch.save(make_model(*RESNET).state_dict(), path)
    with pytest.raises(CheckpointError, match=r"missing keys.*shape mismatches \(layer1\.0\.conv1\.weight file \(64, 64, 3, 3\) vs model \(64, 64, 1, 1\)"):
        load_embedding_model(path, arch="reid_resnet50")


def test_plain_state_dict_without_arch_says_to_pass_arch(tmp_path, make_model):
    path = tmp_path / "backbone.pth"
    torch.save(make_model(*IRESNET).state_dict(), path)
    with pytest.raises(CheckpointError) as err:
        load_embedding_model(path)
    msg = str(err.value)
    assert "expected a reidfw checkpoint" in msg and "plain state dict" in msg
    assert "arch='iresnet50'" in msg and "arch='reid_resnet50'" in msg
    assert "look like an insightface iresnet" in msg


def test_lightning_checkpoint_with_other_arch(tmp_path, make_model):
    model = make_model(*RESNET)
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {"backbone." + k: v for k, v in model.state_dict().items()},
                "hyper_parameters": {"method": "moco", "backbone": {"name": "reid_resnet18", "img_size": [64, 32], "kwargs": {}}}},
               path)
    with pytest.raises(CheckpointError, match=r"last\.ckpt: expected weights for arch=iresnet50, but found a reidfw Lightning "
                       r"checkpoint of method moco with backbone reid_resnet18"):
        load_embedding_model(path, arch="iresnet50")


def test_unknown_arch_and_bad_iresnet_img_size(tmp_path, make_model):
    path = tmp_path / "backbone.pth"
    torch.save(make_model(*IRESNET).state_dict(), path)
    with pytest.raises(CheckpointError, match=r"arch='resnet50'.*pass one of those arch names"):
        load_embedding_model(path, arch="resnet50")
    with pytest.raises(CheckpointError, match=r"fc\.weight of shape \(512, 6144\).*pass the img_size the weights were trained at"):
        load_embedding_model(path, arch="iresnet18", img_size=(112, 112))


def test_folder_with_several_checkpoints_is_ambiguous(tmp_path, make_model):
    sd = make_model(*RESNET).state_dict()
    for name in ("epoch=1.ckpt", "epoch=2.ckpt"):
        torch.save(sd, tmp_path / name)
    with pytest.raises(CheckpointError, match=r"2 checkpoints \(epoch=1\.ckpt, epoch=2\.ckpt\).*pass the checkpoint file itself"):
        load_embedding_model(tmp_path, arch="reid_resnet18")
