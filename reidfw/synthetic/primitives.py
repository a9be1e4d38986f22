"""The one analytic solid the person is built from, and its ray intersection.

A :class:`Solid` is a capsule in a scaled, rotated local frame: the set of points
within distance 1 of the segment y in [-L, L] after dividing local coordinates by
``scale``. With that single shape we get
  * round capsules (limbs, straps):  scale = (r, r, r), L = half_length / r
  * ellipsoids (head, hands, hair):  L = 0
  * rounded boxes with elliptic cross-section (torso, pelvis, backpack): unequal scale, L > 0.
One intersection routine therefore serves every body part, and all rays of an image
share one origin (the camera), which keeps the per-pixel work to a few array ops.

An optional clip plane keeps only the part of the surface where
``dot(local_point, clip_normal) >= clip_offset`` (helmet shells, caps, hair); where the
front surface is clipped away the ray may hit the inside of the far surface instead.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reidfw.synthetic.materials import Material


@dataclass
class Solid:
    part: str                      # body part name, e.g. "upper_arm_l" (for debugging and meta)
    center: np.ndarray             # (3,) body frame
    rotation: np.ndarray           # (3, 3) columns = local axes in the body frame
    scale: np.ndarray              # (3,) local semi-axes of the rounding
    half_length: float             # L, in scaled units along local Y
    material: Material
    chain_offset: float = 0.0      # texture coordinate of this part's start along its limb chain
    clip_normal: np.ndarray | None = None   # (3,) local frame
    clip_offset: float = 0.0

    def bounding_radius(self) -> float:
        """Radius of a sphere around ``center`` that contains the solid (for screen culling)."""
        return float(self.scale[1] * self.half_length + np.max(self.scale))


@dataclass
class Hits:
    """Where rays hit one solid: ``t`` (inf = miss), hit point and normal in body frame, local point."""

    t: np.ndarray
    point_body: np.ndarray
    point_local: np.ndarray
    normal_body: np.ndarray
    along: np.ndarray              # 0 at the segment's start, 1 at its end (texture coordinate)


def _sphere_roots(o: np.ndarray, d: np.ndarray, a: np.ndarray, cy: float):
    """Both ray parameters where o + t d meets the unit sphere at (0, cy, 0); NaN where missed."""
    oy = o[1] - cy
    b = d[:, 0] * o[0] + d[:, 1] * oy + d[:, 2] * o[2]
    c = o[0] * o[0] + oy * oy + o[2] * o[2] - 1.0
    disc = b * b - a * c
    root = np.sqrt(np.where(disc > 0, disc, np.nan))
    return (-b - root) / a, (-b + root) / a


def intersect(solid: Solid, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ray parameters where ``origin + t * dirs`` (body frame, dirs (N, 3)) first meets ``solid``.

    Returns ``(t, inside_face)``: ``t`` is inf where the ray misses; ``inside_face`` marks
    hits on the inner side of a clipped shell. Only depth is computed here; the surface
    details are computed by :func:`surface` for the pixels that win the depth test.
    """
    inv_scale = 1.0 / solid.scale
    o = (solid.rotation.T @ (origin - solid.center)) * inv_scale
    d = (dirs @ solid.rotation) * inv_scale
    a = np.einsum("ij,ij->i", d, d)
    L = solid.half_length

    if solid.clip_normal is not None:
        if L != 0:
            raise ValueError(f"solid {solid.part!r}: a clip plane is only supported on ellipsoids (half_length 0)")
        # Try the near surface, then the far (inner) one where the near one is clipped away.
        t_near, t_far = _sphere_roots(o, d, a, 0.0)
        keep_near = ((o + t_near[:, None] * d) * solid.scale) @ solid.clip_normal >= solid.clip_offset
        keep_far = ((o + t_far[:, None] * d) * solid.scale) @ solid.clip_normal >= solid.clip_offset
        near_ok = keep_near & (t_near > 0)
        t = np.where(near_ok, t_near, np.where(keep_far & (t_far > 0), t_far, np.inf))
        return t, ~near_ok & np.isfinite(t)

    t = np.full(len(d), np.inf)
    if L > 0:
        # Side of the (infinite) cylinder around local Y, valid between the two caps.
        ac = d[:, 0] ** 2 + d[:, 2] ** 2
        bc = d[:, 0] * o[0] + d[:, 2] * o[2]
        cc = o[0] ** 2 + o[2] ** 2 - 1.0
        disc = bc * bc - ac * cc
        ok = (disc > 0) & (ac > 1e-12)
        tc = (-bc - np.sqrt(np.where(ok, disc, 0.0))) / np.where(ok, ac, 1.0)
        ok &= (np.abs(o[1] + tc * d[:, 1]) <= L) & (tc > 0)
        t = np.where(ok, tc, t)
    for cy in ((L, -L) if L > 0 else (0.0,)):
        ts, _ = _sphere_roots(o, d, a, cy)
        t = np.where(np.isfinite(ts) & (ts > 0) & (ts < t), ts, t)
    return t, np.zeros(len(d), dtype=bool)


def surface(solid: Solid, origin: np.ndarray, dirs: np.ndarray, t: np.ndarray, inside_face: np.ndarray) -> Hits:
    """Hit points, normals and texture coordinates for rays known to hit ``solid`` at ``t``."""
    inv_scale = 1.0 / solid.scale
    point_body = origin + t[:, None] * dirs
    q = ((point_body - solid.center) @ solid.rotation) * inv_scale      # scaled local point
    L = solid.half_length
    axis_y = np.clip(q[:, 1], -L, L)
    n_scaled = q.copy()
    n_scaled[:, 1] -= axis_y
    n_local = n_scaled * inv_scale                                     # inverse-transpose of the scaling
    n_local[inside_face] *= -1.0
    n_body = n_local @ solid.rotation.T
    n_body /= np.maximum(np.linalg.norm(n_body, axis=1, keepdims=True), 1e-12)
    along = (axis_y / L + 1.0) * 0.5 if L > 0 else np.full(len(t), 0.5)
    return Hits(t=t, point_body=point_body, point_local=q * solid.scale, normal_body=n_body, along=along)
