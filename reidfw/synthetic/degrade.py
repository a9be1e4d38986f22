"""Camera degradations applied after rendering: optical/motion blur, sensor noise, JPEG.

They act on the rendered region (person and background together, like a real camera)
before the crop is cut, in the crop's own pixels. When the renderer had to render
below native resolution (crop-height cap), the blur radius is scaled down with it, so
the blur is always a property of the camera, not of the cap.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Degradation:
    blur_sigma: float = 0.0        # Gaussian blur in camera-frame pixels
    noise_sigma: float = 0.0       # additive Gaussian sensor noise, in 0..255 units
    jpeg_quality: int | None = None  # re-encode as JPEG at this quality (None = no compression)

    def to_meta(self) -> dict:
        return asdict(self)


NO_DEGRADATION = Degradation()


def sample_degradation(rng: np.random.Generator, strength: float = 1.0) -> Degradation:
    """A random surveillance-camera-like degradation; ``strength`` 0 = clean."""
    return Degradation(
        blur_sigma=float(rng.uniform(0.3, 1.2) * strength),
        noise_sigma=float(rng.uniform(1.0, 5.0) * strength),
        jpeg_quality=int(rng.integers(55, 95)) if strength > 0 else None,
    )


def apply_degradation(rgb: np.ndarray, deg: Degradation, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Degrade uint8 RGB; ``scale`` = rendered pixels per camera-frame pixel (<= 1)."""
    out = rgb
    sigma = deg.blur_sigma * scale
    if sigma > 0.15:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
    if deg.noise_sigma > 0:
        noisy = out.astype(np.float32) + rng.standard_normal(size=out.shape, dtype=np.float32) * np.float32(deg.noise_sigma)
        out = np.clip(noisy + 0.5, 0, 255).astype(np.uint8)
    if deg.jpeg_quality is not None:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(deg.jpeg_quality)])
        if not ok:
            raise RuntimeError("JPEG encoding failed during degradation")
        out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return out
