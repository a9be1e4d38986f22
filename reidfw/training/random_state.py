"""The global random state (Python, NumPy, torch CPU and CUDA) travels with the resume checkpoint.

Whatever the model draws from the global generators — MoCo's shuffle-BN permutation,
dropout, drop-path in timm backbones — continues after a resume exactly where the
interrupted run was. Lightning's checkpoints do not hold it.

The state is captured when the checkpoint is written (end of an epoch) and put back just
before the first training batch of the resumed run: between those two points the
uninterrupted run draws nothing from the global generators (the data pipeline uses its own,
``reidfw.data.datasets.epoch_keys``), while the resumed process draws plenty while it
builds the model. Under DDP the file holds rank 0's state.
"""
from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

from reidfw.mlflow_logging.runs import CHECKPOINT_STAMP_KEY as CHECKPOINT_KEY

STATE_KEY = "random_state"


def capture() -> dict[str, Any]:
    """Plain types and tensors only, so the checkpoint still loads with ``weights_only=True``."""
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


class RandomStateInCheckpoint(pl.Callback):
    def __init__(self) -> None:
        self._to_restore: dict[str, Any] | None = None

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint.setdefault(CHECKPOINT_KEY, {})[STATE_KEY] = capture()

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        self._to_restore = (checkpoint.get(CHECKPOINT_KEY) or {}).get(STATE_KEY)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if self._to_restore is not None:
            restore(self._to_restore)
            self._to_restore = None
