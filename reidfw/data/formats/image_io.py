"""Reading and writing crops, with errors that name the file and the fix.

Every loader in reidfw reads pixels through :func:`read_image`, so a missing,
truncated or non-image file fails the same way everywhere.
"""
from __future__ import annotations

from pathlib import Path

import io

import cv2
import numpy as np

from reidfw.errors import ReidfwError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
# Larger images are refused before decoding: a person crop or a camera frame is far smaller, and a
# file that claims more (a "decompression bomb": a few KB that unpack to gigabytes) must not be
# allocated. 8K video frames (33 Mpx) pass.
MAX_IMAGE_PIXELS = 64_000_000


class ImageReadError(ReidfwError, RuntimeError):
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
    _check_pixel_count(path, data)
    # IMREAD_COLOR: grayscale is expanded to 3 channels, alpha dropped, 16 bits scaled to 8, CMYK converted.
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise ImageReadError(
            f"cannot decode image {path} ({data.size} bytes): the file is empty, truncated "
            f"or not an image. Replace or delete it and re-run."
        )
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _check_pixel_count(path: Path, data: np.ndarray) -> None:
    """Refuse an image whose header claims more than MAX_IMAGE_PIXELS, reading the header only."""
    import re
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data.tobytes())) as im:
                width, height = im.size
        pixels, size = width * height, f"{width}x{height} pixels"
    except Image.DecompressionBombError as e:  # above PIL's own limit: its message gives the count
        m = re.search(r"\((\d+) pixels\)", str(e))
        pixels = int(m.group(1)) if m else MAX_IMAGE_PIXELS + 1
        size = f"{pixels} pixels"
    except Exception:  # noqa: BLE001 -- not an image PIL knows: cv2 decides (and names the file) below
        return
    if pixels > MAX_IMAGE_PIXELS:
        raise ImageReadError(
            f"image {path} claims {size} ({pixels / 1e6:.0f} Mpx), above reidfw's limit of "
            f"{MAX_IMAGE_PIXELS / 1e6:.0f} Mpx (a decompression bomb or an uncropped photo); it was not decoded. "
            f"Crop or downscale it, or delete it and re-run."
        )


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
