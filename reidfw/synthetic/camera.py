"""A pinhole camera with a real sensor size and field of view.

The person is rendered at the pixel size this camera gives them, so a person 14 m
away covers few pixels and loses detail the way real footage does. World frame: +Y up,
ground at y = 0. Camera axes follow OpenCV: x right, y down, z forward (optical axis).

``pan_deg`` is the heading of the optical axis: 0 looks along world -Z, positive pans
towards -X, i.e. forward = (-sin pan, 0, -cos pan). ``tilt_deg`` > 0 looks down.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np


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
