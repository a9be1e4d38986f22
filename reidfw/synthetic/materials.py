"""Surface colours of body parts: clothing patterns, face, hair, shoes, bags.

A :class:`Material` turns hit points (part-local and body-frame coordinates plus the
position along a limb) into an albedo. Colours are given as sRGB 0..255 (what a
palette or a person's description uses) and returned as *linear* RGB in 0..1, because
the renderer shades in linear light and encodes to sRGB at the end.

Texture coordinates:
  * ``point_local``: the part's own frame (metres); on the torso and head +Z is the front,
    so prints and faces appear only on one side — front and back views differ.
  * ``point_body``: body frame (metres, ground at y = 0); stripes use its height so they
    line up across torso and sleeves.
  * ``chain``: position along a limb chain, 0 at the shoulder/hip, 1 at the elbow/knee,
    2 at the wrist/ankle; sleeve length and trouser hem are positions on that chain.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RGB = tuple[float, float, float]


def srgb_to_linear(rgb255) -> np.ndarray:
    c = np.asarray(rgb255, dtype=float) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _srgb_encode(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)


# Encoding through a table is ~10x faster than pow() per pixel; 16384 steps keep every
# output level reachable (the steepest part of the curve, near black, is 12.92 * 255 / 16383 < 0.25 levels per step).
_LUT_SIZE = 16384
_SRGB_LUT = np.clip(_srgb_encode(np.linspace(0.0, 1.0, _LUT_SIZE)) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def linear_to_srgb8(lin: np.ndarray) -> np.ndarray:
    """Linear RGB (any shape, 0..1) -> sRGB uint8."""
    idx = (np.clip(lin, 0.0, 1.0) * (_LUT_SIZE - 1) + 0.5).astype(np.int32)
    return _SRGB_LUT[idx]


@dataclass
class Material:
    kind: str                                  # see ALBEDO_FUNCTIONS
    colors: dict[str, RGB]                     # named sRGB 0..255 colours the kind uses
    params: dict = field(default_factory=dict)
    specular: float = 0.0                      # strength of a Blinn-Phong highlight (helmets, bags)


def _lin(material: Material, name: str) -> np.ndarray:
    return srgb_to_linear(material.colors[name])


def _fabric(point_body: np.ndarray) -> np.ndarray:
    """A faint low-frequency shade variation so cloth does not look like flat plastic."""
    x, y, z = point_body[:, 0], point_body[:, 1], point_body[:, 2]
    return 1.0 + 0.05 * np.sin(37.0 * y + 11.0 * x) * np.sin(23.0 * x - 17.0 * z + 5.0 * y)


def _mix(mask: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row choice of colour ``b`` where mask else ``a``."""
    return np.where(mask[:, None], b[None, :], a[None, :])


def _solid(m: Material, pl, pb, chain) -> np.ndarray:
    return np.broadcast_to(_lin(m, "base"), (len(pl), 3)).copy()


def _top_pattern(m: Material, pl, pb) -> np.ndarray:
    """Shirt colour with its pattern at the given points (torso or sleeve)."""
    H = m.params["height"]
    base, accent = _lin(m, "base"), _lin(m, "accent")
    pattern = m.params.get("pattern", "plain")
    on_torso = m.params.get("role") == "torso"
    out = np.broadcast_to(base, (len(pl), 3)).copy()
    if pattern == "stripes":
        period = m.params.get("stripe_period", 0.05)
        out = _mix(np.floor(pb[:, 1] / period) % 2 == 1, base, accent)
    elif pattern == "block":
        # A colour block over the shoulders and chest (yoke), also on the sleeves' tops.
        out = _mix(pb[:, 1] > m.params.get("block_from", 0.76) * H, base, accent)
    elif pattern == "jacket" and on_torso:
        # An open jacket: the shirt (accent) shows in a strip down the front.
        out = _mix((pl[:, 2] > 0) & (np.abs(pl[:, 0]) < 0.028 * H), base, accent)
    elif pattern == "print" and on_torso:
        side = 1.0 if m.params.get("print_side", "front") == "front" else -1.0
        cy = m.params.get("print_y", 0.02) * H
        w, h = m.params.get("print_w", 0.05) * H, m.params.get("print_h", 0.045) * H
        on_side = pl[:, 2] * side > 0
        box = on_side & (np.abs(pl[:, 0]) < w) & (np.abs(pl[:, 1] - cy) < h)
        out = _mix(box, base, accent)
        # A second-colour motif inside the print (a disc), so prints are not plain patches.
        disc = box & ((pl[:, 0] / w) ** 2 + ((pl[:, 1] - cy) / h) ** 2 < 0.35)
        out = np.where(disc[:, None], _lin(m, "motif")[None, :], out)
    return out


