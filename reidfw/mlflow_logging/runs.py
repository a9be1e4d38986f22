"""Referring to MLflow runs and fetching their artifacts.

``runs:/<run_id>/<artifact path>`` or a bare 32-hex run id name a training run; its
exported model is logged under ``model/`` and its checkpoints under ``checkpoints/``.
"""
from __future__ import annotations

import re
from pathlib import Path

from reidfw.errors import SourceError

RUN_ID = re.compile(r"[0-9a-f]{32}")
# The key under which a Lightning checkpoint remembers the MLflow run that wrote it.
CHECKPOINT_STAMP_KEY = "reidfw"
MODEL_ARTIFACTS = ("model", "checkpoints")  # where a training run keeps its model, preferred first


def is_run_ref(ref: str | Path) -> bool:
    """``runs:/...``, ``models:/...``, or a bare run id that is not also a local path."""
    if isinstance(ref, Path):
        return False
    s = str(ref)
    return s.startswith(("runs:/", "models:/")) or (RUN_ID.fullmatch(s) is not None and not Path(s).exists())


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [""])[0][:200]


def download_model_artifact(ref: str, dst: str | Path, expected_kind: str) -> tuple[Path, str]:
    """Download the artifact that holds a run's model into ``dst``; returns (local path, run id).

    ``expected_kind`` describes the model files for messages. Raises :class:`SourceError`
    naming the run, what it holds and the fix.
    """
    import mlflow

    if ref.startswith("models:/"):
        # MLflow 3 registers only MLflow "logged models"; reidfw logs a plain export folder.
        raise SourceError(
            ref,
            "a checkpoint path, an export folder, or an MLflow run (runs:/<run_id>/model or a run id)",
            "a model-registry URI, which reidfw does not read",
            "pass the training run instead: runs:/<run_id>/model",
        )
    client = mlflow.MlflowClient()
    if ref.startswith("runs:/"):
        run_id, _, artifact_path = ref[len("runs:/") :].partition("/")
        artifact_path = artifact_path.strip("/")
    else:
        run_id, artifact_path = ref, ""
    try:
        client.get_run(run_id)
    except Exception as e:  # noqa: BLE001 -- MLflow raises MlflowException or store-specific errors
        raise SourceError(
            ref, "an MLflow run in the tracking store", f"no such run ({_first_line(e)})",
            f"check the run id and the tracking URI (now {mlflow.get_tracking_uri()!r}; set MLFLOW_TRACKING_URI)",
        ) from e  # fmt: skip
    if not artifact_path:
        top = sorted(a.path for a in client.list_artifacts(run_id))
        artifact_path = next((p for p in MODEL_ARTIFACTS if p in top), "")
        if not artifact_path:
            raise SourceError(
                ref,
                f"an MLflow run with an export under model/ or a checkpoint under checkpoints/ ({expected_kind})",
                f"a run whose artifacts are {top or 'empty'}",
                "pass runs:/<run_id>/<artifact path> for the artifact that holds the model, or log the "
                "export with mlflow.log_artifacts(export_dir, artifact_path='model')",
            )
    try:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=str(dst))
    except Exception as e:  # noqa: BLE001 -- MLflow raises many types (missing path, I/O, permissions)
        raise SourceError(
            ref,
            f"an artifact {artifact_path!r} in run {run_id}",
            f"a download failure ({type(e).__name__}: {_first_line(e)})",
            f"the run's top-level artifacts are {sorted(a.path for a in client.list_artifacts(run_id)) or 'none'}; "
            "pass runs:/<run_id>/<one of them>",
        ) from e
    return Path(local), run_id
