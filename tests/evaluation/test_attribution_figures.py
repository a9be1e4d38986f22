"""Fig 12-style figures: inputs through the one model-input path, letterbox geometry, the study's pairs."""
from __future__ import annotations

import json

import numpy as np
import torch

from reidfw.data.formats.study_manifest import read_manifest
from reidfw.evaluation.attribution import explain_pair
from reidfw.evaluation.attribution_figure import cell_fill_fraction, explained_input, fill_share, plot_pair
from reidfw.evaluation.attribution_study import study_attribution
from reidfw.checkpoints import make_model_spec
from reidfw.model_input import InputSpec, to_model_input
from reidfw.models import build_backbone


def test_explained_input_is_the_model_input_and_knows_the_letterbox():
    spec = InputSpec(size=(32, 16))
    img = np.random.default_rng(0).integers(0, 255, size=(20, 20, 3), dtype=np.uint8)  # square: fill above and below
    inp = explained_input(img, spec, box=(2, 2, 16, 16))
    assert torch.equal(inp.x, to_model_input(img, spec, (2, 2, 16, 16)))
    rows = inp.content.any(1)
    assert rows.sum() == 16 and not rows[:8].any() and not rows[-8:].any() and inp.content[8:24].all()
    frac = cell_fill_fraction(inp.content, (4, 2))
    np.testing.assert_allclose(frac[:, 0], [1, 0, 0, 1])
    cells = np.arange(8, dtype=float).reshape(4, 2)
    assert fill_share(cells, inp.content) == cells[0].sum() + cells[3].sum()


def test_pair_figure_and_study_figures(tmp_path, study_root):
    torch.manual_seed(0)
    net = build_backbone("test_resnet", img_size=(32, 16)).eval()
    spec = make_model_spec(method="moco", backbone={"name": "test_resnet"}, input_spec=InputSpec(size=(32, 16)), embed_dim=net.embed_dim)
    rng = np.random.default_rng(1)
    a = explained_input(rng.integers(0, 255, (40, 20, 3), dtype=np.uint8), InputSpec(size=(32, 16)), label="A")
    b = explained_input(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8), InputSpec(size=(32, 16)), label="B")
    path = plot_pair(a, b, explain_pair(net, a.x, b.x), tmp_path / "pair.png", "two crops")
    assert path.stat().st_size > 1000

    manifest = read_manifest(study_root)
    out = study_attribution(net, spec, manifest, "tiny", tmp_path / "attribution")
    assert len(out["figures"]) == len(manifest.factors)
    doc = json.loads((tmp_path / "attribution" / "attribution.json").read_text())
    assert doc["exact"] and doc["method"] == "gap"
    # one pair per condition: the standard against itself (its second image) and every other condition
    assert len(doc["pairs"]) == sum(len(f.conditions) for f in manifest.factors)
    assert max(p["residual"] for p in doc["pairs"]) < 1e-5
