"""Loader for reidfw's own Lightning checkpoints (``.ckpt``).

The embedding network is under ``state_dict["backbone."]`` (MoCo's ``backbone_k.``,
``head_q.``/``head_k.`` and ``queue`` are training state and ignored); ``hyper_parameters``
holds ``method``, ``backbone = {name, kwargs}`` and ``input`` (the InputSpec it was trained
with). Checkpoints from before the input spec (``backbone.img_size`` + ``normalization``)
are read too.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch.nn as nn

from reidfw.checkpoints.errors import CheckpointError
from reidfw.checkpoints.model_spec import build_from_spec, make_model_spec, with_img_size
from reidfw.checkpoints.weights import first_keys, load_state_dict_checked
from reidfw.mlflow_logging.runs import CHECKPOINT_STAMP_KEY
from reidfw.model_input import InputSpec, InputSpecError


def is_lightning_checkpoint(obj: Mapping) -> bool:
    hp = obj.get("hyper_parameters")
    return isinstance(obj.get("state_dict"), Mapping) and isinstance(hp, Mapping) and {"method", "backbone"} <= set(hp)


def checkpoint_input_spec(hp: Mapping[str, Any], source: str | Path) -> InputSpec:
    """The InputSpec in a checkpoint's hyper-parameters (or the pre-InputSpec fields)."""
    try:
        if "input" in hp:
            return InputSpec.from_dict(hp["input"])
        norm = hp.get("normalization") or {}
        return InputSpec(size=hp["backbone"]["img_size"], **{k: norm[k] for k in ("mean", "std") if k in norm})
    except (InputSpecError, KeyError, TypeError) as e:
        raise CheckpointError(
            source,
            "a reidfw checkpoint whose hyper_parameters.input is an input spec",
            f"hyper_parameters without a usable input spec ({e})",
            "re-train with this reidfw, or pass img_size= for a GAP model",
        ) from None


def run_id_of(ckpt: Mapping) -> str | None:
    """The MLflow run that wrote a reidfw checkpoint; hyper-parameters may also carry ``train_run_id``."""
    stamp = ckpt.get(CHECKPOINT_STAMP_KEY)
    run_id = stamp.get("mlflow_run_id") if isinstance(stamp, Mapping) else None
    hp = ckpt.get("hyper_parameters")
    run_id = run_id or (hp.get("train_run_id") if isinstance(hp, Mapping) else None)
    return run_id if isinstance(run_id, str) else None


def load_lightning(path: Path, ckpt: Mapping, arch: str | None, img_size) -> tuple[nn.Module, dict[str, Any]]:
    hp = ckpt["hyper_parameters"]
    method, backbone = hp["method"], hp["backbone"]
    name = backbone.get("name") if isinstance(backbone, Mapping) else None
    if arch is not None and arch != name:
        raise CheckpointError(
            path,
            f"weights for arch={arch}",
            f"a reidfw Lightning checkpoint of method {method} with backbone {name}",
            f"drop arch= (reidfw checkpoints name their backbone) or pass arch={name!r}",
        )
    spec = make_model_spec(
        method=method,
        backbone=backbone,
        input_spec=checkpoint_input_spec(hp, path),
        embed_dim=1,  # placeholder: the spec is needed to build the model, whose embed_dim replaces it
        train_run_id=run_id_of(ckpt),
        source=path,
    )
    spec = with_img_size(spec, img_size, path)
    model = build_from_spec(spec, path)
    spec["embed_dim"] = int(model.embed_dim)
    # ``_orig_mod.`` appears when the module was torch.compile'd before saving.
    weights = {
        k[len("backbone.") :].replace("_orig_mod.", "", 1): v
        for k, v in ckpt["state_dict"].items()
        if k.startswith("backbone.")
    }
    if not weights:
        raise CheckpointError(
            path,
            "a reidfw Lightning checkpoint with the embedding network under 'backbone.'",
            f"no backbone.* keys among {len(ckpt['state_dict'])} (first: {first_keys(ckpt['state_dict'])})",
            "save the checkpoint from a reidfw.methods module (its network must be self.backbone)",
        )
    load_state_dict_checked(
        model,
        weights,
        path,
        expected=f"the backbone.* weights of a {name} (from hyper_parameters)",
        fix="the checkpoint's hyper_parameters.backbone does not describe its weights; re-train or fix the hparams",
    )
    return model, spec
