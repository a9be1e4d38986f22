"""Annotated similarity heatmaps like the paper's Fig 6-11, and their calibrated twins.

One figure per factor and model: the paper's look (mean cosine similarity in every cell,
2 decimals, "n/a" where undefined) and, beside it, the same cells on the impostor z scale
(:mod:`reidfw.evaluation.calibration`), where 0 means "as similar as a stranger". With
several models the side-by-side figures put them on one shared colour scale per scale, so
the same colour means the same value in every panel.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from reidfw.evaluation.figures import plt, save_figure
from reidfw.evaluation.study import FactorMatrix

CMAP = "viridis"
NAN_COLOR = "#d9d9d9"
SCALES = {"raw": ("mean cosine similarity", "{:.2f}"), "z": ("impostor z (0 = a stranger)", "{:.1f}")}


def values(m: FactorMatrix, scale: str) -> np.ndarray | None:
    return m.mean if scale == "raw" else m.z


def shared_range(arrays: Sequence[np.ndarray]) -> tuple[float, float]:
    """(vmin, vmax) over the finite cells of all arrays; (0, 1) when there are none."""
    finite = [a[np.isfinite(a)].ravel() for a in arrays if a is not None]
    vals = np.concatenate(finite) if finite else np.array([])
    if vals.size == 0:
        return 0.0, 1.0
    lo, hi = float(vals.min()), float(vals.max())
    if hi - lo < 1e-6:  # a flat matrix still needs a non-empty colour range
        lo, hi = lo - 0.05, hi + 0.05
    return lo, hi


def _draw(ax, cells: np.ndarray, labels: list[str], title: str, vmin: float, vmax: float, fmt: str):
    cmap = plt.get_cmap(CMAP).with_extremes(bad=NAN_COLOR)
    im = ax.imshow(np.ma.masked_invalid(cells), cmap=cmap, vmin=vmin, vmax=vmax)
    K = len(labels)
    # Rotate when the labels would collide: many conditions, or long names ("white top 1, no helmet").
    crowded = K > 4 or sum(len(str(label)) for label in labels) > 6 * K
    ax.set_xticks(range(K), labels=labels, rotation=45 if crowded else 0, ha="right" if crowded else "center",
                  rotation_mode="anchor" if crowded else "default")
    ax.set_yticks(range(K), labels=labels)
    mid = (vmin + vmax) / 2
    fontsize = 9 if K <= 8 else 7
    for a in range(K):
        for b in range(K):
            v = cells[a, b]
            if math.isfinite(v):
                text, color = fmt.format(v), ("black" if v > mid else "white")  # readable on viridis
            else:
                text, color = "n/a", "black"
            ax.text(b, a, text, ha="center", va="center", color=color, fontsize=fontsize)
    ax.set_title(title, fontsize=10)
    return im


def plot_heatmap(m: FactorMatrix, model_name: str, path: str | Path) -> Path:
    """One factor, one model: raw cosine (the paper's look) and, when calibrated, impostor z beside it."""
    panels = [s for s in SCALES if values(m, s) is not None]
    K = len(m.labels)
    fig, axes = plt.subplots(1, len(panels), figsize=(len(panels) * (1.6 + 0.75 * K), 1.2 + 0.7 * K),
                             constrained_layout=True, squeeze=False)
    for ax, scale in zip(axes[0], panels):
        cells = values(m, scale)
        label, fmt = SCALES[scale]
        im = _draw(ax, cells, m.labels, f"{m.title} — {model_name}\n{label}", *shared_range([cells]), fmt)
        fig.colorbar(im, ax=ax, shrink=0.8)
    return save_figure(fig, path)


def plot_heatmaps_side_by_side(matrices: Sequence[tuple[str, FactorMatrix]], path: str | Path, scale: str = "raw") -> Path:
    """The same factor for several models on one shared colour scale (``scale``: "raw" or "z")."""
    if not matrices:
        raise ValueError("plot_heatmaps_side_by_side needs at least one (model_name, matrix) pair")
    ids = {tuple(m.condition_ids) for _, m in matrices}
    if len(ids) != 1:
        raise ValueError(
            f"cannot compare factor {matrices[0][1].factor!r} side by side: the models were evaluated on "
            f"different condition lists {sorted(ids)}; evaluate them on the same study manifest"
        )
    if any(values(m, scale) is None for _, m in matrices):
        raise ValueError(f"scale {scale!r} is missing for some model (no impostor distribution); compare on 'raw'")
    label, fmt = SCALES[scale]
    vmin, vmax = shared_range([values(m, scale) for _, m in matrices])
    K = len(matrices[0][1].labels)
    n = len(matrices)
    fig, axes = plt.subplots(1, n, figsize=(n * (0.75 * K + 1.0) + 1.0, 1.0 + 0.7 * K), constrained_layout=True, squeeze=False)
    im = None
    for ax, (name, m) in zip(axes[0], matrices):
        im = _draw(ax, values(m, scale), m.labels, f"{m.title} — {name}", vmin, vmax, fmt)
    fig.colorbar(im, ax=list(axes[0]), shrink=0.8, label=label)
    return save_figure(fig, path)
