"""Reading and writing crops, with errors that name the file and the fix.

Every loader in reidfw reads pixels through :func:`read_image`, so a missing,
truncated or non-image file fails the same way everywhere.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class ImageReadError(RuntimeError):
    """A crop could not be read; the message names the path and what to do."""


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as RGB uint8 (H, W, 3)."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(
            f"image not found: {path}. Check the data root in your config "
            f"(data.root=...) or regenerate the synthetic set (delete its cache folder)."
        )
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise ImageReadError(
            f"cannot decode image {path} ({data.size} bytes): the file is empty, truncated "
            f"or not an image. Replace or delete it and re-run."
        )
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_mask(path: str | Path) -> np.ndarray:
    """Read a person mask as bool (H, W); any non-zero pixel is the person."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"mask not found: {path}. Remove the 'mask' entry from the manifest or add the file.")
    data = np.fromfile(str(path), dtype=np.uint8)
    m = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if m is None:
        raise ImageReadError(f"cannot decode mask {path}: the file is empty, truncated or not an image.")
    return m > 0


def write_image(path: str | Path, rgb: np.ndarray, jpeg_quality: int = 95) -> None:
    """Write RGB uint8; the suffix picks the codec (.jpg/.png)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if suffix in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(suffix, cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise OSError(f"could not encode {path}")
    buf.tofile(str(path))


def write_mask(path: str | Path, mask: np.ndarray) -> None:
    """Write a bool mask as a lossless 0/255 PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", (np.asarray(mask) > 0).astype(np.uint8) * 255)
    if not ok:
        raise OSError(f"could not encode {path}")
    buf.tofile(str(path))


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
