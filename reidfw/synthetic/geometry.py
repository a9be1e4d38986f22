"""Rotation helpers shared by the body, camera and scene code.

Conventions used across the renderer: world and body frames are right-handed with
+Y up. The body frame has its origin on the ground between the feet, +Z pointing
out of the person's chest (the way they face) and +X towards the person's LEFT hand.
"""
from __future__ import annotations

import numpy as np


def rot_x(angle_rad: float) -> np.ndarray:
    """Rotation about +X; a positive angle turns +Y towards +Z."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(angle_rad: float) -> np.ndarray:
    """Rotation about +Y; a positive angle turns +Z towards +X."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(angle_rad: float) -> np.ndarray:
    """Rotation about +Z; a positive angle turns +X towards +Y."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def frame_from_axis(axis: np.ndarray, side_hint: np.ndarray = np.array([1.0, 0.0, 0.0])) -> np.ndarray:
    """A rotation whose second column (local +Y) is ``axis``; local +X stays close to ``side_hint``.

    Limbs are capsules along their local Y; keeping local X near the body's X makes
    part-local texture coordinates (front = +Z) mean the same thing on every part.
    """
    y = np.asarray(axis, dtype=float)
    y = y / np.linalg.norm(y)
    x = np.asarray(side_hint, dtype=float) - y * float(np.dot(side_hint, y))
    if np.linalg.norm(x) < 1e-6:  # axis parallel to the hint: any perpendicular will do
        x = np.cross(y, [0.0, 0.0, 1.0])
    x = x / np.linalg.norm(x)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=1)


def normalize_rows(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)
