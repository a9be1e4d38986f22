"""Annotated similarity heatmaps like the paper's Fig 6-11.

One heatmap per factor and model: conditions in manifest order with their
display labels, the mean similarity printed in every cell (2 decimals, "n/a"
where undefined), title = factor title + model name. With several models the
side-by-side figure puts them on one shared colour scale, so the same colour
means the same similarity in every panel.
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


def shared_range(matrices: Sequence[FactorMatrix]) -> tuple[float, float]:
    """(vmin, vmax) over the finite cells of all matrices; (0, 1) when there are none."""
    vals = np.concatenate([m.mean[np.isfinite(m.mean)].ravel() for m in matrices]) if matrices else np.array([])
    if vals.size == 0:
        return 0.0, 1.0
    lo, hi = float(vals.min()), float(vals.max())
    if hi - lo < 1e-6:  # a flat matrix still needs a non-empty colour range
        lo, hi = lo - 0.05, hi + 0.05
    return lo, hi


def _draw(ax, m: FactorMatrix, title: str, vmin: float, vmax: float):
    cmap = plt.get_cmap(CMAP).with_extremes(bad=NAN_COLOR)
    im = ax.imshow(np.ma.masked_invalid(m.mean), cmap=cmap, vmin=vmin, vmax=vmax)
    K = len(m.labels)
    ax.set_xticks(range(K), labels=m.labels, rotation=45 if K > 4 else 0, ha="right" if K > 4 else "center")
    ax.set_yticks(range(K), labels=m.labels)
    mid = (vmin + vmax) / 2
    fontsize = 9 if K <= 8 else 7
    for a in range(K):
        for b in range(K):
            v = m.mean[a, b]
            if math.isfinite(v):
                text, color = f"{v:.2f}", ("black" if v > mid else "white")  # readable on viridis
            else:
                text, color = "n/a", "black"
            ax.text(b, a, text, ha="center", va="center", color=color, fontsize=fontsize)
    ax.set_title(title)
    return im


def plot_heatmap(m: FactorMatrix, model_name: str, path: str | Path, vmin: float | None = None, vmax: float | None = None) -> Path:
    """One factor, one model."""
    lo, hi = shared_range([m])
    vmin = lo if vmin is None else vmin
    vmax = hi if vmax is None else vmax
    K = len(m.labels)
    fig, ax = plt.subplots(figsize=(1.2 + 0.75 * K, 1.0 + 0.7 * K), constrained_layout=True)
    im = _draw(ax, m, f"{m.title} — {model_name}", vmin, vmax)
    fig.colorbar(im, ax=ax, shrink=0.8, label="mean cosine similarity")
    return save_figure(fig, path)


def plot_heatmaps_side_by_side(matrices: Sequence[tuple[str, FactorMatrix]], path: str | Path) -> Path:
    """The same factor for several models, one shared colour scale."""
    if not matrices:
        raise ValueError("plot_heatmaps_side_by_side needs at least one (model_name, matrix) pair")
    ids = {tuple(m.condition_ids) for _, m in matrices}
    if len(ids) != 1:
        raise ValueError(
            f"cannot compare factor {matrices[0][1].factor!r} side by side: the models were evaluated on "
            f"different condition lists {sorted(ids)}; evaluate them on the same study manifest"
        )
    vmin, vmax = shared_range([m for _, m in matrices])
    K = len(matrices[0][1].labels)
    n = len(matrices)
    fig, axes = plt.subplots(1, n, figsize=(n * (0.75 * K + 1.0) + 1.0, 1.0 + 0.7 * K), constrained_layout=True, squeeze=False)
    im = None
    for ax, (name, m) in zip(axes[0], matrices):
        im = _draw(ax, m, f"{m.title} — {name}", vmin, vmax)
    fig.colorbar(im, ax=list(axes[0]), shrink=0.8, label="mean cosine similarity")
    return save_figure(fig, path)
