"""LUPerson-style unlabeled crops: every crop is its own person, cut from street "videos".

LUPerson's four million crops come from tens of thousands of street videos: each video is
one camera (one mounting height, tilt, background, light and image quality) that sees many
different people, each of them at the distance and angle they happened to pass at. So
here: ``count`` crops from ``count / people_per_scene`` scenes; each scene is a fixed
camera (1.5-8 m high, tilted at the street, its own background, light and degradation) and
each crop a different person standing or walking somewhere in its view (4-18 m away, any
walking direction). Across scenes the camera heights and angles vary widely; within one
person there is little distance variation -- one crop each, or with ``moments`` > 1 that many
crops of one short stretch of their walk (at most ``moment_step`` metres further along it,
``MOMENT_STEP`` by default: half a second; LUPerson-NL's tracklets span seconds) -- the
opposite bias of the tracks set, as in the paper's MoCo model.

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
from reidfw.errors import ReidfwError
from reidfw.synthetic.body import Pose
from reidfw.synthetic.generators.common import (ground_point_in_view, mounted_camera, person_fits, pick_preset,
                                                random_light, write_metadata)
from reidfw.synthetic.generators.parallel import parallel_map
from reidfw.synthetic.identity import identity_rng, palette_names, sample_identity
from reidfw.synthetic.render import DEFAULT_CROP_HEIGHT, PersonNotVisible, render_person
from reidfw.synthetic.scene import build_scene
from reidfw.synthetic.seeds import item_rng
from reidfw.synthetic.sensor import exposure_of

BACKGROUND_MIX = (("street", 0.5), ("wall", 0.3), ("none", 0.2))
CAMERAS = ("corridor_1080p", "street_pole_1080p", "shop_4k", "corridor_720p")
CAMERA_HEIGHTS = (1.5, 8.0)   # metres: hand-held to first-floor street cameras
DISTANCES = (4.0, 18.0)       # metres from the camera, horizontally
PLACEMENT_DRAWS = 100         # draws of where a person walks before giving up (the first that fits is kept, so
                              # raising it changes no crop that rendered before)
MOMENT_STEP = 0.4             # metres a walker moves from the first moment to the last (half a second): the
                              # bound on distance spread within a person, unless moment_step says otherwise


def _scene_setup(seed: int, scene: int, camera, heights):
    rng = item_rng(seed, "unlabeled-scene", scene)
    preset = pick_preset(rng, camera)
    cam, anchor = mounted_camera(rng, preset, position_xz=(80.0 * scene, 0.0), heading_deg=float(rng.uniform(-40, 40)),
                                 height=float(rng.uniform(*heights)), aim_range=(7.0, 14.0))
    names, probs = zip(*BACKGROUND_MIX)
    light = random_light(rng)
    scene_obj = build_scene(str(rng.choice(names, p=probs)), rng, anchor, cam.pan_deg, light)
    return cam, scene_obj, preset.sensor.exposed(exposure_of(light))


def _render_walker(job: dict) -> list[dict]:
    """All moments of one walker, from one draw of where and how they walk.

    A draw is kept only when *every* moment renders fully in view: were a moment that fails
    redrawn on its own, the walker's moments would come from different draws (another place,
    distance and direction) and no longer be one stretch of one walk.
    """
    seed, person, out = job["seed"], job["person"], Path(job["out"])
    first, n = person * job["moments"], job["crops"]  # crop indices first .. first + n - 1
    scene_id = person // job["people_per_scene"]
    camera, scene, sensor = _scene_setup(seed, scene_id, job["camera"], job["camera_heights"])
    identity = sample_identity(identity_rng(seed, "unlabeled", person), f"u{person:07d}", job["palette"])
    for attempt in range(PLACEMENT_DRAWS):   # a draw that puts the walk out of frame is redrawn (still deterministic)
        rng = item_rng(seed, "unlabeled", person, attempt)  # where and how this person walks: shared by their moments
        xz = ground_point_in_view(camera, float(rng.uniform(*job["distances"])), float(rng.uniform(-0.75, 0.75)))
        walking = rng.random() < 0.7
        phase, amount = float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0.7, 1.1)) if walking else 0.0
        yaw = float(rng.uniform(0, 360))
        speed = float(rng.uniform(1.0, 1.6)) if walking else 0.0
        velocity = (speed * math.sin(math.radians(yaw)), speed * math.cos(math.radians(yaw)))
        # a later moment: the same walk, a fraction of moment_step further on
        steps = [job["moment_step"] * m / max(1, job["moments"] - 1) if walking else 0.0 for m in range(job["moments"])]
        walk = [(xz[0] + s * math.sin(math.radians(yaw)), xz[1] + s * math.cos(math.radians(yaw))) for s in steps]
        if not all(person_fits(camera, p, identity.height) for p in walk):
            continue
        rendered = []
        for moment in range(n):
            i = first + moment
            mrng = item_rng(seed, "unlabeled-moment", i, attempt)
            pose = Pose(walk_phase=phase + 2.5 * steps[moment], walk_amount=amount,
                        wobble_seed=int(mrng.integers(0, 2**31 - 1)))
            try:
                r = render_person(identity, pose, walk[moment], yaw, camera, scene,
                                  crop_height=job["crop_height"], margin=float(mrng.uniform(0.02, 0.1)),
                                  sensor=sensor, velocity=velocity, noise_seed=int(mrng.integers(0, 2**31 - 1)))
            except PersonNotVisible:
                break
            if r.truncated:
                break
            rendered.append((i, moment, r))
        if len(rendered) < n:
            continue
        records = []
        for i, moment, r in rendered:
            name = f"{i:07d}.jpg"
            write_image(out / name, r.image, jpeg_quality=90)
            records.append({**r.meta, "path": name, "scene": scene_id, "person": person, "moment": moment,
                            "attempt": attempt})
        return records
    # a ReidfwError with its message alone: it crosses the worker pool by pickling, which re-calls the class with args
    raise ReidfwError(f"unlabeled walker {person} (scene {scene_id}): expected a walk of moment_step={job['moment_step']} m "
                      f"that stays in view, but found none in {PLACEMENT_DRAWS} draws at {job['distances'][0]}-"
                      f"{job['distances'][1]} m. Fix: a shorter moment_step (--moment-step), a wider distance range "
                      "or a wider lens (--camera)")


def generate_unlabeled(out: str | Path, seed: int = 0, count: int = 1000, people_per_scene: int = 50, moments: int = 1,
                       moment_step: float = MOMENT_STEP, camera=CAMERAS, camera_heights=CAMERA_HEIGHTS, distances=DISTANCES,
                       palette: str = "full", crop_height: int = DEFAULT_CROP_HEIGHT, workers: int | None = None) -> Path:
    """Write ``count`` crops of ``count / moments`` people, ``people_per_scene`` of them per street camera
    (a preset drawn from ``camera``, mounted within ``camera_heights``; people ``distances`` metres away;
    a walker's moments spread over ``moment_step`` metres of their walk)."""
    if count < 1 or people_per_scene < 1 or moments < 1:
        raise ValueError(f"count, people_per_scene and moments must be >= 1, got {count}, {people_per_scene}, {moments}")
    palette_names(palette)  # here, not in a worker: a wrong name ends in one line
    if moment_step < 0:
        raise ValueError(f"moment_step is metres along a walk and must be >= 0, got {moment_step}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    walkers = -(-count // moments)  # the last walker has fewer moments when count is not a multiple
    jobs = [{"seed": seed, "person": p, "crops": min(moments, count - p * moments), "out": str(out),
             "crop_height": crop_height, "people_per_scene": people_per_scene, "moments": moments,
             "moment_step": float(moment_step), "palette": palette, "camera": list(camera) if isinstance(camera, (list, tuple)) else camera,
             "camera_heights": tuple(camera_heights), "distances": tuple(distances)} for p in range(walkers)]
    write_metadata(out, [r for records in parallel_map(_render_walker, jobs, workers, desc="rendering unlabeled", unit="walker") for r in records])
    return out
