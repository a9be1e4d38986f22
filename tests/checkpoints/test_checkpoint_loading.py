"""load_embedding_model: every checkpoint kind, written in its public key layout, loads to the same embeddings."""
from __future__ import annotations

import pytest
import torch

from reidfw.model_input import IMAGENET_MEAN as MEAN, IMAGENET_STD as STD, INSIGHTFACE_MEAN, INSIGHTFACE_STD
from reidfw.model_input import InputSpec
from reidfw.checkpoints import CheckpointError, export_model, load_embedding_model
from reidfw.checkpoints.external import iresnet_img_size as _iresnet_img_size

IRESNET = ("iresnet18", (96, 32))
RESNET = ("reid_resnet18", (64, 32))


def moco_head(prefix: str) -> dict[str, torch.Tensor]:
    """MoCo v2's MLP projection head as LUPerson's checkpoint carries it (fc.0 / fc.2)."""
    return {f"{prefix}fc.0.weight": torch.randn(512, 512), f"{prefix}fc.0.bias": torch.randn(512),
            f"{prefix}fc.2.weight": torch.randn(128, 512), f"{prefix}fc.2.bias": torch.randn(128)}


@pytest.mark.parametrize(
    "prefix, wrapped, with_key_encoder",
    [("module.encoder_q.", True, True), ("encoder_q.", True, False), ("module.", False, False), ("", False, False)],
)
def test_luperson_style_resnet(tmp_path, make_model, embed, prefix, wrapped, with_key_encoder):
    name, size = RESNET
    source = make_model(name, size)
    sd = {prefix + k: v for k, v in source.state_dict().items()} | moco_head(prefix)
    if with_key_encoder:  # the momentum encoder must be ignored, not loaded over the query encoder
        sd |= {"module.encoder_k." + k: torch.zeros_like(v) for k, v in source.state_dict().items()}
    path = tmp_path / "lup_moco_r18.pth"
    torch.save({"epoch": 200, "arch": "resnet18", "state_dict": sd} if wrapped else sd, path)

    model, spec = load_embedding_model(path, arch=name, img_size=size)
    assert not model.training
    assert torch.equal(embed(model, size), embed(source, size))
    assert spec["method"] == "moco" and spec["embedding"] == "gap" and spec["embed_dim"] == 512
    assert (spec["input"]["mean"], spec["input"]["std"], spec["input"]["size"]) == (list(MEAN), list(STD), list(size))
    assert spec["backbone"] == {"name": name, "kwargs": {}}


@pytest.mark.parametrize("prefix", ["", "module."])
def test_insightface_backbone_pth(tmp_path, make_model, embed, prefix):
    name, size = IRESNET
    source = make_model(name, size)
    path = tmp_path / "backbone.pth"
    torch.save({prefix + k: v for k, v in source.state_dict().items()}, path)

    model, spec = load_embedding_model(path, arch=name)  # img_size read from fc.weight: 6x2 map -> 96x32
    assert torch.equal(embed(model, size), embed(source, size))
    assert spec["input"]["size"] == [96, 32]
    assert spec["method"] == "arcface" and spec["embedding"] == "fc512" and spec["embed_dim"] == 512
    # insightface trained on (x - 0.5) / 0.5: that is the input this checkpoint gets
    assert (spec["input"]["mean"], spec["input"]["std"]) == (list(INSIGHTFACE_MEAN), list(INSIGHTFACE_STD))


def test_insightface_img_size_is_read_from_fc_shape():
    def fc(h, w):  # an unfilled tensor of the right shape: only the shape is read
        return {"fc.weight": torch.empty(512, 512 * h * w)}

    assert _iresnet_img_size("backbone.pth", "iresnet50", fc(7, 7), None) == (112, 112)
    assert _iresnet_img_size("backbone.pth", "iresnet50", fc(24, 8), None) == (384, 128)
    with pytest.raises(CheckpointError, match=r"pass img_size=\(H, W\)"):
        _iresnet_img_size("backbone.pth", "iresnet50", fc(5, 2), None)
    with pytest.raises(CheckpointError, match=r"fc\.weight of shape \(512, 25088\)"):
        _iresnet_img_size("backbone.pth", "iresnet50", fc(7, 7), (384, 128))


