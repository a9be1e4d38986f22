"""Your own torchvision detector: a state dict for any ``torchvision.models.detection`` architecture.

``weights`` is a file saved with ``torch.save(model.state_dict(), path)`` (or wrapped as
``{"model": ...}`` / ``{"state_dict": ...}`` as torchvision's reference training scripts
and Lightning save it). The network is built with ``weights=None, weights_backbone=None``
(nothing is downloaded) and loaded strictly, with ``torch.load(weights_only=True)``: a
file that is not a state dict, or one for another architecture or class count, fails
with one line naming the file, what was found and the fix.

``classes`` are the label ids kept (COCO's person is 1 in torchvision's 91-class
numbering; a model fine-tuned on "background + person" has person = 1 as well).
"""
from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from reidfw.video_tracking.detectors.boxes import detections
from reidfw.video_tracking.errors import TrackingInputError

WRAPPERS = ("model", "state_dict", "model_state_dict")


def load_detection_state_dict(path: Path) -> dict:
    if not path.is_file():
        raise TrackingInputError(f"detector.weights={path}: no such file; pass the state dict of your detector "
                                 f"(torch.save(model.state_dict(), path))")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as e:
        first = (str(e).splitlines() or [""])[0][:160]
        raise TrackingInputError(
            f"detector.weights={path}: not a state dict torch.load(weights_only=True) can read ({type(e).__name__}: "
            f"{first}); save only the weights: torch.save(model.state_dict(), path)") from None
    if isinstance(obj, Mapping):
        for w in WRAPPERS:
            if isinstance(obj.get(w), Mapping):
                obj = obj[w]
                break
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        kind = type(obj).__name__ if not isinstance(obj, Mapping) else f"a dict with keys {list(obj)[:4]}"
        raise TrackingInputError(f"detector.weights={path}: expected a state dict of tensors, found {kind}; "
                                 f"save it with torch.save(model.state_dict(), path)")
    # Lightning prefixes the module attribute name (``model.``); torchvision's names have none.
    prefix = "model." if all(k.startswith("model.") for k in obj) else ""
    return {k[len(prefix):]: v for k, v in obj.items()}


class TorchvisionDetector:
    warmup_frames = 0

    def __init__(self, weights: str | None = None, arch: str = "fasterrcnn_mobilenet_v3_large_fpn",
                 num_classes: int = 91, classes: Sequence[int] = (1,), score_threshold: float = 0.3,
                 device: str = "auto", model_kwargs: Mapping | None = None):
        import torchvision

        if not weights:
            raise TrackingInputError("detector=torchvision needs detector.weights=/path/to/state_dict.pth "
                                     "(the weight-free detectors are detector=bgsub and detector=hog)")
        available = torchvision.models.list_models(module=torchvision.models.detection)
        if arch not in available:
            raise TrackingInputError(f"detector.arch={arch}: not a torchvision detection model; choose one of "
                                     f"{', '.join(sorted(available))}")
        path = Path(str(weights)).expanduser()
        state = load_detection_state_dict(path)
        self.model = torchvision.models.get_model(arch, weights=None, weights_backbone=None,
                                                  num_classes=int(num_classes), **dict(model_kwargs or {}))
        expected = self.model.state_dict()
        missing = [k for k in expected if k not in state]
        unexpected = [k for k in state if k not in expected]
        shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
                  if k in state and state[k].shape != v.shape]
        if missing or unexpected or shapes:
            raise TrackingInputError(
                f"detector.weights={path}: does not fit {arch} with num_classes={num_classes} "
                f"(missing {len(missing)} keys, e.g. {missing[:2]}; unexpected {len(unexpected)}, e.g. "
                f"{unexpected[:2]}; shape mismatches {shapes[:2]}); set detector.arch / detector.num_classes to "
                f"what the weights were trained as")
        self.model.load_state_dict(state)
        self.device = torch.device("cuda" if device == "auto" and torch.cuda.is_available()
                                   else ("cpu" if device == "auto" else device))
        self.model.to(self.device).eval()
        self.classes = [int(c) for c in classes]
        self.score_threshold = float(score_threshold)

    @torch.inference_mode()
    def __call__(self, frame: np.ndarray):
        rgb = torch.from_numpy(np.ascontiguousarray(frame[:, :, ::-1])).to(self.device)
        out = self.model([rgb.permute(2, 0, 1).float().div_(255.0)])[0]
        boxes, scores, labels = (out[k].detach().cpu().numpy() for k in ("boxes", "scores", "labels"))
        keep = np.isin(labels, self.classes) & (scores >= self.score_threshold)
        return detections(boxes[keep], scores[keep], labels[keep])
