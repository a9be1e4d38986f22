"""The controlled-condition study: per factor, a condition x condition similarity matrix.

Cell (a, b), a != b, is the mean cosine similarity over all n_a x n_b image
pairs; the diagonal (a, a) is the mean over the C(n_a, 2) pairs of *distinct*
images (a self-pair is always 1 and would inflate "within"). A condition with
one image has no distinct pair: its diagonal is NaN and a warning says so.
``std`` is the population standard deviation over the same pairs, ``count``
the number of pairs behind each cell.

Every cell is also read against the model's impostor distribution (the impostor z-score,
:mod:`reidfw.evaluation.calibration`), and every cell and summary number carries a 95 %
bootstrap interval.

Summary metrics use stable names so MLflow can compare runs:
``study/<factor>/to_standard/<condition>`` (row of the standard condition),
``study/<factor>/within_mean`` (mean of the diagonal), ``study/<factor>/across_mean``
(mean of the off-diagonal cells) and ``study/<factor>/robustness`` = across / within:
1 means changing the factor moves the similarity no more than posture wobble does. Under
``study_z/`` the calibrated numbers: ``within_mean``, ``across_mean`` and ``to_standard/<c>``
in impostor z, and ``robustness`` = the share of strangers the person still beats where the
factor changes (0.5 = chance, 1 = all; see calibration.py for why it is not a ratio).
``<name>_ci95_low`` / ``_ci95_high`` give the interval of robustness and to_standard values.
"""
from __future__ import annotations

import csv
import json
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from reidfw.data.formats.study_manifest import StudyCondition, StudyManifest
from reidfw.evaluation.calibration import BOOTSTRAP, FactorCalibration, ImpostorSource, calibrate_factor, interval, summary


@dataclass
class FactorMatrix:
    """One factor's similarity matrix, rows/columns in manifest order."""

    factor: str
    title: str
    standard: str
    condition_ids: list[str]
    labels: list[str]
    mean: np.ndarray  # (K, K) float64, NaN where a cell has no pair
    std: np.ndarray  # (K, K)
    count: np.ndarray  # (K, K) int64, number of pairs
    calibration: FactorCalibration | None = None

    @property
    def z(self) -> np.ndarray | None:
        """(K, K) impostor z-scores, or None without an impostor distribution."""
        cal = self.calibration
        return cal.z[0] if cal is not None and cal.z is not None else None

    def to_json(self) -> dict:
        out = {
            "factor": self.factor,
            "title": self.title,
            "standard": self.standard,
            "condition_ids": self.condition_ids,
            "labels": self.labels,
            "mean": _nan_to_none(self.mean),
            "std": _nan_to_none(self.std),
            "count": self.count.tolist(),
        }
        cal = self.calibration
        if cal is not None:
            lo, hi = cal.interval(cal.mean)
            out.update(mean_ci95_low=_nan_to_none(lo), mean_ci95_high=_nan_to_none(hi))
            if cal.z is not None:
                lo, hi = cal.interval(cal.z)
                out.update(z=_nan_to_none(cal.z[0]), z_ci95_low=_nan_to_none(lo), z_ci95_high=_nan_to_none(hi),
                           strangers_beaten=_nan_to_none(cal.beaten[0]),
                           impostor_mean=_nan_to_none(cal.imp_mean), impostor_std=_nan_to_none(cal.imp_std))
        return out


def _nan_to_none(a: np.ndarray) -> list:
    # JSON has no NaN; null is what every reader understands.
    return [[None if not math.isfinite(v) else float(v) for v in row] for row in np.asarray(a, dtype=float)]


