"""Deployment formats next to ``model.safetensors`` + ``model.json``: ONNX and TorchScript.

- ``model.onnx``: the embedding network, input ``image`` (N, 3, H, W) float32 with a dynamic
  batch, output ``embedding`` (N, D). Its metadata carries everything needed to feed it:
  ``input_height``, ``input_width``, ``input_mean``, ``input_std``, ``input_fill`` (the
  letterbox colour), ``preprocess`` in words, and ``reidfw.spec`` (the whole model spec as
  JSON), so an ONNX file alone is a complete deployable model: ``python evaluate.py
  ckpt=model.onnx`` runs it through onnxruntime (:class:`OnnxEmbedding`).
- ``model.torchscript.pt``: ``torch.jit.trace`` of the same network, the spec JSON stored as
  the extra file ``reidfw_spec.json``; runs without reidfw (``torch.jit.load``).

Both are traced at the spec's input size in eval mode (BatchNorm uses its running statistics),
written under temporary names and renamed, like the safetensors export.
"""
from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from reidfw.checkpoints.errors import CheckpointError
from reidfw.checkpoints.model_spec import input_spec_of, validate_model_spec

ONNX_FILE = "model.onnx"
TORCHSCRIPT_FILE = "model.torchscript.pt"
TORCHSCRIPT_SPEC = "reidfw_spec.json"
SPEC_KEY = "reidfw.spec"
FORMATS = ("onnx", "torchscript")
PREPROCESS = (
    "crop the person box; letterbox to input_height x input_width keeping the aspect ratio, "
    "filling with input_fill (RGB); RGB / 255; (x - input_mean) / input_std; NCHW float32. "
    "L2-normalise the output embedding before comparing (cosine similarity)."
)
# ONNX protobufs cannot exceed 2 GB; larger networks keep their weights in a side file.
_ONNX_INLINE_LIMIT = 1_800_000_000


def input_metadata(spec: Mapping[str, Any]) -> dict[str, str]:
    """The input contract (the spec's ``input``, see :mod:`reidfw.model_input`) as ONNX metadata
    (string key -> string value), for consumers that do not read reidfw's spec."""
    inp = input_spec_of(spec)
    (h, w), fill = inp.size, inp.fill
    return {
        SPEC_KEY: json.dumps(spec, sort_keys=True),
        "input_name": "image",
        "input_height": str(h),
        "input_width": str(w),
        "input_mean": json.dumps(list(inp.mean)),
        "input_std": json.dumps(list(inp.std)),
        "input_fill": json.dumps([int(v) for v in fill]),
        "input_layout": f"NCHW, {inp.channel_order}, float32",
        "preprocess": PREPROCESS,
        "output_name": "embedding",
        "embed_dim": str(spec["embed_dim"]),
    }


def _example(spec: Mapping[str, Any], batch: int = 2) -> torch.Tensor:
    h, w = input_spec_of(spec).size
    return torch.randn(batch, 3, h, w, generator=torch.Generator().manual_seed(0))


