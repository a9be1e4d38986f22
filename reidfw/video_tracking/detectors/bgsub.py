"""People on a fixed camera from background subtraction: no weights, a few milliseconds a frame.

OpenCV's MOG2 or KNN subtractor keeps a per-pixel model of the empty scene; what departs
from it is foreground. From the foreground mask to person boxes:

1. shadows (marked 127 by the subtractors) are dropped, only firm foreground (255) stays;
2. an opening removes sensor-noise speckle, a closing fills holes inside bodies, and a
   tall thin closing joins a person's parts split by a background-coloured band
   (trousers matching the floor, a belt);
3. connected components become blobs; blobs stacked vertically with a small gap (head
   and body, body and legs) are merged;
4. a blob much wider than a person of its height (two people side by side) is split at
   the emptiest columns of its mask into as many person-wide parts as fit;
5. each box is tightened to its mask pixels and scored: the fill ratio (a person fills
   about half of their box) and how person-like its aspect is, mapped to [0, 1].

Fixed cameras only: a moving camera makes everything foreground. Before the first frame
the model can be *bootstrapped* on frames sampled across the whole file (``bootstrap``),
so people standing in the first frame are not learned as background.
"""
from __future__ import annotations

import cv2
import numpy as np

from reidfw.video_tracking.detectors.boxes import detections
from reidfw.video_tracking.errors import TrackingInputError

METHODS = ("mog2", "knn")


class BackgroundSubtractionDetector:
    def __init__(self, method: str = "mog2", history: int = 300, var_threshold: float = 25.0,
                 dist2_threshold: float = 600.0, detect_shadows: bool = True, shadow_threshold: float = 0.5, learning_rate: float = -1.0,
                 open_px: int = 3, close_px: int = 7, join_px: int = 25, min_area: int = 150, min_height: int = 20,
                 max_aspect: float = 0.75, person_aspect: float = 0.42, merge_gap: float = 0.25,
                 process_width: int = 960, bootstrap: int = 40, warmup_frames: int | None = None):
        """``max_aspect``: width / height above which a blob is split; ``person_aspect``: the width / height of
        one walking person (sets how many parts a wide blob splits into); ``merge_gap``: the vertical gap, as a
        share of the taller blob's height, below which stacked blobs merge; ``process_width``: frames wider
        than this are downscaled first (speed; boxes come back in frame pixels); ``bootstrap``: frames sampled
        over a file before the first one (0 = off); ``shadow_threshold``: see ``reset``."""
        if method not in METHODS:
            raise TrackingInputError(f"detector.method={method}: choose one of {', '.join(METHODS)}")
        self.method = method
        self.history, self.var_threshold, self.dist2_threshold = int(history), float(var_threshold), float(dist2_threshold)
        self.detect_shadows, self.learning_rate = bool(detect_shadows), float(learning_rate)
        self.shadow_threshold = float(shadow_threshold)
        self.open_px, self.close_px, self.join_px = int(open_px), int(close_px), int(join_px)
        self.min_area, self.min_height = int(min_area), int(min_height)
        self.max_aspect, self.person_aspect, self.merge_gap = float(max_aspect), float(person_aspect), float(merge_gap)
        self.process_width, self.bootstrap = int(process_width), int(bootstrap)
        # The model forgets with rate 1/history: three histories back restores its state on resume.
        self.warmup_frames = 3 * self.history if warmup_frames is None else int(warmup_frames)
        self.reset()

    def reset(self) -> None:
        if self.method == "mog2":
            self.subtractor = cv2.createBackgroundSubtractorMOG2(self.history, self.var_threshold, self.detect_shadows)
        else:
            self.subtractor = cv2.createBackgroundSubtractorKNN(self.history, self.dist2_threshold, self.detect_shadows)
        # A pixel darker than the background by a factor in [shadow_threshold, 1] with the same colour is a
        # shadow and not foreground (OpenCV's default is 0.5).
        self.subtractor.setShadowThreshold(self.shadow_threshold)

    def _scaled(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        s = min(1.0, self.process_width / frame.shape[1])
        if s < 1.0:
            frame = cv2.resize(frame, (int(round(frame.shape[1] * s)), int(round(frame.shape[0] * s))),
                               interpolation=cv2.INTER_AREA)
        return frame, s

    def learn(self, frame: np.ndarray, rate: float | None = None) -> None:
        """Update the background model without detecting (bootstrap and resume replay)."""
        self.subtractor.apply(self._scaled(frame)[0], learningRate=self.learning_rate if rate is None else rate)

    def bootstrap_on(self, frames: list[np.ndarray]) -> None:
        """Learn the empty scene from frames spread over the video: people move, the background does not.

        The per-pixel median of the samples is the scene without the people (each pixel shows
        background in most samples). Every sample, with the pixels that depart from that median
        replaced by it, is then fed to the model: it learns the real sensor noise of the scene but
        never a person, even one who stands in many samples (MOG2 would otherwise take anything
        seen in more than 10 % of them for background).
        """
        if not frames:
            return
        small = [self._scaled(f)[0] for f in frames]
        median = np.median(np.stack(small), axis=0).astype(np.uint8)
        for i, f in enumerate(small):
            person = np.abs(f.astype(np.int16) - median.astype(np.int16)).max(axis=2, keepdims=True) > 25
            self.subtractor.apply(np.where(person, median, f), learningRate=1.0 / (i + 1))

    def foreground(self, frame: np.ndarray) -> np.ndarray:
        """The cleaned binary foreground mask (uint8 0/255) at processing resolution."""
        mask = self.subtractor.apply(frame, learningRate=self.learning_rate)
        fg = np.where(mask >= 200, 255, 0).astype(np.uint8)
        if self.open_px > 1:
            fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (self.open_px,) * 2))
        if self.close_px > 1:
            fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE,
                                  cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (self.close_px,) * 2))
        if self.join_px > 1:
            fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (3, self.join_px)))
        return fg

    def __call__(self, frame: np.ndarray):
        small, s = self._scaled(frame)
        fg = self.foreground(small)
        boxes = blobs_to_person_boxes(fg, self.min_area * s * s, self.min_height * s, self.merge_gap,
                                      self.max_aspect, self.person_aspect)
        if not boxes:
            return detections(np.zeros((0, 4)), np.zeros(0))
        b = np.array([bx[:4] for bx in boxes], dtype=np.float32) / s
        return detections(b, [bx[4] for bx in boxes])


