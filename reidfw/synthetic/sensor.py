"""What a camera does to an image after the optics: blur, motion blur, noise, compression.

A :class:`Sensor` describes one camera's image chain, applied in the camera's own pixels:

- **optics blur**: a Gaussian of ``optics_blur`` native pixels (lens, demosaicing, focus);
- **motion blur**: a walker moving at ``v`` m/s during the exposure ``shutter_s`` smears over
  ``v * shutter_s * focal_px / depth`` pixels along their image motion (the person only);
- **noise** that depends on exposure: ``sigma^2 = gain^2 (read_noise^2 + shot_noise^2 * I)`` with
  ``I`` the pixel value (0-255) and ``gain = 1 / exposure``: a dark scene needs gain, and gain
  amplifies both (``exposure`` comes from the scene's light, see :func:`exposure_of`);
- **compression**: JPEG at ``quality`` (4:2:0 chroma and 8x8 block-DCT quantisation, the same
  losses an H.264 intra frame has), or none.

All of it acts at the camera's native resolution. When a crop is rendered below it (the
renderer's cap, see render.py) the blur and noise are applied as the area-downsampled native
image would show them (sigma scaled by the render scale), so a capped near person is as clean
as a real near person resized, and a far person, rendered natively, keeps all of its noise,
blur and blocks: distance costs information the way it does in real footage.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import cv2
import numpy as np


@dataclass(frozen=True)
class Sensor:
    optics_blur: float = 0.0  # Gaussian sigma, native pixels
    read_noise: float = 0.0  # 0..255 units at unit gain
    shot_noise: float = 0.0  # signal-dependent part: sigma^2 += shot_noise^2 * I
    exposure: float = 1.0  # relative: gain = 1 / exposure
    quality: int | None = None  # JPEG quality; None = no compression
    shutter_s: float = 0.0  # exposure time for motion blur; 0 = none

    def to_meta(self) -> dict:
        return asdict(self)

    def exposed(self, exposure: float) -> "Sensor":
        return replace(self, exposure=float(exposure))


CLEAN = Sensor()


def exposure_of(light) -> float:
    """Relative exposure a scene's light gives: 1 at a bright overcast day / a lit shop (reidfw's
    ``Light(ambient=0.35, strength=0.75)`` at 55 deg), lower in dim scenes, never below 0.3."""
    level = light.ambient + light.strength * max(0.0, math.sin(math.radians(light.elevation_deg)))
    return float(np.clip(level / (0.35 + 0.75 * math.sin(math.radians(55.0))), 0.3, 1.5))


def sample_sensor(rng: np.random.Generator, strength: float = 1.0, base: Sensor | None = None) -> Sensor:
    """A random surveillance-camera image chain (``strength`` 0 = clean), or ``base`` with its own values."""
    if base is not None:
        return base
    return Sensor(
        optics_blur=float(rng.uniform(0.4, 1.2) * strength),
        read_noise=float(rng.uniform(1.0, 3.0) * strength),
        shot_noise=float(rng.uniform(0.1, 0.3) * strength),
        quality=int(rng.integers(55, 92)) if strength > 0 else None,
        shutter_s=float(rng.choice([1 / 100, 1 / 60, 1 / 30])) if strength > 0 else 0.0,
    )


def motion_kernel(length_px: float, angle_deg: float) -> np.ndarray | None:
    """A normalised line kernel of ``length_px`` pixels at ``angle_deg`` (image x axis = 0)."""
    if length_px < 1.0:
        return None
    size = int(math.ceil(length_px)) | 1
    k = np.zeros((size, size), np.float32)
    c = size // 2
    a = math.radians(angle_deg)
    for t in np.linspace(-length_px / 2, length_px / 2, 4 * size):
        x, y = int(round(c + t * math.cos(a))), int(round(c + t * math.sin(a)))
        if 0 <= x < size and 0 <= y < size:
            k[y, x] = 1.0
    return k / k.sum()


def apply_sensor(
    rgb: np.ndarray,
    sensor: Sensor,
    rng: np.random.Generator,
    scale: float = 1.0,
    person: np.ndarray | None = None,
    motion: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Degrade uint8 RGB rendered at ``scale`` pixels per native pixel (<= 1).

    ``person`` (bool mask) and ``motion`` = (length in native pixels, angle in degrees) add the
    walker's motion blur to the person's pixels only.
    """
    out = rgb
    kernel = motion_kernel(motion[0] * scale, motion[1]) if person is not None and sensor.shutter_s > 0 else None
    if kernel is not None:
        smeared = cv2.filter2D(out, -1, kernel, borderType=cv2.BORDER_REFLECT)
        near = cv2.dilate(person.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        out = np.where(near[..., None], smeared, out)
    sigma = sensor.optics_blur * scale
    if sigma > 0.15:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
    gain = 1.0 / max(sensor.exposure, 1e-3)
    if sensor.read_noise > 0 or sensor.shot_noise > 0:
        level = out.astype(np.float32)
        std = gain * np.sqrt(sensor.read_noise**2 + sensor.shot_noise**2 * level) * scale
        noisy = level + rng.standard_normal(size=out.shape, dtype=np.float32) * std
        out = np.clip(noisy + 0.5, 0, 255).astype(np.uint8)
    if sensor.quality is not None:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(sensor.quality)])
        if not ok:
            raise RuntimeError("JPEG encoding failed in the sensor model")
        out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return out
