"""Every pipeline ends at the model input size with the paper's gray letterbox, normalised."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from reidfw.data.augment import KINDS, Pipeline, TwoViews, build_transform
from reidfw.data.augment.recipes import build_contrastive_view
from reidfw.model_input import IMAGENET_MEAN as MEAN, IMAGENET_STD as STD, InputSpec, InputSpecError, crop_box, letterbox

SIZE = (96, 32)  # 3:1 like the paper's 384x128, small so the tests stay fast
SPEC = InputSpec(size=SIZE)


def wide_person(seed: int = 0, h: int = 120, w: int = 180) -> np.ndarray:
    """Wider than the 1:3 input, so the letterbox pads above and below."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


# every augmentation forced on, so nothing can hide behind a probability
ALL_ON = {
    "supervised": dict(flip_p=1.0, pad_p=1.0, color_jitter_p=1.0, erasing_p=1.0, erasing_scale=(0.3, 0.4)),
    "contrastive_view": dict(color_jitter_p=1.0, gray_p=1.0, blur_p=1.0, flip_p=1.0, erasing_p=1.0),
    "contrastive_view_luperson": dict(recipe="luperson", erasing_p=1.0, blur_p=1.0),
    "evaluation": {},
}


def _pipeline(name: str, mean=MEAN, std=STD, **extra) -> Pipeline:
    kind = "contrastive_view" if name.startswith("contrastive") else name
    if kind == "evaluation":
        extra.pop("seed", None)  # deterministic: takes no seed
    return build_transform(kind, InputSpec(size=SIZE, mean=mean, std=std), **ALL_ON[name], **extra)


def _expected_fill(mean, std) -> torch.Tensor:
    return (torch.tensor([128.0] * 3) / 255 - torch.tensor(mean)) / torch.tensor(std)


@pytest.mark.parametrize("name", list(ALL_ON))
@pytest.mark.parametrize("mean,std", [(MEAN, STD), ((0.5,) * 3, (0.5,) * 3)])
def test_output_is_model_input_with_gray_letterbox(name, mean, std):
    t = _pipeline(name, mean=mean, std=std, seed=11)
    fill = _expected_fill(mean, std)
    assert torch.allclose(t.normalized_fill(), fill)
    for seed in range(8):
        out = t(wide_person(seed))
        assert out.shape == (3, *SIZE) and out.dtype == torch.float32
        # rows that only the letterbox fills: the top and bottom 3 of 96 (the wide
        # image, or any crop of it with w/h >= 0.375 give or take a pixel, fits in
        # 32 wide x at most ~87 tall)
        for rows in (out[:, :3, :], out[:, -3:, :]):
            assert torch.allclose(rows, fill.view(3, 1, 1).expand_as(rows), atol=1e-6)
        # and the person is there: not everything is gray
        assert not torch.allclose(out, fill.view(3, 1, 1).expand_as(out), atol=1e-3)


def test_contrastive_two_views_differ_and_have_input_shape():
    t = build_transform("contrastive", SPEC, seed=3)
    assert isinstance(t, TwoViews)
    v1, v2 = t(wide_person(1, 120, 50))
    assert v1.shape == v2.shape == (3, *SIZE)
    assert not torch.equal(v1, v2)


def test_luperson_recipe_has_no_colour_jitter_but_erasing():
    names = [type(s).__name__ for s in build_contrastive_view(SPEC, recipe="luperson").compose.transforms]
    assert "ColorJitter" not in names and "RandomErasing" in names
    names = [type(s).__name__ for s in build_contrastive_view(SPEC, recipe="mocov2").compose.transforms]
    assert "ColorJitter" in names and "RandomErasing" not in names


def test_without_augmentation_training_equals_evaluation_equals_letterbox():
    off = dict(flip_p=0, pad=0, color_jitter_p=0, erasing_p=0)
    train = build_transform("supervised", SPEC, **off)
    ev = build_transform("evaluation", SPEC)
    for shape in [(40, 60), (300, 90), (10, 5), (96, 32)]:
        img = wide_person(2, *shape)
        expected = torch.from_numpy(letterbox(img, SIZE).astype(np.float32) / 255).permute(2, 0, 1)
        expected = (expected - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)
        assert torch.equal(train(img), ev(img))
        assert torch.allclose(ev(img), expected, atol=1e-5)


def test_evaluation_crops_to_the_box_first():
    ev = build_transform("evaluation", SPEC)
    frame = wide_person(4, 100, 100)
    box = (30, 10, 20, 60)
    assert torch.equal(ev(frame, box=box), ev(np.ascontiguousarray(crop_box(frame, box))))


def test_same_seed_same_augmentation():
    a, b = _pipeline("supervised", seed=7), _pipeline("supervised", seed=7)
    img = wide_person(5)
    assert torch.equal(a(img), b(img))


def test_unknown_kind_option_and_recipe_name_the_choices():
    with pytest.raises(ValueError, match="unknown transform kind 'mocco'.*supervised"):
        build_transform("mocco", SPEC)
    with pytest.raises(TypeError, match="no option.*blur_p.*accepts"):
        build_transform("supervised", SPEC, blur_p=0.5)
    with pytest.raises(ValueError, match="unknown contrastive recipe"):
        build_transform("contrastive", SPEC, recipe="simclr")
    with pytest.raises(InputSpecError, match="img_size"):
        InputSpec(size=(96,))
    assert set(KINDS) == {"supervised", "contrastive", "contrastive_view", "evaluation"}


def test_dataloader_workers_draw_different_augmentations():
    # forked workers start with the same generator state; the pipeline reseeds per worker
    class Same(torch.utils.data.Dataset):
        def __init__(self):
            self.t = _pipeline("supervised", seed=0)

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return self.t(wide_person(0))

    loader = torch.utils.data.DataLoader(Same(), batch_size=1, num_workers=2, multiprocessing_context="fork")
    a, b = list(loader)
    assert not torch.equal(a, b)
