"""The default estimator: trained once on the synthetic sets' ground-truth yaw, then cached.

Training crops: the synthetic tracks and unlabeled sets of a preset (``conf/synthetic/<name>.yaml``),
minus a held-out fifth of their cameras / street scenes. Measured on those held-out crops (unseen
cameras, backgrounds and light) and on the synthetic study (another camera rig entirely: its
orientation factors photograph one person at 0, 45, ..., 315 degrees). The numbers are stored in the
estimator's ``orientation.json`` and printed when it is trained.

Cached as ``<cache_dir>/orientation-<hash>/``, the hash covering the data settings, the training
settings and the renderer version, like the synthetic sets themselves.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

from reidfw.orientation.data import split_held_out, study_yaw_crops, synthetic_yaw_crops
from reidfw.orientation.estimator import SPEC_FILE, OrientationEstimator, load_estimator
from reidfw.orientation.train import EPOCHS, evaluate_estimator, format_metrics, train_estimator

VERSION = "1"  # bump when the estimator or its training changes, so cached estimators are retrained
HELD_OUT = 0.2
SOURCES = ("tracks", "unlabeled")
SYNTHETIC = "synthetic"


def _key(settings: dict, epochs: int, held_out: float, seed: int) -> str:
    from reidfw.synthetic.render import RENDERER_VERSION

    doc = {"data": {k: settings.get(k) for k in (*SOURCES, "study")}, "epochs": epochs, "held_out": held_out,
           "seed": seed, "version": VERSION, "renderer": RENDERER_VERSION}
    return "orientation-" + hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:12]


def train_synthetic(settings: dict, cache_dir: str | Path, epochs: int = EPOCHS, held_out: float = HELD_OUT,
                    seed: int = 0, progress=print) -> tuple[OrientationEstimator, dict]:
    """Train on the synthetic tracks + unlabeled sets (rendered into ``cache_dir`` if needed) and measure."""
    from reidfw.synthetic.cache import ensure_dataset

    say = progress or (lambda _m: None)
    items = []
    for kind in SOURCES:
        root = ensure_dataset(kind, dict(settings[kind]), cache_dir)
        items += synthetic_yaw_crops(root)
    train, test = split_held_out(items, held_out, seed)
    est = train_estimator(train, epochs=epochs, seed=seed, progress=progress,
                          info={"trained_on": f"synthetic {' + '.join(SOURCES)} ({len(train)} crops; "
                                              f"{len(test)} crops of held-out cameras/scenes kept out)"})
    report = {}
    if test:
        report["held_out_synthetic"] = evaluate_estimator(est, test)
        say(format_metrics("  held-out synthetic cameras/scenes", report["held_out_synthetic"]))
    if settings.get("study") is not None:
        study = study_yaw_crops(ensure_dataset("study", dict(settings["study"]), cache_dir),
                                factors=("orientation", "orientation_backpack"))
        report["synthetic_study"] = evaluate_estimator(est, study)
        say(format_metrics("  synthetic study (orientation factors)", report["synthetic_study"]))
    est.info["metrics"] = report
    return est, report


def ensure_synthetic_estimator(settings: dict, cache_dir: str | Path, epochs: int = EPOCHS, seed: int = 0,
                               progress=print) -> Path:
    """The cached default estimator's folder; trains it (about a minute on 2 CPU cores) on first use."""
    cache_dir = Path(cache_dir)
    final = cache_dir / _key(settings, epochs, HELD_OUT, seed)
    if (final / SPEC_FILE).is_file():
        return final
    if progress:
        progress(f"orientation: training the default estimator on the synthetic sets (once; cached in {final})")
    est, _ = train_synthetic(settings, cache_dir, epochs, HELD_OUT, seed, progress)
    tmp = cache_dir / f".tmp-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    est.save(tmp)
    try:
        os.rename(tmp, final)
    except OSError:
        if not (final / SPEC_FILE).is_file():
            raise
        shutil.rmtree(tmp, ignore_errors=True)  # another process finished first
    return final


def resolve_orientation_model(value, cache_dir: str | Path, synthetic_settings: dict, progress=print) -> OrientationEstimator:
    """``"synthetic"`` -> the cached default estimator (trained on first use); a path -> that estimator."""
    if value is None or str(value) == SYNTHETIC:
        return load_estimator(ensure_synthetic_estimator(synthetic_settings, cache_dir, progress=progress))
    return load_estimator(value)
