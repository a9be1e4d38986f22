"""Box helpers shared by the detectors: non-maximum suppression and building ``supervision.Detections``."""
from __future__ import annotations

import numpy as np
import supervision as sv


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (xyxy boxes), best score first."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=int)
    return np.asarray(sv.box_non_max_suppression(np.column_stack([boxes, scores]), iou_threshold=iou)).nonzero()[0]


def detections(boxes, scores, class_ids=None) -> sv.Detections:
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    ids = np.zeros(len(boxes), dtype=int) if class_ids is None else np.asarray(class_ids, dtype=int).reshape(-1)
    return sv.Detections(xyxy=boxes, confidence=scores, class_id=ids)


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    out = np.asarray(boxes, dtype=np.float32).reshape(-1, 4).copy()
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out
