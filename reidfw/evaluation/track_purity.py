"""How good are curated tracks as labels: purity and identities recovered, from MOTChallenge ground truth.

Every crop of a tracks set (``tracks.csv``: frame, person box) is matched to the ground-truth
people of its frame by IoU (Hungarian, IoU >= ``min_iou``); an unmatched crop belongs to
nobody. Then, per kept track:

- **purity**: the share of its crops that belong to its majority identity (1 = a clean label);
- **identities recovered**: the share of ground-truth identities that are the majority identity
  of at least one kept track (a person the training set has a label for);
- **tracks per identity**: kept tracks / identities recovered (> 1 = a person split over labels,
  which an ArcFace head treats as different people).

``frame_offset`` maps tracks.csv frames (0-based video indices) to the ground truth's (1-based).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from reidfw.data.formats.tracks import read_tracks


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """xywh (N, 4) x xywh (M, 4) -> IoU (N, M)."""
    ax0, ay0, ax1, ay1 = a[:, 0:1], a[:, 1:2], a[:, 0:1] + a[:, 2:3], a[:, 1:2] + a[:, 3:4]
    bx0, by0, bx1, by1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None)
    ih = np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None)
    inter = iw * ih
    return inter / (a[:, 2:3] * a[:, 3:4] + b[:, 2] * b[:, 3] - inter)


def track_purity(tracks_root: str | Path, gt: dict[int, list], frame_offset: int = 1, min_iou: float = 0.5) -> dict:
    """``gt``: frame -> [(id, (x, y, w, h), conf, visibility)] (``read_mot_gt``)."""
    crops = read_tracks(tracks_root)
    by_frame: dict[int, list] = defaultdict(list)
    for c in crops:
        by_frame[c.frame + frame_offset].append(c)
    identity_of: dict[str, list] = defaultdict(list)
    for f, cs in by_frame.items():
        people = gt.get(f, [])
        ids = [None] * len(cs)
        if people:
            iou = _iou_matrix(np.array([c.bbox for c in cs], float), np.array([p[1] for p in people], float))
            rows, cols = linear_sum_assignment(-iou)
            for r, c in zip(rows, cols):
                if iou[r, c] >= min_iou:
                    ids[r] = people[c][0]
        for c, pid in zip(cs, ids):
            identity_of[c.track_id].append(pid)
    purities, majority = [], {}
    matched = total = 0
    for tid, ids in identity_of.items():
        top, n = Counter(ids).most_common(1)[0]
        if top is None:                                  # mostly unmatched crops: count the best real identity
            real = Counter(i for i in ids if i is not None).most_common(1)
            top, n = real[0] if real else (None, 0)
        purities.append(n / len(ids))
        majority[tid] = top
        matched += n
        total += len(ids)
    gt_ids = {p[0] for rows in gt.values() for p in rows if p[2] == 1}
    recovered = {m for m in majority.values() if m is not None} & gt_ids
    return {
        "tracks": len(identity_of), "crops": total,
        "purity_mean": float(np.mean(purities)) if purities else 0.0,
        "purity_crops": matched / total if total else 0.0,
        "pure_tracks": float(np.mean([p >= 0.95 for p in purities])) if purities else 0.0,
        "identities": len(gt_ids), "identities_recovered": len(recovered) / len(gt_ids) if gt_ids else 0.0,
        "tracks_per_identity": len(identity_of) / len(recovered) if recovered else 0.0,
    }
