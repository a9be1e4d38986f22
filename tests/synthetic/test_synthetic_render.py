"""The renderer itself: determinism, masks, boxes, perspective."""
from __future__ import annotations

import numpy as np
import pytest

from reidfw.synthetic.body import Pose, build_body
from reidfw.synthetic.camera import Camera, camera_facing
from reidfw.synthetic.identity import identity_rng, sample_identity
from reidfw.synthetic.render import PersonNotVisible, render_person
from reidfw.synthetic.scene import BACKGROUNDS, Light, build_scene
from reidfw.synthetic.seeds import item_rng


def _render(seed=0, distance=4.0, background="panel", crop_height=64, margin=0.1, wobble=1, yaw=180.0, identity_index=0):
    person = sample_identity(identity_rng(seed, "test", identity_index), "p")
    camera = camera_facing((0.0, 0.0), distance, 1.12, 0.0)
    scene = build_scene(background, item_rng(seed, "scene"), (0.0, 0.0), 0.0, Light())
    return render_person(person, Pose(wobble_seed=wobble), (0.0, 0.0), yaw, camera, scene,
                         crop_height=crop_height, margin=margin, noise_seed=seed)


def test_same_seed_same_pixels_and_different_seed_differs():
    a, b = _render(seed=3), _render(seed=3)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    c = _render(seed=4)
    assert a.image.shape != c.image.shape or not np.array_equal(a.image, c.image)


def test_mask_box_and_crop_agree():
    r = _render(margin=0.15)
    h, w = r.image.shape[:2]
    assert r.image.dtype == np.uint8 and r.image.shape == (h, w, 3)
    assert r.mask.shape == (h, w) and r.mask.dtype == bool
    assert 0.05 * h * w < r.mask.sum() < 0.9 * h * w
    x, y, bw, bh = r.box_in_image
    assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h
    ys, xs = np.nonzero(r.mask)
    assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x, y, x + bw, y + bh)
    # With a margin, the border of the crop is background.
    assert not r.mask[0].any() and not r.mask[-1].any()
    # The frame box and the in-crop box describe the same region.
    fx, fy, fw, fh = r.bbox
    assert fw == pytest.approx(bw / r.scale) and fh == pytest.approx(bh / r.scale)
    assert fx == pytest.approx(r.crop_box[0] + x / r.scale)


def test_mask_covers_exactly_what_differs_from_the_background():
    """Rendering the same frame with another background changes pixels only outside the mask."""
    a, b = _render(background="panel", margin=0.2), _render(background="monitor", margin=0.2)
    assert a.image.shape == b.image.shape and np.array_equal(a.mask, b.mask)
    diff = np.abs(a.image.astype(int) - b.image.astype(int)).sum(axis=2) > 0
    # No noise, blur or JPEG in these renders: person pixels are identical.
    assert not diff[a.mask].any()
    assert diff[~a.mask].mean() > 0.05


def test_farther_person_is_smaller_in_the_frame():
    heights = [_render(distance=d, crop_height=2000, margin=0.0).bbox[3] for d in (2.5, 4.0, 8.0, 14.0)]
    assert all(h1 > h2 for h1, h2 in zip(heights, heights[1:]))
    # Pinhole: pixel height ~ 1 / distance.
    assert heights[1] / heights[3] == pytest.approx(14.0 / 4.0, rel=0.1)


def test_crop_height_caps_the_person_box():
    r = _render(distance=2.5, crop_height=80, margin=0.0)
    assert r.scale < 1 and r.image.shape[0] <= 80


def test_front_and_back_differ():
    front, back = _render(yaw=0.0, margin=0.0), _render(yaw=180.0, margin=0.0)
    assert front.image.shape != back.image.shape or not np.array_equal(front.image, back.image)


def test_every_background_renders():
    for bg in BACKGROUNDS:
        assert _render(background=bg, crop_height=32).mask.any()


def test_wobble_changes_posture_only():
    a, b = build_body(sample_identity(identity_rng(0, "t", 0), "p"), Pose(wobble_seed=1)), \
        build_body(sample_identity(identity_rng(0, "t", 0), "p"), Pose(wobble_seed=2))
    assert [s.part for s in a.solids] == [s.part for s in b.solids]
    assert a.posture != b.posture


def test_person_behind_camera_is_reported():
    person = sample_identity(identity_rng(0, "t", 0), "p")
    camera = Camera(position=(0.0, 1.12, 4.0), pan_deg=180.0)   # stands at +Z and looks along +Z, away from the person
    scene = build_scene("none", item_rng(0, "s"), (0.0, 0.0), 0.0)
    with pytest.raises(PersonNotVisible):
        render_person(person, Pose(), (0.0, 0.0), 0.0, camera, scene, crop_height=32)
