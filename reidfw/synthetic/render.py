"""Render one person into one camera frame and cut out the crop a detector would give.

How an image is made (``render_person``):
  1. the body's solids are posed (``body.build_body``) and placed in the world at the
     person's ground position and yaw;
  2. their projected extents give the region of the camera frame the person covers;
  3. rays through that region's pixels are intersected with the background (``scene``)
     and with every solid, each solid only over its own projected rectangle (this keeps
     the cost proportional to the person's pixel area); nearest hits win;
  4. surfaces are shaded (Lambert + hemispheric ambient + a small highlight) in linear
     light and encoded to sRGB; the camera's sensor model (optics and motion blur, noise,
     compression; ``sensor.py``) is applied at the camera's native scale;
  5. the tight person box is read off the pixel mask and the crop is cut around it.

Resolution: the person is rendered at the native pixel size of the camera (a 1920x1080,
90 deg corridor camera makes a 1.7 m person about 410 px tall at 4 m and 120 px at 14 m),
so far people lose detail exactly as in real footage. The one cap: a person taller than
``crop_height`` (default 768 px) is rendered at that height instead, i.e. as the native
render area-downsampled (blur and noise are scaled the same way, see ``sensor.py``). It
costs nothing that matters as long as ``crop_height`` is at least twice the model's input
height (the default covers the paper's 384 px; the demo's 128-px models use 256): the
letterbox's area resize averages away any finer detail. The cap is never silent: a capped
crop's metadata has ``capped: true`` and its ``scale`` < 1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from reidfw.synthetic.body import Body, Pose, build_body
from reidfw.synthetic.camera import Camera, PixelGrid, yaw_relative_to_camera
from reidfw.synthetic.sensor import CLEAN, Sensor, apply_sensor
from reidfw.synthetic.geometry import rot_y
from reidfw.synthetic.identity import Identity
from reidfw.synthetic.materials import albedo, linear_to_srgb8
from reidfw.synthetic.primitives import intersect, surface
from reidfw.synthetic.scene import Scene, render_background

RENDERER_VERSION = "3"       # bump when pixels change, so cached data sets are regenerated
DEFAULT_CROP_HEIGHT = 768    # twice the paper's 384-px input: finer detail never reaches a model


class PersonNotVisible(ValueError):
    """The person is behind the camera or outside its frame; move the camera or the person."""


@dataclass
class RenderResult:
    image: np.ndarray                          # uint8 (h, w, 3) RGB crop
    mask: np.ndarray                           # bool (h, w), True on the person (incl. hair, headwear, bags)
    bbox: tuple[float, float, float, float]    # tight person box in the camera frame (x, y, w, h), frame pixels
    crop_box: tuple[float, float, float, float]  # the part of the camera frame the crop shows (frame pixels)
    box_in_image: tuple[int, int, int, int]    # the tight person box in crop pixels
    scale: float                               # crop pixels per frame pixel (1 = native, < 1 when capped)
    truncated: bool                            # the person touches the frame border (partly out of view)
    meta: dict                                 # every parameter of the image, JSON-able


def _solid_corners(solid) -> np.ndarray:
    """The 8 corners of the solid's local bounding box, in the body frame."""
    ext = solid.scale * np.array([1.0, solid.half_length + 1.0, 1.0])
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float)
    return solid.center + (signs * ext) @ solid.rotation.T


