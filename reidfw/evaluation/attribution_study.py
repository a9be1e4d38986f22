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

import torch
import torch.nn as nn

from reidfw.checkpoints.model_spec import input_spec_of
from reidfw.data.formats.image_io import read_image, read_mask
from reidfw.data.formats.study_manifest import StudyImage, StudyManifest
from reidfw.evaluation.attribution import METHOD_TITLES, explain_pairs
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
    seen: dict[tuple, int] = {}
    inputs: list[ExplainedInput] = []

    def index(img: StudyImage, label: str) -> int:
        key = (str(img.path), img.box, str(img.mask), label)
        if key not in seen:
            mask = read_mask(img.mask) if mask_background and img.mask is not None else None
            seen[key] = len(inputs)
            inputs.append(explained_input(read_image(img.path), input_spec, img.box, mask, label))
        return seen[key]

    # Every (standard, condition) pair first, so each image goes through the network once.
    plan = []
    for f in manifest.factors:
        std = next(c for c in f.conditions if c.id == f.standard)
        for c in f.conditions:
            other = c.images[1] if c.id == f.standard and len(c.images) > 1 else c.images[0]
            if other is std.images[0]:
                continue  # a one-image standard has no second image to compare with
            plan.append((f, std, c, other))
    pairs = [(index(std.images[0], "standard"), index(other, c.label)) for _, std, c, other in plan]
    atts = explain_pairs(model, torch.stack([inp.x for inp in inputs]), pairs) if pairs else []

    figures, records = [], []
    method = atts[0].method if atts else None
    for f in manifest.factors:
        panels = []
        for (pf, std, c, other), (i, j), att in zip(plan, pairs, atts):
            if pf is not f:
                continue
            a, b = inputs[i], inputs[j]
            panels.append((c.label, a, b, att))
            records.append({"factor": f.name, "condition": c.id, "standard": f.standard,
                            "image_a": str(std.images[0].path), "image_b": str(other.path),
                            "cosine": att.cosine, "method": att.method, "exact": att.exact,
                            "bias_a": att.bias_a, "bias_b": att.bias_b, "residual": att.residual(),
                            "fill_share_a": fill_share(att.map_a, a.content),
                            "fill_share_b": fill_share(att.map_b, b.content)})
        if not panels:
            continue
        std_label = next(c for c in f.conditions if c.id == f.standard).label
        title = f"{f.title} — {model_name}\nstandard ({std_label}) against each condition; {METHOD_TITLES[method]}"
        figures.append(plot_pairs_grid(panels, out_dir / f"{_stem(f.name)}.png", title))
    out_dir.mkdir(parents=True, exist_ok=True)
    js = out_dir / "attribution.json"
    js.write_text(json.dumps({"model": model_name, "method": method, "exact": method != "gradient",
                              "method_title": METHOD_TITLES.get(method, ""), "pairs": records}, indent=1))
    return {"figures": [str(p) for p in figures], "files": [str(js)], "pairs": records, "method": method}
