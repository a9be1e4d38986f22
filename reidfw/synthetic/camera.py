"""A pinhole camera with a real sensor size and field of view.

The person is rendered at the pixel size this camera gives them, so a person 14 m
away covers few pixels and loses detail the way real footage does. World frame: +Y up,
ground at y = 0. Camera axes follow OpenCV: x right, y down, z forward (optical axis).

``pan_deg`` is the heading of the optical axis: 0 looks along world -Z, positive pans
towards -X, i.e. forward = (-sin pan, 0, -cos pan). ``tilt_deg`` > 0 looks down.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import cached_property

import numpy as np

from reidfw.synthetic.sensor import Sensor


@dataclass(frozen=True)
class Camera:
    position: tuple[float, float, float]      # metres, world frame; position[1] is the lens height
    pan_deg: float = 0.0
    tilt_deg: float = 0.0
    width: int = 1920
    height: int = 1080
    hfov_deg: float = 60.0

    @property
    def focal_px(self) -> float:
        """Focal length in pixels (square pixels: the same for x and y)."""
        return (self.width / 2) / math.tan(math.radians(self.hfov_deg) / 2)

    @property
    def center_px(self) -> tuple[float, float]:
        return self.width / 2, self.height / 2

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(right, down, forward) unit vectors in the world frame."""
        return self._axes

    @cached_property
    def _axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pan, tilt = math.radians(self.pan_deg), math.radians(self.tilt_deg)
        horizontal = np.array([-math.sin(pan), 0.0, -math.cos(pan)])
        forward = horizontal * math.cos(tilt) + np.array([0.0, -math.sin(tilt), 0.0])
        right = np.array([math.cos(pan), 0.0, -math.sin(pan)])
        down = np.cross(forward, right)
        return right, down, forward

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World points (N, 3) -> pixel u, v and depth along the optical axis."""
        right, down, forward = self.axes()
        rel = np.atleast_2d(points) - np.asarray(self.position)
        z = rel @ forward
        f = self.focal_px
        cx, cy = self.center_px
        return cx + f * (rel @ right) / z, cy + f * (rel @ down) / z, z

    def ray_directions(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """World-frame directions (not normalised; unit length along the optical axis) through pixels (u, v)."""
        right, down, forward = self.axes()
        f = self.focal_px
        cx, cy = self.center_px
        return (forward[None, :] + ((u.ravel() - cx) / f)[:, None] * right[None, :]
                + ((v.ravel() - cy) / f)[:, None] * down[None, :])

    def to_meta(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        d["position"] = [round(float(v), 4) for v in self.position]
        return d


def camera_facing(person_xz: tuple[float, float], distance: float, camera_height: float, tilt_deg: float = 0.0,
                  bearing_deg: float = 0.0, **sensor) -> Camera:
    """A camera ``distance`` metres (horizontally) from a person, looking straight at them.

    ``bearing_deg`` is where the camera stands around the person: 0 puts it on the
    person's world +Z side (a person with world yaw 0 then faces the camera).
    """
    b = math.radians(bearing_deg)
    x = person_xz[0] + distance * math.sin(b)
    z = person_xz[1] + distance * math.cos(b)
    return Camera(position=(x, camera_height, z), pan_deg=bearing_deg, tilt_deg=tilt_deg, **sensor)


def tilt_to_center(camera_height: float, target_height: float, horizontal_distance: float) -> float:
    """Tilt (degrees, down positive) that puts a point at ``target_height`` on the optical axis."""
    return math.degrees(math.atan2(camera_height - target_height, horizontal_distance))


def yaw_relative_to_camera(person_xz, person_yaw_deg: float, camera: Camera) -> float:
    """The person's yaw as the camera sees it: 0 = facing the camera, 180 = back to it, in [0, 360)."""
    dx = camera.position[0] - person_xz[0]
    dz = camera.position[2] - person_xz[1]
    bearing = math.degrees(math.atan2(dx, dz))
    return (person_yaw_deg - bearing) % 360.0


@dataclass(frozen=True)
class PixelGrid:
    """Sample points over a rectangle of the camera frame: ``samples_per_px`` per frame pixel.

    Grid cell (i, j) is centred on frame pixel coordinates
    (x0 + (j + 0.5) / k, y0 + (i + 0.5) / k) with k = ``samples_per_px``.
    """

    camera: Camera
    x0: int
    y0: int
    samples_per_px: float
    rows: int
    cols: int

    def directions(self) -> np.ndarray:
        """World ray directions, (rows * cols, 3) in row-major order."""
        k = self.samples_per_px
        us = self.x0 + (np.arange(self.cols) + 0.5) / k
        vs = self.y0 + (np.arange(self.rows) + 0.5) / k
        U, V = np.meshgrid(us, vs)
        return self.camera.ray_directions(U, V)

    def rect_of(self, world_points: np.ndarray, pad: int = 1) -> tuple[int, int, int, int] | None:
        """Grid rows/cols (i0, i1, j0, j1) covering the projection of the points' convex hull.

        Returns the whole grid when a point lies behind the camera (projection undefined)
        and None when the projection misses the grid.
        """
        u, v, z = self.camera.project(world_points)
        if np.any(z < 0.01):
            return 0, self.rows, 0, self.cols
        k = self.samples_per_px
        j0, j1 = int(math.floor((u.min() - self.x0) * k)) - pad, int(math.ceil((u.max() - self.x0) * k)) + pad
        i0, i1 = int(math.floor((v.min() - self.y0) * k)) - pad, int(math.ceil((v.max() - self.y0) * k)) + pad
        i0, i1, j0, j1 = max(0, i0), min(self.rows, i1), max(0, j0), min(self.cols, j1)
        if i1 <= i0 or j1 <= j0:
            return None
        return i0, i1, j0, j1

    def flat_indices(self, rect: tuple[int, int, int, int]) -> np.ndarray:
        i0, i1, j0, j1 = rect
        return (np.arange(i0, i1)[:, None] * self.cols + np.arange(j0, j1)[None, :]).ravel()


