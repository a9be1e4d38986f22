"""What is behind and under the person: ground, backgrounds, light.

A scene is a textured ground plane plus vertical rectangles ("panels": the study's
gray panel, a monitor's back, walls, building facades, parked cars, poles...) and a
sky. Background kinds (``BACKGROUNDS``):

  * ``none``    open surroundings: a lab/hall floor and its far walls several metres away
  * ``panel``   the study's plain gray panel standing just behind the person (+ surroundings)
  * ``monitor`` the dark back of a large monitor behind the person's upper body (+ surroundings)
  * ``wall``    a textured wall (brick, tiles, plaster with posters) 1-3 m behind, textured floor
  * ``street``  asphalt and sidewalk, facades with windows, parked cars, poles, bins

Scenes are built around an *anchor* (where the person stands, or the point a fixed
camera watches) and the bearing of the camera from it, so "behind the person" is
always what the camera sees around them in the crop. Lighting is one directional
light (sun / ceiling) plus ambient; the person casts a soft shadow on the ground.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from reidfw.synthetic.camera import PixelGrid
from reidfw.synthetic.materials import srgb_to_linear
from reidfw.synthetic.noise import cell_random, value_noise

BACKGROUNDS = ("none", "panel", "monitor", "wall", "street")


@dataclass(frozen=True)
class Light:
    azimuth_deg: float = 15.0      # world yaw of the direction towards the light (0 = +Z side)
    elevation_deg: float = 55.0
    strength: float = 0.75         # directional light
    ambient: float = 0.35          # sky / room fill light

    def direction(self) -> np.ndarray:
        az, el = math.radians(self.azimuth_deg), math.radians(self.elevation_deg)
        return np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])

    def to_meta(self) -> dict:
        return {k: round(float(v), 4) for k, v in asdict(self).items()}


@dataclass
class Panel:
    kind: str                      # texture, see PANEL_TEXTURES
    center_xz: tuple[float, float]
    facing_deg: float              # world yaw its front faces (0 = +Z)
    width: float
    bottom: float
    top: float
    colors: dict = field(default_factory=dict)   # sRGB 0..255
    seed: int = 0


@dataclass
class Scene:
    background: str
    floor: str                     # texture, see FLOOR_TEXTURES
    floor_colors: dict
    panels: list[Panel]
    light: Light
    seed: int = 0
    shadows: bool = True
    ceiling: float | None = None   # height of an indoor ceiling (None = open sky)

    def to_meta(self) -> dict:
        return {"background": self.background, "floor": self.floor, "light": self.light.to_meta(), "scene_seed": self.seed}


# ---------------------------------------------------------------- textures (return linear RGB)

def _c(colors: dict, name: str) -> np.ndarray:
    return srgb_to_linear(colors[name])


def _plain(s, y, p: Panel):
    shade = 1.0 + 0.04 * (value_noise(s * 3, y * 3, p.seed) - 0.5)
    return _c(p.colors, "base")[None, :] * shade[:, None]


def _monitor(s, y, p: Panel):
    """Matte black back of a monitor: a slightly lighter rim and a grid of vent slots."""
    base, rim = _c(p.colors, "base"), _c(p.colors, "base") * 2.2
    out = np.broadcast_to(base, (len(s), 3)).copy()
    edge = (np.abs(s) > p.width / 2 - 0.025) | (y < p.bottom + 0.025) | (y > p.top - 0.025)
    out[edge] = rim
    cy = (p.top + p.bottom) / 2
    vents = (np.abs(s) < p.width * 0.3) & (np.abs(y - cy - 0.1) < 0.05) & ((s * 40) % 1 < 0.35)
    out[vents] = base * 0.4
    return out


def _brick(s, y, p: Panel):
    row = np.floor(y / 0.075)
    u = s / 0.225 + 0.5 * (row % 2)
    mortar = ((y / 0.075) % 1 < 0.14) | (u % 1 < 0.05)
    tone = 0.8 + 0.35 * cell_random(u, row, p.seed)
    out = _c(p.colors, "base")[None, :] * tone[:, None]
    out[mortar] = _c(p.colors, "mortar")
    return out


def _tiles(s, y, p: Panel):
    size = 0.3
    grout = ((s / size) % 1 < 0.04) | ((y / size) % 1 < 0.04)
    tone = 0.92 + 0.12 * cell_random(s / size, y / size, p.seed)
    out = _c(p.colors, "base")[None, :] * tone[:, None]
    out[grout] = _c(p.colors, "base") * 0.6
    return out


def _plaster(s, y, p: Panel):
    """Painted wall with a dark skirting board and a few posters / notice boards."""
    out = _plain(s, y, p)
    rng = np.random.default_rng(p.seed)
    for _ in range(int(rng.integers(1, 4))):
        cx, w, h = rng.uniform(-p.width / 3, p.width / 3), rng.uniform(0.4, 1.0), rng.uniform(0.5, 0.9)
        cy = rng.uniform(1.2, 1.7)
        inside = (np.abs(s - cx) < w / 2) & (np.abs(y - cy) < h / 2)
        col = srgb_to_linear(rng.integers(30, 240, size=3))
        band = inside & ((y - cy + h / 2) % (h / 3) < h / 6)
        out[inside] = col
        out[band] = col * 0.5
    out[y < 0.1] = _c(p.colors, "base") * 0.25
    return out


def _facade(s, y, p: Panel):
    """Building front: shop windows at street level, a grid of windows above."""
    out = _plain(s, y, p) * (0.85 + 0.3 * cell_random(s / 8.0, 0, p.seed))[:, None]
    floor_h, win_w = 3.0, 1.4
    col, row = np.floor(s / 2.4), np.floor((y - 0.6) / floor_h)
    fx, fy = (s / 2.4) % 1, ((y - 0.6) / floor_h) % 1
    lit = cell_random(col, row, p.seed + 7)
    window = (y > 3.6) & (np.abs(fx - 0.5) < win_w / 4.8) & (np.abs(fy - 0.55) < 0.25)
    glass = srgb_to_linear((40, 50, 60)) * (0.6 + 1.2 * lit[:, None])
    out = np.where(window[:, None], glass, out)
    shop = (y > 0.3) & (y < 2.6) & ((s / 5.0) % 1 < 0.7)
    out = np.where(shop[:, None], srgb_to_linear((55, 65, 70)) * (1 + 0.5 * value_noise(s, y * 2, p.seed))[:, None], out)
    out[(y > 2.7) & (y < 3.2)] = _c(p.colors, "accent")        # shop sign band
    return out


def _car(s, y, p: Panel):
    """A parked car seen roughly side-on: body colour, dark windows, wheels, lights."""
    h = p.top - p.bottom
    rel = (y - p.bottom) / h
    out = np.broadcast_to(_c(p.colors, "base"), (len(s), 3)).copy()
    roof = rel > 0.55
    cabin = roof & (np.abs(s) < p.width * (0.32 - 0.25 * (rel - 0.55)))
    out[roof & ~cabin] = -1.0                          # marked see-through: handled by the caller
    out[cabin & (rel < 0.93)] = srgb_to_linear((25, 30, 38))
    for wx in (-0.3, 0.3):
        wheel = ((s - wx * p.width) / (0.16 * p.width)) ** 2 + ((rel - 0.12) / 0.2) ** 2 < 1
        out[wheel] = srgb_to_linear((20, 20, 20))
    return out


def _pole(s, y, p: Panel):
    return np.broadcast_to(_c(p.colors, "base"), (len(s), 3)) * (0.8 + 0.4 * (0.5 - np.abs(s) / p.width))[:, None]


PANEL_TEXTURES = {"plain": _plain, "monitor": _monitor, "brick": _brick, "tiles": _tiles, "plaster": _plaster,
                  "facade": _facade, "car": _car, "pole": _pole}


def _floor_texture(scene: Scene, x, z):
    kind, col = scene.floor, scene.floor_colors
    if kind == "lab":           # vinyl tiles
        grid = ((x / 0.5) % 1 < 0.015) | ((z / 0.5) % 1 < 0.015)
        out = _c(col, "base")[None, :] * (0.95 + 0.08 * cell_random(x / 0.5, z / 0.5, scene.seed))[:, None]
        out[grid] *= 0.8
        return out
    if kind == "tiles":
        grout = ((x / 0.4) % 1 < 0.04) | ((z / 0.4) % 1 < 0.04)
        out = _c(col, "base")[None, :] * (0.85 + 0.25 * cell_random(x / 0.4, z / 0.4, scene.seed))[:, None]
        out[grout] = _c(col, "base") * 0.55
        return out
    if kind == "street":        # sidewalk pavers near the anchor, asphalt with lane marks beyond the kerb
        a = (x - col["origin"][0]) * col["axis"][0] + (z - col["origin"][1]) * col["axis"][1]
        lateral = (x - col["origin"][0]) * -col["axis"][1] + (z - col["origin"][1]) * col["axis"][0]
        road = a > col["kerb"]
        pav = (0.85 + 0.25 * cell_random(lateral / 0.3, a / 0.3, scene.seed))[:, None] * _c(col, "pavement")[None, :]
        pav[((lateral / 0.3) % 1 < 0.05) | ((a / 0.3) % 1 < 0.05)] *= 0.7
        asph = _c(col, "asphalt")[None, :] * (0.8 + 0.4 * value_noise(x * 4, z * 4, scene.seed))[:, None]
        lane = road & (np.abs(a - col["kerb"] - 3.5) < 0.07) & ((lateral / 3.0) % 1 < 0.5)
        out = np.where(road[:, None], asph, pav)
        out[lane] = srgb_to_linear((225, 225, 215))
        return out
    # concrete
    return _c(col, "base")[None, :] * (0.85 + 0.3 * value_noise(x * 2, z * 2, scene.seed))[:, None]


# ---------------------------------------------------------------- building scenes

def _muted(rng: np.random.Generator, lo: int, hi: int, tint: float = 0.12) -> tuple[int, int, int]:
    """A building-material colour: a gray level with a mild random tint (no saturated floors)."""
    level = rng.uniform(lo, hi)
    rgb = level * (1.0 + rng.uniform(-tint, tint, size=3))
    return tuple(int(v) for v in np.clip(rgb, 0, 255))


def build_scene(background: str, rng: np.random.Generator, anchor_xz=(0.0, 0.0), camera_bearing_deg: float = 0.0,
                light: Light | None = None) -> Scene:
    """The surroundings of ``anchor_xz`` as seen from a camera standing at ``camera_bearing_deg`` of it."""
    if background not in BACKGROUNDS:
        raise ValueError(f"unknown background {background!r}; choose one of {list(BACKGROUNDS)}")
    b = math.radians(camera_bearing_deg)
    back = np.array([-math.sin(b), -math.cos(b)])          # from the camera through the anchor, horizontally
    side = np.array([math.cos(b), -math.sin(b)])           # camera's right
    anchor = np.asarray(anchor_xz, dtype=float)
    seed = int(rng.integers(0, 2**31 - 1))

    def at(behind: float, lateral: float = 0.0) -> tuple[float, float]:
        p = anchor + behind * back + lateral * side
        return float(p[0]), float(p[1])

    def gray(lo, hi):
        v = int(rng.integers(lo, hi))
        return (v, v, int(v * rng.uniform(0.95, 1.05)))

    panels: list[Panel] = []
    light = light or Light()
    if background in ("none", "panel", "monitor"):
        floor, floor_colors = "lab", {"base": gray(150, 200)}
        wall_d = float(rng.uniform(5.0, 9.0))
        wall_col = _muted(rng, 170, 225)
        panels.append(Panel("plaster", at(wall_d), camera_bearing_deg, 60.0, 0.0, 4.0, {"base": wall_col}, seed + 1))
        for k in range(int(rng.integers(1, 4))):             # doors, cabinets, shelves along the far wall
            w = float(rng.uniform(0.8, 2.0))
            col = tuple(int(v) for v in rng.integers(40, 200, size=3))
            panels.append(Panel("plain", at(wall_d - 0.05 - 0.3 * k, float(rng.uniform(-4, 4))), camera_bearing_deg, w,
                                0.0, float(rng.uniform(0.9, 2.1)), {"base": col}, seed + 2 + k))
        if background == "panel":
            panels.append(Panel("plain", at(0.6), camera_bearing_deg, 1.8, 0.0, 2.2, {"base": (128, 128, 128)}, seed + 9))
        if background == "monitor":
            panels.append(Panel("pole", at(0.45), camera_bearing_deg, 0.08, 0.0, 1.1, {"base": (45, 45, 48)}, seed + 10))
            panels.append(Panel("monitor", at(0.4), camera_bearing_deg, 1.0, 1.05, 1.65, {"base": (14, 14, 16)}, seed + 11))
    elif background == "wall":
        floor = str(rng.choice(["tiles", "concrete"]))
        floor_colors = {"base": _muted(rng, 90, 190)}
        kind = str(rng.choice(["brick", "tiles", "plaster"]))
        colors = {"brick": {"base": (150, 70, 50), "mortar": (190, 185, 175)},
                  "tiles": {"base": _muted(rng, 120, 230)},
                  "plaster": {"base": _muted(rng, 140, 230)}}[kind]
        if kind == "brick":
            colors = {"base": tuple(int(v * rng.uniform(0.7, 1.2)) for v in colors["base"]), "mortar": colors["mortar"]}
        panels.append(Panel(kind, at(float(rng.uniform(1.0, 3.0))), camera_bearing_deg, 40.0, 0.0, 5.0, colors, seed + 1))
    else:  # street
        floor = "street"
        kerb = float(rng.uniform(1.0, 3.0))
        floor_colors = {"pavement": gray(140, 190), "asphalt": gray(55, 85), "kerb": kerb,
                        "origin": (float(anchor[0]), float(anchor[1])), "axis": (float(back[0]), float(back[1]))}
        road_w = float(rng.uniform(7.0, 12.0))
        facade_d = kerb + road_w + float(rng.uniform(2.0, 5.0))
        x = -30.0
        k = 0
        while x < 30.0:                                      # a row of buildings of different widths and colours
            w = float(rng.uniform(6.0, 14.0))
            col = _muted(rng, 90, 220, tint=0.25)
            acc = tuple(int(v) for v in rng.integers(20, 255, size=3))
            panels.append(Panel("facade", at(facade_d + float(rng.uniform(0, 1.5)), x + w / 2), camera_bearing_deg, w,
                                0.0, float(rng.uniform(8, 20)), {"base": col, "accent": acc}, seed + 20 + k))
            x += w
            k += 1
        for k in range(int(rng.integers(2, 6))):             # parked / passing cars on the road
            col = tuple(int(v) for v in rng.choice([[200, 200, 200], [30, 30, 30], [150, 20, 20], [30, 50, 110],
                                                    [120, 120, 125], [230, 230, 225]]))
            panels.append(Panel("car", at(kerb + float(rng.uniform(0.8, road_w - 1)), float(rng.uniform(-12, 12))),
                                camera_bearing_deg, 4.2, 0.15, 1.5, {"base": col}, seed + 40 + k))
        for k in range(int(rng.integers(2, 5))):             # poles, signs, bins on the sidewalk
            if rng.random() < 0.6:
                panels.append(Panel("pole", at(kerb - 0.3, float(rng.uniform(-10, 10))), camera_bearing_deg, 0.12, 0.0,
                                    float(rng.uniform(2.5, 5.0)), {"base": gray(70, 140)}, seed + 60 + k))
            else:
                panels.append(Panel("plain", at(float(rng.uniform(0.5, kerb)), float(rng.uniform(-6, 6))),
                                    camera_bearing_deg, 0.55, 0.0, 0.95,
                                    {"base": tuple(int(v) for v in rng.integers(30, 150, size=3))}, seed + 60 + k))
    ceiling = float(rng.uniform(2.8, 3.6)) if background in ("none", "panel", "monitor") else None
    return Scene(background, floor, floor_colors, panels, light, seed, ceiling=ceiling)


# ---------------------------------------------------------------- rendering

CEILING = srgb_to_linear((215, 215, 210))
SKY_HORIZON, SKY_ZENITH = srgb_to_linear((205, 215, 225)), srgb_to_linear((120, 160, 210))


def _panel_corners(panel: Panel) -> np.ndarray:
    f = math.radians(panel.facing_deg)
    tangent = np.array([math.cos(f), 0.0, -math.sin(f)])
    center = np.array([panel.center_xz[0], 0.0, panel.center_xz[1]])
    return np.array([center + sx * panel.width / 2 * tangent + [0.0, y, 0.0]
                     for sx in (-1, 1) for y in (panel.bottom, panel.top)])


def render_background(scene: Scene, grid: PixelGrid, dirs: np.ndarray | None = None, casters=(),
                      need: np.ndarray | None = None) -> np.ndarray:
    """Linear RGB (rows * cols, 3) of what the grid's rays see without the person.

    ``dirs``: the grid's ray directions if already computed. ``casters``: (x, z, height)
    of people standing in the scene, for their ground shadows. ``need``: flat bool mask of
    the pixels to shade (others are left black), e.g. those not covered by the person.
    Each panel is only tested against the pixels of its projected rectangle, so clutter
    outside the crop costs nothing.
    """
    origin = np.asarray(grid.camera.position, dtype=float)
    dirs = grid.directions() if dirs is None else dirs
    n = len(dirs)
    t_best = np.full(n, np.inf)
    color = np.empty((n, 3))
    light = scene.light.direction()
    lit = np.full(n, 1.0)        # diffuse factor n.l of the surface hit

    need = np.ones(n, dtype=bool) if need is None else need
    color[:] = 0.0
    upward = np.nonzero(need & (dirs[:, 1] >= 0))[0]
    if len(upward):  # sky, brighter near the horizon
        up = (dirs[upward, 1] / np.linalg.norm(dirs[upward], axis=1)) ** 0.6
        color[upward] = SKY_HORIZON * (1 - up[:, None]) + SKY_ZENITH * up[:, None]
    sky = np.ones(n, dtype=bool)
    if scene.ceiling is not None and len(upward):
        # Indoor ceiling: off-white with a grid of brighter light panels; lit by the room only.
        t_c = (scene.ceiling - origin[1]) / np.maximum(dirs[upward, 1], 1e-9)
        p = origin + t_c[:, None] * dirs[upward]
        lamp = ((p[:, 0] / 2.4) % 1 < 0.25) & ((p[:, 2] / 2.4) % 1 < 0.5)
        color[upward] = np.where(lamp[:, None], 1.0, CEILING * (0.9 + 0.1 * value_noise(p[:, 0], p[:, 2], scene.seed))[:, None])
        lit[upward] = 0.3
        t_best[upward] = t_c
        sky[upward] = False
        sky[upward[lamp]] = True        # emissive: not shaded

    # Ground plane y = 0.
    hit = np.nonzero(need & (dirs[:, 1] < -1e-9))[0]
    if len(hit):
        t_floor = -origin[1] / dirs[hit, 1]
        p = origin + t_floor[:, None] * dirs[hit]
        color[hit] = _floor_texture(scene, p[:, 0], p[:, 2])
        lit[hit] = max(light[1], 0.0) * (_ground_shadow(p[:, 0], p[:, 2], light, casters) if scene.shadows else 1.0)
        t_best[hit] = t_floor
        sky[hit] = False

    for panel in scene.panels:
        rect = grid.rect_of(_panel_corners(panel))
        if rect is None:
            continue
        sub = grid.flat_indices(rect)
        sub = sub[need[sub]]
        f = math.radians(panel.facing_deg)
        normal = np.array([math.sin(f), 0.0, math.cos(f)])
        tangent = np.array([math.cos(f), 0.0, -math.sin(f)])
        center = np.array([panel.center_xz[0], 0.0, panel.center_xz[1]])
        denom = dirs[sub] @ normal
        ok = np.abs(denom) > 1e-9
        t = ((center - origin) @ normal) / np.where(ok, denom, 1.0)
        ok &= (t > 0) & (t < t_best[sub])
        sub, t = sub[ok], t[ok]
        if len(sub) == 0:
            continue
        p = origin + t[:, None] * dirs[sub]
        s = (p - center) @ tangent
        inside = (np.abs(s) <= panel.width / 2) & (p[:, 1] >= panel.bottom) & (p[:, 1] <= panel.top)
        sub, t, s, y = sub[inside], t[inside], s[inside], p[inside, 1]
        if len(sub) == 0:
            continue
        tex = PANEL_TEXTURES[panel.kind](s, y, panel)
        solid = tex[:, 0] >= 0                              # negative = see-through part of the texture
        sub, tex = sub[solid], tex[solid]
        color[sub] = tex
        lit[sub] = abs(float(normal @ light))
        t_best[sub] = t[solid]
        sky[sub] = False

    shade = scene.light.ambient + scene.light.strength * lit
    shade[sky] = 1.0
    return color * shade[:, None]


def _ground_shadow(x: np.ndarray, z: np.ndarray, light: np.ndarray, casters) -> np.ndarray:
    """1 = fully lit, lower under a person: a contact blob plus a soft cast shadow away from the light."""
    out = np.ones_like(x)
    for cx, cz, height in casters:
        dx, dz = x - cx, z - cz
        out *= 1.0 - 0.55 * np.exp(-(dx * dx + dz * dz) / 0.05)
        if light[1] > 0.05:
            # The person as a vertical segment; its shadow runs from the feet away from the light.
            sx, sz = -light[0] / light[1] * height, -light[2] / light[1] * height
            length2 = sx * sx + sz * sz
            if length2 > 1e-6:
                u = np.clip((dx * sx + dz * sz) / length2, 0.0, 1.0)
                ex, ez = dx - u * sx, dz - u * sz
                width = 0.16 * (1.0 - 0.5 * u)
                out *= 1.0 - 0.6 * np.exp(-(ex * ex + ez * ez) / (width * width))
    return out
