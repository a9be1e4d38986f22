"""Your own ONNX detector through onnxruntime: YOLO-style or boxes/scores/labels outputs.

Output layouts (``output_format``; ``auto`` tells them apart by the outputs' count and shape):

- ``yolo``: one output ``(1, 4 + C, N)`` or ``(1, N, 4 + C)`` of (cx, cy, w, h) in input pixels
  followed by C class scores (YOLOv8/v11 exports); decoded, filtered by ``classes`` and
  ``score_threshold``, then non-maximum suppression.
- ``boxes_scores_labels``: three outputs, boxes ``(N, 4)`` x0,y0,x1,y1 in input pixels,
  scores ``(N,)``, labels ``(N,)`` (torchvision models exported with ``torch.onnx.export``,
  end-to-end detectors with NMS inside); a leading batch axis of 1 is accepted.

The input is the frame as RGB in [0, 1], NCHW float32. With a fixed input size in the
model (or ``input_size: [H, W]``) the frame is letterboxed into it (scaled to fit, padded
right and bottom with gray 114, as YOLO exports expect) and boxes are mapped back; a model
with dynamic height/width gets the frame as it is.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from reidfw.video_tracking.detectors.boxes import clip_boxes, detections, nms
from reidfw.video_tracking.errors import TrackingInputError

FORMATS = ("auto", "yolo", "boxes_scores_labels")
PAD = 114


class OnnxDetector:
    warmup_frames = 0

    def __init__(self, weights: str | None = None, output_format: str = "auto", classes: Sequence[int] | None = None,
                 score_threshold: float = 0.3, nms_iou: float = 0.5, input_size: Sequence[int] | None = None,
                 providers: Sequence[str] | None = None, threads: int = 0):
        try:
            import onnxruntime as ort
        except ImportError:
            raise TrackingInputError("detector=onnx needs onnxruntime: pip install 'reidfw[track]' "
                                     "(or pip install onnxruntime)") from None
        if not weights:
            raise TrackingInputError("detector=onnx needs detector.weights=/path/to/model.onnx")
        if output_format not in FORMATS:
            raise TrackingInputError(f"detector.output_format={output_format}: choose one of {', '.join(FORMATS)}")
        path = Path(str(weights)).expanduser()
        if not path.is_file():
            raise TrackingInputError(f"detector.weights={path}: no such file; pass your exported .onnx model")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=list(providers or ort.get_available_providers()))
        except Exception as e:  # noqa: BLE001 -- onnxruntime raises its own exception types for bad files
            first = (str(e).splitlines() or [""])[0][:160]
            raise TrackingInputError(f"detector.weights={path}: onnxruntime cannot load it ({first}); "
                                     f"check it is an ONNX model (re-export it)") from None
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape = list(inp.shape)
        if len(shape) != 4:
            raise TrackingInputError(f"detector.weights={path}: input {inp.name} has shape {shape}; expected NCHW")
        fixed = [d if isinstance(d, int) else None for d in shape[2:]]
        self.input_size = tuple(int(v) for v in input_size) if input_size else (
            tuple(fixed) if None not in fixed else None)
        outputs = self.session.get_outputs()
        self.format = output_format if output_format != "auto" else ("boxes_scores_labels" if len(outputs) >= 3 else "yolo")
        if self.format == "yolo" and len(outputs) != 1:
            raise TrackingInputError(f"detector.weights={path}: a yolo-format model has one output, this one has "
                                     f"{len(outputs)}; set detector.output_format=boxes_scores_labels")
        # COCO person: class 0 in YOLO's 80-class numbering, label 1 in torchvision's.
        self.classes = [int(c) for c in (classes if classes is not None else ([0] if self.format == "yolo" else [1]))]
        self.score_threshold, self.nms_iou = float(score_threshold), float(nms_iou)

    def _prepare(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        rgb = frame[:, :, ::-1]
        scale = 1.0
        if self.input_size is not None:
            h, w = self.input_size
            scale = min(h / frame.shape[0], w / frame.shape[1])
            nh, nw = int(round(frame.shape[0] * scale)), int(round(frame.shape[1] * scale))
            canvas = np.full((h, w, 3), PAD, np.uint8)
            canvas[:nh, :nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
            rgb = canvas
        x = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        return x, scale

    def __call__(self, frame: np.ndarray):
        x, scale = self._prepare(frame)
        outs = self.session.run(None, {self.input_name: x})
        if self.format == "yolo":
            boxes, scores, labels = self._decode_yolo(outs[0])
        else:
            boxes, scores, labels = (np.asarray(o) for o in outs[:3])
            boxes, scores, labels = boxes.reshape(-1, 4), scores.reshape(-1), labels.reshape(-1).astype(int)
        keep = np.isin(labels, self.classes) & (scores >= self.score_threshold)
        boxes, scores, labels = boxes[keep] / scale, scores[keep], labels[keep]
        if self.format == "yolo":
            k = nms(boxes, scores, self.nms_iou)
            boxes, scores, labels = boxes[k], scores[k], labels[k]
        return detections(clip_boxes(boxes, frame.shape[1], frame.shape[0]), scores, labels)

    @staticmethod
    def _decode_yolo(out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pred = np.asarray(out)[0]
        if pred.shape[0] < pred.shape[1]:          # (4 + C, N) -> (N, 4 + C)
            pred = pred.T
        cx, cy, w, h = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
        cls = pred[:, 4:]
        labels = cls.argmax(axis=1)
        scores = cls[np.arange(len(cls)), labels]
        boxes = np.column_stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
        return boxes, scores, labels
