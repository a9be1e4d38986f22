"""What a generated set covers: histograms of distance, camera height and yaw, and their spread
within one identity -- the shape of the training data the paper blames its findings on.

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

QUANTITIES = {"distance": ("distance", "horizontal distance (m)"), "camera_height": ("camera_height", "camera height (m)"),
              "yaw": ("yaw", "yaw seen by the camera (deg, 0 = facing it)")}


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
        values = np.array([m[key] for m in metas if key in m], float)
        per_id = defaultdict(list)
        for m in metas:
            if key in m and _identity(m) is not None:
                per_id[_identity(m)].append(m[key])
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

    fig, axes = plt.subplots(2, 3, figsize=(12, 6), constrained_layout=True)
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
