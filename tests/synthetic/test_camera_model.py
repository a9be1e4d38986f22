"""Cameras that behave like cameras: distance costs pixels, the sensor degrades, sets have the paper's shape."""
from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from reidfw.synthetic.body import Pose
from reidfw.synthetic.camera import CAMERA_PRESETS, camera_facing, camera_preset
from reidfw.synthetic.generators.study import STUDY_LIGHT, study_person
from reidfw.synthetic.generators.tracks import generate_tracks
from reidfw.synthetic.generators.unlabeled import MOMENT_STEP, generate_unlabeled
from reidfw.synthetic.render import render_person
from reidfw.synthetic.scene import build_scene
from reidfw.synthetic.sensor import CLEAN, Sensor, apply_sensor


def _render(distance, crop_height=10_000, preset="corridor_720p", sensor=None, velocity=(0.0, 0.0)):
    p = camera_preset(preset)
    cam = camera_facing((0.0, 0.0), distance, 1.2, 0.0, 0.0, **p.sensor_fields())
    scene = build_scene("panel", np.random.default_rng(0), (0.0, 0.0), 0.0, STUDY_LIGHT)
    return render_person(study_person(), Pose(walk_amount=0.0, wobble_seed=1), (0.0, 0.0), 180.0, cam, scene,
                         crop_height=crop_height, sensor=sensor or CLEAN, velocity=velocity)


def test_box_height_falls_as_one_over_distance_and_nothing_caps_it_silently():
    rendered = {d: _render(d) for d in (4.0, 7.0, 10.0, 14.0)}
    for d, r in rendered.items():
        assert not r.meta["capped"] and r.scale == 1.0
        expected = rendered[4.0].box_in_image[3] * 4.0 / d
        assert abs(r.box_in_image[3] - expected) / expected < 0.05, (d, r.box_in_image[3], expected)
        # the crop is the person at the camera's own resolution: its pixel height is the box's
        assert r.image.shape[0] == r.box_in_image[3]
    # a cap below the person's native height is applied openly: recorded in the metadata
    capped = _render(4.0, crop_height=120)
    assert capped.meta["capped"] and capped.scale < 1 and capped.box_in_image[3] <= 121
    assert capped.meta["box_height_native"] == pytest.approx(rendered[4.0].meta["box_height_native"], rel=0.02)


def test_presets_say_what_a_camera_makes_of_a_person():
    wide, narrow = CAMERA_PRESETS["corridor_1080p"], CAMERA_PRESETS["narrow_1080p"]
    assert wide.person_height_px(14.0) < 128 < narrow.person_height_px(14.0)  # below / above the demo's input
    with pytest.raises(ValueError, match="unknown camera preset"):
        camera_preset("gopro")
    own = camera_preset({"width": 640, "height": 480, "hfov_deg": 70, "mount_height": 3.0, "sensor": {"read_noise": 4}})
    assert own.sensor.read_noise == 4 and own.person_height_px(10) < wide.person_height_px(10)


def test_demo_study_camera_keeps_the_papers_pixels_per_model_input():
    """The paper: a 1080p camera into a 384-px model. The demo: 128-px models, so its study camera
    must give the person a third of the pixels, or 2-14 m all look alike to them."""
    from reidfw.synthetic.presets import synthetic_preset

    demo = camera_preset(synthetic_preset("demo")["study"]["camera"])
    paper = CAMERA_PRESETS["corridor_1080p"]
    for d in (2.0, 4.0, 14.0):
        assert demo.person_height_px(d) / 128 == pytest.approx(paper.person_height_px(d) / 384, rel=0.05)
    assert demo.person_height_px(14.0) < 0.5 * 128  # the far person is upscaled into the demo's input


