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

from reidfw.errors import DataFormatError

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
            raise DataFormatError(
                table, f"the columns {','.join(TRACKS_COLUMNS)}", f"a header without {','.join(missing)} "
                f"(header: {','.join(reader.fieldnames or []) or 'none'})",
                "add the missing columns (track.py writes this table; see reidfw/data/formats/tracks.py)",
            )
        crops = [_crop(root, table, reader.line_num, r) for r in reader]
    if not crops:
        raise DataFormatError(table, "one row per crop", "no rows", "write the crops' rows, or point data.train_root elsewhere")
    return crops


def _crop(root: Path, table: Path, line: int, r: dict) -> TrackCrop:
    try:
        frame, bbox = int(r["frame"]), (float(r["x"]), float(r["y"]), float(r["w"]), float(r["h"]))
    except (TypeError, ValueError):
        raise DataFormatError(
            f"{table} line {line}", "an integer frame and numbers x,y,w,h",
            f"frame={r['frame']!r} x,y,w,h={r['x']!r},{r['y']!r},{r['w']!r},{r['h']!r}", "correct or delete the row",
        ) from None
    if not (bbox[2] > 0 and bbox[3] > 0) or any(v != v for v in bbox):
        raise DataFormatError(
            f"{table} line {line}", "a person box x,y,w,h with w > 0 and h > 0 (pixels in the camera frame)",
            f"w={bbox[2]:g}, h={bbox[3]:g}", "correct the box or delete the row (and its crop)",
        )
    return TrackCrop(path=root / r["path"], track_id=r["track_id"], frame=frame, camera=r["camera"], bbox=bbox)
