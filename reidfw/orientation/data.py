"""Crops with a known yaw, from three sources:

- a user's CSV: columns ``path,yaw`` (degrees, 0 = facing the camera, 90 / 270 the profiles, 180 the
  back; any real number, read modulo 360), optional ``x,y,w,h`` (the person box; without it the whole
  image is the crop) and ``group`` (crops that must stay on one side of a train / held-out split,
  e.g. a camera); paths relative to the CSV's folder;
- a synthetic set's ``metadata.jsonl`` (tracks or unlabeled: the renderer writes every crop's yaw
  relative to the camera, ``meta["yaw"]``);
- a study manifest whose images carry ``meta.yaw`` (the synthetic study's do).
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reidfw.data.formats.image_io import read_image
from reidfw.errors import SourceError
from reidfw.model_input import InputSpec, prepare, to_chw_tensor

CSV_COLUMNS = ("path", "yaw")
CSV_OPTIONAL = ("x", "y", "w", "h", "group")
METADATA_FILE = "metadata.jsonl"


@dataclass(frozen=True)
class YawCrop:
    path: Path
    yaw: float  # degrees in [0, 360)
    box: tuple[float, float, float, float] | None = None
    group: str = ""  # held-out splits keep a group together (a camera, a scene, a track)


def read_yaw_csv(path: str | Path) -> list[YawCrop]:
    """A user's labelled crops (see the module docstring); one-line errors naming the row."""
    path = Path(path).expanduser()
    expected = "a CSV with a header row and columns path,yaw (optional x,y,w,h,group)"
    if not path.is_file():
        raise SourceError(path, expected, "no such file", "check the path")
    items = []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise SourceError(path, expected, f"columns {reader.fieldnames} (no {', '.join(missing)})",
                              "add a header line such as: path,yaw")
        for line, row in enumerate(reader, start=2):
            try:
                yaw = float(row["yaw"])
                if not math.isfinite(yaw):
                    raise ValueError(row["yaw"])
                box = None
                if all(row.get(k) not in (None, "") for k in ("x", "y", "w", "h")):
                    box = tuple(float(row[k]) for k in ("x", "y", "w", "h"))
                    if box[2] <= 0 or box[3] <= 0:
                        raise ValueError(f"box {box} has no area")
            except (TypeError, ValueError) as e:
                raise SourceError(f"{path}:{line}", "a yaw in degrees and, optionally, a box x,y,w,h with w, h > 0",
                                  f"{dict(row)} ({e})", "fix or delete that row") from None
            p = Path(row["path"])
            items.append(YawCrop(p if p.is_absolute() else path.parent / p, yaw % 360.0, box, row.get("group") or ""))
    if not items:
        raise SourceError(path, expected, "a header and no rows", "add one row per labelled crop")
    return items


def synthetic_yaw_crops(root: str | Path) -> list[YawCrop]:
    """Every crop of a generated tracks or unlabeled set with its ground-truth yaw.

    Groups: the unlabeled set's scene (one street camera) or the tracks' camera, so a held-out
    split tests on cameras, backgrounds and light the estimator has not seen.
    """
    root = Path(root)
    meta = root / METADATA_FILE
    if not meta.is_file():
        raise SourceError(meta, "a synthetic set's metadata.jsonl (tracks or unlabeled)", "no such file",
                          f"generate the set with `python -m reidfw.synthetic tracks --out {root}`")
    items = []
    for line in meta.read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if "scene" in r:
            group = f"{root.name}/scene{r['scene']}"
        else:
            cam = r.get("camera") or {}
            group = f"{root.name}/camera{json.dumps(cam, sort_keys=True)}"
        items.append(YawCrop(root / r["path"], float(r["yaw"]) % 360.0, None, group))
    return items


def study_yaw_crops(study_root: str | Path, factors: tuple[str, ...] | None = None) -> list[YawCrop]:
    """The study's images (subject and impostors) whose meta records a yaw; ``factors`` to restrict them."""
    from reidfw.data.formats.study_manifest import read_manifest

    manifest = read_manifest(study_root)
    seen, items = set(), []
    for f in manifest.factors:
        if factors is not None and f.name not in factors:
            continue
        for c in f.conditions:
            for img in [*c.images, *c.impostors]:
                yaw = (img.meta or {}).get("yaw")
                if yaw is None or str(img.path) in seen:
                    continue
                seen.add(str(img.path))
                items.append(YawCrop(Path(img.path), float(yaw) % 360.0, img.box, f"study/{f.name}"))
    return items


def split_held_out(items: list[YawCrop], fraction: float = 0.2, seed: int = 0) -> tuple[list[YawCrop], list[YawCrop]]:
    """(train, held out): whole groups go to one side, chosen by a seeded hash of the group name."""
    if not 0 <= fraction < 1:
        raise ValueError(f"held-out fraction must be in [0, 1), got {fraction}")

    def held(item: YawCrop) -> bool:
        key = item.group or str(item.path)
        h = int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return h < fraction

    train = [i for i in items if not held(i)]
    test = [i for i in items if held(i)]
    return train, test


def load_crops(items: list[YawCrop], spec: InputSpec, progress=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 inputs (N, 3, H, W) through ``reidfw.model_input.prepare``, yaws (N,) float32)."""
    xs = []
    for k, it in enumerate(items):
        xs.append(to_chw_tensor(prepare(read_image(it.path), spec, it.box)))
        if progress is not None and (k + 1) % 500 == 0:
            progress(f"  read {k + 1}/{len(items)} crops")
    if not xs:
        raise ValueError("no crops to load")
    return torch.stack(xs), torch.tensor(np.array([it.yaw for it in items]), dtype=torch.float32)
