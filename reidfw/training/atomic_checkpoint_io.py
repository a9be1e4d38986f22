"""Checkpoint files that are either the old complete file or the new complete file, never half of one.

Lightning's default writer serialises into memory, writes a temporary file in the system
temp folder (``tempfile.mkstemp()``) and ``shutil.move``s it over the checkpoint. When
``$TMPDIR`` is on another file system than the checkpoints (tmpfs, a node-local disk vs a
shared one) that move is a copy, and a kill during the copy leaves a truncated
``last.ckpt`` — the one file a killed run needs; the temporary files are left in
``$TMPDIR`` too. Nothing is fsynced, so a crash of the machine can lose the file after
the rename.

Here the temporary file lives next to the target (same file system, so ``os.replace`` is
atomic), is fsynced before the rename, and the folder is fsynced after it. A writer killed
mid-way leaves ``.<name>.tmp-<pid>-<rand>`` behind, which nothing reads and the next save
of the same file removes.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

_TMP_MARK = ".tmp-"


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}{_TMP_MARK}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale_temporaries(path: Path) -> None:
    """Remove leftovers of writers of ``path`` that were killed (their process is gone)."""
    prefix = _tmp_prefix(path)
    for p in path.parent.glob(prefix + "*"):
        try:
            pid = int(p.name[len(prefix) :].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            p.unlink(missing_ok=True)


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = path.parent / f"{_tmp_prefix(path)}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself reaches the disk
    finally:
        os.close(dir_fd)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Local paths are written atomically; remote URLs (s3://, ...) keep Lightning's writer."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not take storage_options, got {storage_options!r}")
        if "://" in str(path) and not str(path).startswith("file://"):
            return super().save_checkpoint(checkpoint, path, storage_options)
        atomic_torch_save(checkpoint, str(path).removeprefix("file://"))
