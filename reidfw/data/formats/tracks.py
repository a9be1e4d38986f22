"""Single-camera tracking crops: one track is one identity (the ArcFace training data).

On disk::

    <root>/tracks.csv            track_id,frame,camera,x,y,w,h,path
    <root>/<track_id>/<frame>.jpg

``path`` is relative to ``root``; ``x,y,w,h`` is the person box in the camera frame
(pixels). A tracker's output for a user's own cameras is written the same way.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

TRACKS_TABLE = "tracks.csv"
TRACKS_COLUMNS = ("track_id", "frame", "camera", "x", "y", "w", "h", "path")


@dataclass(frozen=True)
class TrackCrop:
    path: Path
    track_id: str
    frame: int
    camera: str
    bbox: tuple[float, float, float, float]


def write_tracks_table(root: str | Path, rows: list[dict]) -> Path:
    """Write ``tracks.csv``; each row needs every column of TRACKS_COLUMNS."""
    out = Path(root) / TRACKS_TABLE
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=TRACKS_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    return out


def read_tracks(root: str | Path) -> list[TrackCrop]:
    root = Path(root)
    table = root / TRACKS_TABLE
    if not table.is_file():
        raise FileNotFoundError(
            f"no {TRACKS_TABLE} in {root}: a tracks data set needs a table with columns "
            f"{','.join(TRACKS_COLUMNS)} (generate one with `python -m reidfw.synthetic tracks --out {root}`)."
        )
    with table.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in TRACKS_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{table} lacks columns {missing}; expected {','.join(TRACKS_COLUMNS)}")
        crops = [
            TrackCrop(
                path=root / r["path"],
                track_id=r["track_id"],
                frame=int(r["frame"]),
                camera=r["camera"],
                bbox=(float(r["x"]), float(r["y"]), float(r["w"]), float(r["h"])),
            )
            for r in reader
        ]
    if not crops:
        raise ValueError(f"{table} has no rows")
    return crops