def _projected_rects(body: Body, camera: Camera, R: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Per solid (u0, v0, u1, v1) in frame pixels: the projection of its bounding box."""
    corners = np.concatenate([_solid_corners(s) for s in body.solids]) @ R.T + P
    u, v, z = camera.project(corners)
    if np.any(z < 0.05):
        raise PersonNotVisible(
            f"part of the person is behind or at the camera (depth {z.min():.2f} m); "
            f"place the camera farther from the person or point it at them")
    u, v = u.reshape(-1, 8), v.reshape(-1, 8)
    return np.stack([u.min(1), v.min(1), u.max(1), v.max(1)], axis=1)


def _motion_px(camera: Camera, P: np.ndarray, height: float, velocity, sensor: Sensor) -> tuple[float, float]:
    """(length, angle) in native pixels that the person's mid-body moves during the shutter time."""
    if sensor.shutter_s <= 0 or not any(velocity):
        return 0.0, 0.0
    mid = np.array([[P[0], height / 2, P[2]]])
    moved = mid + np.array([[velocity[0], 0.0, velocity[1]]]) * sensor.shutter_s
    u, v, _ = camera.project(np.concatenate([mid, moved]))
    du, dv = float(u[1] - u[0]), float(v[1] - v[0])
    return math.hypot(du, dv), math.degrees(math.atan2(dv, du))


def render_person(
    identity: Identity,
    pose: Pose,
    person_xz: tuple[float, float],
    yaw_deg: float,
    camera: Camera,
    scene: Scene,
    *,
    crop_height: int = DEFAULT_CROP_HEIGHT,
    margin: float = 0.0,
    sensor: Sensor = CLEAN,
    velocity: tuple[float, float] = (0.0, 0.0),
    noise_seed: int = 0,
    supersample: int = 1,
    extra_meta: dict | None = None,
) -> RenderResult:
    """Render ``identity`` in ``pose`` standing at ``person_xz`` (world, metres) with world yaw ``yaw_deg``.

    ``yaw_deg`` follows the world convention (0 = facing +Z); with a camera built by
    ``camera_facing(..., bearing_deg=0)`` it is the yaw seen by the camera (0 = facing it,
    180 = back to it). ``margin`` widens the crop around the tight box by that fraction
    of the box height on every side (0 = the tight box). ``supersample`` > 1 renders that
    many rays per pixel side and averages (anti-aliasing, slower). ``velocity`` (m/s on the
    ground, world x and z) smears the person over the sensor's shutter time.
    """
    if crop_height < 8:
        raise ValueError(f"crop_height={crop_height} is too small to show a person; use >= 8 (default {DEFAULT_CROP_HEIGHT})")
    body = build_body(identity, pose)
    total_yaw = yaw_deg + body.yaw_offset_deg
    R = rot_y(math.radians(total_yaw))
    P = np.array([person_xz[0], 0.0, person_xz[1]])
    rects = _projected_rects(body, camera, R, P)
    est = np.array([rects[:, 0].min(), rects[:, 1].min(), rects[:, 2].max(), rects[:, 3].max()])
    est_h = est[3] - est[1]
    if est[2] < 0 or est[0] > camera.width or est[3] < 0 or est[1] > camera.height:
        raise PersonNotVisible(f"the person ({est.round(1).tolist()}) lies outside the {camera.width}x{camera.height} frame")

    scale = min(1.0, crop_height / est_h)
    pad = margin * est_h + 2.0 / scale
    x0 = max(0, int(math.floor(est[0] - pad)))
    y0 = max(0, int(math.floor(est[1] - pad)))
    x1 = min(camera.width, int(math.ceil(est[2] + pad)))
    y1 = min(camera.height, int(math.ceil(est[3] + pad)))
    ss = max(1, int(supersample))
    k = scale * ss                                            # grid samples per frame pixel
    gw, gh = max(1, int(math.ceil((x1 - x0) * k))), max(1, int(math.ceil((y1 - y0) * k)))
    grid = PixelGrid(camera, x0, y0, k, gh, gw)
    dirs = grid.directions()                                  # (gh*gw, 3) world
    origin = np.asarray(camera.position, dtype=float)

    # Person, in the body frame: rotate the rays instead of the solids.
    origin_b = R.T @ (origin - P)
    dirs_b = (dirs @ R).reshape(gh, gw, 3)
    view_b = -dirs_b / np.linalg.norm(dirs_b, axis=2, keepdims=True)
    light_b = R.T @ scene.light.direction()
    depth = np.full((gh, gw), np.inf)
    color = np.zeros((gh, gw, 3))
    amb, strength = scene.light.ambient, scene.light.strength
    for solid, (u0, v0, u1, v1) in zip(body.solids, rects):
        j0, j1 = max(0, int((u0 - x0) * k) - 1), min(gw, int(math.ceil((u1 - x0) * k)) + 1)
        i0, i1 = max(0, int((v0 - y0) * k) - 1), min(gh, int(math.ceil((v1 - y0) * k)) + 1)
        if j1 <= j0 or i1 <= i0:
            continue
        d = dirs_b[i0:i1, j0:j1].reshape(-1, 3)
        t, inner = intersect(solid, origin_b, d)
        win = t < depth[i0:i1, j0:j1].ravel()
        if not win.any():
            continue
        hits = surface(solid, origin_b, d[win], t[win], inner[win])
        chain = solid.chain_offset + hits.along
        alb = albedo(solid.material, hits.point_local, hits.point_body, chain)
        n = hits.normal_body
        diffuse = np.maximum(n @ light_b, 0.0)
        ambient = amb * (0.7 + 0.3 * n[:, 1])                 # more fill from above than from the ground
        shaded = alb * (ambient + strength * diffuse)[:, None]
        if solid.material.specular > 0:
            v = view_b[i0:i1, j0:j1].reshape(-1, 3)[win]
            h = light_b[None, :] + v
            h /= np.linalg.norm(h, axis=1, keepdims=True)
            shaded += (solid.material.specular * strength * np.maximum(np.sum(n * h, axis=1), 0.0) ** 40)[:, None]
        ii, jj = np.divmod(np.nonzero(win)[0], j1 - j0)
        depth[i0 + ii, j0 + jj] = t[win]
        color[i0 + ii, j0 + jj] = shaded

    mask = np.isfinite(depth)
    # The background only where the person does not cover it.
    background = render_background(scene, grid, dirs, casters=[(P[0], P[2], identity.height)],
                                   need=~mask.ravel()).reshape(gh, gw, 3)
    rgb = linear_to_srgb8(np.where(mask[..., None], color, background))
    if ss > 1:
        out_w, out_h = max(1, gw // ss), max(1, gh // ss)
        rgb = cv2.resize(rgb[: out_h * ss, : out_w * ss], (out_w, out_h), interpolation=cv2.INTER_AREA)
        cover = cv2.resize(mask[: out_h * ss, : out_w * ss].astype(np.float32), (out_w, out_h), interpolation=cv2.INTER_AREA)
        mask = cover >= 0.5
    if not mask.any():
        raise PersonNotVisible("the person covers no pixel of the frame; move the camera closer or point it at them")

    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    bi0, bi1, bj0, bj1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    bbox = (x0 + bj0 / scale, y0 + bi0 / scale, (bj1 - bj0) / scale, (bi1 - bi0) / scale)
    truncated = bool((bj0 == 0 and x0 == 0) or (bi0 == 0 and y0 == 0)
                     or (bj1 == mask.shape[1] and x1 == camera.width) or (bi1 == mask.shape[0] and y1 == camera.height))

    m = int(round(margin * (bi1 - bi0)))
    ci0, ci1 = max(0, bi0 - m), min(mask.shape[0], bi1 + m)
    cj0, cj1 = max(0, bj0 - m), min(mask.shape[1], bj1 + m)
    # Degrade the crop plus a border (so blur near the crop edge sees real neighbours), then trim.
    b = 4 + int(math.ceil(_motion_px(camera, P, identity.height, velocity, sensor)[0] * scale))
    di0, di1, dj0, dj1 = max(0, ci0 - b), min(rgb.shape[0], ci1 + b), max(0, cj0 - b), min(rgb.shape[1], cj1 + b)
    degraded = apply_sensor(np.ascontiguousarray(rgb[di0:di1, dj0:dj1]), sensor, np.random.default_rng(int(noise_seed)),
                            scale, person=np.ascontiguousarray(mask[di0:di1, dj0:dj1]),
                            motion=_motion_px(camera, P, identity.height, velocity, sensor))
    image = np.ascontiguousarray(degraded[ci0 - di0 : ci1 - di0, cj0 - dj0 : cj1 - dj0])
    crop_mask = np.ascontiguousarray(mask[ci0:ci1, cj0:cj1])
    crop_box = (x0 + cj0 / scale, y0 + ci0 / scale, (cj1 - cj0) / scale, (ci1 - ci0) / scale)
    box_in_image = (bj0 - cj0, bi0 - ci0, bj1 - bj0, bi1 - bi0)

    cam_xyz = camera.position
    horizontal = math.hypot(cam_xyz[0] - person_xz[0], cam_xyz[2] - person_xz[1])
    meta = {
        "identity_id": identity.identity_id,
        "yaw": round(float(yaw_relative_to_camera(person_xz, yaw_deg, camera)), 3),
        "world_yaw": round(float(yaw_deg), 3),
        "wobble_yaw": round(float(body.yaw_offset_deg), 3),
        "distance": round(float(horizontal), 4),
        "slant_distance": round(float(math.hypot(horizontal, cam_xyz[1] - identity.height / 2)), 4),
        "camera_height": round(float(cam_xyz[1]), 4),
        "tilt": round(float(camera.tilt_deg), 4),
        "person_xz": [round(float(v), 4) for v in person_xz],
        **pose.to_meta(),
        "posture": body.posture,
        "camera": camera.to_meta(),
        **scene.to_meta(),
        "sensor": sensor.to_meta(),
        "velocity": [round(float(v), 3) for v in velocity],
        "noise_seed": int(noise_seed),
        "crop_height_cap": int(crop_height),
        "capped": bool(scale < 1.0),
        "box_height_native": round(float(bbox[3]), 2),
        "scale": round(float(scale), 5),
        "supersample": ss,
        "margin": float(margin),
        "bbox": [round(float(v), 3) for v in bbox],
        "truncated": truncated,
        "renderer_version": RENDERER_VERSION,
        "identity": identity.to_meta(),
    }
    if extra_meta:
        meta.update(extra_meta)
    return RenderResult(image, crop_mask, bbox, crop_box, box_in_image, float(scale), truncated, meta)
