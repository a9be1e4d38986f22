"""Load any checkpoint kind reidfw meets as an embedding model plus its model spec.

Kinds, recognised by content rather than by file name, one loader each:

- reidfw Lightning checkpoint (``.ckpt``): :mod:`reidfw.checkpoints.lightning_ckpt`;
- reidfw export, a folder with ``model.json`` + ``model.safetensors`` (or either file):
  :mod:`reidfw.checkpoints.export`;
- an MLflow run, ``runs:/<run_id>/<artifact path>`` or a bare 32-hex run id (its ``model/``
  export, else its ``checkpoints/`` checkpoint), fetched by :mod:`reidfw.mlflow_logging.runs`
  from the current tracking URI, then loaded as a path;
- external weights with ``arch=`` (LUPerson ResNet, insightface iresnet): :mod:`reidfw.checkpoints.external`;
- a reidfw ONNX export (``model.onnx``, the spec in its metadata), run through onnxruntime:
  :mod:`reidfw.checkpoints.onnx_export`;
- ``colour_histogram``: the built-in baseline every model has to beat (no weights;
  :mod:`reidfw.models.colour_histogram`), at ``img_size`` (default the demo's 128x64).

Nothing is ever unpickled beyond tensors and plain containers: safetensors, or
``torch.load(weights_only=True)``. Every failure is a ``CheckpointError`` naming the file,
the kind expected, what was found and the fix.
"""
from __future__ import annotations

import pickle
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from reidfw.checkpoints.errors import CheckpointError
from reidfw.checkpoints.export import EXPORT_KIND, SPEC_FILE, WEIGHTS_FILE, load_exported_model, read_weights
from reidfw.checkpoints.external import PASS_ARCH, load_external
from reidfw.checkpoints.lightning_ckpt import is_lightning_checkpoint, load_lightning
from reidfw.checkpoints.weights import first_keys, is_tensor_dict
from reidfw.errors import SourceError
from reidfw.checkpoints.model_spec import make_model_spec
from reidfw.mlflow_logging.runs import download_model_artifact, is_run_ref
from reidfw.model_input import InputSpec
from reidfw.models.colour_histogram import NAME as COLOUR_HISTOGRAM
from reidfw.models.colour_histogram import ColourHistogram

ANY_KIND = (
    "a reidfw checkpoint (Lightning .ckpt with hyper_parameters.method/backbone), a reidfw export "
    f"({SPEC_FILE} + {WEIGHTS_FILE}), an MLflow run, or external weights with arch="
)
# Wrappers around a state dict seen in the wild: generic/LUPerson (``state_dict``), timm/others
# (``model``), insightface's training checkpoint (``state_dict_backbone``).
STATE_DICT_WRAPPERS = ("state_dict", "state_dict_backbone", "model")


def load_embedding_model(
    ckpt: str | Path,
    arch: str | None = None,
    img_size: tuple[int, int] | None = None,
    map_location: str | torch.device = "cpu",
) -> tuple[nn.Module, dict[str, Any]]:
    """Load ``ckpt`` as an embedding backbone (eval mode, on ``map_location``) and its model spec.

    ``arch`` is required for external weights and, when given for a reidfw checkpoint, must
    match it. ``img_size`` (H, W) overrides the recorded input size where the network allows
    it (GAP models); for iresnet it is only needed when it cannot be read from the FC shape.
    """
    if str(ckpt) == COLOUR_HISTOGRAM:
        model, spec = _colour_histogram(img_size)
    elif is_run_ref(ckpt):
        model, spec = _load_mlflow(str(ckpt), arch, img_size)
    else:
        path = Path(ckpt).expanduser()
        if not path.exists():
            raise CheckpointError(path, ANY_KIND, "no file or folder at this path", "check the path (and the working directory)")
        model, spec = _load_path(path, arch, img_size)
    return model.to(map_location).eval(), spec


def _colour_histogram(img_size) -> tuple[nn.Module, dict[str, Any]]:
    input_spec = InputSpec(size=img_size or (128, 64))
    model = ColourHistogram(input_spec)
    spec = make_model_spec(method="baseline", backbone={"name": COLOUR_HISTOGRAM}, input_spec=input_spec,
                           embed_dim=model.embed_dim, embedding="histogram")
    return model, spec


def _load_mlflow(ref: str, arch: str | None, img_size) -> tuple[nn.Module, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="reidfw-mlflow-") as tmp:
        try:
            local, run_id = download_model_artifact(ref, tmp, EXPORT_KIND)
        except SourceError as e:
            raise CheckpointError(e.source, e.expected, e.found, e.fix) from e
        # Everything is read into memory before the temporary download is removed.
        model, spec = _load_path(local, arch, img_size)
    if spec.get("train_run_id") is None:
        spec["train_run_id"] = run_id
    return model, spec


def _load_path(path: Path, arch: str | None, img_size) -> tuple[nn.Module, dict[str, Any]]:
    if path.is_dir():
        if (path / SPEC_FILE).exists():
            return _load_export(path, arch, img_size)
        return _load_file(_checkpoint_in_folder(path), arch, img_size)
    if path.suffix == ".json" or (path.suffix == ".safetensors" and (path.parent / SPEC_FILE).exists()):
        return _load_export(path, arch, img_size)
    if path.suffix == ".onnx":
        from reidfw.checkpoints.onnx_export import load_onnx_model  # onnxruntime only when asked for

        return load_onnx_model(path, arch, img_size)
    if path.suffix == ".safetensors":
        # Raw safetensors weights without a spec: external weights, like a state dict file.
        return load_external(path, read_weights(path), arch, img_size)
    return _load_file(path, arch, img_size)


