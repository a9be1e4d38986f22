"""Single-camera tracking crops: the ArcFace model's training data.

A few fixed cameras (one mounting height and tilt each) watch people walk straight paths
across their view: mostly towards or away from the camera, some across or diagonally.
Every few frames the tracker's box is cropped. So one identity (= one track) spans
many distances but only the one or two yaws its walking direction gives, and always the
same camera height — the bias the paper blames for ArcFace's weakness to orientation
and height. Each bias is a setting: ``camera_heights`` (the mounting heights the cameras
cycle through; default a random 2.2-5 m each), ``walks`` (the share of along / across /
diagonal paths: more across and diagonal = more orientations) and ``distances`` (the
range of the paths, metres).

Layout (``reidfw.data.formats.tracks``)::

    <out>/tracks.csv                  track_id,frame,camera,x,y,w,h,path
    <out>/<track_id>/<frame>.jpg
    <out>/metadata.jsonl              full render parameters per crop
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from reidfw.data.formats.image_io import write_image
from reidfw.data.formats.tracks import write_tracks_table
from reidfw.synthetic.body import Pose
from reidfw.synthetic.generators.common import (ground_point_in_view, mounted_camera, person_fits, pick_preset,
                                                random_light, write_metadata)
from reidfw.synthetic.sensor import exposure_of
from reidfw.synthetic.generators.parallel import parallel_map
from reidfw.synthetic.identity import identity_rng, palette_names, sample_identity
from reidfw.synthetic.render import DEFAULT_CROP_HEIGHT, PersonNotVisible, render_person
from reidfw.synthetic.scene import build_scene
from reidfw.synthetic.seeds import item_rng, item_seed

FPS = 25.0
WALK_SPEED = (1.0, 1.6)        # m/s
STRIDE_HZ = 0.9                # full gait cycles per second at normal speed


WALKS = {"along": 0.6, "across": 0.2, "diagonal": 0.2}
DISTANCES = (5.0, 26.0)


def _camera_setup(seed: int, index: int, camera, heights):
    rng = item_rng(seed, "tracks-camera", index)
    preset = pick_preset(rng, camera)
    height = float(heights[index % len(heights)]) if heights else float(rng.uniform(2.2, 5.0))
    cam, anchor = mounted_camera(rng, preset, position_xz=(50.0 * index, 0.0), heading_deg=float(rng.uniform(-20, 20)),
                                 height=height)
    background = str(rng.choice(["street", "street", "wall", "none"]))
    light = random_light(rng)
    scene = build_scene(background, rng, anchor, camera_bearing_deg=cam.pan_deg, light=light)
    return cam, scene, preset.sensor.exposed(exposure_of(light))


def _path(rng: np.random.Generator, camera, walks: dict, distances) -> tuple[np.ndarray, np.ndarray]:
    """Start and end ground points of a straight walk inside the camera's view."""
    names = list(walks)
    probs = np.asarray([walks[n] for n in names], float)
    kind = names[int(rng.choice(len(names), p=probs / probs.sum()))]
    near, far = distances
    span = far - near
    if kind == "along":
        lat = rng.uniform(-0.5, 0.5)
        a = ground_point_in_view(camera, rng.uniform(near, near + 0.15 * span), lat)
        b = ground_point_in_view(camera, rng.uniform(near + 0.6 * span, far), lat + rng.uniform(-0.15, 0.15))
    elif kind == "across":
        d = rng.uniform(near + 0.1 * span, near + 0.7 * span)
        a, b = ground_point_in_view(camera, d, -0.8), ground_point_in_view(camera, d + rng.uniform(-2, 2), 0.8)
    else:
        a = ground_point_in_view(camera, rng.uniform(near, near + 0.2 * span), rng.uniform(-0.8, -0.3))
        b = ground_point_in_view(camera, rng.uniform(near + 0.5 * span, near + 0.9 * span), rng.uniform(0.3, 0.8))
    a, b = np.array(a), np.array(b)
    return (a, b) if rng.random() < 0.5 else (b, a)