def lightning_checkpoint(method: str, name: str, size, source: torch.nn.Module) -> dict:
    """A dict shaped like the .ckpt Lightning writes for a reidfw method module."""
    sd = {"backbone." + k: v for k, v in source.state_dict().items()}
    if method == "moco":
        sd |= {"backbone_k." + k: torch.zeros_like(v) for k, v in source.state_dict().items()}
        sd |= moco_head("head_q.") | moco_head("head_k.")
        sd["queue"] = torch.randn(128, 64)
    else:
        sd["head.weight"] = torch.randn(10, 512)
    return {
        "epoch": 3,
        "global_step": 120,
        "pytorch-lightning_version": "2.5.0",
        "state_dict": sd,
        "hyper_parameters": {
            "method": method,
            "backbone": {"name": name, "kwargs": {}},
            "input": InputSpec(size=size).to_dict(),
            "lr": 0.1,
        },
        "reidfw": {"mlflow_run_id": "ab" * 16},  # written by reidfw.mlflow_logging's RunIdInCheckpoint callback
        "optimizer_states": [{"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}]}],
        "lr_schedulers": [],
    }


@pytest.mark.parametrize("method, arch", [("moco", RESNET), ("arcface", IRESNET)])
def test_reidfw_lightning_checkpoint(tmp_path, make_model, embed, method, arch):
    name, size = arch
    source = make_model(name, size)
    path = tmp_path / "epoch=3-step=120.ckpt"
    torch.save(lightning_checkpoint(method, name, size, source), path)

    model, spec = load_embedding_model(path)
    assert torch.equal(embed(model, size), embed(source, size))
    assert spec["method"] == method and spec["backbone"]["name"] == name
    assert spec["train_run_id"] == "ab" * 16
    assert (spec["input"]["mean"], spec["input"]["std"]) == (list(MEAN), list(STD))
    # naming the right arch is allowed
    model2, _ = load_embedding_model(path, arch=name)
    assert torch.equal(embed(model2, size), embed(source, size))


def test_export_folder_and_files(tmp_path, make_model, embed):
    name, size = RESNET
    source = make_model(name, size)
    out = export_model(source, tmp_path / "exp", method="triplet", backbone={"name": name}, input_spec=InputSpec(size=size))
    for target in (out, out / "model.json", out / "model.safetensors", str(out)):
        model, spec = load_embedding_model(target)
        assert torch.equal(embed(model, size), embed(source, size))
        assert spec["method"] == "triplet"


def test_gap_model_takes_an_img_size_override_fc_model_refuses_it(tmp_path, make_model):
    out = export_model(make_model(*RESNET), tmp_path / "r", method="moco", backbone={"name": RESNET[0]}, input_spec=InputSpec(size=RESNET[1]))
    _, spec = load_embedding_model(out, img_size=(128, 64))
    assert spec["input"]["size"] == [128, 64]
    out = export_model(make_model(*IRESNET), tmp_path / "i", method="arcface", backbone={"name": IRESNET[0]}, input_spec=InputSpec(size=IRESNET[1]))
    with pytest.raises(CheckpointError, match=r"trained at img_size=\(96, 32\).*leave img_size unset"):
        load_embedding_model(out, img_size=(128, 64))


def test_raw_safetensors_with_arch(tmp_path, make_model, embed):
    from safetensors.torch import save_file

    name, size = RESNET
    source = make_model(name, size)
    path = tmp_path / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    model, _ = load_embedding_model(path, arch=name, img_size=size)
    assert torch.equal(embed(model, size), embed(source, size))


def test_checkpoint_to_export_roundtrip_as_training_does(tmp_path, make_model, embed):
    """reidfw.training exports the best checkpoint with the spec the loader returned."""
    from reidfw.checkpoints.export import export_embedding_model

    name, size = IRESNET
    source = make_model(name, size)
    torch.save(lightning_checkpoint("arcface", name, size, source), tmp_path / "best.ckpt")
    model, spec = load_embedding_model(tmp_path / "best.ckpt")
    out = export_embedding_model(model, {**spec, "train_run_id": "cd" * 16}, tmp_path / "model")
    again, spec2 = load_embedding_model(out)
    assert torch.equal(embed(again, size), embed(source, size))
    assert spec2 == {**spec, "train_run_id": "cd" * 16}
