"""Checking a ``ckpt_path=`` before Lightning resumes from it.

Lightning's own errors for a wrong file are a pickle trace or a wall of missing
keys; here the file, what it is, and what to pass instead are named up front.
"""
from __future__ import annotations

from pathlib import Path

import torch

from reidfw.checkpoints.lightning_ckpt import run_id_of


class ResumeError(ValueError):
    pass


def check_resume_checkpoint(path: str | Path, method: str) -> str | None:
    """Validate a training checkpoint for ``method``; return the MLflow run it was logged to."""
    path = Path(path)
    hint = "pass the last.ckpt (or best.ckpt) that train.py wrote under <run dir>/checkpoints/"
    if not path.is_file():
        raise ResumeError(f"ckpt_path={path}: no such file; {hint}")
    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # truncated file, safetensors, arbitrary pickle: all refused the same way
        raise ResumeError(
            f"ckpt_path={path} is not a readable training checkpoint ({type(e).__name__}: {str(e)[:200]}); {hint}. "
            f"To evaluate an exported model or an external state dict use evaluate.py ckpt=... instead."
        ) from e
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "loops" not in ckpt:
        raise ResumeError(
            f"ckpt_path={path} holds weights only, not a training state (no optimizer, schedule or loop "
            f"state to resume); {hint}. To evaluate it use evaluate.py ckpt={path}."
        )
    found = (ckpt.get("hyper_parameters") or {}).get("method")
    if found is not None and found != method:
        raise ResumeError(
            f"ckpt_path={path} is a {found!r} checkpoint but this run trains {method!r}; "
            f"resume with the same loss it was trained with (loss={found} or its experiment preset)."
        )
    return run_id_of(ckpt)
