"""What curation needs to know about every tracked box, measured while the frame is in memory.

- ``sharpness``: variance of the Laplacian of the gray crop resized to 128 px tall (resizing
  makes people of different sizes comparable; low = blurred by motion or focus);
- ``occlusion``: the share of the box covered by the boxes of *nearer* people (all
  detections of the frame, tracked or not; on a ground plane seen from above, the box
  whose bottom edge is lower in the image stands nearer the camera).
"""
from __future__ import annotations

import cv2
import numpy as np

SHARPNESS_HEIGHT = 128


def sharpness(gray_crop: np.ndarray) -> float:
    if gray_crop.size == 0 or gray_crop.shape[0] < 2 or gray_crop.shape[1] < 2:
        return 0.0
    scale = SHARPNESS_HEIGHT / gray_crop.shape[0]
    resized = cv2.resize(gray_crop, (max(2, int(round(gray_crop.shape[1] * scale))), SHARPNESS_HEIGHT),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return float(cv2.Laplacian(resized, cv2.CV_64F).var())


def occlusion(box: np.ndarray, others: np.ndarray) -> float:
    """Share of ``box`` (x0, y0, x1, y1) under the union of the ``others`` whose bottom edge is lower."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    w, h = x1 - x0, y1 - y0
    if w <= 0 or h <= 0 or len(others) == 0:
        return 0.0
    covered = np.zeros((h, w), dtype=bool)
    for ox0, oy0, ox1, oy1 in np.asarray(others).reshape(-1, 4):
        if oy1 <= box[3]:
            continue                                   # not nearer than this person
        ix0, iy0 = max(x0, int(round(ox0))), max(y0, int(round(oy0)))
        ix1, iy1 = min(x1, int(round(ox1))), min(y1, int(round(oy1)))
        if ix1 > ix0 and iy1 > iy0:
            covered[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0] = True
    return float(covered.mean())


def margin_box(box: np.ndarray, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The crop around a person box: ``margin`` of its height added on every side, clipped to the frame."""
    x0, y0, x1, y1 = (float(v) for v in box)
    m = margin * (y1 - y0)
    return (max(0, int(np.floor(x0 - m))), max(0, int(np.floor(y0 - m))),
            min(width, int(np.ceil(x1 + m))), min(height, int(np.ceil(y1 + m))))
