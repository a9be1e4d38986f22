"""Export format: model.safetensors + model.json (the model spec), and loading it back."""
from __future__ import annotations

import json

import pytest
import torch

from reidfw.model_input import IMAGENET_MEAN as MEAN, IMAGENET_STD as STD
from reidfw.model_input import InputSpec
from reidfw.checkpoints import CheckpointError, export_model, load_exported_model

IRESNET = ("iresnet18", (96, 32))
RESNET = ("reid_resnet18", (64, 32))


def test_export_writes_the_contract_spec(tmp_path, make_model):
    name, size = RESNET
    model = make_model(name, size)
    out = export_model(
        model, tmp_path / "exp", method="moco", backbone={"name": name, "kwargs": {"last_stride": 1}}, input_spec=InputSpec(size=size),
        train_run_id="0123456789abcdef0123456789abcdef",
    )
    assert sorted(p.name for p in out.iterdir()) == ["model.json", "model.safetensors"]
    spec = json.loads((out / "model.json").read_text())
    assert spec == {
        "format": "reidfw-model/2",
        "method": "moco",
        "backbone": {"name": "reid_resnet18", "kwargs": {"last_stride": 1}},
        "input": {"size": [64, 32], "mean": list(MEAN), "std": list(STD), "fill": [128, 128, 128],
                  "channel_order": "RGB", "resize": "letterbox-center"},
        "embed_dim": 512,
        "embedding": "gap",
        "train_run_id": "0123456789abcdef0123456789abcdef",
    }


def test_a_version_1_spec_is_read_as_its_input_spec(tmp_path, make_model, embed):
    # model.json written by earlier reidfw: img_size in the backbone, mean/std under normalization
    name, size = RESNET
    model = make_model(name, size)
    out = export_model(model, tmp_path / "exp", method="moco", backbone={"name": name}, input_spec=InputSpec(size=size))
    (out / "model.json").write_text(json.dumps({
        "format": "reidfw-model/1", "method": "moco", "backbone": {"name": name, "img_size": list(size), "kwargs": {}},
        "embed_dim": 512, "normalization": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}, "embedding": "gap",
    }))
    loaded, spec = load_exported_model(out)
    assert spec["input"]["size"] == list(size) and spec["input"]["std"] == [0.25] * 3 and spec["format"] == "reidfw-model/2"
    assert torch.equal(embed(loaded, size), embed(model, size))


@pytest.mark.parametrize("which", ["folder", "model.json", "model.safetensors"])
def test_roundtrip_gives_identical_embeddings(tmp_path, make_model, embed, which):
    name, size = IRESNET
    model = make_model(name, size)
    out = export_model(model, tmp_path / "exp", method="arcface", backbone={"name": name}, input_spec=InputSpec(size=size))
    loaded, spec = load_exported_model(out if which == "folder" else out / which)
    assert not loaded.training
    assert spec["embedding"] == "fc512" and spec["embed_dim"] == 512 and spec["train_run_id"] is None
    assert torch.equal(embed(loaded, size), embed(model, size))


def test_corrupt_weights_fail_clearly(tmp_path, make_model):
    name, size = RESNET
    out = export_model(make_model(name, size), tmp_path / "exp", method="moco", backbone={"name": name}, input_spec=InputSpec(size=size))
    data = (out / "model.safetensors").read_bytes()
    (out / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors: expected a safetensors weights file.*corrupt or truncated"):
        load_exported_model(out)


def test_spec_and_weights_from_different_models_fail_with_key_report(tmp_path, make_model):
    a = export_model(make_model(*RESNET), tmp_path / "a", method="moco", backbone={"name": RESNET[0]}, input_spec=InputSpec(size=RESNET[1]))
    b = export_model(make_model(*IRESNET), tmp_path / "b", method="arcface", backbone={"name": IRESNET[0]}, input_spec=InputSpec(size=IRESNET[1]))
    (a / "model.safetensors").write_bytes((b / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match=r"67 unexpected keys \(bn2\.bias.*13 shape mismatches \(conv1\.weight file \(64, 3, 3, 3\) vs model \(64, 3, 7, 7\)") as err:
        load_exported_model(a)
    assert "different exports" in str(err.value)


def test_bad_spec_fields_are_named(tmp_path, make_model):
    name, size = RESNET
    out = export_model(make_model(name, size), tmp_path / "exp", method="moco", backbone={"name": name}, input_spec=InputSpec(size=size))
    spec = json.loads((out / "model.json").read_text())
    (out / "model.json").write_text(json.dumps({**spec, "format": "something-else/2"}))
    with pytest.raises(CheckpointError, match=r"model\.json: expected a reidfw-model/2 model spec, but found format 'something-else/2'"):
        load_exported_model(out)
    (out / "model.json").write_text(json.dumps({**spec, "embedding": "max"}))
    with pytest.raises(CheckpointError, match="embedding 'max'"):
        load_exported_model(out)
    (out / "model.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_exported_model(out)
    (out / "model.json").write_text(json.dumps({**spec, "input": {**spec["input"], "std": [0.2, 0.0, 0.2]}}))
    with pytest.raises(CheckpointError, match=r"input .*std must be 3 positive numbers"):
        load_exported_model(out)
