"""The finished tracks folder: ``tracks.csv`` + one folder of crops per kept track (``reidfw.data.formats.tracks``).

``tracks.csv`` is written last, by an atomic rename: a folder with a ``tracks.csv`` is
complete, and one without it is not a tracks set yet (an unfinished run, which the
same command continues). Crops are copied from the work folder as
``<track_id>/<frame:07d>.jpg``; ``x,y,w,h`` is the person box in the frame (the crop adds
the margin around it), ``frame`` the 0-based frame index in the video, ``camera`` the
camera id given to ``track.py``.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from reidfw.data.formats.tracks import TRACKS_TABLE, write_tracks_table
from reidfw.video_tracking.curation import TrackDecision
from reidfw.video_tracking.workdir import WorkDir


def tracks_rows(decisions: list[TrackDecision], camera: str) -> list[dict]:
    rows = []
    for d in decisions:
        if d.reason is not None:
            continue
        for r in d.kept:
            x0, y0, x1, y1 = r["box"]
            rows.append({"track_id": d.track_id, "frame": r["frame"], "camera": camera, "x": round(x0, 2),
                         "y": round(y0, 2), "w": round(x1 - x0, 2), "h": round(y1 - y0, 2),
                         "path": f"{d.track_id}/{r['frame']:07d}.jpg", "crop": r["crop"]})
    return rows


def write_tracks(out: Path, work: WorkDir, rows: list[dict]) -> Path:
    for r in rows:
        target = out / r["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(work.root / "crops" / r["crop"], target)
    staged = write_tracks_table(work.root / "final", rows)        # extra keys (crop) are not written
    return Path(shutil.move(str(staged), str(out / TRACKS_TABLE)))
