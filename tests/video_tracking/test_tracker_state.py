"""ByteTrack (supervision) checkpoints: a tracker restored mid-sequence continues exactly as one never stopped."""
from __future__ import annotations

import numpy as np
import supervision as sv

from reidfw.video_tracking.tracker import build_tracker, load_tracker, save_tracker, update

CFG = {"name": "bytetrack", "track_activation_threshold": 0.5, "lost_track_buffer": 30,
       "minimum_matching_threshold": 0.8, "minimum_consecutive_frames": 2}


def _frames(n=40):
    """Three walkers (one crossing another) with a missed detection now and then."""
    rng = np.random.default_rng(0)
    out = []
    for t in range(n):
        boxes, scores = [], []
        for x0, v in ((20, 6), (300, -6), (100, 2)):
            if rng.random() < 0.1:
                continue
            x = x0 + v * t
            boxes.append([x, 50, x + 30, 140])
            scores.append(rng.uniform(0.6, 0.95))
        out.append(sv.Detections(xyxy=np.array(boxes, np.float32).reshape(-1, 4), confidence=np.array(scores, np.float32),
                                 class_id=np.zeros(len(boxes), int)))
    return out


def _ids(tracker, frames):
    return [sorted(update(tracker, d).tracker_id.tolist()) for d in frames]


def test_restored_tracker_continues_identically(tmp_path):
    frames = _frames()
    straight = _ids(build_tracker(CFG, 10.0), frames)
    assert len({i for ids in straight for i in ids}) >= 3

    first = build_tracker(CFG, 10.0)
    before = _ids(first, frames[:17])
    save_tracker(first, tmp_path / "t.pkl")
    after = _ids(load_tracker(tmp_path / "t.pkl", CFG, 10.0), frames[17:])
    assert before + after == straight