@dataclass(frozen=True)
class CameraPreset:
    """A kind of camera a user may have: resolution, lens, where it is usually mounted, its image chain."""

    name: str
    width: int
    height: int
    hfov_deg: float
    mount_height: float  # metres
    sensor: Sensor = field(default_factory=Sensor)
    description: str = ""

    def sensor_fields(self) -> dict:
        """Keyword arguments for :class:`Camera` (the resolution and lens)."""
        return {"width": self.width, "height": self.height, "hfov_deg": self.hfov_deg}

    def person_height_px(self, distance: float, person_height: float = 1.7) -> float:
        """How tall a standing person appears at ``distance`` metres (on the optical axis)."""
        focal = (self.width / 2) / math.tan(math.radians(self.hfov_deg) / 2)
        return focal * person_height / distance

    def to_meta(self) -> dict:
        return {**{k: v for k, v in asdict(self).items() if k != "sensor"}, "sensor": self.sensor.to_meta()}


def _portrait_hfov(long_side_fov_deg: float, width: int, height: int) -> float:
    return math.degrees(2 * math.atan(math.tan(math.radians(long_side_fov_deg) / 2) * width / height))


# Common set-ups (``python -m reidfw.synthetic study --camera corridor_1080p`` renders the study
# through one of them: "what does my camera do to matching?"). Sensors: typical values of
# H.264 surveillance cameras (1-3 grey levels of read noise, quality 60-85 after transcoding).
_PRESET_TABLE = [
    # name, width, height, hfov, mount (m), (optics blur, read noise, shot noise, JPEG quality, shutter s), what it is
    ("corridor_1080p", 1920, 1080, 90.0, 2.5, (0.7, 2.0, 0.2, 75, 1 / 60),
     "a wide-angle 1080p camera over a corridor or entrance: 1.7 m is 410 px at 4 m, 120 px at 14 m"),
    ("corridor_720p", 1280, 720, 90.0, 2.5, (0.8, 2.5, 0.25, 65, 1 / 60),
     "a budget 720p wide-angle camera: 1.7 m is 270 px at 4 m, 78 px at 14 m"),
    ("shop_4k", 3840, 2160, 100.0, 3.0, (1.0, 1.5, 0.15, 80, 1 / 100),
     "a 4K dome over a shop floor: 1.7 m is 690 px at 4 m, 200 px at 14 m"),
    ("street_pole_1080p", 1920, 1080, 60.0, 6.0, (0.6, 1.5, 0.2, 70, 1 / 100),
     "a 1080p street camera on a pole: 1.7 m is 700 px at 4 m, 200 px at 14 m"),
    ("narrow_1080p", 1920, 1080, 30.0, 4.0, (0.6, 1.5, 0.2, 80, 1 / 100),
     "a 1080p camera with a narrow lens down a long hall: 1.7 m is 445 px at 14 m"),
    ("study_portrait", 1080, 1920, _portrait_hfov(60.0, 1080, 1920), 1.12, (0.6, 1.5, 0.0, None, 0.0),
     "an upright 1080x1920 camera, 60 deg along the long side, uncompressed: 1.7 m is 1430 px at 2 m"),
    # The demo's study camera. Its models see 128 px where the paper's saw 384, so through a 1080p
    # camera the paper's 14 m (117 px, upscaled 3.3x into 384) would cost them nothing (117 ~ 128).
    # A third of the resolution keeps the paper's ratio of pixels on the person to model input.
    ("study_360p", 640, 360, 90.0, 1.12, (0.7, 2.0, 0.2, 75, 1 / 60),
     "corridor_1080p at a third of its resolution, for 128-px models: 1.7 m is 136 px at 4 m, 39 px at 14 m"),
]
CAMERA_PRESETS: dict[str, CameraPreset] = {
    name: CameraPreset(name, w, h, fov, mount, Sensor(blur, read, shot, 1.0, quality, shutter), text)
    for name, w, h, fov, mount, (blur, read, shot, quality, shutter), text in _PRESET_TABLE
}


def camera_preset(preset: str | dict | CameraPreset) -> CameraPreset:
    """A preset by name, or a user's own camera as a dict (width, height, hfov_deg, mount_height, sensor)."""
    if isinstance(preset, CameraPreset):
        return preset
    if isinstance(preset, str):
        if preset not in CAMERA_PRESETS:
            raise ValueError(f"unknown camera preset {preset!r}; choose one of {sorted(CAMERA_PRESETS)} or give "
                             "{width, height, hfov_deg, mount_height, sensor: {...}}")
        return CAMERA_PRESETS[preset]
    d = dict(preset)
    return CameraPreset(name=str(d.pop("name", "custom")), sensor=Sensor(**dict(d.pop("sensor", {}) or {})), **d)
