"""Generate a synthetic data set once and reuse it (for Hydra data configs).

``ensure_dataset(kind, settings, cache_dir)`` renders into
``<cache_dir>/<kind>-<hash>/`` where the hash covers the kind, the settings and
``RENDERER_VERSION``, so changing any of them gives a new folder and a renderer change
never reuses stale pixels. Generation happens in a temporary sibling folder that is
renamed into place only when complete: an interrupted run leaves a ``.tmp-*`` folder
(safe to delete), never a half set that looks done. Processes asking for the same set
at once (a parallel sweep) take turns on a lock file: the first renders, the others
find the finished set.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Callable

from filelock import FileLock

from reidfw.synthetic.generators.market import generate_market
from reidfw.synthetic.generators.study import generate_study
from reidfw.synthetic.generators.tracks import generate_tracks
from reidfw.synthetic.generators.unlabeled import generate_unlabeled
from reidfw.synthetic.render import RENDERER_VERSION

GENERATORS: dict[str, Callable[..., Path]] = {
    "tracks": generate_tracks,
    "unlabeled": generate_unlabeled,
    "study": generate_study,
    "market": generate_market,
}
# Settings that change how fast a set renders, not what it contains: left out of the hash.
_NOT_HASHED = {"workers"}
DATASET_INFO = "dataset.json"

__all__ = ["GENERATORS", "dataset_key", "ensure_dataset"]


def dataset_key(kind: str, settings: dict) -> str:
    hashed = {k: v for k, v in settings.items() if k not in _NOT_HASHED}
    doc = json.dumps({"kind": kind, "settings": hashed, "renderer": RENDERER_VERSION}, sort_keys=True, default=str)
    return f"{kind}-{hashlib.sha256(doc.encode()).hexdigest()[:12]}"


def ensure_dataset(kind: str, settings: dict, cache_dir: str | Path) -> Path:
    """The folder of the ``kind`` data set generated with ``settings``; renders it on first use."""
    if kind not in GENERATORS:
        raise ValueError(f"unknown synthetic data set kind {kind!r}; choose one of {sorted(GENERATORS)}")
    settings = dict(settings or {})
    cache_dir = Path(cache_dir)
    final = cache_dir / dataset_key(kind, settings)
    if final.is_dir():
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    params = inspect.signature(GENERATORS[kind]).parameters
    valid = set(params) - {"out"}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = [] if takes_any else sorted(set(settings) - valid)
    if unknown:
        raise TypeError(f"unknown settings {unknown} for the {kind!r} generator; valid keys: {sorted(valid)}")
    # One renderer per set at a time: the jobs of a parallel sweep wait for the first instead of
    # all rendering the same pixels (the lock dies with its process, so a killed render frees it).
    with FileLock(str(cache_dir / f".{final.name}.lock")):
        if final.is_dir():
            return final
        tmp = cache_dir / f".tmp-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            GENERATORS[kind](tmp, **settings)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        (tmp / DATASET_INFO).write_text(json.dumps({"kind": kind, "settings": settings, "renderer_version": RENDERER_VERSION},
                                                   indent=1, default=str))
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)    # another process finished the same set first
    return final
