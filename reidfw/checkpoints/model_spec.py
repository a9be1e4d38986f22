"""The model spec: everything besides the weights needed to embed an image with a model.

Contract (``model.json``)::

    {"format": "reidfw-model/2", "method": "arcface" | "moco" | "triplet" | ...,
     "backbone": {"name": str, "kwargs": {...}},
     "input": {"size": [H, W], "mean": [r, g, b], "std": [r, g, b], "fill": [r, g, b],
               "channel_order": "RGB", "resize": "letterbox-center"},
     "embed_dim": int, "embedding": "fc512" | "gap", "train_run_id": str | None}

``input`` is the :class:`reidfw.model_input.InputSpec` the model was trained with; the
backbone is built for ``input.size``. Every checkpoint kind yields this spec
(``reidfw.checkpoints.load_embedding_model``), so consumers read the input from one place.
Specs of format ``reidfw-model/1`` (``backbone.img_size`` + ``normalization``) are read and
converted.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch.nn as nn

from reidfw.checkpoints.errors import CheckpointError
from reidfw.model_input import InputSpec, InputSpecError

FORMAT = "reidfw-model/2"
OLD_FORMATS = ("reidfw-model/1",)
EMBEDDINGS = ("fc512", "gap", "histogram")
SPEC_KIND = f"a {FORMAT} model spec"


def default_embedding(backbone_name: str) -> str:
    """iresnet ends in its 512-d FC+BN; every other backbone in a pooled feature."""
    return "fc512" if backbone_name.startswith("iresnet") else "gap"


def make_model_spec(
    *,
    method: str,
    backbone: Mapping[str, Any],
    input_spec: InputSpec,
    embed_dim: int,
    embedding: str | None = None,
    train_run_id: str | None = None,
    source: str | Path = "reidfw/checkpoints/model_spec.py (make_model_spec)",
) -> dict[str, Any]:
    """Build a validated spec. ``backbone`` is ``{"name", "kwargs"}``; ``source`` names where the
    values came from (a checkpoint path) in a ``CheckpointError``."""
    name = backbone.get("name") if isinstance(backbone, Mapping) else None
    spec = {
        "format": FORMAT,
        "method": method,
        "backbone": {"name": name, "kwargs": dict(backbone.get("kwargs") or {}) if isinstance(backbone, Mapping) else {}},
        "input": input_spec.to_dict(),
        "embed_dim": embed_dim,
        "embedding": embedding if embedding is not None or not isinstance(name, str) else default_embedding(name),
        "train_run_id": train_run_id,
    }
    return validate_model_spec(spec, source=source)


def _upgrade_v1(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``reidfw-model/1`` kept the input size in ``backbone.img_size`` and mean/std in ``normalization``."""
    out = {k: v for k, v in spec.items() if k != "normalization"}
    bb = dict(spec.get("backbone") or {}) if isinstance(spec.get("backbone"), Mapping) else spec.get("backbone")
    norm = spec.get("normalization") if isinstance(spec.get("normalization"), Mapping) else {}
    if isinstance(bb, dict):
        size = bb.pop("img_size", None)
        out["input"] = {"size": size, **{k: norm[k] for k in ("mean", "std") if k in norm}}
    out["backbone"] = bb
    out["format"] = FORMAT
    return out


