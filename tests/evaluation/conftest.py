"""Small models and hand-written data folders, so the evaluation tests need nothing from other packages."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from reidfw.checkpoints import make_model_spec
from reidfw.model_input import InputSpec
import torch.nn as nn

from reidfw.data.formats.image_io import write_image, write_mask
from reidfw.data.formats.market import SPLITS, market_name
from reidfw.data.formats.study_manifest import StudyCondition, StudyFactor, StudyImage, StudyManifest, write_manifest

IMG_SIZE = (16, 8)  # (H, W): tiny, but keeps the paper's 3:1 person aspect


class TinyNet(nn.Module):
    """Conv + pooled colour statistics: different images give different, deterministic embeddings."""

    def __init__(self, dim: int = 8):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(3, dim, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g))
            self.conv.bias.copy_(torch.randn(dim, generator=g))
        self.embed_dim = dim

    def forward(self, x):
        return torch.relu(self.conv(x)).mean((2, 3)) + 0.1


def tiny_spec(name: str = "tiny") -> dict:
    return make_model_spec(
        method="arcface", backbone={"name": name}, embed_dim=8, embedding="fc512",
        input_spec=InputSpec(size=IMG_SIZE, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)),
    )


@pytest.fixture
def tiny_model():
    return TinyNet().eval()


@pytest.fixture
def make_net():
    """TinyNet's class, for tests that need a second model (test modules cannot import conftest)."""
    return TinyNet


@pytest.fixture
def make_spec():
    return tiny_spec


def _person(rng, color, h=24, w=12):
    """A coloured 'person' rectangle on a random background, with its mask and box."""
    img = rng.integers(0, 255, size=(h + 8, w + 8, 3), dtype=np.uint8)
    mask = np.zeros(img.shape[:2], bool)
    mask[4 : 4 + h, 4 : 4 + w] = True
    img[mask] = np.clip(np.asarray(color) + rng.integers(-20, 20, size=3), 0, 255)
    return img, mask, [4.0, 4.0, float(w), float(h)]


@pytest.fixture
def study_root(tmp_path):
    """Two factors; 'color' has a one-image condition (NaN diagonal); three impostors per condition."""
    rng = np.random.default_rng(0)
    root = tmp_path / "study"
    factors = []
    spec = {"size": [("near", "Near", 2), ("far", "Far", 3)], "color": [("red", "Red top", 2), ("blue", "Blue top", 1)]}
    colors = {"near": (200, 200, 200), "far": (180, 180, 190), "red": (220, 30, 30), "blue": (30, 30, 220)}
    for fname, conds in spec.items():
        cs = []
        for cid, label, n in conds:
            imgs = []
            for k in range(n):
                img, mask, box = _person(rng, colors[cid])
                rel = f"{fname}/{cid}/{k}.png"
                write_image(root / rel, img)
                write_mask(root / f"{fname}/{cid}/{k}.mask.png", mask)
                imgs.append(StudyImage(path=rel, mask=f"{fname}/{cid}/{k}.mask.png", box=tuple(box)))
            imps = []  # three other people photographed under the same condition
            for j, other in enumerate([(40, 160, 40), (160, 40, 160), (30, 200, 200)]):
                img, mask, box = _person(rng, other)
                rel = f"impostors/{fname}/{cid}/{j}.png"
                write_image(root / rel, img)
                write_mask(root / f"impostors/{fname}/{cid}/{j}.mask.png", mask)
                imps.append(StudyImage(path=rel, mask=f"impostors/{fname}/{cid}/{j}.mask.png", box=tuple(box), identity=f"p{j}"))
            cs.append(StudyCondition(cid, label, imgs, imps))
        factors.append(StudyFactor(fname, fname.title(), conds[0][0], cs))
    write_manifest(StudyManifest(root=root, name="tiny-study", factors=factors))
    return root


@pytest.fixture
def market_root(tmp_path):
    """3 identities over 3 cameras, a distractor and a junk image."""
    rng = np.random.default_rng(1)
    root = tmp_path / "market"
    palette = {1: (220, 40, 40), 2: (40, 220, 40), 3: (40, 40, 220), 0: (128, 128, 0), -1: (0, 0, 0)}
    frame = 0

    def put(split, pid, cam):
        nonlocal frame
        frame += 1
        img, _, _ = _person(rng, palette[pid])
        write_image(root / SPLITS[split] / market_name(pid, cam, frame), img)

    for pid in (1, 2, 3):
        put("query", pid, 1)
        for cam in (1, 2, 3):
            put("gallery", pid, cam)
    put("gallery", 0, 2)
    put("gallery", -1, 3)
    (root / SPLITS["train"]).mkdir(parents=True, exist_ok=True)
    return root
