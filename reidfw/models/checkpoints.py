"""Load any checkpoint kind reidfw meets as an embedding model plus its model spec.

Kinds, recognised by content rather than by file name:

- reidfw Lightning checkpoint (``.ckpt``): ``state_dict`` with the embedding network under
  ``backbone.`` (MoCo's ``backbone_k.``/``head_q.``/``head_k.``/``queue`` are ignored) and
  ``hyper_parameters`` with ``method`` and ``backbone`` = {name, img_size, kwargs};
- reidfw export: a folder with ``model.json`` + ``model.safetensors``, or either file;
- a reidfw ONNX export (``model.onnx``, the spec in its metadata), run through onnxruntime;
- an MLflow run: ``runs:/<run_id>/<artifact path>`` or a bare 32-hex run id (its ``model/``
  export, else its ``checkpoints/`` checkpoint); the caller sets the tracking URI;
- external weights, which need ``arch=``: a torchvision-layout ResNet as LUPerson publishes
  (``arch="reid_resnet50"``; prefixes ``module.encoder_q.``/``encoder_q.``/``module.`` and
  MoCo's ``fc.*`` projection head are dropped) or insightface's ``backbone.pth``
  (``arch="iresnet50"`` etc.).

Nothing is ever unpickled beyond tensors and plain containers: safetensors, or
``torch.load(weights_only=True)``. Every failure is a ``CheckpointError`` naming the file,
the kind expected, what was found and the fix.
"""
from __future__ import annotations

import math
import pickle
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from reidfw.data.transforms.normalize import INSIGHTFACE_MEAN, INSIGHTFACE_STD, MEAN, STD
from reidfw.models.errors import CheckpointError
from reidfw.models.export import EXPORT_KIND, SPEC_FILE, WEIGHTS_FILE, load_exported_model, read_weights
from reidfw.models.iresnet import IRESNET_LAYERS, STAGE_WIDTHS, feature_map_size
from reidfw.models.reid_resnet import REID_RESNET_LAYERS
from reidfw.models.spec import build_from_spec, make_model_spec, with_img_size
from reidfw.models.state_dict import load_state_dict_checked

EXTERNAL_ARCHS = (*IRESNET_LAYERS, *REID_RESNET_LAYERS)
ANY_KIND = (
    "a reidfw checkpoint (Lightning .ckpt with hyper_parameters.method/backbone), a reidfw export "
    f"({SPEC_FILE} + {WEIGHTS_FILE}), an MLflow run, or external weights with arch="
)
PASS_ARCH = (
    "pass arch='iresnet50' (an insightface backbone.pth) or arch='reid_resnet50' (a torchvision-layout "
    "ResNet50 such as LUPerson's MoCo weights) to load_embedding_model"
)
# Where external weights keep the network: LUPerson/MoCo v2 holds the query encoder under
# ``encoder_q.``, DistributedDataParallel adds ``module.``; insightface saves
# ``backbone.module.state_dict()`` (no prefix). The first prefix that holds ``conv1.weight``
# wins, which also drops MoCo's key encoder (``encoder_k.``). Both families use the same list,
# so weights passed with the wrong arch are still compared under their real names.
PREFIXES = ("module.encoder_q.", "encoder_q.", "module.backbone.", "backbone.", "module.", "")
# Wrappers around a state dict seen in the wild: generic/LUPerson (``state_dict``), timm/others
# (``model``), insightface's training checkpoint (``state_dict_backbone``).
STATE_DICT_WRAPPERS = ("state_dict", "state_dict_backbone", "model")
RUN_ID = re.compile(r"[0-9a-f]{32}")


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
    if isinstance(ckpt, str) and ckpt.startswith("models:/"):
        # MLflow 3 registers only MLflow "logged models"; reidfw logs a plain export folder.
        raise CheckpointError(
            ckpt,
            "a checkpoint path, an export folder, or an MLflow run (runs:/<run_id>/model or a run id)",
            "a model-registry URI, which reidfw does not read",
            "pass the training run instead: runs:/<run_id>/model",
        )
    if _is_mlflow_ref(ckpt):
        model, spec = _load_mlflow(str(ckpt), arch, img_size)
    else:
        path = Path(ckpt).expanduser()
        if not path.exists():
            raise CheckpointError(path, ANY_KIND, "no file or folder at this path", "check the path (and the working directory)")
        model, spec = _load_path(path, arch, img_size)
    return model.to(map_location).eval(), spec