def validate_model_spec(spec: Any, source: str | Path) -> dict[str, Any]:
    """Check every field of the contract; return a normalised copy (plain lists and numbers)."""

    def bad(found: str, fix: str) -> CheckpointError:
        return CheckpointError(source, SPEC_KIND, found, fix)

    if not isinstance(spec, Mapping):
        raise bad(f"a JSON {type(spec).__name__}, not an object", "write the spec with reidfw.checkpoints.export_model")
    if spec.get("format") in OLD_FORMATS:
        spec = _upgrade_v1(spec)
    if spec.get("format") != FORMAT:
        raise bad(
            f"format {spec.get('format')!r}",
            f"this reidfw reads {FORMAT!r} (and {', '.join(OLD_FORMATS)}); re-export the model with reidfw.checkpoints.export_model",
        )
    missing = [k for k in ("method", "backbone", "input", "embed_dim", "embedding") if k not in spec]
    if missing:
        raise bad(f"no {', '.join(missing)} field(s)", "re-export the model with reidfw.checkpoints.export_model")
    out = copy.deepcopy(dict(spec))
    out.setdefault("train_run_id", None)

    if not isinstance(out["method"], str) or not out["method"]:
        raise bad(f"method {out['method']!r}", "set method to the training method's name, e.g. 'arcface' or 'moco'")
    bb = out["backbone"]
    if not isinstance(bb, Mapping) or not isinstance(bb.get("name"), str):
        raise bad(f"backbone {bb!r}", 'set backbone to {"name": ..., "kwargs": {...}}')
    kwargs = bb.get("kwargs") or {}
    if not isinstance(kwargs, Mapping):
        raise bad(f"backbone.kwargs {kwargs!r}", "set backbone.kwargs to an object of constructor arguments")
    out["backbone"] = {"name": bb["name"], "kwargs": dict(kwargs)}
    try:
        out["input"] = InputSpec.from_dict(out["input"]).to_dict()
    except InputSpecError as e:
        raise bad(f"input {out['input']!r} ({e})", "set input to {size: [H, W], mean: [3], std: [3], fill: [3]}") from None
    if not isinstance(out["embed_dim"], int) or isinstance(out["embed_dim"], bool) or out["embed_dim"] <= 0:
        raise bad(f"embed_dim {out['embed_dim']!r}", "set embed_dim to the model's output size (512 or 2048)")
    if out["embedding"] not in EMBEDDINGS:
        raise bad(f"embedding {out['embedding']!r}", f"set embedding to one of {EMBEDDINGS}")
    if out["train_run_id"] is not None and not isinstance(out["train_run_id"], str):
        raise bad(f"train_run_id {out['train_run_id']!r}", "set train_run_id to an MLflow run id string or null")
    try:
        json.dumps(out, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise bad(f"values JSON cannot hold ({e})", "keep backbone.kwargs to plain numbers, strings, lists and dicts")
    return out


def input_spec_of(spec: Mapping[str, Any]) -> InputSpec:
    """The :class:`InputSpec` of a validated model spec."""
    return InputSpec.from_dict(spec["input"])


def with_img_size(spec: dict[str, Any], img_size, source: str | Path) -> dict[str, Any]:
    """Apply a caller's ``img_size`` override to a validated spec.

    A GAP network takes any input size, so the override is recorded and used. iresnet's
    FC is sized by the training input, so a different size cannot work: refuse it here
    rather than with a shape error deep in loading.
    """
    if img_size is None:
        return spec
    current = input_spec_of(spec)
    wanted = current.with_size(img_size)
    if wanted.size == current.size:
        return spec
    if spec["embedding"] == "fc512":
        raise CheckpointError(
            source,
            f"weights for img_size={wanted.size}",
            f"a {spec['backbone']['name']} trained at img_size={current.size}, whose FC is sized by that input",
            f"leave img_size unset (or pass {current.size}) and letterbox inputs to {current.size}",
        )
    out = copy.deepcopy(spec)
    out["input"] = wanted.to_dict()
    return out


def build_from_spec(spec: Mapping[str, Any], source: str | Path) -> nn.Module:
    """A freshly initialised backbone with the spec's architecture (weights not loaded)."""
    from reidfw.models import build_backbone

    bb = spec["backbone"]
    try:
        return build_backbone(bb["name"], img_size=tuple(spec["input"]["size"]), **bb["kwargs"])
    except (ValueError, TypeError) as e:
        raise CheckpointError(
            source,
            "a backbone this reidfw can build",
            f"backbone {bb['name']!r} with kwargs {bb['kwargs']!r} that fails to build ({e})",
            "check backbone.name/kwargs against reidfw.models.build_backbone",
        ) from e
