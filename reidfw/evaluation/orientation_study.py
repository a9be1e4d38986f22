"""The study's orientation factors with and without canonicalisation, side by side.

Canonicalisation (the paper's flip proposal, :mod:`reidfw.orientation`) mirrors every crop the
estimator reads as facing (180, 360) into [0, 180]. What it should do to an orientation matrix:

- the **mirror cells** (90 / 270, 45 / 315, 135 / 225) compare a view with its mirror image; once
  one side is mirrored they compare two near-identical views, so their similarity should rise;
- the **0 / 180 cell** (front against back) cannot be helped -- both views are their own mirror
  images; canonicalisation can only add noise there (the estimator may mirror one of them).

Every orientation factor of the study (every condition id of the form ``<degrees>deg``) is embedded
again with canonicalisation; the same impostor distribution calibrates both. Metrics (one MLflow
run holds both sides): ``canonical/study/<factor>/...`` and ``canonical/study_z/<factor>/...`` beside
the plain ``study/...`` names, and per cell of interest
``orientation/<factor>/cell_<a>_<b>/{raw,z,strangers_beaten}/{plain,canonical}``. Figures:
``study/heatmaps/<factor>_canonical.png`` (raw) and ``_canonical_z.png``, the two matrices on one
colour scale; ``orientation/estimates.csv`` holds the estimator's reading of every image.
"""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Callable

import numpy as np

from reidfw.data.formats.study_manifest import StudyFactor, StudyManifest
from reidfw.evaluation.calibration import ImpostorSource
from reidfw.evaluation.heatmap import plot_heatmaps_side_by_side
from reidfw.evaluation.study import FactorMatrix, StudyResult, metric_key, run_study

CELLS = ((90, 270), (45, 315), (135, 225), (0, 180))
_DEG = re.compile(r"(\d+(?:\.\d+)?)deg")


def condition_degrees(factor: StudyFactor) -> list[float] | None:
    """The yaw of each condition when every id reads ``<degrees>deg``, else None (not an orientation factor)."""
    out = []
    for c in factor.conditions:
        m = _DEG.fullmatch(c.id)
        if m is None:
            return None
        out.append(float(m.group(1)))
    return out


def orientation_factors(manifest: StudyManifest) -> list[StudyFactor]:
    return [f for f in manifest.factors if condition_degrees(f) is not None]


def _cell(m: FactorMatrix, degrees: list[float], a: float, b: float) -> tuple[int, int] | None:
    try:
        return degrees.index(a), degrees.index(b)
    except ValueError:
        return None


def cell_metrics(m: FactorMatrix, degrees: list[float], side: str) -> dict[str, float]:
    out = {}
    f = metric_key(m.factor)
    for a, b in CELLS:
        ij = _cell(m, degrees, a, b)
        if ij is None:
            continue
        i, j = ij
        base = f"orientation/{f}/cell_{a}_{b}"
        out[f"{base}/raw/{side}"] = float(m.mean[i, j])
        if m.z is not None:
            out[f"{base}/z/{side}"] = float(m.z[i, j])
            out[f"{base}/strangers_beaten/{side}"] = float(m.calibration.beaten[0, i, j])
    return out


def compare_canonicalisation(
    manifest: StudyManifest,
    plain: StudyResult,
    embed_canonical: Callable[[list], np.ndarray],
    impostors: ImpostorSource | None,
    out_dir: str | Path,
    estimator=None,
) -> dict | None:
    """Re-run the orientation factors with ``embed_canonical``; metrics, figures and the estimates.

    ``impostors``: the source the plain study was calibrated with (None = the study's own).
    Returns None when the study has no orientation factor.
    """
    factors = orientation_factors(manifest)
    if not factors:
        return None
    out_dir = Path(out_dir)
    sub = StudyManifest(manifest.root, manifest.name, factors)
    canon = run_study(sub, embed_canonical, impostors)
    metrics = {f"canonical/{k}": v for k, v in canon.metrics().items()}
    figures, rows = [], []
    for f, mc in zip(factors, canon.matrices):
        mp = next(m for m in plain.matrices if m.factor == f.name)
        deg = condition_degrees(f)
        metrics.update(cell_metrics(mp, deg, "plain"))
        metrics.update(cell_metrics(mc, deg, "canonical"))
        stem = metric_key(f.name).replace(" ", "_").replace("/", "_")
        sides = [("as is", mp), ("canonicalised", mc)]
        figures.append(plot_heatmaps_side_by_side(sides, out_dir / "study" / "heatmaps" / f"{stem}_canonical.png"))
        if mp.z is not None and mc.z is not None:
            figures.append(plot_heatmaps_side_by_side(sides, out_dir / "study" / "heatmaps" / f"{stem}_canonical_z.png", "z"))
        for a, b in CELLS:
            ij = _cell(mp, deg, a, b)
            if ij is not None:
                i, j = ij
                rows.append({"factor": f.name, "cell": f"{a}/{b}", "raw": (float(mp.mean[i, j]), float(mc.mean[i, j])),
                             "z": (float(mp.z[i, j]), float(mc.z[i, j])) if mp.z is not None and mc.z is not None else None})
    files = []
    if estimator is not None:
        files.append(write_estimates(sub, estimator, out_dir / "orientation" / "estimates.csv"))
        metrics.update(estimate_metrics(files[-1]))
    return {"metrics": metrics, "figures": [str(p) for p in figures], "files": [str(p) for p in files],
            "rows": rows, "study_result": canon,
            "estimator": (estimator.info.get("trained_on") if estimator is not None else None)}


def write_estimates(manifest: StudyManifest, estimator, path: Path) -> Path:
    """The estimator's yaw for every subject image of the factors, with the true yaw where the manifest records it."""
    from reidfw.data.formats.image_io import read_image
    from reidfw.orientation import in_other_half

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["factor", "condition", "path", "true_yaw", "estimated_yaw", "mirrored"])
        for f in manifest.factors:
            for c in f.conditions:
                for img in c.images:
                    yaw = estimator.predict_image(read_image(img.path), img.box)
                    true = (img.meta or {}).get("yaw")
                    w.writerow([f.name, c.id, str(img.path), "" if true is None else f"{float(true):.1f}", f"{yaw:.1f}",
                                int(bool(in_other_half(yaw)))])
    return path


def estimate_metrics(path: Path) -> dict[str, float]:
    """The estimator's accuracy on the study's subject images (where the true yaw is known)."""
    from reidfw.orientation.train import orientation_metrics

    true, est = [], []
    with Path(path).open() as fh:
        for r in csv.DictReader(fh):
            if r["true_yaw"]:
                true.append(float(r["true_yaw"]))
                est.append(float(r["estimated_yaw"]))
    if not true:
        return {}
    m = orientation_metrics(np.array(est), np.array(true))
    return {f"orientation/estimator/{k}": float(v) for k, v in m.items() if isinstance(v, (int, float)) and math.isfinite(v)}


def canonicalisation_table(name: str, comparison: dict) -> str:
    """Terminal lines: each cell as is -> canonicalised, raw cosine and impostor z."""
    lines = [f"  canonicalisation ({name}; estimator: {comparison.get('estimator') or 'given'}): as is -> canonicalised"]
    for r in comparison["rows"]:
        z = f"   z {r['z'][0]:+.2f} -> {r['z'][1]:+.2f}" if r["z"] else ""
        lines.append(f"    {r['factor']:<22} {r['cell']:>8}   cos {r['raw'][0]:.3f} -> {r['raw'][1]:.3f}{z}")
    return "\n".join(lines)
