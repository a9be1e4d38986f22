"""From raw tracks to training labels: a kept track must be one person, in crops worth learning from.

Rules, in order (each dropped crop or track records the first rule that removed it):

crops
  ``tiny``        box lower than ``min_height`` or narrower than ``min_width`` pixels
  ``wide``        box wider than ``max_aspect`` x its height: no single upright person is
                  (two people merged into one box, a person with a cart, a car)
  ``truncated``   box within ``border_px`` of the frame edge (the person is cut off)
  ``blurred``     sharpness (variance of the Laplacian at 128 px tall) below ``min_sharpness``
  ``occluded``    more than ``max_occlusion`` of the box under nearer people's boxes
tracks
  split           at suspected identity switches: the mean embedding of the ``window`` crops
                  before a frame vs the ``window`` after it fall below cosine ``threshold``
                  (only with a Re-ID model: ``ckpt=``); each piece becomes its own track
crops
  ``duplicate``   near-duplicate of the last kept crop of its track: box IoU above
                  ``dedup_iou`` and fewer than ``dedup_max_gap`` frames apart (and, with a
                  model, embedding cosine above ``dedup_similarity``)
  ``over_cap``    beyond ``max_crops_per_track`` (evenly spaced ones are kept)
tracks
  ``short``       fewer than ``min_track_frames`` frames from first to last box
  ``few_crops``   fewer than ``min_crops`` crops left after the rules above

The functions are pure (rows in, decisions out); ``embed`` is any callable from rows to
L2-normalised embeddings, so the rules are tested without a network.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

CROP_REASONS = ("tiny", "wide", "truncated", "blurred", "occluded", "duplicate", "over_cap")
TRACK_REASONS = ("short", "few_crops")


@dataclass
class CurationRules:
    min_height: float = 64
    min_width: float = 20
    max_aspect: float = 0.75
    border_px: float = 2
    min_sharpness: float = 15.0
    max_occlusion: float = 0.3
    dedup_iou: float = 0.8
    dedup_max_gap: int = 15
    dedup_similarity: float = 0.97
    max_crops_per_track: int = 64
    min_track_frames: int = 8
    min_crops: int = 4
    switch_threshold: float = 0.5
    switch_window: int = 3
    switch_min_segment: int = 4

    @classmethod
    def from_config(cls, cfg: Mapping) -> CurationRules:
        flat = {k: v for k, v in dict(cfg).items() if k != "identity_switch"}
        sw = dict(cfg.get("identity_switch") or {})
        flat.update({f"switch_{k}": v for k, v in sw.items()})
        unknown = set(flat) - set(cls.__dataclass_fields__)
        if unknown:
            from reidfw.video_tracking.errors import TrackingInputError

            raise TrackingInputError(f"curation: unknown setting(s) {sorted(unknown)}; see conf/track.yaml")
        return cls(**flat)


@dataclass
class TrackDecision:
    raw_track: int
    track_id: str                          # the name in tracks.csv (a split adds _2, _3, ...)
    kept: list[dict] = field(default_factory=list)
    dropped: list[tuple[dict, str]] = field(default_factory=list)
    reason: str | None = None              # why the whole track was dropped (None = kept)


def crop_reason(row: dict, rules: CurationRules, width: int, height: int) -> str | None:
    x0, y0, x1, y1 = row["box"]
    if y1 - y0 < rules.min_height or x1 - x0 < rules.min_width:
        return "tiny"
    if x1 - x0 > rules.max_aspect * (y1 - y0):
        return "wide"
    b = rules.border_px
    if x0 <= b or y0 <= b or x1 >= width - b or y1 >= height - b:
        return "truncated"
    if row["sharpness"] < rules.min_sharpness:
        return "blurred"
    if row["occlusion"] > rules.max_occlusion:
        return "occluded"
    return None


def identity_switches(emb: np.ndarray, threshold: float, window: int, min_segment: int) -> list[int]:
    """Indices where a new identity starts: recursively, the most dissimilar before/after split below threshold."""
    n = len(emb)
    if n < 2 * max(window, min_segment):
        return []
    best, best_sim = None, threshold
    for k in range(max(window, min_segment), n - max(window, min_segment) + 1):
        a, b = emb[k - window:k].mean(axis=0), emb[k:k + window].mean(axis=0)
        sim = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
        if sim < best_sim:
            best, best_sim = k, sim
    if best is None:
        return []
    left = identity_switches(emb[:best], threshold, window, min_segment)
    right = identity_switches(emb[best:], threshold, window, min_segment)
    return [*left, best, *(best + r for r in right)]


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def curate(rows: list[dict], rules: CurationRules, width: int, height: int, camera: str,
           embed: Callable[[list[dict]], np.ndarray] | None = None) -> tuple[list[TrackDecision], dict]:
    """Decisions for every raw track and a summary (counts per rule)."""
    by_track: dict[int, list[dict]] = defaultdict(list)
    for r in rows:
        by_track[int(r["track"])].append(r)
    decisions: list[TrackDecision] = []
    splits = 0
    for raw, track_rows in sorted(by_track.items()):
        track_rows.sort(key=lambda r: r["frame"])
        name = f"{camera}_t{raw:05d}"
        if track_rows[-1]["frame"] - track_rows[0]["frame"] + 1 < rules.min_track_frames:
            decisions.append(TrackDecision(raw, name, dropped=[(r, "short") for r in track_rows], reason="short"))
            continue
        usable, dropped = [], []
        for r in track_rows:
            why = crop_reason(r, rules, width, height)
            (dropped.append((r, why)) if why else usable.append(r))
        emb = embed(usable) if (embed is not None and usable) else None
        cuts = identity_switches(emb, rules.switch_threshold, rules.switch_window, rules.switch_min_segment) \
            if emb is not None else []
        splits += len(cuts)
        bounds = [0, *cuts, len(usable)]
        for piece, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            d = TrackDecision(raw, name if piece == 0 else f"{name}_{piece + 1}",
                              dropped=list(dropped) if piece == 0 else [])
            kept = _dedup(usable[a:b], None if emb is None else emb[a:b], rules, d)
            d.kept = _cap(kept, rules.max_crops_per_track, d)
            if len(d.kept) < rules.min_crops:
                d.dropped += [(r, "few_crops") for r in d.kept]
                d.kept, d.reason = [], "few_crops"
            decisions.append(d)
    return decisions, summarize(decisions, splits)


def _dedup(rows: list[dict], emb: np.ndarray | None, rules: CurationRules, d: TrackDecision) -> list[dict]:
    kept, last = [], None
    for i, r in enumerate(rows):
        if last is not None:
            j, prev = last
            similar = _iou(r["box"], prev["box"]) > rules.dedup_iou and r["frame"] - prev["frame"] < rules.dedup_max_gap
            if similar and emb is not None:
                similar = float(emb[i] @ emb[j]) > rules.dedup_similarity
            if similar:
                d.dropped.append((r, "duplicate"))
                continue
        kept.append(r)
        last = (i, r)
    return kept


def _cap(rows: list[dict], cap: int, d: TrackDecision) -> list[dict]:
    if cap <= 0 or len(rows) <= cap:
        return rows
    keep = set(np.linspace(0, len(rows) - 1, cap).round().astype(int).tolist())
    d.dropped += [(r, "over_cap") for i, r in enumerate(rows) if i not in keep]
    return [r for i, r in enumerate(rows) if i in keep]


def summarize(decisions: list[TrackDecision], splits: int) -> dict:
    kept = [d for d in decisions if d.reason is None]
    crop_counts = Counter(why for d in decisions for _, why in d.dropped)
    return {
        "raw_tracks": len({d.raw_track for d in decisions}),
        "identity_switch_splits": splits,
        "kept_tracks": len(kept),
        "kept_crops": sum(len(d.kept) for d in kept),
        "dropped_tracks": {r: sum(d.reason == r for d in decisions) for r in TRACK_REASONS},
        "dropped_crops": {r: int(crop_counts.get(r, 0)) for r in (*CROP_REASONS, *TRACK_REASONS)},
        "tracks": [_track_summary(d) for d in decisions],
    }


def _track_summary(d: TrackDecision) -> dict:
    frames = [r["frame"] for r in d.kept] + [r["frame"] for r, _ in d.dropped]
    return {"track_id": d.track_id, "raw_track": d.raw_track, "kept_crops": len(d.kept),
            "dropped_crops": dict(Counter(w for _, w in d.dropped)), "dropped_as": d.reason,
            "first_frame": min(frames, default=None), "last_frame": max(frames, default=None)}
