"""Person detectors: frame (BGR uint8) -> ``supervision.Detections`` (xyxy boxes, confidence in [0, 1], class_id).

Weight-free, for fixed cameras and no downloads:
  bgsub.py        background subtraction (OpenCV MOG2 / KNN) + morphology + blob-to-person boxes
  hog.py          Dalal-Triggs HOG people detector with OpenCV's default people SVM
Your own weights:
  torchvision_detector.py   a torchvision detection state dict (Faster R-CNN, SSDlite, RetinaNet, FCOS ...)
  onnx_detector.py          an ONNX detector through onnxruntime (YOLO-style or boxes/scores/labels outputs)

``build_detector(cfg)`` picks one from ``conf/detector/<name>.yaml``. Every detector has
``warmup_frames``: how many frames before a resume point it must see again to be in the
state it was (0 for the stateless ones; the background model's memory for bgsub).
"""
from __future__ import annotations

from collections.abc import Mapping

DETECTORS = ("bgsub", "hog", "torchvision", "onnx")


def build_detector(cfg: Mapping):
    """A detector from its config mapping (``name`` + that detector's options)."""
    options = {k: v for k, v in dict(cfg).items() if k != "name"}
    name = cfg.get("name")
    if name == "bgsub":
        from reidfw.video_tracking.detectors.bgsub import BackgroundSubtractionDetector as cls
    elif name == "hog":
        from reidfw.video_tracking.detectors.hog import HogPeopleDetector as cls
    elif name == "torchvision":
        from reidfw.video_tracking.detectors.torchvision_detector import TorchvisionDetector as cls
    elif name == "onnx":
        from reidfw.video_tracking.detectors.onnx_detector import OnnxDetector as cls
    else:
        from reidfw.video_tracking.errors import TrackingInputError

        raise TrackingInputError(f"detector={name}: unknown detector; choose one of {', '.join(DETECTORS)}")
    return cls(**options)
