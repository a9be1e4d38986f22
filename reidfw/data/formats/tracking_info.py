"""``tracking.json`` beside ``tracks.csv``: which tracking run made a tracks folder, from what.

Written by ``track.py``; read by ``train.py`` so a training run on the folder is tagged
``reidfw.tracking_run_id`` and the MLflow UI links the model to the footage and the
tracking settings behind its labels. A hand-made tracks folder simply has none.
"""
from __future__ import annotations

import json
from pathlib import Path

TRACKING_INFO = "tracking.json"
FORMAT = "reidfw-tracking/1"


def write_tracking_info(root: str | Path, info: dict) -> Path:
    path = Path(root) / TRACKING_INFO
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"format": FORMAT, **info}, indent=1, default=str))
    tmp.replace(path)
    return path


def read_tracking_info(root: str | Path | None) -> dict | None:
    """The folder's tracking record, or None when it has none (or it is unreadable: it is only provenance)."""
    if root is None:
        return None
    path = Path(root).expanduser() / TRACKING_INFO
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("format") == FORMAT else None
