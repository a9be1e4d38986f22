"""The paper's preprocessing: crop to the person box, resize keeping the aspect
ratio into the model input, fill what is left with RGB (128, 128, 128)."""
from __future__ import annotations

import cv2
import numpy as np

PAPER_FILL = (128, 128, 128)


def crop_box(image: np.ndarray, box: tuple[float, float, float, float] | None) -> np.ndarray:
    """Crop ``(x, y, w, h)`` clipped to the image; ``None`` keeps the whole image."""
    if box is None:
        return image
    x, y, w, h = box
    H, W = image.shape[:2]
    x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
    x1, y1 = min(W, int(round(x + w))), min(H, int(round(y + h)))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box {box} lies outside the {W}x{H} image")
    return image[y0:y1, x0:x1]


def letterbox(image: np.ndarray, size: tuple[int, int], fill=PAPER_FILL) -> np.ndarray:
    """Fit ``image`` into ``size = (height, width)`` without distortion, centred."""
    th, tw = size
    h, w = image.shape[:2]
    scale = min(th / h, tw / w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    if resized.ndim == 2:
        resized = resized[..., None]
    fill_arr = np.asarray(fill, dtype=image.dtype).reshape(1, 1, -1)
    out = np.empty((th, tw, resized.shape[2]), dtype=image.dtype)
    out[...] = fill_arr[..., : resized.shape[2]]
    top, left = (th - nh) // 2, (tw - nw) // 2
    out[top : top + nh, left : left + nw] = resized
    return out if image.ndim == 3 else out[..., 0]
