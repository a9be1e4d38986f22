"""LUPerson-style unlabeled crops: every crop is its own person.

Each crop comes from a different random camera (mounting height 1.5-8 m, tilted to
look at the person, the person anywhere across the frame), a random distance, yaw,
background, light and degradation. There is no distance variation *within* an
identity (each identity has one crop) but great variety of camera heights — the
opposite bias of the tracks set, as in the paper's MoCo model.

Layout: a flat folder ``<out>/<index>.jpg`` plus ``metadata.jsonl``.
"""
from __future__ import annotations

import math
from pathlib import Path

from reidfw.data.formats.image_io import write_image
from reidfw.synthetic.body import Pose
from reidfw.synthetic.camera import camera_facing, tilt_to_center
from reidfw.synthetic.degrade import sample_degradation
from reidfw.synthetic.generators.common import random_light, write_metadata
from reidfw.synthetic.generators.parallel import parallel_map
from reidfw.synthetic.identity import identity_rng, sample_identity
from reidfw.synthetic.render import DEFAULT_CROP_HEIGHT, PersonNotVisible, render_person
from reidfw.synthetic.scene import build_scene
from reidfw.synthetic.seeds import item_rng

BACKGROUND_MIX = (("street", 0.45), ("wall", 0.25), ("none", 0.2), ("panel", 0.05), ("monitor", 0.05))


def _render_one(job: dict) -> dict:
    seed, i, out = job["seed"], job["index"], Path(job["out"])
    identity = sample_identity(identity_rng(seed, "unlabeled", i), f"u{i:07d}")
    for attempt in range(10):   # a rare draw puts the person out of frame: redraw (still deterministic)
        rng = item_rng(seed, "unlabeled", i, attempt)
        distance = float(rng.uniform(3.5, 20.0))
        height = float(rng.choice([rng.uniform(1.5, 3.0), rng.uniform(3.0, 8.0)], p=[0.4, 0.6]))
        tilt = tilt_to_center(height, identity.height / 2, distance) + float(rng.normal(0, 3))
        bearing = float(rng.uniform(0, 360))
        # Pan the camera so the person is not always in the image centre.
        camera = camera_facing((0.0, 0.0), distance, height, tilt, bearing)
        camera = type(camera)(position=camera.position, pan_deg=bearing + float(rng.uniform(-20, 20)), tilt_deg=tilt)
        names, probs = zip(*BACKGROUND_MIX)
        scene = build_scene(str(rng.choice(names, p=probs)), rng, (0.0, 0.0), bearing, random_light(rng))
        walking = rng.random() < 0.7
        pose = Pose(walk_phase=float(rng.uniform(0, 2 * math.pi)), walk_amount=float(rng.uniform(0.7, 1.1)) if walking else 0.0,
                    wobble_seed=int(rng.integers(0, 2**31 - 1)))
        try:
            r = render_person(identity, pose, (0.0, 0.0), float(rng.uniform(0, 360)), camera, scene,
                              crop_height=job["crop_height"], margin=float(rng.uniform(0.02, 0.1)),
                              degradation=sample_degradation(rng), noise_seed=int(rng.integers(0, 2**31 - 1)))
        except PersonNotVisible:
            continue
        if r.truncated:
            continue
        name = f"{i:07d}.jpg"
        write_image(out / name, r.image, jpeg_quality=90)
        return {**r.meta, "path": name, "attempt": attempt}
    raise RuntimeError(f"unlabeled crop {i}: no visible placement in 10 draws; widen the camera ranges in {__file__}")


def generate_unlabeled(out: str | Path, seed: int = 0, count: int = 1000, crop_height: int = DEFAULT_CROP_HEIGHT,
                       workers: int | None = None) -> Path:
    """Write ``count`` crops, each a different person seen by a different random camera."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [{"seed": seed, "index": i, "out": str(out), "crop_height": crop_height} for i in range(count)]
    write_metadata(out, parallel_map(_render_one, jobs, workers))
    return out
