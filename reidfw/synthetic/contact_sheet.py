"""One PNG grid of samples from any generated (or real) data set, for a human to look at.

Recognises the four layouts: a study (``manifest.json``: one row per factor, one cell
per condition), tracks (``tracks.csv``: one row per track), Market-1501 (one row per
query person: the query, then their gallery images; a row of training images) and a
flat folder of crops (a plain grid). In a study sheet, * marks each factor's standard.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reidfw.data.formats.image_io import list_images, read_image, write_image
from reidfw.data.formats.market import SPLITS, parse_market_name
from reidfw.data.formats.study_manifest import MANIFEST_NAME, read_manifest
from reidfw.data.formats.tracks import TRACKS_TABLE, read_tracks
from reidfw.model_input import letterbox

CELL = (192, 80)          # (height, width) of one sample in the sheet
LABEL_H = 14


def _cell(path: Path | None, label: str = "") -> np.ndarray:
    h, w = CELL
    tile = np.full((h + LABEL_H, w, 3), 255, np.uint8)
    if path is not None:
        tile[:h] = letterbox(read_image(path), (h, w))
    if label:
        cv2.putText(tile, label[:18], (2, h + LABEL_H - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.28, (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def _grid(rows: list[list[tuple[Path | None, str]]]) -> np.ndarray:
    ncols = max(len(r) for r in rows)
    blank = _cell(None)
    lines = []
    for r in rows:
        cells = [_cell(p, lab) for p, lab in r] + [blank] * (ncols - len(r))
        lines.append(np.concatenate(cells, axis=1))
    return np.concatenate(lines, axis=0)


def _study_rows(src: Path):
    m = read_manifest(src)
    return [[(c.images[0].path, c.label + (" *" if c.id == f.standard else "")) for c in f.conditions] for f in m.factors]


def _track_rows(src: Path, max_rows: int, max_cols: int):
    by_track: dict[str, list] = {}
    for c in read_tracks(src):
        by_track.setdefault(c.track_id, []).append(c)
    rows = []
    for tid in sorted(by_track)[:max_rows]:
        crops = sorted(by_track[tid], key=lambda c: c.frame)
        pick = [crops[int(i)] for i in np.unique(np.linspace(0, len(crops) - 1, min(max_cols, len(crops))).round())]
        rows.append([(c.path, f"{tid} {c.camera}") for c in pick])
    return rows


def _market_rows(src: Path, max_rows: int, max_cols: int):
    query = list_images(src / SPLITS["query"])
    gallery = list_images(src / SPLITS["gallery"])
    rows = []
    seen = []
    for q in query:
        pid, cam = parse_market_name(q.name)
        if pid in seen:
            continue
        seen.append(pid)
        matches = [g for g in gallery if parse_market_name(g.name)[0] == pid][: max_cols - 1]
        rows.append([(q, f"Q {pid} c{cam}")] + [(g, f"{pid} c{parse_market_name(g.name)[1]}") for g in matches])
        if len(rows) >= max_rows - 2:
            break
    train = list_images(src / SPLITS["train"])
    others = [g for g in gallery if parse_market_name(g.name)[0] <= 0][:max_cols]
    rows.append([(t, f"T {parse_market_name(t.name)[0]} c{parse_market_name(t.name)[1]}") for t in train[:: max(1, len(train) // max_cols)][:max_cols]])
    if others:
        rows.append([(g, f"pid {parse_market_name(g.name)[0]}") for g in others])
    return rows


def contact_sheet(src: str | Path, out: str | Path, max_rows: int = 10, max_cols: int = 12) -> Path:
    """Write a PNG grid of samples of the data set at ``src`` to ``out``."""
    src, out = Path(src), Path(out)
    if (src / MANIFEST_NAME).is_file():
        rows = _study_rows(src)
    elif (src / TRACKS_TABLE).is_file():
        rows = _track_rows(src, max_rows, max_cols)
    elif (src / SPLITS["query"]).is_dir():
        rows = _market_rows(src, max_rows, max_cols)
    else:
        images = list_images(src)
        if not images:
            raise FileNotFoundError(
                f"{src} holds no images and none of the known layouts ({MANIFEST_NAME}, {TRACKS_TABLE}, "
                f"Market-1501 folders); point --src at a generated data set")
        images = images[: max_rows * max_cols]
        rows = [[(p, p.stem) for p in images[i : i + max_cols]] for i in range(0, len(images), max_cols)]
    write_image(out, _grid(rows))
    return out