def blobs_to_person_boxes(fg: np.ndarray, min_area: float, min_height: float, merge_gap: float, max_aspect: float,
                          person_aspect: float) -> list[tuple[float, float, float, float, float]]:
    """Foreground mask -> [(x0, y0, x1, y1, score)] person boxes (see the module docstring, steps 3-5)."""
    n, _, stats, _ = cv2.connectedComponentsWithStats((fg > 0).astype(np.uint8), connectivity=8)
    blobs = [[int(x), int(y), int(x + w), int(y + h)] for x, y, w, h, a in stats[1:] if a >= min_area / 4]
    blobs = _merge_stacked(blobs, merge_gap)
    out = []
    for x0, y0, x1, y1 in blobs:
        for px0, px1 in _split_wide(fg[y0:y1, x0:x1], max_aspect, person_aspect):
            part = fg[y0:y1, x0 + px0:x0 + px1] > 0
            rows, cols = np.nonzero(part.any(axis=1))[0], np.nonzero(part.any(axis=0))[0]
            if len(rows) == 0:
                continue
            bx0, bx1 = x0 + px0 + cols[0], x0 + px0 + cols[-1] + 1
            by0, by1 = y0 + rows[0], y0 + rows[-1] + 1
            h, w = by1 - by0, bx1 - bx0
            area = int(part.sum())
            if h < min_height or area < min_area:
                continue
            fill = area / float(h * w)
            aspect = w / float(h)
            # A walking person: about 0.25-0.6 as wide as tall and filling 35-75 % of the box.
            shape = float(np.exp(-((np.log(aspect / person_aspect)) ** 2) / (2 * 0.45 ** 2)))
            score = float(np.clip(0.35 + 0.65 * shape * min(1.0, fill / 0.45), 0.0, 1.0))
            out.append((float(bx0), float(by0), float(bx1), float(by1), score))
    return out


def _merge_stacked(blobs: list[list[int]], gap: float) -> list[list[int]]:
    """Merge blobs that overlap horizontally and are close vertically (the parts of one person)."""
    merged = True
    while merged:
        merged = False
        for i in range(len(blobs)):
            for j in range(i + 1, len(blobs)):
                a, b = blobs[i], blobs[j]
                overlap_x = min(a[2], b[2]) - max(a[0], b[0])
                narrow = min(a[2] - a[0], b[2] - b[0])
                v_gap = max(a[1], b[1]) - min(a[3], b[3])
                tall = max(a[3] - a[1], b[3] - b[1])
                if overlap_x >= 0.5 * narrow and v_gap <= gap * tall:
                    blobs[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    del blobs[j]
                    merged = True
                    break
            if merged:
                break
    return blobs


def _split_wide(mask: np.ndarray, max_aspect: float, person_aspect: float) -> list[tuple[int, int]]:
    """Column ranges of a blob mask, one per person when the blob is wider than ``max_aspect``."""
    h, w = mask.shape
    if w <= max_aspect * h:
        return [(0, w)]
    parts = max(2, int(round(w / (person_aspect * h))))
    profile = cv2.blur((mask > 0).sum(axis=0).astype(np.float32)[None, :], (max(3, w // (4 * parts)) | 1, 1))[0]
    cuts = []
    for k in range(1, parts):
        centre = int(k * w / parts)
        lo, hi = max(1, centre - w // (3 * parts)), min(w - 1, centre + w // (3 * parts))
        cuts.append(lo + int(np.argmin(profile[lo:hi])) if hi > lo else centre)
    edges = [0, *sorted(set(cuts)), w]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b - a > 1]