# --- dispatch on what the path holds ---------------------------------------------------------------


def _load_path(path: Path, arch: str | None, img_size) -> tuple[nn.Module, dict[str, Any]]:
    if path.is_dir():
        if (path / SPEC_FILE).exists():
            return _load_export(path, arch, img_size)
        return _load_file(_checkpoint_in_folder(path), arch, img_size)
    if path.suffix == ".json" or (path.suffix == ".safetensors" and (path.parent / SPEC_FILE).exists()):
        return _load_export(path, arch, img_size)
    if path.suffix == ".onnx":
        from reidfw.models.onnx_export import load_onnx_model  # onnxruntime only when asked for

        return load_onnx_model(path, arch, img_size)
    if path.suffix == ".safetensors":
        # Raw safetensors weights without a spec: external weights, like a state dict file.
        return _load_external(path, read_weights(path), arch, img_size)
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
    hp = obj.get("hyper_parameters")
    if isinstance(obj.get("state_dict"), Mapping) and isinstance(hp, Mapping) and {"method", "backbone"} <= set(hp):
        return _load_lightning(path, obj, arch, img_size)
    if _looks_like_optimizer_only(obj):
        raise CheckpointError(
            path,
            ANY_KIND,
            f"this looks like an optimizer-only file (keys: {_first_keys(obj)}); it holds no model weights",
            "pass the model checkpoint instead (the Lightning .ckpt, backbone.pth, or the LUPerson .pth)",
        )
    for wrapper in STATE_DICT_WRAPPERS:
        if isinstance(obj.get(wrapper), Mapping) and _is_tensor_dict(obj[wrapper]):
            return _load_external(path, obj[wrapper], arch, img_size, wrapper=wrapper)
    if _is_tensor_dict(obj):
        return _load_external(path, obj, arch, img_size)
    raise CheckpointError(path, ANY_KIND, f"a dict with keys {_first_keys(obj)} and no state dict in it", PASS_ARCH)


