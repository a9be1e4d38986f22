"""An embedding model on disk: ``model.safetensors`` (weights) + ``model.json`` (the model spec).

safetensors holds tensors only, so loading an exported model can never run code,
and the JSON spec (``reidfw.checkpoints.model_spec``) is readable by people and by other
tools. A training run logs this folder to MLflow under artifact path ``model/``.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from reidfw.checkpoints.errors import CheckpointError
from reidfw.checkpoints.model_spec import FORMAT, build_from_spec, make_model_spec, validate_model_spec, with_img_size
from reidfw.checkpoints.weights import load_state_dict_checked
from reidfw.model_input import InputSpec

SPEC_FILE = "model.json"
WEIGHTS_FILE = "model.safetensors"
EXPORT_KIND = f"a reidfw exported model ({SPEC_FILE} + {WEIGHTS_FILE}, format {FORMAT})"


def export_model(
    model: nn.Module,
    out_dir: str | Path,
    *,
    method: str,
    backbone: Mapping[str, Any],
    input_spec: InputSpec,
    embedding: str | None = None,
    train_run_id: str | None = None,
) -> Path:
    """Write ``model``'s weights and spec into ``out_dir``; returns ``out_dir``.

    ``backbone`` is ``{"name", "kwargs"}`` as in a method module's ``hparams.backbone``,
    ``input_spec`` the input it was trained with; ``embedding`` defaults to the backbone
    family's ("fc512" for iresnet, else "gap").
    """
    embed_dim = getattr(model, "embed_dim", None)
    if embed_dim is None:
        raise ValueError(
            f"reidfw/checkpoints/export.py: expected an embedding backbone with .embed_dim, got a "
            f"{type(model).__name__} without it. Export the method's .backbone (built by reidfw.models.build_backbone)."
        )
    spec = make_model_spec(
        method=method,
        backbone=backbone,
        input_spec=input_spec,
        embed_dim=int(embed_dim),
        embedding=embedding,
        train_run_id=train_run_id,
    )
    return export_embedding_model(model, spec, out_dir)


def export_embedding_model(model: nn.Module, spec: Mapping[str, Any], out_dir: str | Path) -> Path:
    """Write ``model`` with a ready spec (e.g. the one ``load_embedding_model`` returned); returns ``out_dir``."""
    spec = validate_model_spec(spec, source="reidfw/checkpoints/export.py (export_embedding_model)")
    if getattr(model, "embed_dim", spec["embed_dim"]) != spec["embed_dim"]:
        raise ValueError(
            f"reidfw/checkpoints/export.py: the spec says embed_dim={spec['embed_dim']} but the model's embed_dim is "
            f"{model.embed_dim}. Export the spec that belongs to this model."
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # clone(): safetensors refuses tensors that share storage; a copy never does.
    tensors = {k: v.detach().to("cpu").clone().contiguous() for k, v in model.state_dict().items()}
    # Write under temporary names and rename, so an interrupted export never leaves a
    # half-written file that looks complete.
    tmp_weights, tmp_spec = out / f".{WEIGHTS_FILE}.tmp", out / f".{SPEC_FILE}.tmp"
    save_file(tensors, str(tmp_weights), metadata={"format": FORMAT})
    tmp_spec.write_text(json.dumps(spec, indent=2) + "\n")
    os.replace(tmp_weights, out / WEIGHTS_FILE)
    os.replace(tmp_spec, out / SPEC_FILE)
    return out


def export_paths(path: str | Path) -> tuple[Path, Path]:
    """(spec file, weights file) for an export folder or either of its two files."""
    p = Path(path)
    if p.is_dir():
        return p / SPEC_FILE, p / WEIGHTS_FILE
    if p.suffix == ".json":
        return p, p.with_name(WEIGHTS_FILE)
    return p.with_name(SPEC_FILE), p


def read_spec(spec_path: Path) -> dict[str, Any]:
    if not spec_path.is_file():
        raise CheckpointError(
            spec_path,
            EXPORT_KIND,
            "no such file",
            "pass the export folder written by reidfw.checkpoints.export_model; "
            "for raw weights pass arch= to load_embedding_model",
        )
    try:
        raw = json.loads(spec_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(spec_path, SPEC_FILE + " (JSON)", f"text that is not valid JSON ({e})", "re-export the model") from e
    return validate_model_spec(raw, spec_path)


def read_weights(weights_path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file, on CPU; corrupt or truncated files raise ``CheckpointError``."""
    if not weights_path.is_file():
        raise CheckpointError(weights_path, "a safetensors weights file", "no such file", "re-export the model")
    try:
        return load_file(str(weights_path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(
            weights_path,
            "a safetensors weights file",
            f"a corrupt or truncated file ({type(e).__name__}: {e})",
            "re-export or re-download it",
        ) from e


def load_exported_model(
    path: str | Path, img_size: Sequence[int] | None = None, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Load an export (folder, ``model.json`` or ``model.safetensors``) -> (model in eval mode, spec)."""
    spec_path, weights_path = export_paths(path)
    spec = with_img_size(read_spec(spec_path), img_size, spec_path)
    model = build_from_spec(spec, spec_path)
    load_state_dict_checked(
        model,
        read_weights(weights_path),
        weights_path,
        expected=f"the weights of the {spec['backbone']['name']} described by {SPEC_FILE}",
        fix=f"{SPEC_FILE} and {WEIGHTS_FILE} come from different exports; re-export the model",
    )
    return model.to(map_location).eval(), spec