def condition_matrix(features: Sequence[np.ndarray], names: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, std and pair count of cosine similarities between groups of L2-normalised features.

    ``features[k]`` is (n_k, D). Returns three (K, K) arrays.
    """
    K = len(features)
    names = list(names) if names is not None else [str(k) for k in range(K)]
    mean = np.full((K, K), np.nan)
    std = np.full((K, K), np.nan)
    count = np.zeros((K, K), dtype=np.int64)
    feats = [np.asarray(f, dtype=np.float64) for f in features]
    for a in range(K):
        for b in range(a, K):
            sims = feats[a] @ feats[b].T
            if a == b:
                n = sims.shape[0]
                vals = sims[np.triu_indices(n, k=1)]
                if vals.size == 0:
                    warnings.warn(
                        f"condition {names[a]!r} has {n} image(s): its diagonal (similarity between distinct "
                        f"images of the same condition) is undefined and shown as n/a; add a second image to "
                        f"measure it",
                        stacklevel=2,
                    )
                    continue
            else:
                vals = sims.ravel()
            mean[a, b] = mean[b, a] = vals.mean()
            std[a, b] = std[b, a] = vals.std()
            count[a, b] = count[b, a] = vals.size
    return mean, std, count


def metric_key(name: str) -> str:
    """Make an id usable inside an MLflow metric name (alphanumerics, _ - . space : /)."""
    key = re.sub(r"[^\w.\- :]", "_", str(name))
    return key if key not in ("", ".", "..") else key.replace(".", "_") or "_"


def factor_summary(m: FactorMatrix) -> dict[str, float]:
    """The stable-name metrics of one factor (see module docstring)."""
    f = metric_key(m.factor)
    K = len(m.condition_ids)
    s = m.condition_ids.index(m.standard)
    out = {f"study/{f}/to_standard/{metric_key(cid)}": float(m.mean[s, k]) for k, cid in enumerate(m.condition_ids)}
    diag = np.diag(m.mean)
    off = m.mean[~np.eye(K, dtype=bool)]
    with warnings.catch_warnings():  # all-NaN slices give NaN, which is the honest answer
        warnings.simplefilter("ignore", RuntimeWarning)
        within = float(np.nanmean(diag)) if np.isfinite(diag).any() else float("nan")
        across = float(np.nanmean(off)) if np.isfinite(off).any() else float("nan")
    out[f"study/{f}/within_mean"] = within
    out[f"study/{f}/across_mean"] = across
    out[f"study/{f}/robustness"] = across / within if within and math.isfinite(within) else float("nan")
    return out


def factor_replicates(m: FactorMatrix) -> dict[str, np.ndarray]:
    """Bootstrap replicates (row 0 = observed) of every summary number of one factor, both scales."""
    cal = m.calibration
    if cal is None:
        return {}
    f = metric_key(m.factor)
    s = m.condition_ids.index(m.standard)
    out = {}
    for scale, numbers in summary(cal, s).items():
        prefix = "study" if scale == "raw" else "study_z"
        for name, values in numbers.items():
            if name.startswith("to_standard/"):
                name = f"to_standard/{metric_key(m.condition_ids[int(name.split('/')[1])])}"
            out[f"{prefix}/{f}/{name}"] = values
    return out


@dataclass
class StudyResult:
    study: str
    matrices: list[FactorMatrix]
    impostors: ImpostorSource | None = None

    @property
    def replicates(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for m in self.matrices:
            out.update(factor_replicates(m))
        return out

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for m in self.matrices:
            out.update(factor_summary(m))
        for name, values in self.replicates.items():
            if name.startswith("study_z/"):
                out[name] = float(values[0])
            if "/robustness" in name or "/to_standard/" in name:
                out[f"{name}_ci95_low"], out[f"{name}_ci95_high"] = interval(values)
        return out

    def to_json(self) -> dict:
        src = self.impostors
        return {"study": self.study, "impostors": None if src is None else {"kind": src.kind, "description": src.description},
                "factors": [m.to_json() for m in self.matrices], "metrics": _finite_or_none(self.metrics())}


def _finite_or_none(d: dict[str, float]) -> dict:
    return {k: (v if math.isfinite(v) else None) for k, v in d.items()}


def has_study_impostors(manifest: StudyManifest) -> bool:
    """Whether every condition names impostor images (then every cell has its own impostor distribution)."""
    return all(c.impostors for f in manifest.factors for c in f.conditions)


def _impostor_order(conditions: list[StudyCondition], factor: str) -> list[str]:
    """The impostor people every condition of a factor has, in one order (their images are paired by it)."""
    sets = [{i.identity for i in c.impostors} for c in conditions]
    common = sorted(set.intersection(*sets))
    if len(common) < max(len(s) for s in sets):
        warnings.warn(f"factor {factor!r}: only {len(common)} impostor people appear under every condition; "
                      "the others are left out of its calibration", stacklevel=3)
    if len(common) < 2:
        raise ValueError(f"factor {factor!r}: fewer than 2 impostor people appear under every condition; "
                         "give each condition the same impostors (manifest 'impostors' with 'identity')")
    return common


def run_study(
    manifest: StudyManifest,
    embed: Callable[[list], np.ndarray],
    impostors: ImpostorSource | None = None,
    replicates: int = BOOTSTRAP,
    seed: int = 0,
) -> StudyResult:
    """Embed every image of the study once and build each factor's matrix, calibrated.

    ``embed(list_of_StudyImage) -> (N, D)`` L2-normalised features (e.g.
    ``lambda imgs: embedder.embed(imgs, mask_background=True)``). Images shared
    by several factors (the standard condition often is) are embedded once.
    ``impostors``: where the impostor distribution comes from; None = the study's own
    impostors when every condition has them, else no calibration. The bootstrap is seeded
    per factor, so two models evaluated on one study draw the same resamples.
    """
    if impostors is None:
        impostors = (ImpostorSource("study", "the study's own impostors, condition-matched")
                     if has_study_impostors(manifest) else ImpostorSource("none", "no impostor distribution"))
    unique: dict[tuple, int] = {}
    images = []

    def index(img) -> int:
        key = (str(img.path), tuple(img.box) if img.box is not None else None, str(img.mask))
        if key not in unique:
            unique[key] = len(images)
            images.append(img)
        return unique[key]

    rows = {f.name: [[index(i) for i in c.images] for c in f.conditions] for f in manifest.factors}
    imp_rows = {}
    if impostors.kind == "study":
        for f in manifest.factors:
            order = _impostor_order(f.conditions, f.name)
            imp_rows[f.name] = [[index({i.identity: i for i in c.impostors}[p]) for p in order] for c in f.conditions]
        n_people = len({i.identity for f in manifest.factors for c in f.conditions for i in c.impostors})
        impostors = ImpostorSource("study", f"the study's own {n_people} impostor people, condition-matched")
    feats = embed(images)
    if len(feats) != len(images):
        raise RuntimeError(f"embed returned {len(feats)} features for {len(images)} images")
    matrices = []
    for fi, f in enumerate(manifest.factors):
        ids, labels = [c.id for c in f.conditions], [c.label for c in f.conditions]
        groups = [feats[idx] for idx in rows[f.name]]
        mean, std, count = condition_matrix(groups, [f"{f.name}/{cid}" for cid in ids])
        imps = [feats[idx] for idx in imp_rows[f.name]] if f.name in imp_rows else None
        rng = np.random.default_rng([seed, fi])
        cal = calibrate_factor(groups, imps, impostors, rng, replicates)
        matrices.append(FactorMatrix(f.name, f.title, f.standard, ids, labels, mean, std, count, cal))
    return StudyResult(manifest.name, matrices, impostors)


def write_matrix_csv(path: str | Path, m: FactorMatrix, values: np.ndarray, fmt: str = "{:.6f}") -> Path:
    """A matrix as CSV: header = condition labels, first column = the row's label; NaN is written as 'nan'."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["condition", *m.labels])
        for label, row in zip(m.labels, values):
            w.writerow([label, *[("nan" if not math.isfinite(float(v)) else fmt.format(v)) for v in row]])
    return path


def write_study_outputs(result: StudyResult, out_dir: str | Path) -> list[Path]:
    """CSV of mean/std/count per factor and one JSON with everything; returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for m in result.matrices:
        stem = metric_key(m.factor).replace(" ", "_").replace("/", "_")
        files.append(write_matrix_csv(out_dir / f"{stem}_mean.csv", m, m.mean))
        files.append(write_matrix_csv(out_dir / f"{stem}_std.csv", m, m.std))
        files.append(write_matrix_csv(out_dir / f"{stem}_count.csv", m, m.count, fmt="{:d}"))
        if m.z is not None:
            files.append(write_matrix_csv(out_dir / f"{stem}_z.csv", m, m.z))
            files.append(write_matrix_csv(out_dir / f"{stem}_strangers_beaten.csv", m, m.calibration.beaten[0]))
    js = out_dir / "study.json"
    js.write_text(json.dumps(result.to_json(), indent=1))
    files.append(js)
    return files
