"""Flip test-time augmentation and orientation canonicalisation, at evaluation and at training time."""
from __future__ import annotations

import albumentations as A
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reidfw.data.augment import build_transform
from reidfw.data.formats.image_io import read_image, write_image, write_mask
from reidfw.data.formats.study_manifest import StudyCondition, StudyFactor, StudyImage, StudyManifest, write_manifest
from reidfw.evaluation.embed import Embedder
from reidfw.model_input import InputSpec, normalize, prepare, to_chw_tensor, to_model_input
from reidfw.orientation import OrientationEstimator, OrientationNet, in_other_half


def _estimator(seed: int = 3) -> OrientationEstimator:
    """A real estimator network (untrained): its readings are arbitrary but deterministic, which is all
    these tests need -- they check that exactly the crops it reads as (180, 360) are mirrored."""
    torch.manual_seed(seed)
    net = OrientationNet()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_var.uniform_(0.5, 1.5)
    return OrientationEstimator(net.eval())


def _crops(n: int = 12, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        img = rng.integers(0, 255, size=(40, 18, 3), dtype=np.uint8)
        img[:, : rng.integers(2, 16)] = rng.integers(0, 255, 3)  # asymmetric: its mirror differs
        out.append(img)
    return out


def test_flip_tta_is_the_mean_of_the_embedding_and_its_mirrors(tiny_model, make_spec):
    spec = make_spec()
    size = tuple(spec["input"]["size"])
    u8 = torch.stack([to_chw_tensor(prepare(c, InputSpec(size=size, mean=(0.5,) * 3, std=(0.25,) * 3))) for c in _crops(4)])
    got = Embedder(tiny_model, spec, num_workers=0, flip_tta=True).forward_batch(u8)
    x = normalize(u8, InputSpec.from_dict(spec["input"]))
    with torch.no_grad():
        want = F.normalize((tiny_model(x) + tiny_model(x.flip(-1))) / 2, dim=1)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
    plain = Embedder(tiny_model, spec, num_workers=0).forward_batch(u8)
    assert not torch.allclose(plain, got)


def test_canonicalisation_mirrors_exactly_the_other_half(tmp_path, tiny_model, make_spec):
    spec = make_spec()
    ispec = InputSpec.from_dict(spec["input"])
    est = _estimator()
    paths = []
    for k, c in enumerate(_crops()):
        paths.append(tmp_path / f"{k}.png")
        write_image(paths[-1], c)
    other = np.array([in_other_half(est.predict_image(read_image(p))) for p in paths])
    assert other.any() and (~other).any()  # both kinds present, or the test proves nothing

    got = Embedder(tiny_model, spec, num_workers=0, batch_size=5, canonicalize=est).embed(paths)
    x = torch.stack([to_model_input(read_image(p), ispec) for p in paths])
    x = torch.where(torch.as_tensor(other)[:, None, None, None], x.flip(-1), x)
    with torch.no_grad():
        want = F.normalize(tiny_model(x), dim=1).numpy()
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_training_step_mirrors_exactly_the_other_half_and_drops_the_random_flip():
    spec = InputSpec(size=(32, 16))
    est = _estimator()
    quiet = dict(color_jitter_p=0.0, pad=0, erasing_p=0.0)
    t = build_transform("supervised", spec, canonicalize=est, **quiet)
    assert not any(isinstance(s, A.HorizontalFlip) for s in t.compose.transforms)
    flipped = kept = 0
    for crop in _crops():
        other = est.faces_other_half(crop)
        want = to_model_input(np.ascontiguousarray(crop[:, ::-1]) if other else crop, spec)
        assert torch.equal(t(crop), want)
        flipped, kept = flipped + other, kept + (not other)
    assert flipped and kept
    # MoCo's views get the same first step
    view = build_transform("contrastive_view", spec, canonicalize=est)
    assert type(view.compose.transforms[0]).__name__ == "CanonicalFlip"
    assert not any(isinstance(s, A.HorizontalFlip) for s in view.compose.transforms)


def _orientation_study(root) -> None:
    """One person at 0/90/180/270 degrees (toy crops whose 270 is the mirror of 90) and three impostors."""
    rng = np.random.default_rng(0)
    base = {0: _crops(1, 1)[0], 180: _crops(1, 2)[0]}
    base[90] = _crops(1, 3)[0]
    base[270] = np.ascontiguousarray(base[90][:, ::-1])
    conds = []
    for deg, img in base.items():
        imgs = []
        for k in range(2):
            noisy = np.clip(img.astype(int) + rng.integers(-5, 5, img.shape), 0, 255).astype(np.uint8)
            rel = f"orientation/{deg}deg/{k}.png"
            write_image(root / rel, noisy)
            write_mask(root / f"orientation/{deg}deg/{k}.mask.png", np.ones(img.shape[:2], bool))
            imgs.append(StudyImage(path=rel, mask=f"orientation/{deg}deg/{k}.mask.png", meta={"yaw": float(deg)}))
        imps = []
        for j in range(3):
            rel = f"impostors/{deg}/{j}.png"
            write_image(root / rel, _crops(1, 10 + j)[0])
            imps.append(StudyImage(path=rel, identity=f"p{j}"))
        conds.append(StudyCondition(f"{deg}deg", f"{deg}°", imgs, imps))
    write_manifest(StudyManifest(root=root, name="orient", factors=[StudyFactor("orientation", "Orientation", "180deg", conds)]))


def test_evaluation_compares_orientation_with_and_without(tmp_path, tiny_model, make_spec):
    from reidfw.evaluation.pipeline import evaluate_model

    _orientation_study(tmp_path / "study")
    res = evaluate_model(tiny_model, make_spec(), out_dir=tmp_path / "out", study_root=tmp_path / "study",
                         num_workers=0, canonicalize="compare", orientation=_estimator(), attribution=True)
    m = res["metrics"]
    for side in ("plain", "canonical"):
        assert f"orientation/orientation/cell_90_270/raw/{side}" in m
        assert f"orientation/orientation/cell_0_180/z/{side}" in m
    assert "canonical/study/orientation/robustness" in m and "study/orientation/robustness" in m
    assert m["orientation/estimator/n"] == 8
    out = tmp_path / "out"
    assert (out / "study/heatmaps/orientation_canonical.png").is_file()
    assert (out / "study/heatmaps/orientation_canonical_z.png").is_file()
    assert (out / "orientation/estimates.csv").is_file() and (out / "attribution/orientation.png").is_file()
    with pytest.raises(ValueError, match="canonicalize"):
        evaluate_model(tiny_model, make_spec(), out_dir=tmp_path / "o2", study_root=tmp_path / "study", canonicalize="sometimes")
