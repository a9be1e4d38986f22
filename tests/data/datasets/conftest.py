"""Tiny on-disk data sets (tracks, Market layout, flat crops) generated into tmp_path."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reidfw.data.formats.image_io import write_image
from reidfw.data.formats.market import SPLITS, market_name
from reidfw.data.formats.tracks import write_tracks_table


def person(seed: int, h: int = 48, w: int = 20) -> np.ndarray:
    """A crude 'person': a coloured body on a random background, deterministic per seed."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    img[h // 6 : h - 2, w // 5 : w - w // 5] = rng.integers(0, 255, 3, dtype=np.uint8)
    return img


def write_tracks(root: Path, sizes: dict[str, int]) -> Path:
    rows = []
    for t, (track_id, n) in enumerate(sizes.items()):
        for frame in range(n):
            rel = f"{track_id}/{frame}.png"
            write_image(root / rel, person(100 * t + frame))
            rows.append(dict(track_id=track_id, frame=frame, camera="cam0", x=10, y=20, w=20, h=48, path=rel))
    write_tracks_table(root, rows)
    return root


def write_market(root: Path, pids=(1, 2, 3), cams=(1, 2), per_cam: int = 2) -> Path:
    """Query: one image per identity from the first camera; gallery and train: per_cam per camera."""
    for split, folder in SPLITS.items():
        split_cams, n_per = ((cams[0],), 1) if split == "query" else (cams, per_cam)
        for pid in pids:
            for cam in split_cams:
                for j in range(n_per):
                    name = market_name(pid, cam, frame=100 * pid + j, n=j if split != "query" else 9)
                    write_image(root / folder / name, person(1000 * pid + 10 * cam + j))
    # a junk detection (pid -1) in the gallery, which the data sets leave out
    write_image(root / SPLITS["gallery"] / market_name(-1, 1, frame=999), person(7))
    return root


def write_flat(root: Path, n: int) -> Path:
    for i in range(n):
        write_image(root / f"{i:05d}.jpg", person(5000 + i, 60, 30))
    return root


@pytest.fixture
def tracks_root(tmp_path) -> Path:
    # t_single has 1 image: dropped by the default min_images_per_identity=2
    return write_tracks(tmp_path / "tracks", {"t_b": 5, "t_single": 1, "t_a": 3, "t_c": 2, "t_d": 6})


@pytest.fixture
def market_root(tmp_path) -> Path:
    return write_market(tmp_path / "market")


@pytest.fixture
def flat_root(tmp_path) -> Path:
    return write_flat(tmp_path / "crops", 8)
