"""The weight-free detectors: background subtraction (blob logic on drawn scenes) and HOG (on rendered people)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.feature import hog as skimage_hog

from reidfw.synthetic.generators.video import read_mot_gt
from reidfw.video_tracking.detectors import build_detector
from reidfw.video_tracking.detectors.bgsub import blobs_to_person_boxes
from reidfw.video_tracking.detectors.hog import BLOCKS, SVM_FILE, hog_blocks, people_svm
from reidfw.video_tracking.errors import TrackingInputError


def _scene(rng, people):
    """A noisy light background with dark upright rectangles ("people") at (x, y, w, h)."""
    frame = np.clip(rng.normal(180, 3, size=(240, 320, 3)), 0, 255).astype(np.uint8)
    for x, y, w, h in people:
        frame[y:y + h, x:x + w] = (40, 60, 90)
    return frame


def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy)


@pytest.mark.parametrize("method", ["mog2", "knn"])
def test_bgsub_finds_a_moving_person(method):
    rng = np.random.default_rng(0)
    det = build_detector({"name": "bgsub", "method": method, "bootstrap": 0, "min_area": 100})
    for _ in range(30):                                          # the empty scene
        det(_scene(rng, []))
    out = None
    for step in range(6):
        out = det(_scene(rng, [(40 + 8 * step, 60, 30, 90)]))
    assert len(out) == 1
    assert _iou(out.xyxy[0], (80, 60, 110, 150)) > 0.9
    assert 0.5 < out.confidence[0] <= 1.0


def test_bootstrap_learns_the_scene_without_its_people():
    """People in every sampled frame (but moving) are not taken for background."""
    rng = np.random.default_rng(1)
    frames = [_scene(rng, [(20 + 10 * i, 60, 30, 90)]) for i in range(20)]
    det = build_detector({"name": "bgsub", "bootstrap": 20, "min_area": 100})
    det.bootstrap_on(frames)
    out = det(_scene(rng, [(200, 60, 30, 90)]))
    assert len(out) == 1 and _iou(out.xyxy[0], (200, 60, 230, 150)) > 0.9


def test_blob_logic_merges_stacked_parts_and_splits_side_by_side_people():
    fg = np.zeros((240, 320), np.uint8)
    fg[40:90, 50:80] = 255                # torso ...
    fg[96:150, 52:78] = 255               # ... and legs, 6 px apart: one person
    fg[60:160, 150:186] = 255             # two people side by side, hands touching: one 76 x 100 px blob
    fg[60:160, 190:226] = 255
    fg[100:108, 186:190] = 255
    boxes = sorted(blobs_to_person_boxes(fg, min_area=100, min_height=20, merge_gap=0.25, max_aspect=0.75,
                                         person_aspect=0.42))
    assert len(boxes) == 3
    assert boxes[0][:4] == (50, 40, 80, 150)
    left, right = boxes[1][:4], boxes[2][:4]
    assert abs(left[2] - 188) <= 4 and abs(right[0] - 188) <= 4 and left[0] == 150 and right[2] == 226


def test_bgsub_rejects_unknown_method():
    with pytest.raises(TrackingInputError, match="detector.method=mog3"):
        build_detector({"name": "bgsub", "method": "mog3"})


def test_hog_descriptor_equals_scikit_image(clip):
    gray = cv2.imread(str(clip / "img1" / "000012.jpg"), cv2.IMREAD_GRAYSCALE)[5:256, 7:140]   # not cell-aligned
    ref = skimage_hog(gray, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), block_norm="L2-Hys",
                      transform_sqrt=True, feature_vector=False)
    ours = hog_blocks(gray)
    assert ours.shape == ref.shape
    # Equal to float32 precision, but for gradients whose angle is tied on a bin edge, which either
    # implementation's rounding may put in the neighbouring bin.
    close = np.abs(ours - ref) < 1e-4
    assert close.mean() > 0.995
    assert np.corrcoef(ours.ravel(), ref.ravel())[0, 1] > 0.9999


def test_people_svm_is_opencvs_default_detector():
    weights, bias = people_svm()
    assert weights.shape == (BLOCKS[1], BLOCKS[0], 36)          # 15 x 7 blocks of 36 values: 3780 + bias
    assert bias == pytest.approx(-6.6657915, abs=1e-5)
    assert float(weights.sum()) == pytest.approx(float(np.load(SVM_FILE)[:-1].sum()), rel=1e-5)


def test_hog_finds_rendered_people_and_not_a_blank_wall(clip):
    det = build_detector({"name": "hog", "backend": "numpy", "min_person_height": 64, "max_person_height": 200})
    gt = read_mot_gt(clip)
    best = []
    for f in (1, 10, 20, 30):
        frame = cv2.imread(str(clip / "img1" / f"{f:06d}.jpg"))
        out = det(frame)
        for _, (x, y, w, h), conf, vis in gt[f]:
            if vis == 1.0 and h >= 80:
                best.append(max([_iou(b, (x, y, x + w, y + h)) for b in out.xyxy] or [0.0]))
    assert best and np.mean(np.array(best) >= 0.5) >= 0.5, best
    assert len(det(np.full((270, 480, 3), 128, np.uint8))) == 0


def test_hog_opencv_backend_needs_opencv_contrib():
    if hasattr(cv2, "HOGDescriptor"):
        pytest.skip("this OpenCV has HOGDescriptor (opencv-contrib): the opencv backend is available")
    with pytest.raises(TrackingInputError, match="opencv-contrib-python-headless"):
        build_detector({"name": "hog", "backend": "opencv"})
