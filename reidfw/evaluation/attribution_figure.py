"""Figures of a similarity attribution in the style of the paper's Fig 12: the two model inputs side
by side, each with its per-cell map overlaid, the cosine similarity in the title.

The maps are drawn on the *model input* -- the crop letterboxed as the model saw it (through
:mod:`reidfw.model_input`, the same path as evaluation) -- so what is shown is what was compared.
A cell's value is spread over the input pixels it covers (bilinear upsampling of the cell grid);
the overlay is left off the letterbox fill, and the share of the cosine that comes from cells
over the fill is printed under the image when it is not negligible (by each cell's fill area).
Colours: red = the region adds to the similarity, blue = it takes away; one symmetric scale for
every panel of a figure, so colours compare across panels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from reidfw.evaluation.attribution import PairAttribution
from reidfw.evaluation.figures import plt, save_figure
from reidfw.model_input import InputSpec, normalize, prepare, to_chw_tensor

CMAP = "RdBu_r"
ALPHA = 0.55
# A fill share below this (in cosine units) is not worth a line under the image.
FILL_NOTE = 0.005


@dataclass
class ExplainedInput:
    """One image as the model saw it: the letterboxed uint8 input, its float tensor, and where the crop is."""

    u8: np.ndarray  # (H, W, 3) uint8, the prepared model input
    x: torch.Tensor  # (3, H, W) float32, normalised
    content: np.ndarray  # (H, W) bool: True on the crop, False on the letterbox fill
    label: str = ""


def explained_input(image: np.ndarray, spec: InputSpec, box=None, mask=None, label: str = "") -> ExplainedInput:
    """The model input of ``image`` (crop to ``box``, optional background ``mask``, letterbox, normalise)
    and the letterbox geometry, both through :func:`reidfw.model_input.prepare`."""
    u8 = prepare(image, spec, box, mask)
    # The letterbox geometry, by sending a constant image through the very same path with a 0 fill.
    ones = np.ones_like(image)
    content = prepare(ones, replace(spec, fill=(0, 0, 0)), box)[..., 0] > 0
    return ExplainedInput(u8, normalize(to_chw_tensor(u8), spec), content, label)


def upsample(cells: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A (h, w) cell map spread over (H, W) input pixels (cell centres on block centres)."""
    H, W = size
    return cv2.resize(np.asarray(cells, np.float32), (W, H), interpolation=cv2.INTER_LINEAR)