def _render_track(job: dict) -> list[dict]:
    seed, t, out = job["seed"], job["track"], Path(job["out"])
    camera, scene, sensor = _camera_setup(seed, job["camera"], job["camera_preset"], job["camera_heights"])
    rng = item_rng(seed, "track", t)
    identity = sample_identity(identity_rng(seed, "tracks", t), f"t{t:05d}", job["palette"])
    start, end = _path(rng, camera, job["walks"], job["distances"])
    speed = rng.uniform(*WALK_SPEED)
    duration = float(np.linalg.norm(end - start) / speed)
    heading = (end - start) / np.linalg.norm(end - start)
    world_yaw = math.degrees(math.atan2(heading[0], heading[1]))
    phase0 = rng.uniform(0, 2 * math.pi)
    start_frame = int(rng.integers(0, 100000))
    # Candidate frames along the walk where the whole person is in view; keep n evenly spaced ones.
    frames = np.arange(0, int(duration * FPS) + 1, 2)
    ok = [f for f in frames if person_fits(camera, tuple(start + heading * speed * f / FPS), identity.height)]
    n = job["per_identity"]
    if len(ok) == 0:
        return []
    chosen = [ok[int(round(i))] for i in np.linspace(0, len(ok) - 1, min(n, len(ok)))]
    rows = []
    track_id = identity.identity_id
    for k, f in enumerate(dict.fromkeys(chosen)):
        xz = tuple(float(v) for v in start + heading * speed * f / FPS)
        pose = Pose(walk_phase=float(phase0 + 2 * math.pi * STRIDE_HZ * speed / 1.3 * f / FPS), walk_amount=1.0,
                    wobble_seed=item_seed(seed, "track-wobble", t, k), wobble_scale=0.5)
        try:
            r = render_person(identity, pose, xz, world_yaw, camera, scene, crop_height=job["crop_height"],
                              margin=float(rng.uniform(0.02, 0.08)), sensor=sensor, velocity=tuple(heading * speed),
                              noise_seed=item_seed(seed, "track-noise", t, k))
        except PersonNotVisible:
            continue
        frame = start_frame + int(f)
        rel = f"{track_id}/{frame:07d}.jpg"
        write_image(out / rel, r.image, jpeg_quality=90)
        x, y, w, h = r.crop_box
        rows.append({"track_id": track_id, "frame": frame, "camera": f"cam{job['camera']}",
                     "x": round(x, 2), "y": round(y, 2), "w": round(w, 2), "h": round(h, 2), "path": rel,
                     "meta": {**r.meta, "path": rel, "track_id": track_id, "frame": frame}})
    return rows


def generate_tracks(out: str | Path, seed: int = 0, identities: int = 64, per_identity: int = 16, cameras: int = 4,
                    camera="corridor_1080p", camera_heights: list[float] | None = None, walks: dict | None = None,
                    distances=DISTANCES, palette: str = "full", crop_height: int = DEFAULT_CROP_HEIGHT,
                    workers: int | None = None) -> Path:
    """Write ``identities`` tracks (one identity each) of up to ``per_identity`` crops from ``cameras`` cameras
    of the ``camera`` preset (a name, a list to draw from, or a dict)."""
    if identities < 1 or per_identity < 1 or cameras < 1:
        raise ValueError(f"identities, per_identity and cameras must be >= 1 (got {identities}, {per_identity}, {cameras})")
    palette_names(palette)  # here, not in a worker: a wrong name ends in one line
    walks = dict(walks or WALKS)
    if set(walks) - set(WALKS) or not any(v > 0 for v in walks.values()):
        raise ValueError(f"walks must weigh some of {sorted(WALKS)}, got {walks}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [{"seed": seed, "track": t, "camera": t % cameras, "per_identity": per_identity, "out": str(out),
             "crop_height": crop_height, "camera_preset": camera, "camera_heights": list(camera_heights or []),
             "walks": walks, "distances": tuple(distances), "palette": palette} for t in range(identities)]
    rows = [r for track_rows in parallel_map(_render_track, jobs, workers, desc="rendering tracks", unit="track") for r in track_rows]
    if not rows:
        raise RuntimeError("no track produced a visible crop; check the camera setup in generators/tracks.py")
    write_tracks_table(out, rows)
    write_metadata(out, [r["meta"] for r in rows])
    return out
