"""Multi-object tracking: ByteTrack as ``supervision`` implements it (not a home-made tracker).

Pinned to supervision 0.30.x: ``sv.ByteTrack`` was removed in supervision 0.31 in favour of
``trackers.ByteTrackTracker`` (roboflow's ``trackers`` package), which requires the
``opencv-python`` GUI build that would overwrite the ``cv2`` of the ``opencv-python-headless``
reidfw and albumentations use. This file is the one place to switch when that changes.

The tracker returns the *detection* boxes it matched (not Kalman predictions), each with
its ``tracker_id``; detections it did not match, and tracks it did not confirm yet, are
left out. Its whole state (tracks, Kalman filters, id counters) lives in the instance,
so pickling its attributes is an exact checkpoint for resuming.
"""
from __future__ import annotations

import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import supervision as sv


def build_tracker(cfg: Mapping, fps: float):
    """ByteTrack from ``conf/tracker/bytetrack.yaml``; ``lost_track_buffer`` counts frames at 30 fps (supervision)."""
    name = cfg.get("name", "bytetrack")
    if name != "bytetrack":
        from reidfw.video_tracking.errors import TrackingInputError

        raise TrackingInputError(f"tracker={name}: unknown tracker; the one available is bytetrack")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)      # the deprecation notice described above
        return sv.ByteTrack(
            track_activation_threshold=float(cfg.get("track_activation_threshold", 0.25)),
            lost_track_buffer=int(cfg.get("lost_track_buffer", 30)),
            minimum_matching_threshold=float(cfg.get("minimum_matching_threshold", 0.8)),
            frame_rate=float(fps),
            minimum_consecutive_frames=int(cfg.get("minimum_consecutive_frames", 1)),
        )


def update(tracker, detections: sv.Detections) -> sv.Detections:
    """Tracked detections of this frame, each with an integer ``tracker_id``."""
    if len(detections) == 0:
        detections = sv.Detections(xyxy=np.zeros((0, 4), np.float32), confidence=np.zeros(0, np.float32),
                                   class_id=np.zeros(0, int))
    return tracker.update_with_detections(detections)


def save_tracker(tracker, path: Path) -> None:
    """Pickle the tracker's state (its attributes: tracks, Kalman filters, id counters, frame count)."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        # The attributes, not the object: supervision wraps the class in a deprecation proxy that
        # pickle cannot name; a fresh instance takes the state back in load_tracker.
        pickle.dump(vars(tracker), f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)


def load_tracker(path: Path, cfg: Mapping, fps: float):
    tracker = build_tracker(cfg, fps)
    # Our own checkpoint, written by save_tracker into the run's work folder.
    with path.open("rb") as f:
        vars(tracker).update(pickle.load(f))
    return tracker
