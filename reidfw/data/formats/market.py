"""Market-1501 layout: ``bounding_box_train/``, ``bounding_box_test/``, ``query/``.

File names are ``<pid>_c<cam>s<seq>_<frame>_<n>.jpg``; pid ``-1`` marks junk
images and ``0000`` distractors, as in the original release.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from reidfw.data.formats.image_io import list_images
from reidfw.errors import DataFormatError

SPLITS = {"train": "bounding_box_train", "gallery": "bounding_box_test", "query": "query"}
_NAME = re.compile(r"^(-?\d+)_c(\d+)s(\d+)_(\d+)_(\d+)")
JUNK_PID = -1  # a bad detection: neither right nor wrong in retrieval
DISTRACTOR_PID = 0  # a person never queried: a match of nothing, not one identity


@dataclass(frozen=True)
class MarketImage:
    path: Path
    pid: int
    camera: int


def market_name(pid: int, camera: int, frame: int, n: int = 0, seq: int = 1, suffix: str = ".jpg") -> str:
    pid_str = "-1" if pid == JUNK_PID else f"{pid:04d}"
    return f"{pid_str}_c{camera}s{seq}_{frame:06d}_{n:02d}{suffix}"


def parse_market_name(name: str) -> tuple[int, int]:
    """``0002_c1s1_000451_03.jpg`` -> (2, 1)."""
    m = _NAME.match(Path(name).name)
    if not m:
        raise ValueError(f"not a Market-1501 file name: {name!r} (expected <pid>_c<cam>s<seq>_<frame>_<n>.jpg)")
    return int(m.group(1)), int(m.group(2))


def read_market_split(root: str | Path, split: str) -> list[MarketImage]:
    if split not in SPLITS:
        raise ValueError(f"unknown Market-1501 split {split!r}; choose one of {sorted(SPLITS)}")
    folder = Path(root) / SPLITS[split]
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder} not found: a Market-1501-layout root needs {', '.join(SPLITS.values())}/ "
            f"(generate one with `python -m reidfw.synthetic market --out {root}`)."
        )
    out = []
    for p in list_images(folder):
        try:
            pid, cam = parse_market_name(p.name)
        except ValueError:
            raise DataFormatError(
                p, "a Market-1501 file name <pid>_c<cam>s<seq>_<frame>_<n>.jpg (e.g. 0002_c1s1_000451_03.jpg)",
                repr(p.name), f"rename it, or move it out of {folder}",
            ) from None
        out.append(MarketImage(p, pid, cam))
    return out
