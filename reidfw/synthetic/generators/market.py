"""A multi-camera retrieval set in Market-1501's layout and naming.

Six fixed cameras (different heights, tilts, backgrounds, light and image quality)
watch people pass at random positions and walking directions. Identities are drawn
from the "market" identity space, disjoint from the tracks set's people. The first
half of the identities form ``bounding_box_train/``; the second half is split into
``query/`` (one image from one camera, two cameras for people seen by three or more) and
``bounding_box_test/`` (all their other images), so every query person appears in the
gallery under another camera. The gallery also gets distractors (pid 0000: people who
are never queried) and junk (pid -1: boxes that cut a person badly), as in Market-1501.

Layout (``reidfw.data.formats.market``)::

    <out>/bounding_box_train/<pid>_c<cam>s1_<frame>_01.jpg
    <out>/bounding_box_test/...   <out>/query/...   <out>/metadata.jsonl
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from reidfw.data.formats.image_io import write_image
from reidfw.data.formats.market import DISTRACTOR_PID, JUNK_PID, SPLITS, market_name
from reidfw.synthetic.body import Pose
from reidfw.synthetic.generators.common import (ground_point_in_view, mounted_camera, person_fits, pick_preset,
                                                random_light, write_metadata)
from reidfw.synthetic.sensor import exposure_of
from reidfw.synthetic.generators.parallel import parallel_map
from reidfw.synthetic.identity import identity_rng, palette_names, sample_identity
from reidfw.synthetic.render import DEFAULT_CROP_HEIGHT, PersonNotVisible, render_person
from reidfw.synthetic.scene import build_scene
from reidfw.synthetic.seeds import item_rng


CAMERAS = ("corridor_1080p", "street_pole_1080p", "corridor_720p", "shop_4k")


def _camera_setup(seed: int, cam: int, camera):
    """Camera ``cam`` (1-based, as in Market names): its own place, height, tilt, scene and quality."""
    rng = item_rng(seed, "market-camera", cam)
    preset = pick_preset(rng, camera)
    camera, anchor = mounted_camera(rng, preset, position_xz=(60.0 * cam, 0.0), heading_deg=float(rng.uniform(-30, 30)),
                                    height=float(rng.uniform(1.8, 6.5)), aim_range=(7.0, 14.0))
    background = ["street", "wall", "none", "street", "wall", "street"][(cam - 1) % 6]
    light = random_light(rng)
    scene = build_scene(background, rng, anchor, camera.pan_deg, light)
    return camera, scene, preset.sensor.exposed(exposure_of(light))


def _render_job(job: dict) -> dict | None:
    seed, out = job["seed"], Path(job["out"])
    camera, scene, sensor = _camera_setup(seed, job["camera"], job["camera_preset"])
    identity = sample_identity(identity_rng(seed, job["space"], job["person"]), f"{job['space']}-{job['person']}",
                               job["palette"])
    for attempt in range(20):
        rng = item_rng(seed, "market-image", job["key"], attempt)
        xz = ground_point_in_view(camera, float(rng.uniform(5.0, 18.0)), float(rng.uniform(-0.75, 0.75)))
        if not person_fits(camera, xz, identity.height):
            continue
        walking = rng.random() < 0.8
        pose = Pose(walk_phase=float(rng.uniform(0, 2 * math.pi)), walk_amount=1.0 if walking else 0.0,
                    wobble_seed=int(rng.integers(0, 2**31 - 1)))
        try:
            r = render_person(identity, pose, xz, float(rng.uniform(0, 360)), camera, scene,
                              crop_height=job["crop_height"], margin=float(rng.uniform(0.02, 0.08)),
                              sensor=sensor, noise_seed=int(rng.integers(0, 2**31 - 1)))
        except PersonNotVisible:
            continue
        image = r.image
        if job["pid"] == JUNK_PID:
            # A bad detection: a box that keeps only part of the person.
            h, w = image.shape[:2]
            part = rng.choice(["top", "bottom", "side"])
            if part == "top":
                image = image[: max(4, int(h * rng.uniform(0.25, 0.45)))]
            elif part == "bottom":
                image = image[int(h * rng.uniform(0.55, 0.75)):]
            else:
                image = image[:, int(w * rng.uniform(0.5, 0.7)):]
        rel = f"{SPLITS[job['split']]}/{market_name(job['pid'], job['camera'], job['frame'], 1)}"
        write_image(out / rel, np.ascontiguousarray(image), jpeg_quality=92)
        return {**r.meta, "path": rel, "pid": job["pid"], "market_camera": job["camera"], "split": job["split"]}
    return None


def plan_market(seed: int, identities: int, per_identity: int, cameras: int, distractors: int, junk: int) -> list[dict]:
    """Which person is seen by which camera in which split (decided before any rendering)."""
    rng = item_rng(seed, "market-plan")
    jobs: list[dict] = []
    n_train = identities // 2
    for pid in range(1, identities + 1):
        k = int(rng.integers(2, min(cameras, 5) + 1))
        cams = sorted(int(c) + 1 for c in rng.choice(cameras, size=k, replace=False))
        rng.shuffle(cams)
        per_cam = np.maximum(1, rng.multinomial(max(per_identity - k, 0), [1 / k] * k) + 1)
        for ci, cam in enumerate(cams):
            for j in range(int(per_cam[ci])):
                if pid <= n_train:
                    split = "train"
                else:   # query: the first image of the first camera (and of the second when seen by >= 3 cameras)
                    split = "query" if j == 0 and (ci == 0 or (ci == 1 and k >= 3)) else "gallery"
                jobs.append({"space": "market", "person": pid, "pid": pid, "camera": cam, "split": split})
    for d in range(distractors):
        jobs.append({"space": "market-distractor", "person": d, "pid": DISTRACTOR_PID,
                     "camera": int(rng.integers(1, cameras + 1)), "split": "gallery"})
    for j in range(junk):
        jobs.append({"space": "market-junk", "person": j, "pid": JUNK_PID,
                     "camera": int(rng.integers(1, cameras + 1)), "split": "gallery"})
    for i, job in enumerate(jobs):
        job["key"] = i
        job["frame"] = 100 + 25 * i + int(rng.integers(0, 25))   # unique per image, increasing like video frames
    return jobs


def generate_market(out: str | Path, seed: int = 0, identities: int = 100, per_identity: int = 7, cameras: int = 6,
                    distractors: int | None = None, junk: int | None = None, camera=CAMERAS,
                    palette: str = "full", crop_height: int = DEFAULT_CROP_HEIGHT, workers: int | None = None) -> Path:
    """Write a Market-1501-layout set: half the identities train, half query + gallery."""
    palette_names(palette)  # here, not in a worker: a wrong name ends in one line
    if identities < 2 or cameras < 2 or cameras > 9:
        raise ValueError(f"need identities >= 2 and 2 <= cameras <= 9 (Market names use one camera digit); "
                         f"got identities={identities}, cameras={cameras}")
    distractors = max(1, identities // 2) if distractors is None else distractors
    junk = max(1, identities // 4) if junk is None else junk
    out = Path(out)
    for folder in SPLITS.values():
        (out / folder).mkdir(parents=True, exist_ok=True)
    jobs = plan_market(seed, identities, per_identity, cameras, distractors, junk)
    for job in jobs:
        job.update(seed=seed, out=str(out), crop_height=crop_height, palette=palette,
                   camera_preset=list(camera) if isinstance(camera, (list, tuple)) else camera)
    records = [r for r in parallel_map(_render_job, jobs, workers, desc="rendering market", unit="crop") if r is not None]
    write_metadata(out, records)
    return out
