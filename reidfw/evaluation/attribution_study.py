"""The paper's Fig 12 on a study: for each factor, the standard condition against each condition,
with the similarity split over both images' regions (:mod:`reidfw.evaluation.attribution`).

Kept cheap for every evaluation: one image per condition (the first; the standard against its own
second image on the diagonal), one batch-of-two forward per pair, one figure per factor.

Writes ``<out_dir>/<factor>.png`` and ``<out_dir>/attribution.json`` (per pair: cosine, method,
bias terms, the decomposition's residual, the share that sits on letterbox fill).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import torch.nn as nn

from reidfw.checkpoints.model_spec import input_spec_of
from reidfw.data.formats.image_io import read_image, read_mask
from reidfw.data.formats.study_manifest import StudyImage, StudyManifest
from reidfw.evaluation.attribution import METHOD_TITLES, explain_pair
from reidfw.evaluation.attribution_figure import ExplainedInput, explained_input, fill_share, plot_pairs_grid


def _stem(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("_") or "factor"


def study_attribution(
    model: nn.Module, spec: dict, manifest: StudyManifest, model_name: str, out_dir: str | Path,
    mask_background: bool = False,
) -> dict:
    """Fig 12-style figures for every factor of ``manifest``; returns ``{"figures", "files", "pairs"}``."""
    out_dir = Path(out_dir)
    input_spec = input_spec_of(spec)
    cache: dict[tuple, ExplainedInput] = {}

    def load(img: StudyImage, label: str) -> ExplainedInput:
        key = (str(img.path), img.box, str(img.mask), label)
        if key not in cache:
            mask = read_mask(img.mask) if mask_background and img.mask is not None else None
            cache[key] = explained_input(read_image(img.path), input_spec, img.box, mask, label)
        return cache[key]

    figures, records = [], []
    method = None
    for f in manifest.factors:
        std = next(c for c in f.conditions if c.id == f.standard)
        a = load(std.images[0], f"{std.label} (standard)")
        pairs = []
        for c in f.conditions:
            other = c.images[1] if c.id == f.standard and len(c.images) > 1 else c.images[0]
            if c.id == f.standard and other is std.images[0]:
                continue  # a one-image standard has no second image to compare with
            b = load(other, c.label)
            att = explain_pair(model, a.x, b.x)
            method = att.method
            pairs.append((c.label, a, b, att))
            records.append({"factor": f.name, "condition": c.id, "standard": f.standard,
                            "image_a": str(std.images[0].path), "image_b": str(other.path),
                            "cosine": att.cosine, "method": att.method, "exact": att.exact,
                            "bias_a": att.bias_a, "bias_b": att.bias_b, "residual": att.residual(),
                            "fill_share_a": fill_share(att.map_a, a.content),
                            "fill_share_b": fill_share(att.map_b, b.content)})
        if not pairs:
            continue
        title = f"{f.title} — {model_name}\nstandard ({std.label}) against each condition; {METHOD_TITLES[method]}"
        figures.append(plot_pairs_grid(pairs, out_dir / f"{_stem(f.name)}.png", title))
    out_dir.mkdir(parents=True, exist_ok=True)
    js = out_dir / "attribution.json"
    js.write_text(json.dumps({"model": model_name, "method": method, "exact": method != "gradient",
                              "method_title": METHOD_TITLES.get(method, ""), "pairs": records}, indent=1))
    return {"figures": [str(p) for p in figures], "files": [str(js)], "pairs": records, "method": method}
