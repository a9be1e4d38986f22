"""iresnet: the paper's ArcFace backbone (Table 1) with insightface's exact parameter names."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import timm
import torch

from reidfw.models.iresnet import IRESNET_LAYERS, feature_map_size


def insightface_keys(layers: tuple[int, int, int, int]) -> list[str]:
    """State-dict keys of insightface's arcface_torch iresnet, in registration order, written out
    from its documented layout (stem, IBasicBlocks with a downsample on each stage's first block, head)."""

    def bn(p: str) -> list[str]:
        return [f"{p}.weight", f"{p}.bias", f"{p}.running_mean", f"{p}.running_var", f"{p}.num_batches_tracked"]

    keys = ["conv1.weight", *bn("bn1"), "prelu.weight"]
    for stage, blocks in enumerate(layers, start=1):
        for j in range(blocks):
            b = f"layer{stage}.{j}"
            keys += [*bn(f"{b}.bn1"), f"{b}.conv1.weight", *bn(f"{b}.bn2"), f"{b}.prelu.weight", f"{b}.conv2.weight"]
            keys += bn(f"{b}.bn3")
            if j == 0:
                keys += [f"{b}.downsample.0.weight", *bn(f"{b}.downsample.1")]
    keys += [*bn("bn2"), "fc.weight", "fc.bias", *bn("features")]
    return keys


@pytest.fixture(scope="module")
def paper_iresnet50(hooked_forward):
    """The paper's ArcFace backbone at 384x128, one forward (batch 1) with every stage hooked."""
    model = timm.create_model("iresnet50", img_size=(384, 128)).eval()
    stages = {"conv1": model.prelu, "conv2": model.layer1, "conv3": model.layer2, "conv4": model.layer3, "conv5": model.layer4}
    shapes, out = hooked_forward(model, stages, (384, 128))
    return model, shapes, out


def test_table1_stage_shapes(paper_iresnet50):
    _, shapes, out = paper_iresnet50
    # Table 1, ArcFace column, as (channels, H, W).
    assert shapes == {
        "conv1": (64, 384, 128),
        "conv2": (64, 192, 64),
        "conv3": (128, 96, 32),
        "conv4": (256, 48, 16),
        "conv5": (512, 24, 8),
    }
    assert out.shape == (1, 512)


def test_state_dict_keys_are_insightface(paper_iresnet50):
    model, _, _ = paper_iresnet50
    sd = model.state_dict()
    assert list(sd) == insightface_keys((3, 4, 14, 3))
    assert sd["layer1.0.downsample.0.weight"].shape == (64, 64, 1, 1)
    assert sd["prelu.weight"].shape == (64,)
    assert sd["fc.weight"].shape == (512, 512 * 24 * 8)
    assert sd["features.weight"].shape == (512,)


@pytest.mark.parametrize("name", sorted(IRESNET_LAYERS))
def test_every_depth_matches_insightface_keys(name):
    # A 16x16 input keeps the FC tiny; only the key layout is checked here.
    model = timm.create_model(name, img_size=(16, 16))
    assert list(model.state_dict()) == insightface_keys(IRESNET_LAYERS[name])


def test_attributes_and_frozen_embedding_scale(paper_iresnet50):
    model, _, _ = paper_iresnet50
    assert model.embed_dim == model.num_features == 512
    assert not model.features.weight.requires_grad
    assert torch.equal(model.features.weight, torch.ones(512))
    assert model.prelu.weight.requires_grad


def test_forward_features_is_stage4_before_bn2():
    model = timm.create_model("iresnet18", img_size=(64, 32)).eval()
    x = torch.rand(1, 3, 64, 32)
    with torch.no_grad():
        fmap = model.forward_features(x)
        assert fmap.shape == (1, 512, 4, 2)
        assert torch.allclose(model.forward_head(fmap), model(x))


def test_fc_size_follows_img_size():
    assert feature_map_size((112, 112)) == (7, 7)
    assert feature_map_size((384, 128)) == (24, 8)
    assert feature_map_size((100, 30)) == (7, 2)  # each stride-2 conv rounds up
    assert timm.create_model("iresnet18", img_size=(112, 112)).fc.in_features == 512 * 7 * 7


def test_wrong_input_size_is_a_clear_error():
    model = timm.create_model("iresnet18", img_size=(64, 32)).eval()
    with pytest.raises(ValueError, match=r"iresnet\.py.*img_size=\(64, 32\)"):
        model(torch.rand(1, 3, 32, 32))


def test_bad_img_size_and_pretrained_are_refused():
    with pytest.raises(ValueError, match="img_size must be"):
        timm.create_model("iresnet18", img_size=(64,))
    with pytest.raises(ValueError, match="no downloadable weights"):
        timm.create_model("iresnet18", pretrained=True)


def test_create_model_works_after_import_reidfw_in_a_fresh_interpreter():
    code = (
        "import timm, reidfw\n"
        "m = timm.create_model('iresnet50', img_size=(384, 128))\n"
        "assert type(m).__name__ == 'IResNet' and m.fc.in_features == 512 * 24 * 8, m.fc\n"
        "assert timm.is_model('reid_resnet50')\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # see conftest: one thread is faster on the shared cores
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
