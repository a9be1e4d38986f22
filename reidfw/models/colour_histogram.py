"""The baseline a Re-ID model has to beat: a colour histogram of the person, no learning at all.

Person crops of different people differ first by what they wear, so a histogram of hue,
saturation and value over the upper and the lower half of the crop already retrieves people
across cameras. A learned embedding that cannot beat it has learned nothing a camera
installation needs. It is an ``nn.Module`` over the normal model input, so everything that
evaluates a model -- the study, retrieval, verification, the findings report -- evaluates it
too: ``python evaluate.py ckpt=colour_histogram``.

Embedding: for the upper body (15-50 % of the crop's height) and the lower body (50-90 %),
over the middle 60 % of its width (the letterbox fill left out), a (hue 8 x saturation 4 x
value 4) histogram, square-rooted (the Hellinger map, so the cosine of two embeddings is the
Bhattacharyya coefficient of the histograms) -> 256-d.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from reidfw.model_input import InputSpec

NAME = "colour_histogram"
BINS = (8, 4, 4)


def rgb_to_hsv(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, 3, H, W) RGB in [0, 1] -> hue in [0, 1), saturation and value in [0, 1]."""
    r, g, b = rgb.unbind(1)
    v, _ = rgb.max(1)
    c = v - rgb.min(1).values
    s = torch.where(v > 0, c / v.clamp_min(1e-8), torch.zeros_like(v))
    safe = c.clamp_min(1e-8)
    h = torch.where(v == r, ((g - b) / safe) % 6, torch.where(v == g, (b - r) / safe + 2, (r - g) / safe + 4)) / 6
    return torch.where(c > 0, h, torch.zeros_like(h)) % 1.0, s, v


class ColourHistogram(nn.Module):
    """``forward(x)`` -> (B, 256) Hellinger-mapped HSV histograms of the upper and lower half."""

    def __init__(self, input_spec: InputSpec):
        super().__init__()
        self.input_spec = input_spec
        self.embed_dim = 2 * BINS[0] * BINS[1] * BINS[2]
        self.register_buffer("mean", torch.tensor(input_spec.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(input_spec.std).view(1, 3, 1, 1))
        self.register_buffer("fill", torch.tensor(input_spec.fill, dtype=torch.float32).view(1, 3, 1, 1) / 255.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rgb = (x.float() * self.std + self.mean).clamp(0, 1)
        crop = (rgb - self.fill).abs().amax(1) > 1.5 / 255  # letterbox pixels hold exactly the fill
        h, s, v = rgb_to_hsv(rgb)
        nh, ns, nv = BINS
        idx = (h * nh).long().clamp_max(nh - 1) * ns * nv + (s * ns).long().clamp_max(ns - 1) * nv + (v * nv).long().clamp_max(nv - 1)
        out = torch.zeros(x.shape[0], 2, nh * ns * nv, device=x.device)
        for i in range(x.shape[0]):
            rows, cols = crop[i].any(1).nonzero(), crop[i].any(0).nonzero()
            if len(rows) == 0:
                continue
            top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
            hgt, wid = bottom - top, right - left
            # the person's upper and lower body: the middle 60 % of the crop's width, where a
            # detector's box has the person and the least background
            c0, c1 = left + int(0.2 * wid), left + max(int(0.8 * wid), int(0.2 * wid) + 1)
            for part, (a, b) in enumerate(((0.15, 0.5), (0.5, 0.9))):
                r0, r1 = top + int(a * hgt), top + max(int(b * hgt), int(a * hgt) + 1)
                ids = idx[i, r0:r1, c0:c1].reshape(-1)
                out[i, part].scatter_add_(0, ids, torch.ones_like(ids, dtype=torch.float32))
        out = torch.sqrt(out / out.sum(2, keepdim=True).clamp_min(1.0))
        return out.flatten(1)
