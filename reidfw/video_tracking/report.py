"""What a person checks before training on the tracks: contact sheets, a summary, the raw tracker output.

``<out>/report/``:
  summary.json         counts: frames, detections, tracks and crops kept / dropped per rule, per track
  summary.txt          the same in a few lines (also printed at the end of track.py)
  sheets/<track>.png   one sheet per track: kept crops (top), dropped crops with their reason (red)
  overview.png         one row of kept crops per kept track (the tracks-set contact sheet)
  mot.txt              every tracked box before curation, MOTChallenge format (1-based frames), for
                       scoring the tracker itself against ground truth (TrackEval, py-motmetrics)
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from reidfw.video_tracking.curation import TrackDecision
from reidfw.video_tracking.workdir import WorkDir

CELL_H, CELL_W, LABEL_H = 128, 56, 12
SHEET_COLS = 12


def _tile(path: Path, label: str, dropped: bool) -> np.ndarray:
    tile = np.full((CELL_H + LABEL_H, CELL_W, 3), 255, np.uint8)
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is not None:
        s = min(CELL_H / img.shape[0], CELL_W / img.shape[1])
        h, w = max(1, int(img.shape[0] * s)), max(1, int(img.shape[1] * s))
        small = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        if dropped:
            small = (small * 0.45 + 140).astype(np.uint8)          # faded: not part of the label
        y, x = (CELL_H - h) // 2, (CELL_W - w) // 2
        tile[y:y + h, x:x + w] = small
    cv2.putText(tile, label[:10], (1, CELL_H + LABEL_H - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.28,
                (0, 0, 200) if dropped else (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def _rows_of(tiles: list[np.ndarray]) -> list[np.ndarray]:
    blank = np.full((CELL_H + LABEL_H, CELL_W, 3), 255, np.uint8)
    lines = []
    for i in range(0, len(tiles), SHEET_COLS):
        row = tiles[i:i + SHEET_COLS]
        lines.append(np.concatenate(row + [blank] * (SHEET_COLS - len(row)), axis=1))
    return lines


def track_sheet(d: TrackDecision, work: WorkDir, target: Path, max_kept: int = 36, max_dropped: int = 24) -> Path:
    """Kept crops, then dropped crops labelled with their rule; a title line with the track's fate."""
    kept = [_tile(work.crop_path(r), f"f{r['frame']}", False) for r in _spread(d.kept, max_kept)]
    dropped = [_tile(work.crop_path(r), why, True) for r, why in _spread(sorted(d.dropped, key=lambda x: x[0]["frame"]),
                                                                         max_dropped)]
    lines = _rows_of(kept) + _rows_of(dropped)
    title = np.full((18, SHEET_COLS * CELL_W, 3), 255, np.uint8)
    fate = "kept" if d.reason is None else f"dropped: {d.reason}"
    cv2.putText(title, f"{d.track_id}  {len(d.kept)} kept, {len(d.dropped)} dropped  ({fate})", (3, 13),
                cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0) if d.reason is None else (0, 0, 200), 1, cv2.LINE_AA)
    sheet = np.concatenate([title, *lines], axis=0) if lines else title
    target.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(target), sheet)
    return target


def _spread(items: list, n: int) -> list:
    if len(items) <= n:
        return list(items)
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, n).round()]


def write_mot(rows: list[dict], target: Path) -> Path:
    """Tracker output in MOTChallenge format: frame (1-based), id, x, y, w, h, conf, -1, -1, -1."""
    lines = []
    for r in sorted(rows, key=lambda r: (r["frame"], r["track"])):
        x0, y0, x1, y1 = r["box"]
        lines.append(f"{r['frame'] + 1},{r['track']},{x0:.2f},{y0:.2f},{x1 - x0:.2f},{y1 - y0:.2f},{r['score']:.4f},-1,-1,-1")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + ("\n" if lines else ""))
    return target


def summary_text(summary: dict) -> str:
    dt = summary["dropped_tracks"]
    dc = {k: v for k, v in summary["dropped_crops"].items() if v}
    return "\n".join([
        f"  frames          {summary['frames_processed']} processed ({summary['fps']:.1f} frames/s)",
        f"  detections      {summary['detections']} boxes, {summary['tracked_boxes']} tracked",
        f"  tracks          {summary['kept_tracks']} kept of {summary['raw_tracks']} "
        f"(dropped: {', '.join(f'{k} {v}' for k, v in dt.items())}; identity-switch splits: "
        f"{summary['identity_switch_splits']})",
        f"  crops           {summary['kept_crops']} kept (dropped: "
        f"{', '.join(f'{k} {v}' for k, v in dc.items()) or 'none'})",
    ])


def write_report(out: Path, work: WorkDir, decisions: list[TrackDecision], summary: dict, rows: list[dict]) -> Path:
    report = out / "report"
    for d in decisions:
        track_sheet(d, work, report / "sheets" / f"{d.track_id}.png")
    (report / "summary.json").write_text(json.dumps(summary, indent=1))
    (report / "summary.txt").write_text(summary_text(summary) + "\n")
    write_mot(rows, report / "mot.txt")
    return report


def write_overview(out: Path) -> Path | None:
    """The tracks-set contact sheet (one row per kept track), once tracks.csv exists."""
    from reidfw.synthetic.contact_sheet import contact_sheet   # it reads any tracks.csv folder

    if not (out / "tracks.csv").is_file():
        return None
    return contact_sheet(out, out / "report" / "overview.png", max_rows=20, max_cols=12)
