"""An articulated person made of analytic solids, posed by a walking cycle and a posture wobble.

``build_body(identity, pose)`` returns the solids of one person in the body frame
(origin on the ground between the feet, +Y up, +Z = the way the person faces, +X = the
person's left). Proportions follow common anthropometric ratios of the standing
height H (shoulder joint ~0.82 H, hip joint ~0.52 H, knee ~0.28 H, head ~0.13 H tall).

Two things change the posture:
  * the walking cycle (``walk_phase`` radians, ``walk_amount`` 0 = standing .. 1 = normal
    walk): legs swing in opposition, knees flex in the swing phase, arms counter-swing,
    the torso twists slightly;
  * the *posture wobble* (``wobble_seed``): small random joint angles, lean, head turn,
    weight shift and a few degrees of body yaw, as a person standing still never holds
    the same posture twice. The study's 5 images per condition differ only by this.

Front/back and left/right are deliberately not symmetric: the face and (usually) the
shirt print are on the front, a backpack sits on the back with only its straps visible
from the front, and a shoulder bag hangs on one side with its strap across the chest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reidfw.synthetic.geometry import frame_from_axis, rot_x, rot_y, rot_z
from reidfw.synthetic.identity import Identity
from reidfw.synthetic.materials import Material
from reidfw.synthetic.primitives import Solid

DOWN = np.array([0.0, -1.0, 0.0])


@dataclass(frozen=True)
class Pose:
    walk_phase: float = 0.0          # radians; 0 = left leg passing under the body, swinging forward
    walk_amount: float = 0.0         # 0 = standing, 1 = normal walking stride
    wobble_seed: int | None = None   # None = the exact neutral standing posture
    wobble_scale: float = 1.0        # multiplies every wobble amplitude

    def to_meta(self) -> dict:
        return {"walk_phase": float(self.walk_phase), "walk_amount": float(self.walk_amount),
                "wobble_seed": self.wobble_seed, "wobble_scale": float(self.wobble_scale)}


@dataclass
class Body:
    solids: list[Solid]
    yaw_offset_deg: float            # the wobble's small turn of the whole body, added to the person's yaw
    posture: dict                    # joint angles actually used (degrees), JSON-able


def wobble_angles(seed: int | None, scale: float = 1.0) -> dict:
    """Random small posture deviations (degrees, metres for ``sway``) from ``seed``."""
    names_sigma = {
        "hip_flex_l": 2.5, "hip_flex_r": 2.5, "hip_abd_l": 1.5, "hip_abd_r": 1.5,
        "shoulder_flex_l": 5.0, "shoulder_flex_r": 5.0, "shoulder_abd_l": 3.0, "shoulder_abd_r": 3.0,
        "torso_lean": 2.0, "torso_side": 1.5, "torso_twist": 3.0,
        "head_yaw": 8.0, "head_pitch": 5.0, "head_roll": 3.0, "yaw": 3.0,
    }
    if seed is None:
        out = {k: 0.0 for k in names_sigma}
        out.update(knee_l=0.0, knee_r=0.0, elbow_l=0.0, elbow_r=0.0, sway=0.0)
        return out
    rng = np.random.default_rng(int(seed))
    out = {k: float(rng.normal(0.0, s) * scale) for k, s in names_sigma.items()}
    for k in ("knee_l", "knee_r"):
        out[k] = float(rng.uniform(0.0, 6.0) * scale)
    for k in ("elbow_l", "elbow_r"):
        out[k] = float(rng.uniform(0.0, 18.0) * scale)
    out["sway"] = float(rng.normal(0.0, 0.015) * scale)
    return out


def _capsule(part, a, b, radius, material, chain_offset=0.0, side=np.array([1.0, 0.0, 0.0])) -> Solid:
    a, b = np.asarray(a, float), np.asarray(b, float)
    length = float(np.linalg.norm(b - a))
    return Solid(part, (a + b) / 2, frame_from_axis(b - a, side), np.full(3, radius),
                 length / 2 / radius, material, chain_offset)


def _ellipsoid(part, center, rotation, semi, material, clip_normal=None, clip_offset=0.0) -> Solid:
    return Solid(part, np.asarray(center, float), rotation, np.asarray(semi, float), 0.0, material,
                 clip_normal=None if clip_normal is None else np.asarray(clip_normal, float), clip_offset=clip_offset)


def _rounded_box(part, center, rotation, semi_x, semi_z, half_height, cap, material) -> Solid:
    """An elliptic cylinder with ellipsoidal ends: torso, pelvis, bags."""
    return Solid(part, np.asarray(center, float), rotation, np.array([semi_x, cap, semi_z]),
                 max(half_height - cap, 0.0) / cap, material)


def _walk_angles(phase: float, amount: float) -> dict:
    """Joint angles of the gait cycle (degrees); the right side runs half a cycle behind."""
    out = {}
    for side, ph in (("l", phase), ("r", phase + np.pi)):
        out[f"hip_flex_{side}"] = 24.0 * amount * np.sin(ph)
        out[f"knee_{side}"] = amount * 55.0 * max(0.0, np.cos(ph + 0.5)) ** 2
        out[f"shoulder_flex_{side}"] = -20.0 * amount * np.sin(ph)
        out[f"elbow_{side}"] = 10.0 * amount * (1.0 + np.sin(ph + np.pi))
    out["torso_lean"] = 3.0 * amount
    out["torso_twist"] = -5.0 * amount * np.sin(phase)
    return out


def body_materials(idt: Identity) -> dict[str, Material]:
    H = idt.height
    top_colors = {"base": idt.top_color, "accent": idt.top_accent, "motif": idt.top_motif, "skin": idt.skin}
    top_params = {"pattern": idt.top_pattern, "height": H, "stripe_period": idt.stripe_period,
                  "print_side": idt.print_side}
    sleeve_length = {"long": 1.95, "short": 0.45, "none": -0.05}[idt.sleeve]
    hem = {"trousers": 1.97, "capri": 1.55, "shorts": 0.5}[idt.bottom_style]
    bottom_colors = {"base": idt.bottom_color, "skin": idt.skin}
    return {
        "skin": Material("solid", {"base": idt.skin}),
        "head": Material("head", {"skin": idt.skin, "hair": idt.hair_color},
                         {"semi_axes": (0.046 * H, 0.066 * H, 0.057 * H)}),
        "hair": Material("solid", {"base": idt.hair_color}),
        "torso": Material("top", top_colors, {**top_params, "role": "torso"}),
        "sleeve": Material("top", top_colors, {**top_params, "role": "sleeve", "sleeve_length": sleeve_length}),
        "pelvis": Material("bottom", bottom_colors, {"role": "pelvis"}),
        "leg": Material("bottom", bottom_colors, {"role": "leg", "hem": hem}),
        "shoe": Material("shoe", {"base": idt.shoe_color, "sole": idt.sole_color}, {"sole_height": 0.012 * H}),
        "headwear": Material("solid", {"base": idt.headwear_color}, specular=0.5 if idt.headwear == "helmet" else 0.1),
        "backpack": Material("bag", {"base": idt.backpack_color, "accent": tuple(int(c * 0.7) for c in idt.backpack_color)},
                             {"semi_y": 0.12 * H, "semi_x": 0.085 * H}, specular=0.15),
        "bag": Material("bag", {"base": idt.bag_color, "accent": tuple(min(255, int(c * 1.3) + 10) for c in idt.bag_color)},
                        {"semi_y": 0.06 * H, "semi_x": 0.07 * H, "pocket_w": 2.0}, specular=0.15),
        "strap": Material("solid", {"base": tuple(int(c * 0.8) for c in idt.backpack_color)}),
        "bag_strap": Material("solid", {"base": tuple(int(c * 0.8) for c in idt.bag_color)}),
    }


def build_body(idt: Identity, pose: Pose = Pose()) -> Body:
    """Solids of ``idt`` in ``pose``, standing on the ground plane y = 0 of the body frame."""
    H, b = idt.height, idt.build
    loose = idt.top_looseness
    mat = body_materials(idt)
    ang = {k: 0.0 for k in wobble_angles(None)}
    ang.update(shoulder_abd_l=6.0, shoulder_abd_r=6.0, elbow_l=8.0, elbow_r=8.0, hip_abd_l=2.0, hip_abd_r=2.0,
               knee_l=3.0, knee_r=3.0)
    for k, v in _walk_angles(pose.walk_phase, pose.walk_amount).items():
        ang[k] += v
    for k, v in wobble_angles(pose.wobble_seed, pose.wobble_scale).items():
        ang[k] += v
    rad = {k: np.deg2rad(v) for k, v in ang.items() if k != "sway"}
    solids: list[Solid] = []

    # Pelvis and torso.
    pelvis_c = np.array([ang["sway"], 0.545 * H, 0.0])
    solids.append(_rounded_box("pelvis", pelvis_c, np.eye(3), 0.095 * H * b, 0.066 * H * b, 0.063 * H, 0.045 * H,
                               mat["pelvis"]))
    root = pelvis_c + np.array([0.0, 0.05 * H, 0.0])
    R_t = rot_y(rad["torso_twist"]) @ rot_x(rad["torso_lean"]) @ rot_z(rad["torso_side"])
    ax, az = 0.1 * H * b * loose, 0.062 * H * b * loose
    solids.append(_rounded_box("torso", root + R_t @ [0, 0.12 * H, 0], R_t, ax, az, 0.125 * H, 0.055 * H, mat["torso"]))

    # Neck and head.
    neck_base = root + R_t @ [0, 0.225 * H, 0]
    neck_top = root + R_t @ [0, 0.28 * H, 0.004 * H]
    solids.append(_capsule("neck", neck_base, neck_top, 0.028 * H, mat["skin"]))
    R_h = R_t @ rot_y(rad["head_yaw"]) @ rot_x(rad["head_pitch"]) @ rot_z(rad["head_roll"])
    head_semi = np.array([0.046, 0.066, 0.057]) * H
    head_c = neck_top + R_h @ [0, 0.052 * H, 0.006 * H]
    solids.append(_ellipsoid("head", head_c, R_h, head_semi, mat["head"]))
    if idt.hair_style != "bald":
        solids.append(_ellipsoid("hair", head_c + R_h @ [0, 0.006 * H, -0.004 * H], R_h, head_semi * [1.09, 1.07, 1.08],
                                 mat["hair"], clip_normal=[0, 1, -0.69], clip_offset=-0.0075 * H))
        # (the clip plane leaves the face free: hairline above the brows in front, at the nape behind)
    if idt.hair_style == "long":
        solids.append(Solid("hair_long", head_c + R_h @ [0, -0.06 * H, -0.032 * H], R_t,
                            np.array([0.047 * H, 0.03 * H, 0.024 * H]), 1.6, mat["hair"]))
    if idt.headwear == "helmet":
        solids.append(_ellipsoid("helmet", head_c + R_h @ [0, 0.018 * H, -0.003 * H], R_h,
                                 np.array([0.057, 0.068, 0.067]) * H, mat["headwear"],
                                 clip_normal=[0, 1, -0.3], clip_offset=-0.01 * H))
        solids.append(_ellipsoid("helmet_peak", head_c + R_h @ [0, 0.026 * H, 0.056 * H], R_h @ rot_x(-0.25),
                                 np.array([0.045, 0.005, 0.03]) * H, mat["headwear"]))
    elif idt.headwear == "cap":
        solids.append(_ellipsoid("cap", head_c + R_h @ [0, 0.01 * H, -0.002 * H], R_h, head_semi * [1.08, 1.06, 1.07],
                                 mat["headwear"], clip_normal=[0, 1, -0.2], clip_offset=0.012 * H))
        solids.append(_ellipsoid("cap_visor", head_c + R_h @ [0, 0.03 * H, 0.062 * H], R_h @ rot_x(0.15),
                                 np.array([0.042, 0.004, 0.04]) * H, mat["headwear"]))

    # Arms: shoulder -> elbow -> wrist -> hand.
    for side, sx in (("l", 1.0), ("r", -1.0)):
        shoulder = root + R_t @ [sx * 0.118 * H * b, 0.215 * H, 0.0]
        R_ua = R_t @ rot_z(sx * rad[f"shoulder_abd_{side}"]) @ rot_x(-rad[f"shoulder_flex_{side}"])
        elbow = shoulder + R_ua @ DOWN * 0.175 * H
        R_fa = R_ua @ rot_x(-rad[f"elbow_{side}"])
        wrist = elbow + R_fa @ DOWN * 0.145 * H
        side_axis = R_t[:, 0]
        solids.append(_capsule(f"upper_arm_{side}", shoulder, elbow, 0.031 * H * b * loose ** 0.5, mat["sleeve"], 0.0, side_axis))
        solids.append(_capsule(f"forearm_{side}", elbow, wrist, 0.024 * H * b, mat["sleeve"], 1.0, side_axis))
        solids.append(_ellipsoid(f"hand_{side}", wrist + R_fa @ DOWN * 0.04 * H, R_fa,
                                 np.array([0.017, 0.045, 0.024]) * H, mat["skin"]))

    # Legs: hip -> knee -> ankle, feet pointing forward.
    trouser_extra = 1.06 if idt.bottom_style == "trousers" else 1.0
    feet = []
    for side, sx in (("l", 1.0), ("r", -1.0)):
        hip = pelvis_c + np.array([sx * 0.05 * H * b, -0.025 * H, 0.0])
        R_th = rot_z(sx * rad[f"hip_abd_{side}"]) @ rot_x(-rad[f"hip_flex_{side}"])
        knee = hip + R_th @ DOWN * 0.245 * H
        R_sh = R_th @ rot_x(rad[f"knee_{side}"])
        ankle = knee + R_sh @ DOWN * 0.235 * H
        solids.append(_capsule(f"thigh_{side}", hip, knee, 0.046 * H * b * trouser_extra, mat["leg"], 0.0))
        solids.append(_capsule(f"shin_{side}", knee, ankle, 0.032 * H * b * trouser_extra, mat["leg"], 1.0))
        # The foot stays near horizontal; it pitches a little with the shin (toe-off / heel strike).
        shin_pitch = np.arctan2(-(R_sh @ DOWN)[2], -(R_sh @ DOWN)[1])
        R_f = rot_x(-0.35 * shin_pitch)
        heel = ankle + R_f @ [0, -0.016 * H, -0.028 * H]
        toe = ankle + R_f @ [sx * 0.006 * H, -0.02 * H, 0.1 * H]
        foot = _capsule(f"foot_{side}", heel, toe, 0.022 * H, mat["shoe"])
        solids.append(foot)
        feet.append((heel, toe, 0.022 * H))

    # Accessories on the torso.
    if idt.backpack:
        back_z = -(az + 0.042 * H)
        solids.append(_rounded_box("backpack", root + R_t @ [0, 0.115 * H, back_z], R_t, 0.085 * H, 0.04 * H,
                                   0.125 * H, 0.045 * H, mat["backpack"]))
        front_z = az + 0.006 * H
        for sx in (1.0, -1.0):
            top = root + R_t @ [sx * 0.062 * H, 0.245 * H, -0.01 * H]
            chest = root + R_t @ [sx * 0.062 * H, 0.185 * H, front_z * 0.93]
            low = root + R_t @ [sx * 0.075 * H, 0.05 * H, front_z * 0.85]
            solids.append(_capsule("backpack_strap", top, chest, 0.011 * H, mat["strap"]))
            solids.append(_capsule("backpack_strap", chest, low, 0.011 * H, mat["strap"]))
    if idt.shoulder_bag != "none":
        sb = 1.0 if idt.shoulder_bag == "left" else -1.0
        bag_c = root + R_t @ [sb * (ax + 0.028 * H), -0.035 * H, 0.01 * H]
        solids.append(_rounded_box("shoulder_bag", bag_c, R_t, 0.024 * H, 0.075 * H, 0.06 * H, 0.03 * H, mat["bag"]))
        shoulder_top = root + R_t @ [-sb * 0.06 * H, 0.247 * H, 0.0]
        bag_top = bag_c + R_t @ [0, 0.055 * H, 0]
        for zs in (1.0, -1.0):  # the strap crosses the chest and the back diagonally
            mid = root + R_t @ [-sb * 0.02 * H, 0.17 * H, zs * (az * 0.98 + 0.008 * H)]
            solids.append(_capsule("bag_strap", shoulder_top, mid, 0.008 * H, mat["bag_strap"]))
            solids.append(_capsule("bag_strap", mid, bag_top, 0.008 * H, mat["bag_strap"]))

    # Stand on the ground: lift or lower everything so the lowest shoe point touches y = 0.
    lowest = min(min(h[1], t[1]) - r for h, t, r in feet)
    for s in solids:
        s.center = s.center - np.array([0.0, lowest, 0.0])
    posture = {k: round(float(v), 3) for k, v in ang.items()}
    return Body(solids=solids, yaw_offset_deg=float(ang["yaw"]), posture=posture)