def _top(m: Material, pl, pb, chain) -> np.ndarray:
    albedo = _top_pattern(m, pl, pb)
    if m.params.get("role") == "sleeve":
        bare = chain > m.params["sleeve_length"]
        albedo = np.where(bare[:, None], _lin(m, "skin")[None, :], albedo)
    return albedo * _fabric(pb)[:, None]


def _bottom(m: Material, pl, pb, chain) -> np.ndarray:
    albedo = np.broadcast_to(_lin(m, "base"), (len(pl), 3)).copy()
    if m.params.get("role") == "leg":
        bare = chain > m.params["hem"]
        albedo = np.where(bare[:, None], _lin(m, "skin")[None, :], albedo)
    return albedo * _fabric(pb)[:, None]


def _head(m: Material, pl, pb, chain) -> np.ndarray:
    """Skin with a simple face on the front (+Z): eyes, brows, mouth, a hint of nose shadow."""
    sx, sy, sz = m.params["semi_axes"]
    x, y, z = pl[:, 0] / sx, pl[:, 1] / sy, pl[:, 2] / sz
    skin = _lin(m, "skin")
    out = np.broadcast_to(skin, (len(pl), 3)).copy()
    front = z > 0.5
    eye = front & (((np.abs(x) - 0.36) / 0.13) ** 2 + ((y - 0.12) / 0.08) ** 2 < 1.0)
    brow = front & (np.abs(np.abs(x) - 0.36) < 0.16) & (np.abs(y - 0.30) < 0.04)
    mouth = front & (np.abs(x) < 0.22) & (np.abs(y + 0.45) < 0.045)
    nose = front & (np.abs(x) < 0.07) & (y > -0.3) & (y < 0.0)
    out[nose] *= 0.8
    out[mouth] = skin * np.array([0.55, 0.28, 0.28])
    out[brow] = _lin(m, "hair") * 0.8
    out[eye] = np.array([0.02, 0.02, 0.025])
    return out


def _shoe(m: Material, pl, pb, chain) -> np.ndarray:
    sole = pb[:, 1] < m.params["sole_height"]
    return _mix(sole, _lin(m, "base"), _lin(m, "sole"))


def _bag(m: Material, pl, pb, chain) -> np.ndarray:
    """Bag body with a front pocket / flap in a second colour (lower part of the bag)."""
    sy = m.params.get("semi_y", 0.1)
    pocket = (pl[:, 1] < -0.25 * sy) & (np.abs(pl[:, 0]) < m.params.get("pocket_w", 0.6) * m.params.get("semi_x", 0.1))
    return _mix(pocket, _lin(m, "base"), _lin(m, "accent")) * _fabric(pb)[:, None]


ALBEDO_FUNCTIONS = {
    "solid": _solid,
    "top": _top,
    "bottom": _bottom,
    "head": _head,
    "shoe": _shoe,
    "bag": _bag,
}


def albedo(material: Material, point_local: np.ndarray, point_body: np.ndarray, chain: np.ndarray) -> np.ndarray:
    """Linear-RGB albedo (N, 3) of ``material`` at N surface points."""
    try:
        fn = ALBEDO_FUNCTIONS[material.kind]
    except KeyError:
        raise ValueError(f"unknown material kind {material.kind!r}; known kinds: {sorted(ALBEDO_FUNCTIONS)}") from None
    return fn(material, point_local, point_body, chain)
