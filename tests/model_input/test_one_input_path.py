"""One model input: validation, evaluate.py and training without augmentation give the same bits,
and the input spec a model trained with travels with it to every consumer."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from reidfw.checkpoints import export_model, load_embedding_model
from reidfw.data.augment import build_transform
from reidfw.data.datasets.datamodule import ReIDDataModule
from reidfw.data.formats.image_io import write_image
from reidfw.data.formats.market import market_name
from reidfw.evaluation.embed import Embedder
from reidfw.model_input import (
    INSIGHTFACE_MEAN,
    INSIGHTFACE_STD,
    InputSpec,
    InputSpecError,
    resolve_input_spec,
    to_model_input,
)
from reidfw.models import build_backbone, default_input_spec


class InputRecorder(nn.Module):
    """Records the tensor the model is fed; returns a dummy embedding."""

    def __init__(self):
        super().__init__()
        self.seen: list[torch.Tensor] = []
        self.embed_dim = 2

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return torch.ones(x.shape[0], 2)


def market(tmp_path, shapes=((150, 61), (80, 90))):
    rng = np.random.default_rng(0)
    for split, (h, w) in zip(("query", "bounding_box_test"), shapes):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        write_image(tmp_path / split / market_name(1, 1 if split == "query" else 2, 10), img)
    return tmp_path


DEMO = InputSpec(size=(128, 64))  # the demo's spec: 128x64, ImageNet mean/std, gray fill
OVERRIDDEN = InputSpec(size=(96, 40), mean=(0.3, 0.4, 0.5), std=(0.2, 0.3, 0.1), fill=(10, 200, 30))


@pytest.mark.parametrize("spec", [DEMO, OVERRIDDEN], ids=["demo", "overridden"])
def test_validation_and_evaluate_feed_the_same_bits(tmp_path, spec):
    root = market(tmp_path / "market")
    dm = ReIDDataModule(train_root=tmp_path, val_root=root, input_spec=spec.to_dict(), num_workers=0)
    dm.setup("validate")
    val = [dm.val_set[i]["image"] for i in range(len(dm.val_set))]

    model_spec = {"format": "reidfw-model/2", "method": "moco", "backbone": {"name": "x", "kwargs": {}},
                  "input": spec.to_dict(), "embed_dim": 2, "embedding": "gap"}
    rec = InputRecorder()
    Embedder(rec, model_spec, device="cpu", batch_size=1, num_workers=0).embed([m.path for m in dm.val_set.images])
    for a, b in zip(val, rec.seen):
        assert a.shape == (3, *spec.size) and a.dtype == torch.float32
        assert torch.equal(a, b[0]), float((a - b[0]).abs().max())  # max abs difference 0
    # training without augmentation is the same input too
    off = build_transform("supervised", spec, flip_p=0, pad=0, color_jitter_p=0, erasing_p=0)
    img = np.random.default_rng(1).integers(0, 256, (150, 61, 3), dtype=np.uint8)
    assert torch.equal(off(img), to_model_input(img, spec))


def test_the_fill_is_the_specs_and_normalisation_is_exact():
    spec = OVERRIDDEN
    x = to_model_input(np.zeros((10, 40, 3), np.uint8), spec)  # wide: rows above and below are fill
    fill = (torch.tensor(spec.fill) / 255.0 - torch.tensor(spec.mean)) / torch.tensor(spec.std)
    assert torch.allclose(x[:, 0, 0], fill, atol=1e-6)
    assert torch.allclose(x[:, 48, 20], -torch.tensor(spec.mean) / torch.tensor(spec.std), atol=1e-6)


def test_export_records_the_input_training_used_and_loading_reproduces_it(tmp_path):
    net = build_backbone("reid_resnet18", img_size=OVERRIDDEN.size).eval()
    out = export_model(net, tmp_path / "m", method="moco", backbone={"name": "reid_resnet18"}, input_spec=OVERRIDDEN)
    _, spec = load_embedding_model(out)
    assert InputSpec.from_dict(spec["input"]) == OVERRIDDEN


def test_an_insightface_checkpoint_is_fed_x_minus_half_over_half(tmp_path):
    net = build_backbone("iresnet18", img_size=(112, 112)).eval()
    torch.save(net.state_dict(), tmp_path / "backbone.pth")
    _, spec = load_embedding_model(tmp_path / "backbone.pth", arch="iresnet18")
    rec = InputRecorder()
    img = np.random.default_rng(2).integers(0, 256, (112, 112, 3), dtype=np.uint8)
    write_image(tmp_path / "face.png", img)
    Embedder(rec, spec, device="cpu", num_workers=0).embed([tmp_path / "face.png"])
    expected = (torch.from_numpy(img).permute(2, 0, 1).float() / 255.0 - 0.5) / 0.5
    assert spec["input"]["mean"] == list(INSIGHTFACE_MEAN) and spec["input"]["std"] == list(INSIGHTFACE_STD)
    assert torch.allclose(rec.seen[0][0], expected, atol=1e-6)


def test_resolution_order_override_then_backbone_then_constants():
    assert default_input_spec("iresnet50", (384, 128)).mean == (0.485, 0.456, 0.406)
    assert default_input_spec("inception_v3", (299, 299)).mean == (0.5, 0.5, 0.5)  # timm's pretrained config
    base = default_input_spec("inception_v3", (299, 299))
    spec = resolve_input_spec(size=[64, 32], std=[0.1, 0.2, 0.3], default=base)
    assert spec.size == (64, 32) and spec.std == (0.1, 0.2, 0.3) and spec.mean == (0.5, 0.5, 0.5)


@pytest.mark.parametrize(
    "bad, match",
    [({"size": [64]}, "img_size"), ({"size": [64, 32], "std": [1, 0, 1]}, "std"), ({"size": [8, 8], "fill": [300, 0, 0]}, "fill"),
     ({"size": [8, 8], "mean": "gray"}, "mean"), ({"size": [8, 8], "colour": 1}, "unknown input spec keys"), ({}, "needs size")],
)
def test_bad_input_specs_name_the_field(bad, match):
    with pytest.raises(InputSpecError, match=match):
        InputSpec.from_dict(bad)
