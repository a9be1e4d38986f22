"""The model spec: everything besides the weights needed to embed an image with a model.

Contract (docs/architecture.md)::

    {"format": "reidfw-model/1", "method": "arcface" | "moco" | "triplet",
     "backbone": {"name": str, "img_size": [H, W], "kwargs": {...}},
     "embed_dim": int, "normalization": {"mean": [r, g, b], "std": [r, g, b]},
     "embedding": "fc512" | "gap", "train_run_id": str | None}

It is written as ``model.json`` by ``reidfw.models.export`` and returned by
``reidfw.models.checkpoints.load_embedding_model`` whatever the checkpoint kind,
so evaluation code reads input size and normalisation from one place.
"""
from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch.nn as nn

from reidfw.data.transforms.normalize import MEAN, STD
from reidfw.models.errors import CheckpointError

FORMAT = "reidfw-model/1"
METHODS = ("arcface", "moco", "triplet")
EMBEDDINGS = ("fc512", "gap")
SPEC_KIND = f"a {FORMAT} model spec"


def default_embedding(backbone_name: str) -> str:
    """iresnet ends in its 512-d FC+BN; every other backbone in a pooled feature."""
    return "fc512" if backbone_name.startswith("iresnet") else "gap"


def make_model_spec(
    *,
    method: str,
    backbone: Mapping[str, Any],
    embed_dim: int,
    normalization: Mapping[str, Sequence[float]] | None = None,
    embedding: str | None = None,
    train_run_id: str | None = None,
    source: str | Path = "reidfw/models/spec.py (make_model_spec)",
) -> dict[str, Any]:
    """Build a validated spec; ``normalization`` defaults to ImageNet mean/std (reidfw's training input).

    ``source`` names where the values came from (a checkpoint path) in a ``CheckpointError``.
    """
    spec = {
        "format": FORMAT,
        "method": method,
        "backbone": {
            "name": backbone.get("name") if isinstance(backbone, Mapping) else None,
            "img_size": backbone.get("img_size") if isinstance(backbone, Mapping) else None,
            "kwargs": dict(backbone.get("kwargs") or {}) if isinstance(backbone, Mapping) else {},
        },
        "embed_dim": embed_dim,
        "normalization": dict(normalization) if normalization is not None else {"mean": list(MEAN), "std": list(STD)},
        "embedding": embedding,
        "train_run_id": train_run_id,
    }
    if spec["embedding"] is None and isinstance(spec["backbone"]["name"], str):
        spec["embedding"] = default_embedding(spec["backbone"]["name"])
    return validate_model_spec(spec, source=source)