def test_noise_grows_when_the_scene_is_dark_and_shrinks_with_the_render_scale():
    flat = np.full((64, 32, 3), 120, np.uint8)
    bright = Sensor(read_noise=3.0, shot_noise=0.3, exposure=1.0)
    std = lambda s, scale=1.0: apply_sensor(flat, s, np.random.default_rng(0), scale).astype(float).std()  # noqa: E731
    assert std(bright.exposed(0.4)) > 2 * std(bright)
    assert std(bright, scale=0.25) < 0.4 * std(bright)  # a capped render shows the noise a resized native image would


def test_motion_blur_smears_the_walker_not_the_background():
    still = _render(5.0, sensor=Sensor(shutter_s=1 / 10))
    moving = _render(5.0, sensor=Sensor(shutter_s=1 / 10), velocity=(1.5, 0.0))  # walking across the view
    assert moving.image.shape == still.image.shape
    diff = np.abs(moving.image.astype(int) - still.image.astype(int)).sum(axis=2)
    person = moving.mask
    far = ~cv2.dilate(person.astype(np.uint8), np.ones((11, 11), np.uint8)).astype(bool)  # > 5 px from the person
    assert diff[person].mean() > 10 and diff[far].max() == 0


def test_tracks_keep_one_camera_height_per_track(tmp_path):
    out = generate_tracks(tmp_path / "tracks", identities=4, per_identity=3, cameras=2, camera="corridor_720p",
                          camera_heights=[1.6, 4.5], crop_height=64, workers=1)
    metas = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    per_track: dict[str, set] = {}
    for m in metas:
        per_track.setdefault(m["track_id"], set()).add(round(m["camera"]["position"][1], 6))
    assert all(len(h) == 1 for h in per_track.values())  # fixed within a track
    assert set().union(*per_track.values()) == {1.6, 4.5}  # the heights asked for, cycled over the cameras


def test_a_track_under_a_high_camera_spans_view_angles_and_one_at_eye_level_does_not(tmp_path):
    # What the study's camera-height factor changes is the angle the person is seen from; a camera 3.5 m
    # up shows one track from many such angles as the person walks up to it, an eye-level one from one.
    from reidfw.synthetic.distribution import read_distribution, summary

    spread = {}
    for h in (1.2, 3.5):
        out = generate_tracks(tmp_path / f"h{h}", identities=3, per_identity=8, cameras=1, camera="corridor_720p",
                              camera_heights=[h], crop_height=48, workers=1)
        view = summary(read_distribution(out))["view_angle"]
        spread[h] = view["within_identity_spread_mean"]
        metas = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
        m = metas[0]  # the angle is the lens's height over the person's mid-height, at the ground distance
        expected = math.degrees(math.atan2(h - m["identity"]["height"] / 2, m["distance"]))
        assert read_distribution(out)["view_angle"]["values"][0] == pytest.approx(expected)
    assert spread[1.2] < 4.0 < 8.0 < spread[3.5]


def test_unlabeled_moments_of_one_person_barely_move_and_scenes_share_a_camera(tmp_path):
    out = generate_unlabeled(tmp_path / "unl", count=12, people_per_scene=2, moments=3, camera="corridor_720p",
                             crop_height=64, workers=1)
    metas = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    by_person: dict[int, list] = {}
    for m in metas:
        by_person.setdefault(m["person"], []).append(m)
    assert len(by_person) == 4 and all(len(v) == 3 for v in by_person.values())
    for crops in by_person.values():
        d = [c["distance"] for c in crops]
        assert max(d) - min(d) <= MOMENT_STEP + 1e-6  # the stated bound on distance spread within a person
        assert len({json.dumps(c["camera"], sort_keys=True) for c in crops}) == 1
    scenes = {}
    for m in metas:
        scenes.setdefault(m["scene"], set()).add(json.dumps(m["camera"], sort_keys=True))
    assert len(scenes) == 2 and all(len(c) == 1 for c in scenes.values())  # one camera per scene


