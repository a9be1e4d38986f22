"""What a generated set covers: histograms of distance, camera height, the angle the person is seen
from and yaw, and their spread within one identity -- the shape of the training data the paper
blames its findings on.

The **view angle** (how far below the lens the person's mid-height lies, seen from the camera) is
what the study's camera-height factor changes (112 -> 232 cm at 4 m: 0 -> 17 deg). It is not the
mounting height: a track under a camera 3 m up spans 5-23 deg as the person walks from 26 m up to
5 m, and a walker's two moments on a street camera hardly any. So one camera height per track is
not one view per identity -- the spread this reads shows which training set teaches which invariance.

Reads the ``metadata.jsonl`` every generator writes. ``python -m reidfw.synthetic
contact-sheet`` draws it beside the sample grid, and ``train.py`` logs it with every run
trained on a generated set (``data/train_distribution.png`` + ``data/train_distribution.json``).
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from reidfw.synthetic.generators.common import METADATA_FILE

def _view_angle(meta: dict) -> float | None:
    """Degrees below the lens of the person's mid-height (negative: the lens is lower)."""
    try:
        return float(np.degrees(np.arctan2(meta["camera_height"] - meta["identity"]["height"] / 2, meta["distance"])))
    except (KeyError, TypeError):
        return None


# name -> (the metadata key, or a function of one crop's metadata; axis label)
QUANTITIES = {"distance": ("distance", "horizontal distance (m)"), "camera_height": ("camera_height", "camera height (m)"),
              "view_angle": (_view_angle, "view angle: person below the lens (deg)"),
              "yaw": ("yaw", "yaw seen by the camera (deg, 0 = facing it)")}


def _value(meta: dict, key) -> float | None:
    return key(meta) if callable(key) else meta.get(key)


def _identity(meta: dict) -> str | None:
    for key in ("track_id", "person", "pid", "identity_id"):
        if key in meta:
            return f"{key}:{meta[key]}"
    return None


def read_distribution(root: str | Path) -> dict | None:
    """Per quantity: all values, and the spread (max - min) within each identity; None without metadata."""
    path = Path(root) / METADATA_FILE
    if not path.is_file():
        return None
    metas = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    out = {}
    for name, (key, _) in QUANTITIES.items():
        values = np.array([v for m in metas if (v := _value(m, key)) is not None], float)
        per_id = defaultdict(list)
        for m in metas:
            if (v := _value(m, key)) is not None and _identity(m) is not None:
                per_id[_identity(m)].append(v)
        spread = [max(v) - min(v) for v in per_id.values() if len(v) > 1] if name != "yaw" else \
                 [float(np.ptp(np.unwrap(np.radians(v)) * 180 / np.pi)) for v in per_id.values() if len(v) > 1]
        out[name] = {"values": values, "within_identity_spread": np.array(spread, float)}
    return out


def summary(dist: dict) -> dict:
    """Numbers for MLflow and the JSON beside the figure."""
    out = {}
    for name, d in dist.items():
        v, s = d["values"], d["within_identity_spread"]
        if len(v):
            out[name] = {"min": float(v.min()), "max": float(v.max()), "mean": float(v.mean()),
                         "within_identity_spread_mean": float(s.mean()) if len(s) else 0.0,
                         "within_identity_spread_max": float(s.max()) if len(s) else 0.0}
    return out


def distribution_figure(root: str | Path, out: str | Path) -> Path | None:
    """Histograms of each quantity over the set and of its spread within an identity; None without metadata."""
    dist = read_distribution(root)
    if dist is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(QUANTITIES), figsize=(4 * len(QUANTITIES), 6), constrained_layout=True)
    for col, (name, (_, label)) in enumerate(QUANTITIES.items()):
        v, s = dist[name]["values"], dist[name]["within_identity_spread"]
        axes[0, col].hist(v, bins=36 if name == "yaw" else 24, color="#3b6ea5")
        axes[0, col].set_title(label, fontsize=9)
        axes[1, col].hist(s if len(s) else [0.0], bins=24, color="#a5563b")
        axes[1, col].set_title(f"spread within one identity ({len(s)} identities with > 1 crop)", fontsize=9)
    fig.suptitle(f"{Path(root).name}: what the set covers", fontsize=10)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    (out.with_suffix(".json")).write_text(json.dumps(summary(dist), indent=1))
    return out