def validate_model_spec(spec: Any, source: str | Path) -> dict[str, Any]:
    """Check every field of the contract; return a normalised copy (lists of plain numbers)."""

    def bad(found: str, fix: str) -> CheckpointError:
        return CheckpointError(source, SPEC_KIND, found, fix)

    if not isinstance(spec, Mapping):
        raise bad(f"a JSON {type(spec).__name__}, not an object", "write the spec with reidfw.models.export.export_model")
    if spec.get("format") != FORMAT:
        raise bad(
            f"format {spec.get('format')!r}",
            f"this reidfw reads {FORMAT!r}; re-export the model with reidfw.models.export.export_model",
        )
    missing = [k for k in ("method", "backbone", "embed_dim", "normalization", "embedding") if k not in spec]
    if missing:
        raise bad(f"no {', '.join(missing)} field(s)", "re-export the model with reidfw.models.export.export_model")
    out = copy.deepcopy(dict(spec))
    out.setdefault("train_run_id", None)

    if not isinstance(out["method"], str) or not out["method"]:
        raise bad(f"method {out['method']!r}", f"set method to one of {METHODS}")
    bb = out["backbone"]
    if not isinstance(bb, Mapping) or not isinstance(bb.get("name"), str):
        raise bad(f"backbone {bb!r}", 'set backbone to {"name": ..., "img_size": [H, W], "kwargs": {...}}')
    img = bb.get("img_size")
    if (
        not isinstance(img, Sequence)
        or isinstance(img, str)
        or len(img) != 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in img)
    ):
        raise bad(f"backbone.img_size {img!r}", "set backbone.img_size to [height, width], e.g. [384, 128]")
    kwargs = bb.get("kwargs") or {}
    if not isinstance(kwargs, Mapping):
        raise bad(f"backbone.kwargs {kwargs!r}", "set backbone.kwargs to an object of constructor arguments")
    out["backbone"] = {"name": bb["name"], "img_size": [int(s) for s in img], "kwargs": dict(kwargs)}

    if not isinstance(out["embed_dim"], int) or isinstance(out["embed_dim"], bool) or out["embed_dim"] <= 0:
        raise bad(f"embed_dim {out['embed_dim']!r}", "set embed_dim to the model's output size (512 or 2048)")
    norm = out["normalization"]
    ok_norm = isinstance(norm, Mapping) and all(
        isinstance(norm.get(k), Sequence)
        and len(norm[k]) == 3
        and all(isinstance(v, (int, float)) and math.isfinite(v) for v in norm[k])
        for k in ("mean", "std")
    )
    if not ok_norm or any(v <= 0 for v in norm["std"]):
        raise bad(
            f"normalization {norm!r}",
            "set normalization to {'mean': [3 floats], 'std': [3 positive floats]} "
            "(reidfw.data.transforms.normalize.MEAN/STD)",
        )
    out["normalization"] = {"mean": [float(v) for v in norm["mean"]], "std": [float(v) for v in norm["std"]]}
    if out["embedding"] not in EMBEDDINGS:
        raise bad(f"embedding {out['embedding']!r}", f"set embedding to one of {EMBEDDINGS}")
    if out["train_run_id"] is not None and not isinstance(out["train_run_id"], str):
        raise bad(f"train_run_id {out['train_run_id']!r}", "set train_run_id to an MLflow run id string or null")
    try:
        json.dumps(out, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise bad(f"values JSON cannot hold ({e})", "keep backbone.kwargs to plain numbers, strings, lists and dicts")
    return out


def with_img_size(spec: dict[str, Any], img_size: Sequence[int] | None, source: str | Path) -> dict[str, Any]:
    """Apply a caller's ``img_size`` override to a validated spec.

    A GAP network takes any input size, so the override is recorded and used. iresnet's
    FC is sized by the training input, so a different size cannot work: refuse it here
    rather than with a shape error deep in loading.
    """
    if img_size is None:
        return spec
    wanted = [int(s) for s in img_size]
    recorded = spec["backbone"]["img_size"]
    if wanted == recorded:
        return spec
    if spec["embedding"] == "fc512":
        raise CheckpointError(
            source,
            f"weights for img_size={tuple(wanted)}",
            f"a {spec['backbone']['name']} trained at img_size={tuple(recorded)}, whose FC is sized by that input",
            f"leave img_size unset (or pass {tuple(recorded)}) and letterbox inputs to {tuple(recorded)}",
        )
    out = copy.deepcopy(spec)
    out["backbone"]["img_size"] = wanted
    return out


def build_from_spec(spec: Mapping[str, Any], source: str | Path) -> nn.Module:
    """A freshly initialised backbone with the spec's architecture (weights not loaded)."""
    from reidfw.models.backbone import build_backbone

    bb = spec["backbone"]
    try:
        return build_backbone(bb["name"], img_size=tuple(bb["img_size"]), **bb["kwargs"])
    except (ValueError, TypeError) as e:
        raise CheckpointError(
            source,
            "a backbone this reidfw can build",
            f"backbone {bb['name']!r} with kwargs {bb['kwargs']!r} that fails to build ({e})",
            "check backbone.name/kwargs against reidfw.models.build_backbone",
        ) from e
