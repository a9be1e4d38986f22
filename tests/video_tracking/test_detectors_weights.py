"""Users' own detector weights: a torchvision state dict and ONNX models, generated here in the real layouts.

No mocks: the real torchvision network runs on the loaded state dict and onnxruntime runs
the exported graphs; the tests steer what the networks output through their weights and
inputs and check the boxes, scores and class filtering that come out.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from reidfw.video_tracking.detectors import build_detector
from reidfw.video_tracking.errors import TrackingInputError

ARCH = "fasterrcnn_mobilenet_v3_large_fpn"
SMALL = {"min_size": 160, "max_size": 320}     # keeps the CPU forward short


def _frcnn_weights(tmp_path, favoured_label: int, wrapper: str | None = None):
    """A random-init detector whose box classifier says ``favoured_label`` for every proposal."""
    torch.manual_seed(0)
    model = torchvision.models.get_model(ARCH, weights=None, weights_backbone=None, num_classes=91, **SMALL)
    head = model.roi_heads.box_predictor.cls_score
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(-10.0)
        head.bias[favoured_label] = 10.0
    path = tmp_path / f"frcnn_{favoured_label}.pth"
    sd = model.state_dict()
    torch.save({wrapper: sd} if wrapper else sd, path)
    return path


def _frame(h=240, w=320):
    rng = np.random.default_rng(0)
    return (rng.random((h, w, 3)) * 255).astype(np.uint8)


def test_torchvision_state_dict_runs_and_filters_classes(tmp_path):
    path = _frcnn_weights(tmp_path, favoured_label=1)
    det = build_detector({"name": "torchvision", "weights": str(path), "arch": ARCH, "classes": [1],
                          "score_threshold": 0.5, "model_kwargs": SMALL})
    frame = _frame()
    out = det(frame)
    assert len(out) > 0, "the classifier favours label 1 for every proposal: person boxes must come out"
    assert set(out.class_id.tolist()) == {1}
    assert (out.confidence >= 0.5).all() and (out.confidence <= 1).all()
    assert (out.xyxy[:, 0] >= 0).all() and (out.xyxy[:, 2] <= frame.shape[1] + 1e-3).all()
    assert (out.xyxy[:, 3] <= frame.shape[0] + 1e-3).all() and (out.xyxy[:, 2] > out.xyxy[:, 0]).all()
    # The same network keeping only another class: nothing passes.
    other = build_detector({"name": "torchvision", "weights": str(path), "arch": ARCH, "classes": [3],
                            "score_threshold": 0.5, "model_kwargs": SMALL})
    assert len(other(frame)) == 0


def test_torchvision_wrapped_state_dict_and_other_label(tmp_path):
    path = _frcnn_weights(tmp_path, favoured_label=3, wrapper="model")
    cfg = {"name": "torchvision", "weights": str(path), "arch": ARCH, "score_threshold": 0.5, "model_kwargs": SMALL}
    assert len(build_detector({**cfg, "classes": [1]})(_frame())) == 0
    out = build_detector({**cfg, "classes": [1, 3]})(_frame())
    assert len(out) > 0 and set(out.class_id.tolist()) == {3}


def test_torchvision_wrong_weights_fail_in_one_line(tmp_path):
    path = _frcnn_weights(tmp_path, favoured_label=1)
    with pytest.raises(TrackingInputError, match="does not fit ssdlite320_mobilenet_v3_large"):
        build_detector({"name": "torchvision", "weights": str(path), "arch": "ssdlite320_mobilenet_v3_large"})
    with pytest.raises(TrackingInputError, match="num_classes"):
        build_detector({"name": "torchvision", "weights": str(path), "arch": ARCH, "num_classes": 2})
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(TrackingInputError, match="junk.pth: not a state dict"):
        build_detector({"name": "torchvision", "weights": str(junk)})
    with pytest.raises(TrackingInputError, match="needs detector.weights"):
        build_detector({"name": "torchvision"})


# --- ONNX ----------------------------------------------------------------------------------------

CELL, SIDE = 16, 64     # the tiny model sees a 64x64 input as a 4x4 grid of 16-px anchor cells


class TinyGridDetector(nn.Module):
    """A real (tiny) detector graph: one anchor box per 16x16 cell, scored by the cell's brightness.

    Class 0 ("person") = mean brightness of the cell, class 1 = its darkness. ``layout``
    ``yolo`` outputs (1, 4 + 2, 16) of cx, cy, w, h + class scores; ``boxes_scores_labels``
    outputs xyxy boxes, the best class score and its label (+1: torchvision numbering).
    """

    def __init__(self, layout: str):
        super().__init__()
        self.layout = layout
        ys, xs = torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="ij")
        self.register_buffer("cx", (xs.flatten() + 0.5) * CELL)
        self.register_buffer("cy", (ys.flatten() + 0.5) * CELL)

    def forward(self, x):
        bright = F.avg_pool2d(x.mean(1, keepdim=True), CELL).flatten(1)[0]       # (16,)
        wh = torch.full_like(bright, float(CELL))
        if self.layout == "yolo":
            return torch.stack([self.cx, self.cy, wh, wh, bright, 1 - bright])[None]
        boxes = torch.stack([self.cx - CELL / 2, self.cy - CELL / 2, self.cx + CELL / 2, self.cy + CELL / 2], 1)
        scores = torch.maximum(bright, 1 - bright)
        labels = torch.where(bright > 0.5, torch.ones_like(bright), torch.full_like(bright, 2.0)).long()
        return boxes, scores, labels


def _export(tmp_path, layout):
    path = tmp_path / f"tiny_{layout}.onnx"
    names = ["out"] if layout == "yolo" else ["boxes", "scores", "labels"]
    torch.onnx.export(TinyGridDetector(layout).eval(), (torch.zeros(1, 3, SIDE, SIDE),), str(path),
                      input_names=["images"], output_names=names, dynamo=False)
    return path


def _frame_with_bright_cell():
    """A 96x128 frame (letterboxed into 64x64 at scale 0.5) with one white patch over model cell (row 1, col 2)."""
    frame = np.zeros((96, 128, 3), np.uint8)
    frame[32:64, 64:96] = 255                   # model pixels x 32-48, y 16-32 after the 0.5 letterbox
    return frame


@pytest.mark.parametrize("layout", ["yolo", "boxes_scores_labels"])
def test_onnx_detector_decodes_letterboxes_and_filters(tmp_path, layout):
    path = _export(tmp_path, layout)
    det = build_detector({"name": "onnx", "weights": str(path), "score_threshold": 0.9})
    assert det.format == layout and det.input_size == (SIDE, SIDE)
    out = det(_frame_with_bright_cell())
    assert len(out) == 1
    np.testing.assert_allclose(out.xyxy[0], [64, 32, 96, 64], atol=1e-3)    # back in frame pixels
    assert out.confidence[0] == pytest.approx(1.0, abs=1e-3)
    # The dark cells are the other class: kept only when asked for (the gray letterbox padding is
    # darker than 0.5 as well, and lies below / right of the frame: boxes are clipped to it).
    other = 1 if layout == "yolo" else 2
    dark = build_detector({"name": "onnx", "weights": str(path), "score_threshold": 0.9, "classes": [other]})(
        _frame_with_bright_cell())
    assert len(dark) >= 4 and set(dark.class_id.tolist()) == {other}


def test_onnx_bad_files_fail_in_one_line(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(TrackingInputError, match="bad.onnx: onnxruntime cannot load it"):
        build_detector({"name": "onnx", "weights": str(bad)})
    with pytest.raises(TrackingInputError, match="no such file"):
        build_detector({"name": "onnx", "weights": str(tmp_path / "missing.onnx")})
    three_outputs = _export(tmp_path, "boxes_scores_labels")
    with pytest.raises(TrackingInputError, match="one output"):
        build_detector({"name": "onnx", "weights": str(three_outputs), "output_format": "yolo"})
