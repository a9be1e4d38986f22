"""The pass over the video: detect -> track -> measure and save every tracked box, part by part.

Everything here is per frame and bounded in memory (the rows and crops of the current
part); curation, which needs whole tracks, runs after the scan (``curation.py``).
Resuming: the tracker comes back from the last committed part, the frame source skips to
``next_frame``, and a stateful detector (background subtraction) re-learns from the
frames just before it (``detector.warmup_frames``) and from its bootstrap sample, so the
continued run sees what an uninterrupted one would have.
"""
from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np
from tqdm import tqdm

from reidfw.video_tracking.measures import margin_box, occlusion, sharpness
from reidfw.video_tracking.sources import FrameSource
from reidfw.video_tracking.tracker import update
from reidfw.video_tracking.workdir import WorkDir


@dataclass
class ScanSettings:
    stride: int = 1                  # every n-th frame
    checkpoint_every: int = 250      # frames per committed part
    crop_margin: float = 0.05        # share of the box height added around a crop
    jpeg_quality: int = 95
    max_frames: int | None = None    # stop after this many frames in this invocation (continue later)
    progress: bool = True


@dataclass
class ScanOutcome:
    finished: bool                   # the source is exhausted
    interrupted: bool                # Ctrl-C: stopped after a whole frame, everything up to it committed
    next_frame: int
    frames_this_run: int
    seconds_this_run: float


def bootstrap_frames(source: FrameSource, count: int) -> list[np.ndarray]:
    """``count`` frames spread evenly over a file or folder (a stream has no "later" to sample)."""
    n = source.info.frames
    if count <= 0 or not n or source.info.kind == "stream":
        return []
    return source.sample(np.linspace(0, n - 1, min(count, n)).round().astype(int).tolist())


def prepare_detector(detector, source: FrameSource, start: int) -> None:
    """Bring a stateful detector to the state it had before frame ``start`` (fresh run or resume)."""
    if hasattr(detector, "bootstrap_on") and getattr(detector, "bootstrap", 0):
        detector.bootstrap_on(bootstrap_frames(source, detector.bootstrap))
    replay_from = max(0, start - int(getattr(detector, "warmup_frames", 0)))
    if hasattr(detector, "learn") and start > 0 and source.info.kind != "stream":
        for i, frame in source.frames(replay_from):
            if i >= start:
                break
            detector.learn(frame)


class _StopRequest:
    """First Ctrl-C: finish the current frame, commit, stop. A second one interrupts at once."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after this frame (Ctrl-C again to abort without saving it) ...", file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def scan(source: FrameSource, detector, tracker, work: WorkDir, s: ScanSettings) -> ScanOutcome:
    start = int(work.state["next_frame"])
    prepare_detector(detector, source, start)
    total = source.info.frames
    stats = {k: int(work.state.get(k, 0)) for k in ("frames_processed", "detections", "tracked_boxes")}
    rows: list[dict] = []
    part_start, processed, next_frame = start, 0, start
    finished = False
    crop_dir = work.crop_dir(int(work.state["parts"]))
    t0 = run_t0 = time.perf_counter()
    bar = tqdm(total=total, initial=min(start, total) if total else start, unit="frame", desc="tracking",
               disable=not s.progress, dynamic_ncols=True, mininterval=1.0)
    with _StopRequest() as stop:
        for index, frame in source.frames(start):
            if stop.requested or (s.max_frames is not None and processed >= s.max_frames):
                break
            if index - part_start >= s.checkpoint_every:
                work.commit(rows, tracker, next_frame=index, **stats,
                            scan_seconds=float(work.state.get("scan_seconds", 0.0)) + time.perf_counter() - t0)
                t0, rows, part_start = time.perf_counter(), [], index
                crop_dir = work.crop_dir(int(work.state["parts"]))
            if index % s.stride == 0:
                rows.extend(process_frame(index, frame, detector, tracker, crop_dir, s, stats))
            processed += 1
            next_frame = index + 1
            bar.update(1)
        else:
            finished = not stop.requested
    bar.close()
    elapsed = time.perf_counter() - t0
    work.commit(rows, tracker, next_frame=next_frame, **stats, scan_done=finished,
                scan_seconds=float(work.state.get("scan_seconds", 0.0)) + elapsed)
    return ScanOutcome(finished, stop.requested, next_frame, processed, time.perf_counter() - run_t0)


def process_frame(index: int, frame: np.ndarray, detector, tracker, crop_dir, s: ScanSettings, stats: dict) -> list[dict]:
    dets = detector(frame)
    tracked = update(tracker, dets)
    stats["frames_processed"] += 1
    stats["detections"] += len(dets)
    stats["tracked_boxes"] += len(tracked)
    if len(tracked) == 0:
        return []
    height, width = frame.shape[:2]
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    rows = []
    for box, score, tid in zip(tracked.xyxy, tracked.confidence, tracked.tracker_id):
        x0, y0, x1, y1 = margin_box(box, s.crop_margin, width, height)
        if x1 <= x0 or y1 <= y0:
            continue
        bx = [float(np.clip(box[0], 0, width)), float(np.clip(box[1], 0, height)),
              float(np.clip(box[2], 0, width)), float(np.clip(box[3], 0, height))]
        name = f"{int(tid)}_{index:07d}.jpg"
        ok, buf = cv2.imencode(".jpg", frame[y0:y1, x0:x1], [cv2.IMWRITE_JPEG_QUALITY, int(s.jpeg_quality)])
        if not ok:
            continue
        buf.tofile(str(crop_dir / name))
        ix0, iy0, ix1, iy1 = (int(round(v)) for v in bx)
        rows.append({"track": int(tid), "frame": int(index), "box": [round(v, 2) for v in bx],
                     "score": round(float(score), 4), "sharpness": round(sharpness(gray[iy0:iy1, ix0:ix1]), 2),
                     "occlusion": round(occlusion(box, dets.xyxy[~_same_box(dets.xyxy, box)]), 4),
                     "crop": f"{crop_dir.name}/{name}"})
    return rows


def _same_box(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    return np.all(np.abs(np.asarray(boxes).reshape(-1, 4) - np.asarray(box)[None, :4]) < 1e-3, axis=1)
