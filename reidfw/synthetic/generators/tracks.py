"""Single-camera tracking crops: the ArcFace model's training data.

A few fixed cameras (one mounting height each) watch people walk straight paths
across their view: mostly towards or away from the camera, some across or diagonally.
Every few frames the tracker's box is cropped. So one identity (= one track) spans
many distances but only the one or two yaws its walking direction gives, and always the
same camera height — the bias the paper blames for ArcFace's weakness to orientation
and height.

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
from reidfw.synthetic.degrade import sample_degradation
from reidfw.synthetic.generators.common import (ground_point_in_view, mounted_camera, person_fits, random_light,
                                                     write_metadata)
from reidfw.synthetic.generators.parallel import parallel_map
from reidfw.synthetic.identity import identity_rng, sample_identity
from reidfw.synthetic.render import DEFAULT_CROP_HEIGHT, PersonNotVisible, render_person
from reidfw.synthetic.scene import build_scene
from reidfw.synthetic.seeds import item_rng, item_seed

FPS = 25.0
WALK_SPEED = (1.0, 1.6)        # m/s
STRIDE_HZ = 0.9                # full gait cycles per second at normal speed


def _camera_setup(seed: int, index: int):
    rng = item_rng(seed, "tracks-camera", index)
    camera, anchor = mounted_camera(rng, position_xz=(50.0 * index, 0.0), heading_deg=float(rng.uniform(-20, 20)))
    background = str(rng.choice(["street", "street", "wall", "none"]))
    scene = build_scene(background, rng, anchor, camera_bearing_deg=camera.pan_deg, light=random_light(rng))
    degradation = sample_degradation(rng)
    return camera, scene, degradation


def _path(rng: np.random.Generator, camera) -> tuple[np.ndarray, np.ndarray]:
    """Start and end ground points of a straight walk inside the camera's view."""
    kind = rng.choice(["along", "across", "diagonal"], p=[0.6, 0.2, 0.2])
    if kind == "along":
        lat = rng.uniform(-0.5, 0.5)
        a = ground_point_in_view(camera, rng.uniform(5.0, 8.0), lat)
        b = ground_point_in_view(camera, rng.uniform(18.0, 26.0), lat + rng.uniform(-0.15, 0.15))
    elif kind == "across":
        d = rng.uniform(7.0, 20.0)
        a, b = ground_point_in_view(camera, d, -0.8), ground_point_in_view(camera, d + rng.uniform(-2, 2), 0.8)
    else:
        a = ground_point_in_view(camera, rng.uniform(5.0, 9.0), rng.uniform(-0.8, -0.3))
        b = ground_point_in_view(camera, rng.uniform(15.0, 24.0), rng.uniform(0.3, 0.8))
    a, b = np.array(a), np.array(b)
    return (a, b) if rng.random() < 0.5 else (b, a)


def _render_track(job: dict) -> list[dict]:
    seed, t, out = job["seed"], job["track"], Path(job["out"])
    camera, scene, degradation = _camera_setup(seed, job["camera"])
    rng = item_rng(seed, "track", t)
    identity = sample_identity(identity_rng(seed, "tracks", t), f"t{t:05d}")
    start, end = _path(rng, camera)
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
                              margin=float(rng.uniform(0.02, 0.08)), degradation=degradation,
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
                    crop_height: int = DEFAULT_CROP_HEIGHT, workers: int | None = None) -> Path:
    """Write ``identities`` tracks (one identity each) of up to ``per_identity`` crops from ``cameras`` cameras."""
    if identities < 1 or per_identity < 1 or cameras < 1:
        raise ValueError(f"identities, per_identity and cameras must be >= 1 (got {identities}, {per_identity}, {cameras})")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [{"seed": seed, "track": t, "camera": t % cameras, "per_identity": per_identity, "out": str(out),
             "crop_height": crop_height} for t in range(identities)]
    rows = [r for track_rows in parallel_map(_render_track, jobs, workers) for r in track_rows]
    if not rows:
        raise RuntimeError("no track produced a visible crop; check the camera setup in generators/tracks.py")
    write_tracks_table(out, rows)
    write_metadata(out, [r["meta"] for r in rows])
    return out