def test_unlabeled_moment_step_bounds_how_far_a_walker_moves_between_moments(tmp_path):
    out = generate_unlabeled(tmp_path / "unl", count=12, people_per_scene=3, moments=2, moment_step=2.0,
                             camera="corridor_720p", crop_height=64, workers=1)
    metas = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    by_person: dict[int, list] = {}
    for m in metas:
        by_person.setdefault(m["person"], []).append(m)
    moved = []
    for crops in by_person.values():
        a, b = (np.asarray(c["person_xz"], dtype=float) for c in crops)
        moved.append(float(np.hypot(*(a - b))))
        assert abs(crops[0]["distance"] - crops[1]["distance"]) <= 2.0 + 1e-6
    assert max(moved) <= 2.0 + 1e-3  # metadata positions are rounded
    assert max(moved) > MOMENT_STEP  # the walkers did move further than the default allows


def test_the_command_line_renders_moments_a_stretch_of_walk_apart(tmp_path):
    from reidfw.synthetic.__main__ import main

    assert main(["unlabeled", "--out", str(tmp_path / "unl"), "--count", "6", "--people-per-scene", "3", "--moments", "2",
                 "--moment-step", "1.5", "--camera", "corridor_720p", "--crop-height", "48", "--workers", "1"]) == 0
    metas = [json.loads(line) for line in (tmp_path / "unl" / "metadata.jsonl").read_text().splitlines()]
    assert sorted(m["person"] for m in metas) == [0, 0, 1, 1, 2, 2]
    for p in range(3):
        a, b = (np.asarray(m["person_xz"], dtype=float) for m in metas if m["person"] == p)
        assert float(np.hypot(*(a - b))) <= 1.5 + 1e-3


def test_a_placement_that_never_fits_ends_in_one_line_naming_the_options(tmp_path, capsys):
    from reidfw.synthetic.__main__ import main

    # people 0.1-0.2 m from the lens never fit in the frame: no draw works, and the user gets the
    # options to change (not a worker pool's traceback) and no set that looks complete
    assert main(["unlabeled", "--out", str(tmp_path / "unl"), "--count", "2", "--moments", "2", "--distances", "0.1", "0.2",
                 "--camera", "corridor_720p", "--crop-height", "48", "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("error: unlabeled walker 0 (scene 0): expected a walk of moment_step=")
    assert "found none in 100 draws at 0.1-0.2 m" in err and "Fix: a shorter moment_step (--moment-step)" in err
    assert not (tmp_path / "unl" / "metadata.jsonl").exists()


def test_a_walkers_moments_come_from_one_draw_even_when_one_of_them_fails_to_render(tmp_path):
    # A walk of 2 km never fits, so every walker kept is a standing draw; some moments of a standing
    # draw still fail to render (a posture or margin that touches the frame border). Were those
    # redrawn alone, a walker's moments would stand in two different places.
    out = generate_unlabeled(tmp_path / "unl", count=20, people_per_scene=10, moments=2, moment_step=2000.0,
                             camera="corridor_720p", crop_height=48, workers=1)
    metas = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    assert len(metas) == 20
    by_person: dict[int, list] = {}
    for m in metas:
        by_person.setdefault(m["person"], []).append(m)
    for crops in by_person.values():
        assert len({c["attempt"] for c in crops}) == 1
        assert crops[0]["person_xz"] == crops[1]["person_xz"]
    assert any(c[0]["attempt"] > 0 for c in by_person.values())  # some draws were redrawn


def test_a_long_render_shows_its_progress_and_a_short_one_stays_quiet(tmp_path, capsys):
    from reidfw.synthetic.generators.parallel import PROGRESS_FROM

    generate_unlabeled(tmp_path / "long", count=2 * PROGRESS_FROM, people_per_scene=8, moments=2, camera="corridor_720p",
                       crop_height=32, workers=1)
    err = capsys.readouterr().err
    assert "rendering unlabeled" in err and f"{PROGRESS_FROM}/{PROGRESS_FROM}" in err  # one walker per item
    generate_unlabeled(tmp_path / "short", count=4, people_per_scene=2, moments=2, camera="corridor_720p",
                       crop_height=32, workers=1)
    assert capsys.readouterr().err == ""