def _checkpoint_in_folder(folder: Path) -> Path:
    """The one checkpoint in a folder (e.g. an MLflow run's ``checkpoints/``): the best over ``last.ckpt``."""
    found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".ckpt", ".pth", ".pt"))
    if len(found) > 1:
        best = [p for p in found if "best" in p.name] or [p for p in found if p.name != "last.ckpt"]
        found = best if len(best) == 1 else found
    if len(found) != 1:
        listing = ", ".join(str(p.relative_to(folder)) for p in found[:8]) or "no .ckpt/.pth/.pt files"
        raise CheckpointError(
            folder,
            f"an export folder ({SPEC_FILE} + {WEIGHTS_FILE}) or a folder with one checkpoint",
            f"{len(found)} checkpoints ({listing})",
            "pass the checkpoint file itself",
        )
    return found[0]


def _load_export(path: Path, arch: str | None, img_size) -> tuple[nn.Module, dict[str, Any]]:
    model, spec = load_exported_model(path, img_size=img_size)
    if arch is not None and arch != spec["backbone"]["name"]:
        raise CheckpointError(
            path,
            f"weights for arch={arch}",
            f"a reidfw export of method {spec['method']} with backbone {spec['backbone']['name']}",
            f"drop arch= (exports name their backbone) or pass arch={spec['backbone']['name']!r}",
        )
    return model, spec


def _load_file(path: Path, arch: str | None, img_size) -> tuple[nn.Module, dict[str, Any]]:
    obj = _safe_torch_load(path)
    if not isinstance(obj, Mapping):
        raise CheckpointError(path, ANY_KIND, f"a pickled {type(obj).__name__}, not a dict", PASS_ARCH)
    if is_lightning_checkpoint(obj):
        return load_lightning(path, obj, arch, img_size)
    if _looks_like_optimizer_only(obj):
        raise CheckpointError(
            path,
            ANY_KIND,
            f"this looks like an optimizer-only file (keys: {first_keys(obj)}); it holds no model weights",
            "pass the model checkpoint instead (the Lightning .ckpt, backbone.pth, or the LUPerson .pth)",
        )
    for wrapper in STATE_DICT_WRAPPERS:
        if isinstance(obj.get(wrapper), Mapping) and is_tensor_dict(obj[wrapper]):
            return load_external(path, obj[wrapper], arch, img_size, wrapper=wrapper)
    if is_tensor_dict(obj):
        return load_external(path, obj, arch, img_size)
    raise CheckpointError(path, ANY_KIND, f"a dict with keys {first_keys(obj)} and no state dict in it", PASS_ARCH)


def _safe_torch_load(path: Path) -> Any:
    """``torch.load`` that only rebuilds tensors and plain containers (never arbitrary objects)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        detail = _weights_only_detail(str(e))
        if "unsupported global" in detail.lower():  # torch's "Unsupported global: ..." / "unsupported GLOBAL ..."
            found = (
                f"a pickle that would construct arbitrary objects, which reidfw refuses to unpickle ({detail})"
            )
            fix = (
                "re-save only the weights (torch.save(model.state_dict(), path)) or export with "
                "reidfw.checkpoints.export.export_model; hyper-parameters must be plain Python types"
            )
        else:
            found = f"a corrupt file or one that is not a tensor checkpoint ({detail})"
            fix = "re-download or re-save the checkpoint"
        raise CheckpointError(path, "a checkpoint torch.load(weights_only=True) can read", found, fix) from e
    except (RuntimeError, EOFError, KeyError, ValueError, OSError, zipfile.BadZipFile) as e:
        first_line = (str(e).splitlines() or [""])[0][:200]
        raise CheckpointError(
            path,
            "a checkpoint torch.load(weights_only=True) can read",
            f"a corrupt, truncated or non-checkpoint file ({type(e).__name__}: {first_line or 'empty'})",
            "re-download or re-save the checkpoint",
        ) from e


def _weights_only_detail(message: str) -> str:
    # torch's message is a long how-to; the line after "WeightsUnpickler error:" says what was refused.
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if "WeightsUnpickler error:" in line:
            rest = line.split("WeightsUnpickler error:", 1)[1].strip() or (lines[i + 1] if i + 1 < len(lines) else "")
            return rest.split(" Please use")[0][:200]
    for line in lines:  # a blocked module (os, subprocess, ...): "Trying to load unsupported GLOBAL posix.system ..."
        if "unsupported global" in line.lower():
            return line[:200]
    return lines[0][:200] if lines else "unreadable"



def _looks_like_optimizer_only(obj: Mapping) -> bool:
    keys = set(obj)
    if {"state", "param_groups"} <= keys:  # torch.optim.Optimizer.state_dict()
        return True
    has_optimizer = bool(keys & {"optimizer", "optimizer_states", "state_optimizer", "optimizer_state_dict"})
    has_weights = any(isinstance(obj.get(w), Mapping) for w in STATE_DICT_WRAPPERS) or is_tensor_dict(obj)
    return has_optimizer and not has_weights