def export_onnx(model: nn.Module, spec: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``model`` as ONNX with a dynamic batch and the input spec in its metadata; returns the path."""
    import onnx

    spec = validate_model_spec(spec, source="reidfw/checkpoints/onnx_export.py (export_onnx)")
    path = Path(path)
    model = model.eval()
    tmp = path.with_name(f".{path.name}.tmp")
    big = sum(p.numel() * p.element_size() for p in model.state_dict().values()) > _ONNX_INLINE_LIMIT
    with warnings.catch_warnings(), _quiet_exporter():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (_example(spec),),
            str(tmp),
            input_names=["image"],
            output_names=["embedding"],
            dynamo=True,
            dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=65536)},),
            external_data=big,
            verbose=False,
        )
    proto = onnx.load(str(tmp), load_external_data=False)
    del proto.metadata_props[:]
    for k, v in input_metadata(spec).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.doc_string = f"reidfw embedding model ({spec['method']}, {spec['backbone']['name']}); see metadata 'preprocess'"
    onnx.save(proto, str(tmp))
    os.replace(tmp, path)
    if big:  # the exporter named the weights file after the temporary model file
        os.replace(tmp.with_name(tmp.name + ".data"), path.with_name(path.name + ".data"))
    return path


class _quiet_exporter:
    """torch.onnx prints its progress with print(), and onnxscript / onnx_ir log every optimisation pass
    at INFO (which Hydra's logging shows): keep the training summary readable."""

    _LOGGERS = ("onnxscript", "onnx_ir", "torch.onnx")

    def __enter__(self):
        import contextlib
        import io
        import logging

        self._levels = {n: logging.getLogger(n).level for n in self._LOGGERS}
        for n in self._LOGGERS:
            logging.getLogger(n).setLevel(logging.WARNING)
        self._redirect = contextlib.redirect_stdout(io.StringIO())
        self._redirect.__enter__()
        return self

    def __exit__(self, *exc):
        import logging

        for n, level in self._levels.items():
            logging.getLogger(n).setLevel(level)
        return self._redirect.__exit__(*exc)


def export_torchscript(model: nn.Module, spec: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``torch.jit.trace(model)`` with the spec as an extra file; returns the path."""
    spec = validate_model_spec(spec, source="reidfw/checkpoints/onnx_export.py (export_torchscript)")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with warnings.catch_warnings(), torch.no_grad():
        # torch.jit is deprecated in favour of torch.export, but TorchScript is still what
        # C++ (libtorch) and older serving stacks load; the shape checks the tracer warns
        # about compare H and W only, which the trace fixes to the spec's input size.
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model.eval(), _example(spec), check_trace=False)
        torch.jit.save(traced, str(tmp), _extra_files={TORCHSCRIPT_SPEC: json.dumps(spec, sort_keys=True)})
    os.replace(tmp, path)
    return path


def export_deployment(
    model: nn.Module, spec: Mapping[str, Any], out_dir: str | Path, formats: Sequence[str] = FORMATS
) -> list[Path]:
    """ONNX and/or TorchScript files next to an export's ``model.safetensors``; returns those written.

    ONNX needs the ``onnx`` and ``onnxscript`` packages (``pip install reidfw[deploy]``);
    without them it is skipped with a warning rather than failing a finished training run.
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown export format(s) {unknown}; choose from {list(FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu").eval()
    written = []
    if "onnx" in formats:
        try:
            import onnx  # noqa: F401
            import onnxscript  # noqa: F401
        except ImportError as e:
            warnings.warn(f"ONNX export skipped: {e.name} is not installed (pip install reidfw[deploy])", stacklevel=2)
        else:
            written.append(export_onnx(model, spec, out / ONNX_FILE))
    if "torchscript" in formats:
        written.append(export_torchscript(model, spec, out / TORCHSCRIPT_FILE))
    return written


# --- running an ONNX export ------------------------------------------------------------------------


class OnnxEmbedding(nn.Module):
    """An ONNX embedding model behind the ``nn.Module`` interface the Embedder calls.

    ``forward(x)`` runs onnxruntime on the CPU (or CUDA when onnxruntime has it) and returns a
    tensor on ``x``'s device. No parameters: ``.to()``/``.eval()`` are no-ops.
    """

    def __init__(self, path: str | Path, embed_dim: int):
        super().__init__()
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = torch.get_num_threads()
        opts.log_severity_level = 3  # errors only
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
        self.path = str(path)
        self.session = ort.InferenceSession(self.path, opts, providers=providers)
        self.input_name = self.session.get_inputs()[0].name
        self.embed_dim = int(embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        arr = np.ascontiguousarray(x.detach().float().cpu().numpy())
        (y,) = self.session.run(None, {self.input_name: arr})
        return torch.from_numpy(y).to(x.device)

    def extra_repr(self) -> str:
        return f"{self.path}, providers={self.session.get_providers()}"


def read_onnx_spec(path: str | Path) -> dict[str, Any]:
    """The reidfw spec stored in an ONNX file's metadata (CheckpointError when it has none)."""
    try:
        import onnx
    except ImportError as e:
        raise CheckpointError(path, "an ONNX model", "a file this install cannot read: onnx is not installed",
                              "pip install reidfw[deploy]") from e
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # noqa: BLE001 -- protobuf raises DecodeError and friends
        raise CheckpointError(path, "an ONNX model", f"a file onnx cannot parse ({type(e).__name__}: {str(e)[:200]})",
                              "re-export it with reidfw.checkpoints.onnx_export.export_onnx") from e
    meta = {p.key: p.value for p in proto.metadata_props}
    if SPEC_KEY not in meta:
        raise CheckpointError(
            path,
            f"an ONNX model exported by reidfw (metadata key {SPEC_KEY!r} with the model spec)",
            f"an ONNX model whose metadata has {sorted(meta) or 'no keys'}",
            "export it with reidfw.checkpoints.onnx_export.export_onnx, or evaluate the safetensors export instead",
        )
    try:
        raw = json.loads(meta[SPEC_KEY])
    except json.JSONDecodeError as e:
        raise CheckpointError(path, f"JSON in metadata {SPEC_KEY!r}", f"invalid JSON ({e})", "re-export the model") from e
    return validate_model_spec(raw, path)


def load_onnx_model(path: str | Path, arch: str | None = None, img_size=None) -> tuple[nn.Module, dict[str, Any]]:
    """(an :class:`OnnxEmbedding`, its spec) for ``ckpt=model.onnx``."""
    path = Path(path)
    spec = read_onnx_spec(path)
    if arch is not None and arch != spec["backbone"]["name"]:
        raise CheckpointError(path, f"a model of arch={arch}", f"an ONNX export of {spec['backbone']['name']}",
                              f"drop arch= (the ONNX metadata names it) or pass arch={spec['backbone']['name']!r}")
    if img_size is not None and tuple(int(s) for s in img_size) != input_spec_of(spec).size:
        # the graph was traced at one size; refuse another here rather than deep in onnxruntime
        raise CheckpointError(path, f"a model for img_size={tuple(img_size)}",
                              f"an ONNX graph traced at {input_spec_of(spec).size}",
                              "leave img_size unset, or re-export at the size you need")
    try:
        model = OnnxEmbedding(path, spec["embed_dim"])
    except ImportError as e:
        raise CheckpointError(path, "an ONNX model", "a file this install cannot run: onnxruntime is not installed",
                              "pip install reidfw[deploy]") from e
    return model, spec
