"""The controlled-condition study: per factor, a condition x condition similarity matrix.

Cell (a, b), a != b, is the mean cosine similarity over all n_a x n_b image
pairs; the diagonal (a, a) is the mean over the C(n_a, 2) pairs of *distinct*
images (a self-pair is always 1 and would inflate "within"). A condition with
one image has no distinct pair: its diagonal is NaN and a warning says so.
``std`` is the population standard deviation over the same pairs, ``count``
the number of pairs behind each cell.

Summary metrics use stable names so MLflow can compare runs:
``study/<factor>/to_standard/<condition>`` (row of the standard condition),
``study/<factor>/within_mean`` (mean of the diagonal), ``study/<factor>/across_mean``
(mean of the off-diagonal cells) and ``study/<factor>/robustness`` = across / within:
1 means changing the factor moves the similarity no more than posture wobble does.
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

from reidfw.data.formats.study_manifest import StudyManifest


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

    def to_json(self) -> dict:
        return {
            "factor": self.factor,
            "title": self.title,
            "standard": self.standard,
            "condition_ids": self.condition_ids,
            "labels": self.labels,
            "mean": _nan_to_none(self.mean),
            "std": _nan_to_none(self.std),
            "count": self.count.tolist(),
        }


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


@dataclass
class StudyResult:
    study: str
    matrices: list[FactorMatrix]

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for m in self.matrices:
            out.update(factor_summary(m))
        return out

    def to_json(self) -> dict:
        return {"study": self.study, "factors": [m.to_json() for m in self.matrices], "metrics": _finite_or_none(self.metrics())}


def _finite_or_none(d: dict[str, float]) -> dict:
    return {k: (v if math.isfinite(v) else None) for k, v in d.items()}


def run_study(manifest: StudyManifest, embed: Callable[[list], np.ndarray]) -> StudyResult:
    """Embed every image of the study once and build each factor's matrix.

    ``embed(list_of_StudyImage) -> (N, D)`` L2-normalised features (e.g.
    ``lambda imgs: embedder.embed(imgs, mask_background=True)``). Images shared
    by several factors (the standard condition often is) are embedded once.
    """
    unique: dict[tuple, int] = {}
    images = []
    for f in manifest.factors:
        for c in f.conditions:
            for img in c.images:
                key = (str(img.path), tuple(img.box) if img.box is not None else None, str(img.mask))
                if key not in unique:
                    unique[key] = len(images)
                    images.append(img)
    feats = embed(images)
    if len(feats) != len(images):
        raise RuntimeError(f"embed returned {len(feats)} features for {len(images)} images")
    matrices = []
    for f in manifest.factors:
        groups, ids, labels = [], [], []
        for c in f.conditions:
            idx = [unique[(str(i.path), tuple(i.box) if i.box is not None else None, str(i.mask))] for i in c.images]
            groups.append(feats[idx])
            ids.append(c.id)
            labels.append(c.label)
        mean, std, count = condition_matrix(groups, [f"{f.name}/{cid}" for cid in ids])
        matrices.append(FactorMatrix(f.name, f.title, f.standard, ids, labels, mean, std, count))
    return StudyResult(manifest.name, matrices)


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
    js = out_dir / "study.json"
    js.write_text(json.dumps(result.to_json(), indent=1))
    files.append(js)
    return files