def cell_fill_fraction(content: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Per cell of a (h, w) grid over the input, the fraction of its pixels that are letterbox fill."""
    h, w = grid
    fill = (~content).astype(np.float64)
    H, W = fill.shape
    rows = np.linspace(0, H, h + 1).round().astype(int)
    cols = np.linspace(0, W, w + 1).round().astype(int)
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            block = fill[rows[i] : max(rows[i + 1], rows[i] + 1), cols[j] : max(cols[j + 1], cols[j] + 1)]
            out[i, j] = block.mean() if block.size else 0.0
    return out


def fill_share(cells: np.ndarray, content: np.ndarray) -> float:
    """The part of the map's sum that sits on letterbox fill (cells weighted by their fill area)."""
    return float((np.asarray(cells) * cell_fill_fraction(content, cells.shape)).sum())


def symmetric_limit(maps: Sequence[np.ndarray]) -> float:
    """One colour limit for a set of maps: the 99th percentile of |value| (a single hot cell does not wash out the rest)."""
    vals = np.concatenate([np.abs(np.asarray(m, float)).ravel() for m in maps]) if maps else np.zeros(1)
    vals = vals[np.isfinite(vals)]
    lim = float(np.percentile(vals, 99)) if vals.size else 0.0
    return lim if lim > 0 else 1e-6


def draw_input(ax, inp: ExplainedInput, cells: np.ndarray, vmax: float, caption: str | None = None):
    """The model input with its cell map overlaid (not over the letterbox fill)."""
    H, W = inp.u8.shape[:2]
    ax.imshow(inp.u8, interpolation="bilinear")
    heat = np.ma.masked_where(~inp.content, upsample(cells, (H, W)))
    im = ax.imshow(heat, cmap=CMAP, vmin=-vmax, vmax=vmax, alpha=ALPHA, interpolation="bilinear")
    ax.set_xticks([])
    ax.set_yticks([])
    lines = [caption] if caption else []
    lines.append(f"sum {float(np.sum(cells)):+.3f}")
    share = fill_share(cells, inp.content)
    if abs(share) >= FILL_NOTE:
        lines.append(f"on fill {share:+.3f}")
    ax.set_xlabel("\n".join(lines), fontsize=6.5, labelpad=2)
    return im


def pair_title(att: PairAttribution) -> str:
    head = f"cos {att.cosine:.3f}"
    if att.method == "fc-head":
        return f"{head} (bias {att.bias_a:+.3f} / {att.bias_b:+.3f})"
    if att.method == "gradient":
        return f"{head} — approximate"
    return head


def plot_pair(a: ExplainedInput, b: ExplainedInput, att: PairAttribution, path: str | Path, title: str = "") -> Path:
    """Two model inputs side by side with their maps; the similarity and the method in the title."""
    vmax = symmetric_limit([att.map_a, att.map_b])
    fig, axes = plt.subplots(1, 2, figsize=(4.2, 4.4), constrained_layout=True)
    draw_input(axes[0], a, att.map_a, vmax, a.label or "image A")
    im = draw_input(axes[1], b, att.map_b, vmax, b.label or "image B")
    lines = [t for t in (title, f"cosine similarity {att.cosine:.3f}", att.title) if t]
    if att.method == "fc-head":
        lines.append(f"head bias (no region): A {att.bias_a:+.3f}, B {att.bias_b:+.3f}")
    elif att.method == "gradient":
        lines.append(f"unexplained: A {att.bias_a:+.3f}, B {att.bias_b:+.3f}")
    fig.suptitle("\n".join(lines), fontsize=8)
    fig.colorbar(im, ax=list(axes), shrink=0.7, label="contribution to the cosine (per cell)")
    return save_figure(fig, path)


def plot_pairs_grid(
    pairs: Sequence[tuple[str, ExplainedInput, ExplainedInput, PairAttribution]], path: str | Path, title: str,
    per_row: int = 4,
) -> Path:
    """The paper's Fig 12 for one factor: ``(label, standard input, condition input, attribution)`` per
    condition, each pair side by side, one colour scale for the whole figure.

    Laid out by hand (fixed margins, no constrained layout): every evaluation draws one of these
    per factor and model, and the layout solver would be most of its cost.
    """
    if not pairs:
        raise ValueError("plot_pairs_grid needs at least one pair")
    n = len(pairs)
    cols = min(per_row, n)
    rows = math.ceil(n / cols)
    vmax = symmetric_limit([m for _, _, _, att in pairs for m in (att.map_a, att.map_b)])
    H, W = pairs[0][1].u8.shape[:2]
    panel_w = 1.0
    panel_h = panel_w * H / W
    head, foot, gap, between = 0.75, 0.5, 0.45, 0.35  # inches: suptitle, captions, titles, between pairs
    width = 2 * cols * panel_w + (cols - 1) * between + 1.4
    height = head + rows * (panel_h + foot + gap)
    fig = plt.figure(figsize=(width, height))
    im = None
    for k, (label, a, b, att) in enumerate(pairs):
        r, c = divmod(k, cols)
        left = 0.1 + c * (2 * panel_w + between)
        top = height - head - r * (panel_h + foot + gap) - gap
        axes = [fig.add_axes([(left + i * panel_w) / width, (top - panel_h) / height, (panel_w - 0.04) / width,
                              panel_h / height]) for i in (0, 1)]
        draw_input(axes[0], a, att.map_a, vmax, a.label)
        im = draw_input(axes[1], b, att.map_b, vmax, b.label)
        axes[0].set_title(f"{label}\n{pair_title(att)}", fontsize=7, loc="left")
    fig.suptitle(title, fontsize=9, y=1 - 0.12 / height, va="top")
    cax = fig.add_axes([(width - 0.9) / width, 0.2, 0.12 / width, 0.6])
    fig.colorbar(im, cax=cax, label="contribution to the cosine (per cell)")
    return save_figure(fig, path, dpi=100)
