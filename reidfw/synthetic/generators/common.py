"""Pieces shared by the generators: random surveillance cameras, lighting, metadata files."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from reidfw.synthetic.camera import Camera, CameraPreset, camera_preset
from reidfw.synthetic.scene import Light

METADATA_FILE = "metadata.jsonl"   # one JSON object per image: the full render parameters


def random_light(rng: np.random.Generator) -> Light:
    return Light(azimuth_deg=float(rng.uniform(0, 360)), elevation_deg=float(rng.uniform(25, 75)),
                 strength=float(rng.uniform(0.5, 0.9)), ambient=float(rng.uniform(0.25, 0.45)))


def pick_preset(rng: np.random.Generator, camera) -> CameraPreset:
    """One camera preset: a name, a dict (a user's own camera), or a list of names to draw from."""
    if isinstance(camera, (list, tuple)):
        camera = camera[int(rng.integers(len(camera)))]
    return camera_preset(camera)


def mounted_camera(rng: np.random.Generator, preset: CameraPreset, position_xz=(0.0, 0.0), heading_deg: float = 0.0,
                   height: float | None = None, aim_range=(8.0, 13.0)) -> tuple[Camera, tuple[float, float]]:
    """A fixed surveillance camera of ``preset`` at ``position_xz`` looking along ``heading_deg`` (0 = world -Z),
    mounted ``height`` metres high (default: the preset's).

    It is tilted down to look at a ground point ``aim`` metres ahead; returns the camera
    and that ground point (the anchor its scene is built around).
    """
    height = float(preset.mount_height if height is None else height)
    aim = float(rng.uniform(*aim_range))
    tilt = math.degrees(math.atan2(height, aim))
    h = math.radians(heading_deg)
    cam = Camera(position=(position_xz[0], height, position_xz[1]), pan_deg=heading_deg, tilt_deg=tilt,
                 **preset.sensor_fields())
    anchor = (position_xz[0] - aim * math.sin(h), position_xz[1] - aim * math.cos(h))
    return cam, anchor


def ground_point_in_view(camera: Camera, distance: float, lateral_fraction: float) -> tuple[float, float]:
    """A ground point ``distance`` m ahead (horizontally) and at ``lateral_fraction`` of the half field of view."""
    pan = math.radians(camera.pan_deg)
    half = math.radians(camera.hfov_deg) / 2
    ang = pan - lateral_fraction * half          # positive fraction = towards the camera's right
    return (camera.position[0] - distance * math.sin(ang), camera.position[2] - distance * math.cos(ang))


def person_fits(camera: Camera, xz, height: float, border_px: float = 4.0) -> bool:
    """Whether a person standing at ``xz`` is fully inside the frame (a cheap check before rendering)."""
    pts = np.array([[xz[0] + dx, y, xz[1] + dz] for dx in (-0.4, 0.4) for dz in (-0.4, 0.4) for y in (0.0, height + 0.1)])
    u, v, z = camera.project(pts)
    if np.any(z < 0.5):
        return False
    return bool(u.min() > border_px and v.min() > border_px and u.max() < camera.width - border_px
                and v.max() < camera.height - border_px)


def write_metadata(root: Path, records: list[dict]) -> Path:
    path = Path(root) / METADATA_FILE
    with path.open("w") as f:
        for r in records:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    return path
