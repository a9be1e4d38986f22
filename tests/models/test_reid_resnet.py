"""reid_resnet: the paper's MoCo backbone (torchvision-layout ResNet, last stride 1, GAP)."""
from __future__ import annotations

import copy

import pytest
import timm
import torch
import torchvision

from reidfw.models import build_backbone


@pytest.fixture(scope="module")
def paper_resnet50(hooked_forward):
    model = timm.create_model("reid_resnet50", img_size=(384, 128)).eval()
    stages = {"conv1": model.maxpool, "conv2": model.layer1, "conv3": model.layer2, "conv4": model.layer3, "conv5": model.layer4}
    shapes, out = hooked_forward(model, stages, (384, 128))
    return model, shapes, out


def test_table1_stage_shapes(paper_resnet50):
    _, shapes, out = paper_resnet50
    # Table 1, MoCo column, as (channels, H, W); Conv1 is after the max pool, Conv5 keeps 24x8 (last stride 1).
    assert shapes == {
        "conv1": (64, 96, 32),
        "conv2": (256, 96, 32),
        "conv3": (512, 48, 16),
        "conv4": (1024, 24, 8),
        "conv5": (2048, 24, 8),
    }
    assert out.shape == (1, 2048)


def test_keys_and_shapes_are_torchvision_resnet50_without_fc(paper_resnet50):
    model, _, _ = paper_resnet50
    tv = {k: v.shape for k, v in torchvision.models.resnet50(weights=None).state_dict().items() if not k.startswith("fc.")}
    ours = {k: v.shape for k, v in model.state_dict().items()}
    assert list(ours) == list(tv)
    assert ours == tv


def test_attributes_and_gap_embedding(paper_resnet50):
    model, _, _ = paper_resnet50
    assert model.embed_dim == model.num_features == 2048
    assert model.last_stride == 1 and model.img_size == (384, 128)
    x = torch.rand(1, 3, 64, 32)
    with torch.no_grad():
        assert torch.allclose(model(x), model.forward_features(x).mean(dim=(2, 3)))


def test_last_stride_2_is_torchvision_resnet18_with_gap():
    """With ImageNet's stride the network must compute exactly torchvision's pooled feature."""
    torch.manual_seed(0)
    tv = torchvision.models.resnet18(weights=None).eval()
    tv.fc = torch.nn.Identity()
    ours = timm.create_model("reid_resnet18", last_stride=2).eval()
    ours.load_state_dict(tv.state_dict(), strict=True)
    x = torch.rand(2, 3, 64, 32)
    with torch.no_grad():
        assert torch.allclose(ours(x), tv(x), atol=1e-5)
        assert ours.forward_features(x).shape == (2, 512, 2, 1)


def test_last_stride_1_keeps_stage4_resolution():
    model = build_backbone("reid_resnet18", img_size=(64, 32)).eval()
    with torch.no_grad():
        assert model.forward_features(torch.rand(1, 3, 64, 32)).shape == (1, 512, 4, 2)
    assert model.embed_dim == 512
    assert model.feature_info[-1]["reduction"] == 16


def test_depth_variants_are_registered_and_options_checked():
    assert all(timm.is_model(f"reid_resnet{d}") for d in (18, 34, 50, 101))
    with pytest.raises(ValueError, match="last_stride must be 1"):
        timm.create_model("reid_resnet18", last_stride=3)
    with pytest.raises(ValueError, match="no downloadable weights"):
        timm.create_model("reid_resnet18", pretrained=True)


def test_initialised_as_torchvision_not_zero_last_bn():
    # timm zero-initialises each block's last BN scale; torchvision, MoCo and LUPerson do not
    model = build_backbone("reid_resnet18", img_size=(64, 32))
    last_bns = [blk.bn2 for layer in (model.layer1, model.layer2, model.layer3, model.layer4) for blk in layer]
    assert all(torch.equal(bn.weight, torch.ones_like(bn.weight)) for bn in last_bns)


def test_bn_neck_centres_the_embedding_and_survives_export(tmp_path):
    from reidfw.checkpoints import export_model, load_embedding_model
    from reidfw.model_input import InputSpec

    plain = build_backbone("reid_resnet18", img_size=(64, 32)).eval()
    torch.manual_seed(0)
    model = build_backbone("reid_resnet18", img_size=(64, 32), neck="bn")
    model.load_state_dict(plain.state_dict(), strict=False)  # same trunk; only the neck's statistics differ
    x = torch.randn(24, 3, 64, 32)
    model.eval()
    model.neck.train()  # only the neck learns its statistics (momentum 0.1: they converge on this set)
    with torch.no_grad():
        for _ in range(80):
            model(x)
    model.eval()
    with torch.no_grad():  # training: the losses get the pooled feature, as with fast-reid's BNNeck
        assert (copy.deepcopy(model).train()(x) >= 0).all()
    with torch.no_grad():
        gap, emb = plain(x), model(x)
    # a pooled ReLU map is non-negative: strangers point the same way; the neck centres them
    cos = lambda f: torch.nn.functional.normalize(f, dim=1) @ torch.nn.functional.normalize(f, dim=1).T
    off = ~torch.eye(24, dtype=torch.bool)
    assert (gap >= 0).all() and cos(gap)[off].mean() > 0.5
    assert abs(float(cos(emb)[off].mean())) < 0.1
    assert torch.allclose(emb.mean(0), torch.zeros(emb.shape[1]), atol=0.05)
    # the neck's statistics are buffers of the model: exported and loaded with it
    out = export_model(model, tmp_path / "m", method="moco", backbone={"name": "reid_resnet18", "kwargs": {"neck": "bn"}},
                       input_spec=InputSpec(size=(64, 32)))
    loaded, spec = load_embedding_model(out)
    assert spec["backbone"]["kwargs"] == {"neck": "bn"}
    with torch.no_grad():
        assert torch.allclose(loaded(x), emb, atol=1e-5)
    with pytest.raises(ValueError, match="neck must be one of"):
        build_backbone("reid_resnet18", neck="bnneck")
