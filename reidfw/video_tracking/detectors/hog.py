"""The Dalal-Triggs HOG people detector with OpenCV's default people SVM, without OpenCV's HOG.

OpenCV 5 moved ``cv2.HOGDescriptor`` out of its main package into opencv_contrib's
``xobjdetect`` module (opencv/opencv#25198): ``opencv-python-headless`` 5.0 (pinned here)
no longer has it, ``opencv-contrib-python-headless`` 5.0 does. Both install the same
``cv2`` package, and albumentations requires the plain one, so reidfw does not swap
them. Two backends:

- ``numpy`` (the default when cv2 has no HOG): the descriptor of scikit-image's
  ``skimage.feature.hog`` (64x128 window, 8x8 cells, 2x2-cell blocks, 9 unsigned bins,
  L2-Hys, square-root gamma: OpenCV's default geometry) computed in vectorised numpy
  (``hog_blocks``; the tests check it equals scikit-image's output up to angles tied on a
  bin edge; scikit-image normalises block by block in a Python loop and is ~10x slower), reordered into OpenCV's layout (blocks and
  cells column by column), and scored by the linear SVM OpenCV ships as
  ``HOGDescriptor::getDefaultPeopleDetector()`` (3780 weights + bias, trained on INRIA
  Person; Apache-2.0, copied verbatim into ``opencv_default_people_svm.npy``). The SVM
  is applied to a whole pyramid level at once as a correlation of the block-feature map
  with the weight map. This descriptor bins orientations hard and has no Gaussian block
  window, so scores are close to, not equal to, OpenCV's (descriptor correlation ~0.8).
- ``opencv``: ``cv2.HOGDescriptor.detectMultiScale`` when the installed OpenCV has it
  (``pip install opencv-contrib-python-headless==<the opencv-python-headless version>``).

Scales are limited to people ``min_person_height``..``max_person_height`` pixels tall
(the window's person is ~96 of its 128 px). Boxes are shrunk from the detection window to
the person inside it (``window_to_person``) and merged by non-maximum suppression; the SVM
margin becomes a confidence through a logistic function (margin 0 -> 0.5).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reidfw.video_tracking.detectors.boxes import detections, nms
from reidfw.video_tracking.errors import TrackingInputError

SVM_FILE = Path(__file__).with_name("opencv_default_people_svm.npy")
WINDOW = (64, 128)                   # width, height
CELL, BLOCK_CELLS, BINS = 8, 2, 9
BLOCKS = (WINDOW[0] // CELL - 1, WINDOW[1] // CELL - 1)   # (7, 15) blocks per window, x and y
PERSON_IN_WINDOW = 96                # px of the 128-px window a person's height fills in INRIA's crops


def people_svm() -> tuple[np.ndarray, float]:
    """OpenCV's default people SVM as a (15, 7, 36) weight map in scikit-image's block layout, and its bias."""
    w = np.load(SVM_FILE).astype(np.float32)
    # OpenCV orders the descriptor block column by column (x outer, y inner), and cells inside a
    # block the same way; scikit-image's feature map is (block_y, block_x, cell_y, cell_x, bin).
    per_block = w[:-1].reshape(BLOCKS[0], BLOCKS[1], BLOCK_CELLS, BLOCK_CELLS, BINS)    # bx, by, cx, cy, bin
    return per_block.transpose(1, 0, 3, 2, 4).reshape(BLOCKS[1], BLOCKS[0], -1), float(w[-1])


def hog_blocks(gray: np.ndarray) -> np.ndarray:
    """``skimage.feature.hog(gray, 9, (8, 8), (2, 2), "L2-Hys", transform_sqrt=True, feature_vector=False)``, vectorised.

    (blocks_y, blocks_x, 2, 2, 9): central-difference gradients of the square-rooted image,
    unsigned orientations hard-binned into 20-degree bins (bin i holds [20 i, 20 i + 20)),
    magnitudes summed per 8x8 cell and divided by its 64 pixels, then every 2x2-cell block
    L2-normalised, clipped at 0.2 and L2-normalised again (eps 1e-5, as scikit-image).
    """
    # float32 (twice as fast as scikit-image's float64). A gradient whose angle lies exactly on a bin
    # edge (e.g. 60 deg from sqrt(3) / 1) may land in the neighbouring bin in either implementation.
    img = np.sqrt(gray.astype(np.float32))
    n_r, n_c = img.shape[0] // CELL, img.shape[1] // CELL
    g_row, g_col = np.zeros_like(img), np.zeros_like(img)
    g_row[1:-1] = img[2:] - img[:-2]
    g_col[:, 1:-1] = img[:, 2:] - img[:, :-2]
    g_row, g_col = g_row[: n_r * CELL, : n_c * CELL], g_col[: n_r * CELL, : n_c * CELL]
    magnitude = np.hypot(g_col, g_row)
    orientation = np.rad2deg(np.arctan2(g_row, g_col)) % 180
    bins = np.minimum((orientation * (BINS / 180)).astype(np.int32), BINS - 1)
    cell = (np.arange(n_r * CELL) // CELL)[:, None] * n_c + (np.arange(n_c * CELL) // CELL)[None, :]
    hist = np.bincount((cell * BINS + bins).ravel(), weights=magnitude.ravel(), minlength=n_r * n_c * BINS)
    hist = (hist.reshape(n_r, n_c, BINS) / (CELL * CELL)).astype(np.float32)
    blocks = np.lib.stride_tricks.sliding_window_view(hist, (BLOCK_CELLS, BLOCK_CELLS), axis=(0, 1))
    blocks = blocks.transpose(0, 1, 3, 4, 2)                       # (by, bx, cy, cx, bin)
    eps = 1e-5
    out = blocks / np.sqrt((blocks ** 2).sum(axis=(2, 3, 4), keepdims=True) + eps ** 2)
    out = np.minimum(out, 0.2)
    return out / np.sqrt((out ** 2).sum(axis=(2, 3, 4), keepdims=True) + eps ** 2)


class HogPeopleDetector:
    warmup_frames = 0

    def __init__(self, backend: str = "auto", min_person_height: float = 64, max_person_height: float = 320,
                 scale_step: float = 1.15, hit_threshold: float = 0.0, nms_iou: float = 0.35,
                 window_to_person: tuple[float, float, float, float] = (0.22, 0.11, 0.22, 0.1),
                 confidence_slope: float = 1.5):
        """``window_to_person``: (left, top, right, bottom) shares of the window to cut away to get the
        person's box; ``hit_threshold``: SVM margin a window needs. Gradients are taken on the gray image
        (OpenCV takes the strongest colour channel; gray is a third of the work)."""
        if backend not in ("auto", "numpy", "opencv"):
            raise TrackingInputError(f"detector.backend={backend}: choose auto, numpy or opencv")
        has_cv2_hog = hasattr(cv2, "HOGDescriptor")
        if backend == "opencv" and not has_cv2_hog:
            raise TrackingInputError(
                f"detector.backend=opencv: this OpenCV ({cv2.__version__}) has no HOGDescriptor (OpenCV 5 moved it "
                f"to opencv_contrib); install opencv-contrib-python-headless=={cv2.__version__}.* or use backend=numpy")
        self.backend = "opencv" if backend == "opencv" or (backend == "auto" and has_cv2_hog) else "numpy"
        if min_person_height <= 0 or max_person_height < min_person_height or scale_step <= 1.0:
            raise TrackingInputError("detector: need 0 < min_person_height <= max_person_height and scale_step > 1")
        self.min_h, self.max_h, self.step = float(min_person_height), float(max_person_height), float(scale_step)
        self.hit_threshold, self.nms_iou = float(hit_threshold), float(nms_iou)
        self.shrink = tuple(float(v) for v in window_to_person)
        self.slope = float(confidence_slope)
        if self.backend == "numpy":
            self.weights, self.bias = people_svm()
        else:
            self._cv_hog = cv2.HOGDescriptor()
            self._cv_hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def scales(self) -> list[float]:
        """Image scale factors of the pyramid: a person of height h fills the window at factor 96 / h."""
        out, f = [], PERSON_IN_WINDOW / self.min_h
        while f >= PERSON_IN_WINDOW / self.max_h:
            out.append(f)
            f /= self.step
        return out

    def __call__(self, frame: np.ndarray):
        raw = self._windows_numpy(frame) if self.backend == "numpy" else self._windows_opencv(frame)
        if len(raw) == 0:
            return detections(np.zeros((0, 4)), np.zeros(0))
        boxes, margins = raw[:, :4], raw[:, 4]
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        l, t, r, b = self.shrink
        person = np.column_stack([boxes[:, 0] + l * w, boxes[:, 1] + t * h, boxes[:, 2] - r * w, boxes[:, 3] - b * h])
        conf = 1.0 / (1.0 + np.exp(-self.slope * margins))
        keep = nms(person, conf, self.nms_iou)
        return detections(person[keep], conf[keep])

    def _windows_numpy(self, frame: np.ndarray) -> np.ndarray:
        """[(x0, y0, x1, y1, margin)] of every window over the threshold, in frame pixels."""
        img = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        by, bx = self.weights.shape[:2]
        found = []
        for f in self.scales():
            size = (int(round(img.shape[1] * f)), int(round(img.shape[0] * f)))
            if size[0] < WINDOW[0] or size[1] < WINDOW[1]:
                continue
            level = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR if f > 1 else cv2.INTER_AREA)
            feats = hog_blocks(level)
            fmap = feats.reshape(feats.shape[0], feats.shape[1], -1)          # (blocks_y, blocks_x, 36)
            ny, nx = fmap.shape[0] - by + 1, fmap.shape[1] - bx + 1
            if ny <= 0 or nx <= 0:
                continue
            # The linear SVM over every window position (stride = one cell): a correlation with the weight map.
            proj = np.einsum("yxc,abc->yxab", fmap, self.weights, optimize=True)
            score = np.full((ny, nx), self.bias, np.float32)
            for a in range(by):
                for b in range(bx):
                    score += proj[a:a + ny, b:b + nx, a, b]
            ys, xs = np.nonzero(score > self.hit_threshold)
            for y, x in zip(ys, xs):
                found.append((x * CELL / f, y * CELL / f, (x * CELL + WINDOW[0]) / f, (y * CELL + WINDOW[1]) / f,
                              float(score[y, x])))
        return np.array(found, dtype=np.float32).reshape(-1, 5)

    def _windows_opencv(self, frame: np.ndarray) -> np.ndarray:
        found = []
        for f in self.scales():
            size = (int(round(frame.shape[1] * f)), int(round(frame.shape[0] * f)))
            if size[0] < WINDOW[0] or size[1] < WINDOW[1]:
                continue
            level = cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR if f > 1 else cv2.INTER_AREA)
            locations, weights = self._cv_hog.detect(level, hitThreshold=self.hit_threshold, winStride=(CELL, CELL))
            for (x, y), m in zip(np.asarray(locations).reshape(-1, 2), np.asarray(weights).reshape(-1)):
                found.append((x / f, y / f, (x + WINDOW[0]) / f, (y + WINDOW[1]) / f, float(m)))
        return np.array(found, dtype=np.float32).reshape(-1, 5)