def _safe_torch_load(path: Path) -> Any:
    """``torch.load`` that only rebuilds tensors and plain containers (never arbitrary objects)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        detail = _weights_only_detail(str(e))
        if "Unsupported global" in detail:
            found = (
                f"a pickle that would construct arbitrary objects, which reidfw refuses to unpickle ({detail})"
            )
            fix = (
                "re-save only the weights (torch.save(model.state_dict(), path)) or export with "
                "reidfw.models.export.export_model; hyper-parameters must be plain Python types"
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
    return lines[0][:200] if lines else "unreadable"


# --- reidfw Lightning checkpoints ------------------------------------------------------------------


def _load_lightning(path: Path, ckpt: Mapping, arch: str | None, img_size) -> tuple[nn.Module, dict[str, Any]]:
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
        embed_dim=1,  # placeholder: the spec is needed to build the model, whose embed_dim replaces it
        normalization=hp.get("normalization"),
        train_run_id=_run_id_of(ckpt),
        source=path,
    )
    spec = with_img_size(spec, img_size, path)
    model = build_from_spec(spec, path)
    spec["embed_dim"] = int(model.embed_dim)
    # ``backbone.`` only: MoCo's ``backbone_k.`` (momentum encoder), heads and queue are training state.
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
            f"no backbone.* keys among {len(ckpt['state_dict'])} (first: {_first_keys(ckpt['state_dict'])})",
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


# --- external weights (LUPerson ResNet, insightface iresnet) --------------------------------------


def _load_external(
    path: Path, state_dict: Mapping, arch: str | None, img_size, wrapper: str | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    where = f"{len(state_dict)} tensors" + (f" inside '{wrapper}'" if wrapper else "")
    if arch is None:
        guess = _guess_family(state_dict)
        hint = f"; its keys look like {guess}" if guess else ""
        raise CheckpointError(
            path,
            "a reidfw checkpoint (Lightning .ckpt with hyper_parameters.method/backbone, or an export folder)",
            f"a plain state dict of {where} (first keys: {_first_keys(state_dict)}){hint}",
            PASS_ARCH,
        )
    if arch not in EXTERNAL_ARCHS:
        raise CheckpointError(
            path,
            f"external weights for one of {', '.join(EXTERNAL_ARCHS)}",
            f"arch={arch!r} with a plain state dict of {where}",
            "pass one of those arch names; other timm backbones load from reidfw checkpoints or exports only",
        )
    if arch in IRESNET_LAYERS:
        weights = _strip_prefix(state_dict, PREFIXES, "conv1.weight")
        size = _iresnet_img_size(path, arch, weights, img_size)
        spec = make_model_spec(
            method="arcface",
            backbone={"name": arch, "img_size": list(size), "kwargs": {}},
            embed_dim=512,
            normalization={"mean": list(INSIGHTFACE_MEAN), "std": list(INSIGHTFACE_STD)},
            embedding="fc512",
            source=path,
        )
        what = "an insightface iresnet backbone.pth"
    else:
        weights = _strip_prefix(state_dict, PREFIXES, "conv1.weight")
        # MoCo v2's projection head (fc.0/fc.2) or an ImageNet classifier (fc): not part of the embedding.
        weights = {k: v for k, v in weights.items() if not k.startswith("fc.")}
        spec = make_model_spec(
            method="moco",
            backbone={"name": arch, "img_size": list(img_size or (384, 128)), "kwargs": {}},
            embed_dim=1,  # placeholder until the model is built
            normalization={"mean": list(MEAN), "std": list(STD)},
            embedding="gap",
            source=path,
        )
        what = "a torchvision-layout ResNet state dict (LUPerson)"
    model = build_from_spec(spec, path)
    spec["embed_dim"] = int(model.embed_dim)
    guess = _guess_family(weights)
    load_state_dict_checked(
        model,
        weights,
        path,
        expected=f"{what} for arch={arch}",
        fix=f"pass the arch these weights were trained with{f' (the keys look like {guess})' if guess else ''}",
    )
    return model, spec


def _run_id_of(ckpt: Mapping) -> str | None:
    """The MLflow run that wrote a reidfw checkpoint (``reidfw.tracking``'s callback stores it under
    ``ckpt["reidfw"]["mlflow_run_id"]``); hyper-parameters may also carry ``train_run_id``."""
    stamp = ckpt.get("reidfw")
    run_id = stamp.get("mlflow_run_id") if isinstance(stamp, Mapping) else None
    run_id = run_id or ckpt["hyper_parameters"].get("train_run_id")
    return run_id if isinstance(run_id, str) else None


def _strip_prefix(state_dict: Mapping, prefixes: Sequence[str], anchor: str) -> dict[str, torch.Tensor]:
    for prefix in prefixes:
        if prefix + anchor in state_dict:
            return {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
    # No known layout: keep the keys so the mismatch report shows them as they are.
    return dict(state_dict)


def _iresnet_img_size(path: Path, arch: str, weights: Mapping, img_size) -> tuple[int, int]:
    """The input size an iresnet's FC was built for: given, or read from ``fc.weight``'s shape.

    ``fc.weight`` is (512, 512*h*w) with (h, w) = input / 16. A square map (insightface faces:
    7x7 -> 112x112) or a 3:1 person map (24x8 -> 384x128) is recognised; anything else needs img_size.
    """
    fc = weights.get("fc.weight")
    if not isinstance(fc, torch.Tensor) or fc.ndim != 2:
        # Not an iresnet at all (e.g. ResNet weights with arch=iresnet50): build at insightface's
        # size and let the key comparison report what is missing and unexpected.
        return tuple(int(s) for s in img_size) if img_size is not None else (112, 112)
    cells, rem = divmod(fc.shape[1], STAGE_WIDTHS[-1])
    if img_size is not None:
        size = tuple(int(s) for s in img_size)
        h, w = feature_map_size(size)
        if rem or cells != h * w:
            raise CheckpointError(
                path,
                f"an {arch} FC for img_size={size} (fc.weight in_features 512*{h}*{w} = {512 * h * w})",
                f"fc.weight of shape {tuple(fc.shape)}",
                "pass the img_size the weights were trained at (insightface's public models: (112, 112)), "
                "or leave img_size unset to read it from fc.weight",
            )
        return size
    side = math.isqrt(cells)
    if not rem and side * side == cells:
        return (16 * side, 16 * side)
    w = math.isqrt(cells // 3) if cells % 3 == 0 else 0
    if not rem and w and 3 * w * w == cells:
        return (48 * w, 16 * w)
    raise CheckpointError(
        path,
        f"an {arch} whose input size can be read from fc.weight",
        f"fc.weight of shape {tuple(fc.shape)}, which fits no square or 3:1 input",
        "pass img_size=(H, W), the size the weights were trained at",
    )


def _guess_family(state_dict: Mapping) -> str | None:
    keys = " ".join(list(state_dict)[:2000])
    if "prelu.weight" in keys and "features." in keys:
        return "an insightface iresnet (arch='iresnet50' etc.)"
    if "layer1.0.conv1.weight" in keys and "bn1.running_mean" in keys:
        return "a torchvision-layout ResNet (arch='reid_resnet50' etc.)"
    return None


# --- MLflow -------------------------------------------------------------------------------------


def _is_mlflow_ref(ckpt: str | Path) -> bool:
    if isinstance(ckpt, Path):
        return False
    s = str(ckpt)
    return s.startswith("runs:/") or (RUN_ID.fullmatch(s) is not None and not Path(s).exists())


def _load_mlflow(ref: str, arch: str | None, img_size) -> tuple[nn.Module, dict[str, Any]]:
    import mlflow

    client = mlflow.MlflowClient()
    fix = (
        f"check the run id and the tracking URI (now {mlflow.get_tracking_uri()!r}; set MLFLOW_TRACKING_URI "
        "or call mlflow.set_tracking_uri before loading)"
    )
    if ref.startswith("runs:/"):
        run_id, _, artifact_path = ref[len("runs:/") :].partition("/")
        artifact_path = artifact_path.strip("/")
    else:
        run_id, artifact_path = ref, ""
    try:
        client.get_run(run_id)
    except Exception as e:  # noqa: BLE001 -- MLflow raises MlflowException or store-specific errors
        raise CheckpointError(ref, "an MLflow run in the tracking store", f"no such run ({_first_line(e)})", fix) from e
    if not artifact_path:
        # A training run logs its export under model/ (preferred) and its checkpoints under checkpoints/.
        top = sorted(a.path for a in client.list_artifacts(run_id))
        artifact_path = next((p for p in ("model", "checkpoints") if p in top), "")
        if not artifact_path:
            raise CheckpointError(
                ref,
                f"an MLflow run with an export under model/ or a checkpoint under checkpoints/ ({EXPORT_KIND})",
                f"a run whose artifacts are {top or 'empty'}",
                "pass runs:/<run_id>/<artifact path> for the artifact that holds the model, or log the "
                "export with mlflow.log_artifacts(export_dir, artifact_path='model')",
            )
    with tempfile.TemporaryDirectory(prefix="reidfw-mlflow-") as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=tmp))
        except Exception as e:  # noqa: BLE001 -- MLflow raises many types (missing path, I/O, permissions)
            raise CheckpointError(
                ref,
                f"an artifact {artifact_path!r} in run {run_id}",
                f"a download failure ({type(e).__name__}: {_first_line(e)})",
                f"the run's top-level artifacts are {sorted(a.path for a in client.list_artifacts(run_id)) or 'none'}; "
                "pass runs:/<run_id>/<one of them>",
            ) from e
        # Everything is read into memory before the temporary download is removed.
        model, spec = _load_path(local, arch, img_size)
    if spec.get("train_run_id") is None:
        spec["train_run_id"] = run_id
    return model, spec


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [""])[0][:200]


# --- small helpers --------------------------------------------------------------------------------


def _is_tensor_dict(obj: Mapping) -> bool:
    return len(obj) > 0 and all(isinstance(v, torch.Tensor) for v in obj.values())


def _looks_like_optimizer_only(obj: Mapping) -> bool:
    keys = set(obj)
    if {"state", "param_groups"} <= keys:  # torch.optim.Optimizer.state_dict()
        return True
    has_optimizer = bool(keys & {"optimizer", "optimizer_states", "state_optimizer", "optimizer_state_dict"})
    has_weights = any(isinstance(obj.get(w), Mapping) for w in STATE_DICT_WRAPPERS) or _is_tensor_dict(obj)
    return has_optimizer and not has_weights


def _first_keys(obj: Mapping, n: int = 5) -> str:
    keys = [str(k) for k in list(obj)[: n + 1]]
    return ", ".join(keys[:n]) + (", ..." if len(keys) > n else "")
