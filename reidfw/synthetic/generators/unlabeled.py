"""LUPerson-style unlabeled crops: every crop is its own person, cut from street "videos".

LUPerson's four million crops come from tens of thousands of street videos: each video is
one camera (one mounting height, tilt, background, light and image quality) that sees many
different people, each of them at the distance and angle they happened to pass at. So
here: ``count`` crops from ``count / people_per_scene`` scenes; each scene is a fixed
camera (1.5-8 m high, tilted at the street, its own background, light and degradation) and
each crop a different person standing or walking somewhere in its view (4-18 m away, any
walking direction). Across scenes the camera heights and angles vary widely; within one
person there is no distance variation (one crop each) -- the opposite bias of the tracks
set, as in the paper's MoCo model.

Why scenes and not one random camera per crop: with a camera of its own, a crop's
background, light and noise identify it among the negatives of the contrastive task as well
as the person does, and MoCo learns the backgrounds. When crops share their video, the
negatives from the same video share all of that, and only the person tells them apart.
``people_per_scene=1`` gives one camera per crop.

Layout: a flat folder ``<out>/<index>.jpg`` plus ``metadata.jsonl`` (with the scene of each crop).
"""
from __future__ import annotations

import math
from pathlib import Path

from reidfw.data.formats.image_io import write_image
from reidfw.synthetic.body import Pose
from reidfw.synthetic.degrade import sample_degradation
from reidfw.synthetic.generators.common import ground_point_in_view, mounted_camera, person_fits, random_light, write_metadata
from reidfw.synthetic.generators.parallel import parallel_map
from reidfw.synthetic.identity import identity_rng, sample_identity
from reidfw.synthetic.render import DEFAULT_CROP_HEIGHT, PersonNotVisible, render_person
from reidfw.synthetic.scene import build_scene
from reidfw.synthetic.seeds import item_rng

BACKGROUND_MIX = (("street", 0.5), ("wall", 0.3), ("none", 0.2))
CAMERA_HEIGHTS = (1.5, 8.0)   # metres: hand-held to first-floor street cameras
DISTANCES = (4.0, 18.0)       # metres from the camera, horizontally


def _scene_setup(seed: int, scene: int):
    rng = item_rng(seed, "unlabeled-scene", scene)
    camera, anchor = mounted_camera(rng, position_xz=(80.0 * scene, 0.0), heading_deg=float(rng.uniform(-40, 40)),
                                    height_range=CAMERA_HEIGHTS, aim_range=(7.0, 14.0))
    names, probs = zip(*BACKGROUND_MIX)
    scene_obj = build_scene(str(rng.choice(names, p=probs)), rng, anchor, camera.pan_deg, random_light(rng))
    return camera, scene_obj, sample_degradation(rng)


def _render_one(job: dict) -> dict:
    seed, i, out = job["seed"], job["index"], Path(job["out"])
    scene_id = i // job["people_per_scene"]
    camera, scene, degradation = _scene_setup(seed, scene_id)
    identity = sample_identity(identity_rng(seed, "unlabeled", i), f"u{i:07d}")
    for attempt in range(20):   # a rare draw puts the person out of frame: redraw (still deterministic)
        rng = item_rng(seed, "unlabeled", i, attempt)
        xz = ground_point_in_view(camera, float(rng.uniform(*DISTANCES)), float(rng.uniform(-0.75, 0.75)))
        if not person_fits(camera, xz, identity.height):
            continue
        walking = rng.random() < 0.7
        pose = Pose(walk_phase=float(rng.uniform(0, 2 * math.pi)), walk_amount=float(rng.uniform(0.7, 1.1)) if walking else 0.0,
                    wobble_seed=int(rng.integers(0, 2**31 - 1)))
        try:
            r = render_person(identity, pose, xz, float(rng.uniform(0, 360)), camera, scene,
                              crop_height=job["crop_height"], margin=float(rng.uniform(0.02, 0.1)),
                              degradation=degradation, noise_seed=int(rng.integers(0, 2**31 - 1)))
        except PersonNotVisible:
            continue
        if r.truncated:
            continue
        name = f"{i:07d}.jpg"
        write_image(out / name, r.image, jpeg_quality=90)
        return {**r.meta, "path": name, "scene": scene_id, "attempt": attempt}
    raise RuntimeError(f"unlabeled crop {i}: no visible placement in 20 draws; widen the camera ranges in {__file__}")


def generate_unlabeled(out: str | Path, seed: int = 0, count: int = 1000, people_per_scene: int = 50,
                       crop_height: int = DEFAULT_CROP_HEIGHT, workers: int | None = None) -> Path:
    """Write ``count`` crops, each a different person, ``people_per_scene`` of them per street camera."""
    if count < 1 or people_per_scene < 1:
        raise ValueError(f"count and people_per_scene must be >= 1, got {count}, {people_per_scene}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [{"seed": seed, "index": i, "out": str(out), "crop_height": crop_height, "people_per_scene": people_per_scene}
            for i in range(count)]
    write_metadata(out, parallel_map(_render_one, jobs, workers))
    return out
