"""Evaluation folders are complete or absent: written aside, moved into place when done.

``evaluate.py`` writes each model's folder (and ``comparison/``) under
``<out_dir>/.partial-<pid>-<rand>/`` and moves it to ``<out_dir>/<name>`` only when every
model's evaluation has finished — the move is a rename on the same file system. A
process killed while evaluating or plotting leaves only its ``.partial-*`` folder, which
no reader looks at and the next evaluation into the same ``out_dir`` removes; a folder
at a model's name is never half written, and a rerun never builds on a partial one (it
writes its own staging folder from scratch and replaces the old folder as a whole).
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

PARTIAL_PREFIX = ".partial-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def relocate(obj: Any, old: str, new: str) -> Any:
    """Every string under ``obj`` (dicts, lists) that starts with path ``old`` now starts with ``new``."""
    if isinstance(obj, dict):
        return {k: relocate(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [relocate(v, old, new) for v in obj]
    if isinstance(obj, str) and (obj == old or obj.startswith(old + os.sep)):
        return new + obj[len(old) :]
    return obj


class StagedOutputs:
    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._remove_abandoned()
        self.stage = self.out_dir / f"{PARTIAL_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.stage.mkdir()

    def _remove_abandoned(self) -> None:
        for p in self.out_dir.glob(PARTIAL_PREFIX + "*"):
            try:
                pid = int(p.name[len(PARTIAL_PREFIX) :].split("-", 1)[0])
            except ValueError:
                continue
            if pid != os.getpid() and not _pid_alive(pid):
                shutil.rmtree(p, ignore_errors=True)

    def path(self, name: str) -> Path:
        """Where to write ``name`` while it is incomplete."""
        return self.stage / name

    def final(self, name: str) -> Path:
        return self.out_dir / name

    def publish(self, name: str) -> Path:
        """Move ``name`` into ``out_dir``, replacing an older folder of that name as a whole."""
        src, dst = self.path(name), self.final(name)
        old = None
        if dst.exists():
            # os.replace cannot replace a non-empty folder: move the old one aside first.
            old = self.stage / f".replaced-{name}"
            os.replace(dst, old)
        os.replace(src, dst)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return dst

    def close(self) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)
