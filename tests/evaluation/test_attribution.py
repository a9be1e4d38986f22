"""Similarity attribution: each exact method's map (plus its stated bias) sums to the model's own cosine."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from reidfw.evaluation.attribution import FC_HEAD, GAP, GAP_BN, GRADIENT, explain_pair
from reidfw.models import build_backbone

TOL = 1e-5
SIZES = [(384, 128), (128, 64)]  # the paper's input and the demo's


def _randomize(model: nn.Module, seed: int) -> nn.Module:
    """Non-default weights and BN statistics everywhere (as tests/conftest.py's randomize_)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                t.add_(0.05 * torch.randn(t.shape, generator=g))
    return model.eval()


def _model_cosine(model, x_a, x_b) -> float:
    with torch.no_grad():
        e = model(torch.stack([x_a, x_b]))
    return float(F.cosine_similarity(e[0:1], e[1:2]))


def _pair(size, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, *size, generator=g)
    return x[0], x[1] * 0.5 + x[0] * 0.5  # related inputs: a cosine well away from 0 and 1


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_gap_reid_resnet18_is_exact(size):
    torch.manual_seed(0)
    model = _randomize(build_backbone("reid_resnet18", img_size=size), 0)
    x_a, x_b = _pair(size)
    att = explain_pair(model, x_a, x_b)
    cos = _model_cosine(model, x_a, x_b)
    assert att.method == GAP and att.exact
    assert att.bias_a == 0 and att.bias_b == 0
    assert abs(att.map_a.sum() - cos) < TOL and abs(att.map_b.sum() - cos) < TOL
    assert abs(att.pairs.sum() - cos) < TOL
    # the per-image maps are the marginals of the cell-pair matrix
    np.testing.assert_allclose(att.pairs.sum(1), att.map_a.ravel(), atol=1e-9)
    np.testing.assert_allclose(att.pairs.sum(0), att.map_b.ravel(), atol=1e-9)
    # last stride 1: 1/16 of the input per side
    assert att.map_a.shape == (size[0] // 16, size[1] // 16)
    # each term is Stylianou et al.'s <f_a[i], f_b[j]> / (HW_a HW_b |e_a| |e_b|), computed here independently
    with torch.no_grad():
        fa, fb = (model.forward_features(x[None])[0].flatten(1).double() for x in (x_a, x_b))
    hw = fa.shape[1]
    ref = (fa.T @ fb) / (hw * hw * fa.mean(1).norm() * fb.mean(1).norm())
    np.testing.assert_allclose(att.pairs, ref.numpy(), rtol=1e-6, atol=1e-12)


def _give_head_a_real_bias(model: nn.Module, size) -> None:
    """A trained FC head's BN1d centres the embedding; make its constant comparable to the cells' sum,
    so the bias terms are really exercised (with random BN statistics alone it is ~1e-12 of the total)."""
    with torch.no_grad():
        z = model.fc(torch.flatten(model.bn2(model.forward_features(torch.randn(4, 3, *size))), 1))
        spread = z.std(0)
        model.features.running_mean.copy_(z.mean(0) + 0.7 * spread * torch.randn(z.shape[1]))
        model.features.running_var.copy_(spread**2)
        model.features.bias.copy_(0.5 * torch.randn(z.shape[1]))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_fc_head_iresnet18_is_exact_with_its_bias(size):
    torch.manual_seed(0)
    model = _randomize(build_backbone("iresnet18", img_size=size), 0)
    _give_head_a_real_bias(model, size)
    x_a, x_b = _pair(size)
    att = explain_pair(model, x_a, x_b)
    cos = _model_cosine(model, x_a, x_b)
    assert att.method == FC_HEAD and att.exact
    # the per-image statement: map + that image's bias term = the model's cosine
    assert abs(att.map_a.sum() + att.bias_a - cos) < TOL
    assert abs(att.map_b.sum() + att.bias_b - cos) < TOL
    # the symmetric statement: cell pairs + cells x bias (both sides) + bias x bias = the cosine
    total = att.pairs.sum() + att.cells_bias_a.sum() + att.cells_bias_b.sum() + att.bias_bias
    assert abs(total - cos) < TOL
    assert abs(att.bias_a) > 1e-3 and abs(att.bias_bias) > 1e-4  # the bias is not negligible here
    assert att.map_a.shape == (-(-size[0] // 16), -(-size[1] // 16))
    assert "bias" in att.summary()


def test_gap_with_bn_neck_is_exact_over_centred_cells():
    # a GAP ResNet with fast-reid's BNNeck (model.kwargs.neck=bn); every cell is its feature centred by the neck, no bias term
    size = (128, 64)
    model = _randomize(build_backbone("reid_resnet18", img_size=size, neck="bn"), 2)
    x_a, x_b = _pair(size)
    att = explain_pair(model, x_a, x_b)
    cos = _model_cosine(model, x_a, x_b)
    assert att.method == GAP_BN and att.exact and "GAP + BN neck" in att.summary()
    assert att.bias_a == 0 and att.bias_b == 0
    assert abs(att.map_a.sum() - cos) < TOL and abs(att.map_b.sum() - cos) < TOL and abs(att.pairs.sum() - cos) < TOL
    # each cell is (s * f_p + t) / hw, computed here independently from the neck's statistics
    neck = model.neck
    with torch.no_grad():
        f = model.forward_features(torch.stack([x_a, x_b])).double()
        s = 1 / torch.sqrt(neck.running_var.double() + neck.eps)
        hw = f.shape[2] * f.shape[3]
        centred = (f.flatten(2) * s.view(1, -1, 1) - (neck.running_mean.double() * s).view(1, -1, 1)) / hw
        e = centred.sum(2)
        n = float(e[0].norm() * e[1].norm())
        np.testing.assert_allclose(att.pairs, (centred[0].T @ centred[1]).numpy() / n, atol=1e-9)


def test_gradient_fallback_reproduces_the_exact_gap_map():
    size = (128, 64)
    torch.manual_seed(0)
    model = _randomize(build_backbone("reid_resnet18", img_size=size), 0)
    x_a, x_b = _pair(size)
    exact, approx = explain_pair(model, x_a, x_b), explain_pair(model, x_a, x_b, method="gradient")
    assert approx.method == GRADIENT and not approx.exact and "APPROXIMATE" in approx.title
    np.testing.assert_allclose(approx.map_a, exact.map_a, atol=1e-6)
    np.testing.assert_allclose(approx.map_b, exact.map_b, atol=1e-6)


def test_timm_model_with_average_pooling_is_exact():
    model = _randomize(build_backbone("test_resnet", img_size=(64, 32)), 0)
    x_a, x_b = _pair((64, 32))
    att = explain_pair(model, x_a, x_b)
    assert att.method == GAP and abs(att.map_a.sum() - _model_cosine(model, x_a, x_b)) < TOL


class NotGap(nn.Module):
    """A feature map and a non-linear head: no exact decomposition, the gradient fallback takes over."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3, stride=4, padding=1)

    def forward_features(self, x):
        return self.conv(x)

    def forward_head(self, f):
        return torch.tanh(f).amax((2, 3)) + 0.3

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


class NoMap(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(3 * 32 * 16, 6)

    def forward(self, x):
        return torch.relu(self.lin(x.flatten(1))) + 0.1


def test_other_models_get_a_labelled_approximation():
    x_a, x_b = _pair((32, 16))
    att = explain_pair(NotGap().eval(), x_a, x_b)
    assert att.method == GRADIENT and not att.exact and "why_not_exact" in att.details
    assert att.map_a.shape == (8, 4)
    assert abs(att.cosine - _model_cosine(NotGap().eval(), x_a, x_b)) < 1e-6
    assert "APPROXIMATE" in att.title and "APPROXIMATE" in att.summary()
    # no feature map at all: gradient x input, pooled into 8x8-pixel cells
    pix = explain_pair(NoMap().eval(), x_a, x_b)
    assert pix.method == GRADIENT and pix.map_a.shape == (4, 2) and pix.details["gradient_on"].startswith("input")


def test_models_without_gradients_are_not_explained_but_named():
    """The colour-histogram baseline (and an ONNX graph) has no feature map and no gradient: evaluate.py
    skips its Fig 12 with the reason instead of failing."""
    from reidfw.checkpoints import load_embedding_model
    from reidfw.evaluation.attribution import not_explainable

    histogram, _ = load_embedding_model("colour_histogram")
    assert "no differentiable parameters" in not_explainable(histogram)
    assert not_explainable(torch.nn.Conv2d(3, 4, 3)) is None
