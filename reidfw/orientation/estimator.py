"""The orientation estimator: a small CNN that reads a person crop's yaw (0 = facing the camera,
90 / 270 = the two profiles, 180 = back to the camera), and the half-circle rule canonicalisation uses.

Why the half-circle: a mirror image of a person seen at yaw ``y`` looks like the person at ``360 - y``
(up to the few asymmetric details of a body). Flipping every crop whose yaw lies in (180, 360)
makes every input face one half-circle, [0, 180] (the paper's proposal): the two profiles 90 and
270 become one view. 0 and 180 are their own mirror images; near them a wrong guess costs nothing.

Predictions are **mirror-consistent by construction**: the network sees the crop and its mirror and
the two readings are combined (cos averaged, sin anti-averaged), so the estimate for a mirrored crop
is exactly ``360 - `` the estimate for the crop. A crop and its mirror are therefore never both
flipped or both kept (except exactly on the boundary), whatever the network has learned.

The network: four stride-2 conv stages (16-32-64-128 channels, BN, ReLU), global average pooling, a
linear map to (cos yaw, sin yaw). Input: the crop through :mod:`reidfw.model_input` at 64x32 with
ImageNet statistics and the gray letterbox, like every other model input in reidfw.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from reidfw.errors import SourceError
from reidfw.model_input import InputSpec, Normalizer, prepare, to_chw_tensor

ORIENTATION_SPEC = InputSpec(size=(64, 32))
FORMAT = "reidfw-orientation/1"
SPEC_FILE, WEIGHTS_FILE = "orientation.json", "orientation.safetensors"
WIDTHS = (16, 32, 64, 128)


class OrientationModelError(SourceError):
    """An orientation estimator that cannot be loaded."""


def in_other_half(yaw_deg) -> np.ndarray | bool:
    """Whether a yaw lies in (180, 360): the half-circle canonicalisation mirrors into [0, 180]."""
    return np.sin(np.radians(yaw_deg)) < 0


def mirror_yaw(yaw_deg):
    """The yaw of a crop's mirror image."""
    return (360.0 - np.asarray(yaw_deg, dtype=float)) % 360.0


class OrientationNet(nn.Module):
    """(B, 3, H, W) -> (B, 2): an unnormalised (cos, sin) of the yaw."""

    def __init__(self, widths: Sequence[int] = WIDTHS):
        super().__init__()
        layers, c_in = [], 3
        for c in widths:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                       nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, 2)
        self.widths = tuple(int(c) for c in widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))


def _yaw(v: torch.Tensor) -> torch.Tensor:
    return torch.rad2deg(torch.atan2(v[:, 1], v[:, 0])) % 360.0


class OrientationEstimator:
    """A trained :class:`OrientationNet` with its input spec; predicts yaw in degrees [0, 360)."""

    def __init__(self, net: OrientationNet, spec: InputSpec = ORIENTATION_SPEC, info: dict | None = None):
        self.net = net.eval()
        self.spec = spec
        self.info = dict(info or {})
        self._normalize = Normalizer(spec)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def to(self, device) -> OrientationEstimator:
        self.net.to(device)
        return self

    def vectors(self, x: torch.Tensor) -> torch.Tensor:
        """Mirror-consistent (cos, sin) readings of normalised inputs (B, 3, H, W)."""
        v, vm = self.net(x), self.net(x.flip(-1))
        return torch.stack([(v[:, 0] + vm[:, 0]) / 2, (v[:, 1] - vm[:, 1]) / 2], dim=1)

    @torch.no_grad()
    def predict_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised inputs (B, 3, H, W) at ``spec.size`` -> yaw (B,) in degrees."""
        return _yaw(self.vectors(x.to(self.device)))

    def predict_u8(self, u8: torch.Tensor) -> torch.Tensor:
        """uint8 prepared inputs (B, 3, H, W) (``prepare(image, self.spec, ...)``) -> yaw (B,)."""
        return self.predict_inputs(self._normalize(u8.to(self.device)))

    def prepare(self, image: np.ndarray, box=None, mask=None) -> torch.Tensor:
        """A raw RGB image (+ box, mask) -> this estimator's uint8 input (3, H, W)."""
        return to_chw_tensor(prepare(image, self.spec, box, mask))

    def predict_image(self, image: np.ndarray, box=None, mask=None) -> float:
        return float(self.predict_u8(self.prepare(image, box, mask)[None])[0])

    def faces_other_half(self, image: np.ndarray) -> bool:
        """For a person crop (RGB uint8, the whole image is the person): mirror it to canonicalise?"""
        return bool(in_other_half(self.predict_image(image)))

    # ---- files ----------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        save_file(state, str(folder / WEIGHTS_FILE))
        doc = {"format": FORMAT, "input": self.spec.to_dict(), "widths": list(self.net.widths), **self.info}
        (folder / SPEC_FILE).write_text(json.dumps(doc, indent=1))
        return folder


NOT_AN_ESTIMATOR_FIX = ("train one with `python -m reidfw.orientation train --synthetic --out DIR` (or --csv "
                        "your_labels.csv), or pass orientation_model=synthetic")


def load_estimator(folder: str | Path, map_location: str | torch.device = "cpu") -> OrientationEstimator:
    """Load a folder written by :meth:`OrientationEstimator.save`; one-line errors naming the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder).expanduser()
    expected = f"an orientation estimator folder ({SPEC_FILE} + {WEIGHTS_FILE})"
    if folder.is_file() and folder.name in (SPEC_FILE, WEIGHTS_FILE):
        folder = folder.parent
    if not (folder / SPEC_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
        found = "no such folder" if not folder.exists() else f"no {SPEC_FILE} / {WEIGHTS_FILE} in it"
        raise OrientationModelError(folder, expected, found, NOT_AN_ESTIMATOR_FIX)
    try:
        doc = json.loads((folder / SPEC_FILE).read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')!r}, not {FORMAT!r}")
        spec = InputSpec.from_dict(doc["input"])
        net = OrientationNet(doc.get("widths", WIDTHS))
        net.load_state_dict(load_file(str(folder / WEIGHTS_FILE)), strict=True)
    except (ValueError, KeyError, TypeError, RuntimeError, OSError, SafetensorError) as e:
        first = (str(e).splitlines() or [""])[0][:200]
        raise OrientationModelError(folder, expected, f"an unreadable or mismatched estimator ({type(e).__name__}: {first})",
                                    NOT_AN_ESTIMATOR_FIX) from None
    info = {k: v for k, v in doc.items() if k not in ("format", "input", "widths")}
    return OrientationEstimator(net, spec, info).to(map_location)


def angular_difference(a, b) -> np.ndarray:
    """|a - b| on the circle, degrees in [0, 180]."""
    d = np.abs((np.asarray(a, float) - np.asarray(b, float) + 180.0) % 360.0 - 180.0)
    return d

